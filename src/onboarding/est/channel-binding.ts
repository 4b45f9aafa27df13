/**
 * Binds a CSR to the TLS session it arrives on (RFC 7030 section 3.5). The
 * device puts the session's channel binding, base64-encoded, into the CSR's
 * challengePassword attribute, and medward compares it with the binding of
 * the connection that carried the request. A CSR captured from another
 * session, for example by a proxy that terminated the device's TLS, then
 * fails. TLS 1.2 uses tls-unique (RFC 5929): the first Finished message of
 * the handshake. TLS 1.3 has no tls-unique; it uses tls-exporter (RFC 9266),
 * 32 bytes exported with the label EXPORTER-Channel-Binding.
 */
import { timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { ErrorKind, MedwardError } from '../../core/errors.js';
import type { ParsedCsr } from '../ca/x509.js';

/** `off`: challengePassword is ignored. `optional`: checked when present. `required`: must be present and match. */
export type ChannelBindingPolicy = 'off' | 'optional' | 'required';

export interface ChannelBinding {
  type: 'tls-unique' | 'tls-exporter';
  /** The binding, base64-encoded as it goes into challengePassword. */
  value: string;
}

const EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
const EXPORTER_BYTES = 32;

/**
 * Returns the channel binding of an established TLS connection, seen from
 * `side`; undefined for a protocol without one.
 */
export function channelBindingOf(
  socket: TLSSocket,
  side: 'server' | 'client',
): ChannelBinding | undefined {
  const protocol = socket.getProtocol();
  if (protocol === 'TLSv1.3') {
    // RFC 9266 section 2: an empty context.
    const exported = socket.exportKeyingMaterial(EXPORTER_BYTES, EXPORTER_LABEL, Buffer.alloc(0));
    return { type: 'tls-exporter', value: exported.toString('base64') };
  }
  if (protocol !== 'TLSv1.2') {
    return undefined;
  }
  // The client sends the first Finished of a full handshake, the server the
  // first of a resumed one.
  const clientSentFirst = !socket.isSessionReused();
  const ownFirst = (side === 'client') === clientSentFirst;
  const finished = ownFirst ? socket.getFinished() : socket.getPeerFinished();
  return finished === undefined
    ? undefined
    : { type: 'tls-unique', value: finished.toString('base64') };
}

function bindingError(
  code: string,
  message: string,
  details: Record<string, unknown>,
): MedwardError {
  return new MedwardError(ErrorKind.Invalid, code, message, { details });
}

/**
 * Checks a CSR's challengePassword against the binding of its connection
 * under `policy`. Raises EST_CSR_CHANNEL_BINDING_MISSING or
 * EST_CSR_CHANNEL_BINDING_MISMATCH.
 */
export function checkChannelBinding(
  csr: ParsedCsr,
  connection: ChannelBinding | undefined,
  policy: ChannelBindingPolicy,
): void {
  if (policy === 'off') {
    return;
  }
  const presented = csr.challengePassword;
  if (presented === undefined) {
    if (policy === 'required') {
      throw bindingError(
        'EST_CSR_CHANNEL_BINDING_MISSING',
        'CSR has no challengePassword; put the base64 tls-unique (TLS 1.2) or tls-exporter ' +
          '(TLS 1.3) value of this connection in it and send it on the same connection',
        { expected: connection?.type ?? null },
      );
    }
    return;
  }
  const expected = connection?.value;
  const matches =
    expected !== undefined &&
    expected.length === presented.length &&
    timingSafeEqual(Buffer.from(expected), Buffer.from(presented));
  if (!matches) {
    throw bindingError(
      'EST_CSR_CHANNEL_BINDING_MISMATCH',
      `CSR challengePassword is not the ${connection?.type ?? 'channel binding'} value of this ` +
        'connection; build the CSR after the TLS handshake and send it on the same connection',
      { expected: connection?.type ?? null },
    );
  }
}
