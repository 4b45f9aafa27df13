/**
 * IEEE 11073-20601 over TCP, optionally inside TLS: each connection carries
 * APDUs back to back, framed by their own length field.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import type { Logger } from '../../core/logger.js';
import { ApduFramer } from './framer.js';
import type { ApduListener, ApduTransport, ApduTransportHandler } from './transport.js';

export interface TcpListenerOptions {
  host: string;
  /** 0 picks a free port; read `port` after `listen`. */
  port: number;
  /** TLS server options from `loadTlsOptions`; plain TCP when undefined. */
  tls: TlsOptions | undefined;
  maxConnections: number;
  maxApduBytes: number;
  idleTimeoutMs: number;
  logger: Logger;
  /** Called for each connection closed because `maxConnections` were open. */
  onConnectionRejected?: () => void;
}

class TcpTransport implements ApduTransport {
  readonly connectionId = randomUUID();
  readonly remoteAddress: string;
  readonly peerCertificateSubject: string | undefined;
  private closing = false;

  constructor(
    readonly kind: 'tcp' | 'tls',
    private readonly socket: Socket,
    peerCertificateSubject: string | undefined,
  ) {
    this.remoteAddress = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
    this.peerCertificateSubject = peerCertificateSubject;
  }

  get writable(): boolean {
    return !this.socket.writableNeedDrain;
  }

  send(apdu: Uint8Array): void {
    if (!this.closing && !this.socket.destroyed) {
      this.socket.write(apdu);
    }
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.closing) {
      this.socket.resume();
    }
  }

  close(): void {
    if (!this.closing) {
      this.closing = true;
      this.socket.end();
      // A peer that never reads would keep the socket half-open; the idle
      // timer stays armed and destroys it.
    }
  }

  destroy(): void {
    this.closing = true;
    this.socket.destroy();
  }
}

function certificateSubject(socket: TLSSocket): string | undefined {
  if (!socket.authorized) {
    return undefined;
  }
  const subject = socket.getPeerCertificate().subject as Record<string, string> | undefined;
  if (subject === undefined) {
    return undefined;
  }
  return Object.entries(subject)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

/**
 * The TCP (or TLS) listener. Memory per connection is bounded: the framer
 * holds at most one incomplete APDU of `maxApduBytes`, and the manager pauses
 * reading while the connection's output or its pending reports back up.
 */
export class TcpApduListener implements ApduListener {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: TcpListenerOptions) {}

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** The bound port; valid after `listen`. */
  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  async listen(accept: (transport: ApduTransport) => ApduTransportHandler): Promise<void> {
    const tls = this.options.tls;
    const server =
      tls === undefined
        ? createServer({ noDelay: true }, (socket) => {
            this.attach('tcp', socket, undefined, accept);
          })
        : createTlsServer(tls, (socket) => {
            this.attach('tls', socket, certificateSubject(socket), accept);
          });
    // Node closes connections beyond the limit before TLS and before the
    // manager sees them.
    server.maxConnections = this.options.maxConnections;
    server.on('drop', () => {
      this.options.onConnectionRejected?.();
    });
    server.on('tlsClientError', (error: Error, socket: Socket) => {
      this.options.logger.warn(
        {
          remoteAddress: `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`,
          err: error,
        },
        'ieee11073 tls handshake failed',
      );
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => {
      this.options.logger.error({ err: error }, 'ieee11073 listener failed');
    });
  }

  private attach(
    kind: 'tcp' | 'tls',
    socket: Socket,
    peerCertificateSubject: string | undefined,
    accept: (transport: ApduTransport) => ApduTransportHandler,
  ): void {
    socket.setNoDelay(true);
    socket.setTimeout(this.options.idleTimeoutMs);
    this.sockets.add(socket);
    const transport = new TcpTransport(kind, socket, peerCertificateSubject);
    const handler = accept(transport);
    const framer = new ApduFramer(this.options.maxApduBytes, {
      apdu: (bytes) => {
        handler.apdu(bytes);
      },
      oversize: (header, announced) => {
        handler.oversize(header, announced);
      },
    });
    let closed = false;
    let lastError: Error | undefined;
    socket.on('data', (chunk: Buffer) => {
      framer.push(chunk);
    });
    socket.on('drain', () => {
      handler.drain();
    });
    socket.on('timeout', () => {
      handler.idle();
    });
    socket.on('end', () => {
      // The agent half-closed; 20601 has no use for a half-open connection.
      socket.end();
    });
    socket.on('error', (error) => {
      lastError = error;
    });
    socket.on('close', () => {
      if (closed) {
        return;
      }
      closed = true;
      framer.stop();
      this.sockets.delete(socket);
      handler.closed(lastError);
    });
  }

  /** Stops accepting; resolves at once, while open connections go on. */
  stopAccepting(): Promise<void> {
    const server = this.server;
    if (server === undefined || !server.listening) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      // close() calls back only when every connection has ended, so resolve
      // after the listening socket itself is closed.
      server.close();
      setImmediate(resolve);
    });
  }

  /** Destroys every open connection, for the end of shutdown. */
  destroyAll(): void {
    for (const socket of this.sockets) {
      socket.destroy();
    }
  }
}
