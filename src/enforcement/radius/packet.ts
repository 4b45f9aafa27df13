import { MedwardError, ErrorKind } from '../../core/errors.js';

/** RADIUS packet codes (RFC 2865 §3, RFC 5176 §3). */
export const RadiusCode = {
  AccessRequest: 1,
  AccessAccept: 2,
  AccessReject: 3,
  AccountingRequest: 4,
  AccountingResponse: 5,
  AccessChallenge: 11,
  DisconnectRequest: 40,
  DisconnectAck: 41,
  DisconnectNak: 42,
  CoaRequest: 43,
  CoaAck: 44,
  CoaNak: 45,
} as const;
export type RadiusCode = (typeof RadiusCode)[keyof typeof RadiusCode];

const knownCodes: ReadonlySet<number> = new Set(Object.values(RadiusCode));

/** Attribute types used by medward (RFC 2865, 2868, 2869, 3579, 5176). */
export const RadiusAttribute = {
  UserName: 1,
  UserPassword: 2,
  ChapPassword: 3,
  NasIpAddress: 4,
  NasPort: 5,
  ServiceType: 6,
  ReplyMessage: 18,
  State: 24,
  CalledStationId: 30,
  CallingStationId: 31,
  NasIdentifier: 32,
  AcctSessionId: 44,
  ChapChallenge: 60,
  NasPortType: 61,
  TunnelType: 64,
  TunnelMediumType: 65,
  EapMessage: 79,
  MessageAuthenticator: 80,
  TunnelPrivateGroupId: 81,
  NasPortId: 87,
  ErrorCause: 101,
} as const;

/** NAS-Port-Type values (RFC 2865 §5.41) that medward distinguishes. */
export const NasPortType = {
  Ethernet: 15,
  Wireless80211: 19,
} as const;

export const HEADER_BYTES = 20;
export const MIN_PACKET_BYTES = 20;
export const MAX_PACKET_BYTES = 4096;
export const AUTHENTICATOR_BYTES = 16;
/** Smallest attribute: type, length and at least one value octet. */
export const MIN_ATTRIBUTE_BYTES = 3;
export const MAX_ATTRIBUTE_BYTES = 255;

export interface RadiusAttributeValue {
  type: number;
  value: Buffer;
  /** Offset of the attribute's type octet in the packet. */
  offset: number;
}

export interface RadiusPacket {
  code: RadiusCode;
  identifier: number;
  authenticator: Buffer;
  attributes: RadiusAttributeValue[];
  /** The packet's bytes up to its Length field; trailing padding is cut off. */
  raw: Buffer;
}

/** Why a datagram was dropped; also the label of the drop counter. */
export type RadiusParseFailure =
  | 'too-short'
  | 'too-long'
  | 'length-mismatch'
  | 'unknown-code'
  | 'attribute-length'
  | 'attribute-overrun'
  | 'message-authenticator-length'
  | 'message-authenticator-repeated';

export class RadiusParseError extends MedwardError {
  constructor(
    readonly failure: RadiusParseFailure,
    message: string,
  ) {
    super(ErrorKind.Invalid, 'RADIUS_PACKET_INVALID', message, { details: { failure } });
  }
}

/**
 * Parses a RADIUS datagram strictly: a Length of 20 to 4096 octets no larger
 * than the datagram (octets past Length are padding and ignored, as RFC 2865
 * §3 requires), a known code, and attributes of 3 to 255 octets that end
 * exactly at Length. A Message-Authenticator must be 18 octets and appear at
 * most once.
 */
export function parseRadiusPacket(datagram: Uint8Array): RadiusPacket {
  if (datagram.length < MIN_PACKET_BYTES) {
    throw new RadiusParseError(
      'too-short',
      `RADIUS datagram of ${datagram.length} octets is shorter than the 20-octet header`,
    );
  }
  const bytes = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const length = bytes.readUInt16BE(2);
  if (length < MIN_PACKET_BYTES || length > MAX_PACKET_BYTES) {
    throw new RadiusParseError('too-long', `RADIUS Length ${length} is outside 20..4096`);
  }
  if (length > bytes.length) {
    throw new RadiusParseError(
      'length-mismatch',
      `RADIUS Length ${length} exceeds the datagram's ${bytes.length} octets`,
    );
  }
  const code = bytes.readUInt8(0);
  if (!knownCodes.has(code)) {
    throw new RadiusParseError('unknown-code', `RADIUS code ${code} is not supported`);
  }
  const raw = Buffer.from(bytes.subarray(0, length));
  const attributes: RadiusAttributeValue[] = [];
  let offset = HEADER_BYTES;
  let messageAuthenticators = 0;
  while (offset < length) {
    if (offset + 2 > length) {
      throw new RadiusParseError(
        'attribute-overrun',
        `RADIUS attribute header at offset ${offset} runs past Length ${length}`,
      );
    }
    const type = raw.readUInt8(offset);
    const attributeLength = raw.readUInt8(offset + 1);
    if (attributeLength < MIN_ATTRIBUTE_BYTES) {
      throw new RadiusParseError(
        'attribute-length',
        `RADIUS attribute ${type} at offset ${offset} has length ${attributeLength}, below 3`,
      );
    }
    if (offset + attributeLength > length) {
      throw new RadiusParseError(
        'attribute-overrun',
        `RADIUS attribute ${type} at offset ${offset} with length ${attributeLength} runs past Length ${length}`,
      );
    }
    if (type === RadiusAttribute.MessageAuthenticator) {
      messageAuthenticators += 1;
      if (attributeLength !== 2 + AUTHENTICATOR_BYTES) {
        throw new RadiusParseError(
          'message-authenticator-length',
          `Message-Authenticator has length ${attributeLength}; it must be 18`,
        );
      }
      if (messageAuthenticators > 1) {
        throw new RadiusParseError(
          'message-authenticator-repeated',
          'Message-Authenticator appears more than once',
        );
      }
    }
    attributes.push({ type, value: raw.subarray(offset + 2, offset + attributeLength), offset });
    offset += attributeLength;
  }
  return {
    code: code as RadiusCode,
    identifier: raw.readUInt8(1),
    authenticator: raw.subarray(4, 4 + AUTHENTICATOR_BYTES),
    attributes,
    raw,
  };
}

/** Returns the first value of an attribute type. */
export function findAttribute(packet: RadiusPacket, type: number): Buffer | undefined {
  return packet.attributes.find((attribute) => attribute.type === type)?.value;
}

export function countAttribute(packet: RadiusPacket, type: number): number {
  return packet.attributes.filter((attribute) => attribute.type === type).length;
}

export interface OutgoingAttribute {
  type: number;
  value: Buffer;
}

/**
 * Encodes a packet with the given authenticator field. Rejects values that
 * do not fit one attribute or a packet above 4096 octets.
 */
export function encodeRadiusPacket(
  code: RadiusCode,
  identifier: number,
  authenticator: Buffer,
  attributes: readonly OutgoingAttribute[],
): Buffer {
  const parts: Buffer[] = [];
  let length = HEADER_BYTES;
  for (const attribute of attributes) {
    const attributeLength = attribute.value.length + 2;
    if (attributeLength < MIN_ATTRIBUTE_BYTES || attributeLength > MAX_ATTRIBUTE_BYTES) {
      throw new MedwardError(
        ErrorKind.Invalid,
        'RADIUS_ATTRIBUTE_TOO_LONG',
        `RADIUS attribute ${attribute.type} value of ${attribute.value.length} octets does not fit 1..253`,
      );
    }
    parts.push(Buffer.from([attribute.type, attributeLength]), attribute.value);
    length += attributeLength;
  }
  if (length > MAX_PACKET_BYTES) {
    throw new MedwardError(
      ErrorKind.Invalid,
      'RADIUS_PACKET_TOO_LONG',
      `RADIUS packet of ${length} octets exceeds 4096`,
    );
  }
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(code, 0);
  header.writeUInt8(identifier, 1);
  header.writeUInt16BE(length, 2);
  authenticator.copy(header, 4, 0, AUTHENTICATOR_BYTES);
  return Buffer.concat([header, ...parts], length);
}

export function integerAttribute(type: number, value: number): OutgoingAttribute {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value, 0);
  return { type, value: buffer };
}

export function textAttribute(type: number, value: string): OutgoingAttribute {
  return { type, value: Buffer.from(value, 'utf8') };
}

/** Tagged integer attribute of RFC 2868 §3: a tag octet, then a 3-octet value. */
export function taggedIntegerAttribute(
  type: number,
  tag: number,
  value: number,
): OutgoingAttribute {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value, 0);
  buffer.writeUInt8(tag, 0);
  return { type, value: buffer };
}

/** Tunnel attributes of RFC 3580 §3.31 that put a port into a VLAN. */
export function vlanAttributes(vlan: number): OutgoingAttribute[] {
  return [
    taggedIntegerAttribute(RadiusAttribute.TunnelType, 0, 13),
    taggedIntegerAttribute(RadiusAttribute.TunnelMediumType, 0, 6),
    textAttribute(RadiusAttribute.TunnelPrivateGroupId, String(vlan)),
  ];
}

/** Reads the VLAN from a packet's Tunnel-Private-Group-Id, skipping a tag octet when present. */
export function readVlan(packet: RadiusPacket): number | undefined {
  const value = findAttribute(packet, RadiusAttribute.TunnelPrivateGroupId);
  if (value === undefined) {
    return undefined;
  }
  const text = (value[0] !== undefined && value[0] <= 0x1f ? value.subarray(1) : value).toString(
    'utf8',
  );
  return /^[0-9]{1,4}$/.test(text) ? Number(text) : undefined;
}
