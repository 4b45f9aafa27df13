/**
 * The link between the manager and one agent, apart from the protocol. The
 * manager sees whole APDUs and never a socket, so other transports of IEEE
 * 11073-20601 (Bluetooth HDP, USB PHDC) can be added beside TCP without
 * touching it.
 */

/** One connection to an agent. */
export interface ApduTransport {
  /** Unique id of the connection, for logs and audit until the agent's system id is known. */
  readonly connectionId: string;
  /** Link kind, for example `tcp` or `tls`. */
  readonly kind: string;
  /** Peer address as the link names it (`127.0.0.1:50312` for TCP). */
  readonly remoteAddress: string;
  /** Subject of the client certificate when mutual TLS verified the agent. */
  readonly peerCertificateSubject: string | undefined;
  /** False while output waits for the peer to read; `drain` reports the change back to true. */
  readonly writable: boolean;
  /** Sends one encoded APDU; does nothing once the transport is closing. */
  send(apdu: Uint8Array): void;
  /** Stops delivering APDUs until `resume`; the link's own flow control then holds the peer back. */
  pause(): void;
  resume(): void;
  /** Closes after the queued output is sent. */
  close(): void;
  /** Closes at once and drops queued output. */
  destroy(): void;
}

/** What a transport reports to the protocol side of its connection. */
export interface ApduTransportHandler {
  /** One complete APDU, header included, as untrusted bytes. */
  apdu(bytes: Uint8Array): void;
  /**
   * The next APDU announces more bytes than the transport accepts. `header`
   * holds its first 4 bytes. No further APDU is delivered; the handler sends
   * its reaction and closes the transport.
   */
  oversize(header: Uint8Array, announcedBytes: number): void;
  /** Queued output was sent; `writable` is true again. */
  drain(): void;
  /** Nothing arrived for the idle timeout. */
  idle(): void;
  /** The connection is gone; called exactly once. */
  closed(error: Error | undefined): void;
}

/** Accepts connections of one transport kind and hands each to the manager. */
export interface ApduListener {
  /** Starts accepting; `accept` returns the handler of each new connection. */
  listen(accept: (transport: ApduTransport) => ApduTransportHandler): Promise<void>;
  /** Stops accepting new connections; open ones stay. */
  stopAccepting(): Promise<void>;
  /** Connections open now. */
  readonly connectionCount: number;
}
