import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  AUTHENTICATOR_BYTES,
  RadiusAttribute,
  encodeRadiusPacket,
  type OutgoingAttribute,
  type RadiusCode,
  type RadiusPacket,
} from './packet.js';

const ZERO_AUTHENTICATOR = Buffer.alloc(AUTHENTICATOR_BYTES);

function messageAuthenticatorOffset(packet: RadiusPacket): number | undefined {
  return packet.attributes.find(
    (attribute) => attribute.type === RadiusAttribute.MessageAuthenticator,
  )?.offset;
}

/**
 * Checks the Message-Authenticator of a received packet (RFC 3579 §3.2): an
 * HMAC-MD5 keyed with the shared secret over the packet with the attribute's
 * value zeroed. When given, `authenticatorField` replaces the packet's
 * authenticator field first. Pass the request authenticator to check a
 * response, zeros to check a CoA or Disconnect request, and nothing for an
 * Access-Request.
 */
export function verifyMessageAuthenticator(
  packet: RadiusPacket,
  secret: Buffer,
  authenticatorField?: Buffer,
): boolean {
  const offset = messageAuthenticatorOffset(packet);
  if (offset === undefined) {
    return false;
  }
  const copy = Buffer.from(packet.raw);
  const received = Buffer.from(copy.subarray(offset + 2, offset + 2 + AUTHENTICATOR_BYTES));
  copy.fill(0, offset + 2, offset + 2 + AUTHENTICATOR_BYTES);
  if (authenticatorField !== undefined) {
    authenticatorField.copy(copy, 4);
  }
  const expected = createHmac('md5', secret).update(copy).digest();
  return timingSafeEqual(received, expected);
}

/** Checks the Response Authenticator of a reply to a request with `requestAuthenticator` (RFC 2865 §3). */
export function verifyResponseAuthenticator(
  packet: RadiusPacket,
  secret: Buffer,
  requestAuthenticator: Buffer,
): boolean {
  const copy = Buffer.from(packet.raw);
  requestAuthenticator.copy(copy, 4);
  const expected = createHash('md5').update(copy).update(secret).digest();
  return timingSafeEqual(packet.authenticator, expected);
}

function withMessageAuthenticator(attributes: readonly OutgoingAttribute[]): OutgoingAttribute[] {
  return [
    ...attributes.filter((attribute) => attribute.type !== RadiusAttribute.MessageAuthenticator),
    { type: RadiusAttribute.MessageAuthenticator, value: Buffer.alloc(AUTHENTICATOR_BYTES) },
  ];
}

function fillMessageAuthenticator(packet: Buffer, secret: Buffer): void {
  // The Message-Authenticator is always the last attribute medward writes.
  const offset = packet.length - AUTHENTICATOR_BYTES;
  const hmac = createHmac('md5', secret).update(packet).digest();
  hmac.copy(packet, offset);
}

/**
 * Encodes a response (Access-Accept/Reject, CoA or Disconnect ACK/NAK) with a
 * Message-Authenticator and the Response Authenticator
 * MD5(Code | Identifier | Length | Request Authenticator | Attributes | Secret).
 */
export function encodeSignedResponse(
  code: RadiusCode,
  request: { identifier: number; authenticator: Buffer },
  attributes: readonly OutgoingAttribute[],
  secret: Buffer,
): Buffer {
  const packet = encodeRadiusPacket(
    code,
    request.identifier,
    request.authenticator,
    withMessageAuthenticator(attributes),
  );
  fillMessageAuthenticator(packet, secret);
  const responseAuthenticator = createHash('md5').update(packet).update(secret).digest();
  responseAuthenticator.copy(packet, 4);
  return packet;
}

/**
 * Encodes a CoA-Request or Disconnect-Request (RFC 5176 §3.5): the
 * Message-Authenticator is computed with a zero authenticator field, then the
 * Request Authenticator is MD5 over the packet with that zero field, followed
 * by the secret.
 */
export function encodeSignedDynamicRequest(
  code: RadiusCode,
  identifier: number,
  attributes: readonly OutgoingAttribute[],
  secret: Buffer,
): Buffer {
  const packet = encodeRadiusPacket(
    code,
    identifier,
    ZERO_AUTHENTICATOR,
    withMessageAuthenticator(attributes),
  );
  fillMessageAuthenticator(packet, secret);
  const requestAuthenticator = createHash('md5').update(packet).update(secret).digest();
  requestAuthenticator.copy(packet, 4);
  return packet;
}

/** Encodes an Access-Request with a random Request Authenticator and a Message-Authenticator, as a NAS does. */
export function encodeSignedAccessRequest(
  identifier: number,
  attributes: readonly OutgoingAttribute[],
  secret: Buffer,
  authenticator: Buffer = randomBytes(AUTHENTICATOR_BYTES),
): Buffer {
  const packet = encodeRadiusPacket(
    1,
    identifier,
    authenticator,
    withMessageAuthenticator(attributes),
  );
  fillMessageAuthenticator(packet, secret);
  return packet;
}

/** Hides a User-Password value (RFC 2865 §5.2); the inverse of decryptUserPassword. */
export function encryptUserPassword(
  password: Buffer,
  secret: Buffer,
  requestAuthenticator: Buffer,
): Buffer {
  const padded = Buffer.alloc(Math.max(16, Math.ceil(password.length / 16) * 16));
  password.copy(padded);
  const output = Buffer.alloc(padded.length);
  let previous = requestAuthenticator;
  for (let offset = 0; offset < padded.length; offset += 16) {
    const key = createHash('md5').update(secret).update(previous).digest();
    for (let i = 0; i < 16; i += 1) {
      output[offset + i] = (padded[offset + i] ?? 0) ^ (key[i] ?? 0);
    }
    previous = output.subarray(offset, offset + 16);
  }
  return output;
}

/**
 * Recovers a User-Password (RFC 2865 §5.2): 16 to 128 octets in blocks of 16,
 * each XORed with MD5(secret | previous block), the first with the Request
 * Authenticator. Returns undefined for a value of invalid length.
 */
export function decryptUserPassword(
  hidden: Buffer,
  secret: Buffer,
  requestAuthenticator: Buffer,
): Buffer | undefined {
  if (hidden.length < 16 || hidden.length > 128 || hidden.length % 16 !== 0) {
    return undefined;
  }
  const output = Buffer.alloc(hidden.length);
  let previous = requestAuthenticator;
  for (let offset = 0; offset < hidden.length; offset += 16) {
    const key = createHash('md5').update(secret).update(previous).digest();
    for (let i = 0; i < 16; i += 1) {
      output[offset + i] = (hidden[offset + i] ?? 0) ^ (key[i] ?? 0);
    }
    previous = hidden.subarray(offset, offset + 16);
  }
  let end = output.length;
  while (end > 0 && output[end - 1] === 0) {
    end -= 1;
  }
  return output.subarray(0, end);
}

/** Checks a CHAP-Password (RFC 2865 §5.3): MD5(CHAP Ident | password | challenge). */
export function verifyChapPassword(
  chapPassword: Buffer,
  password: Buffer,
  challenge: Buffer,
): boolean {
  if (chapPassword.length !== 17) {
    return false;
  }
  const expected = createHash('md5')
    .update(chapPassword.subarray(0, 1))
    .update(password)
    .update(challenge)
    .digest();
  return timingSafeEqual(chapPassword.subarray(1), expected);
}
