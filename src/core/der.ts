import { invalid } from './errors.js';

/**
 * A small DER (ITU-T X.690) encoder and reader for the structures on the
 * enrolment path (certificates, CSRs, CRLs) and for MUD signatures (CMS).
 * It is used instead of pkijs's schema matching, which costs milliseconds per
 * structure, and of asn1js 4.0.0, which decodes an element that runs past the
 * end of the element containing it. The reader accepts definite lengths only
 * and checks every length against its parent, so malformed input raises
 * DER_INVALID instead of reading out of bounds.
 */

export const Tag = {
  Boolean: 0x01,
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Null: 0x05,
  ObjectIdentifier: 0x06,
  Enumerated: 0x0a,
  Utf8String: 0x0c,
  PrintableString: 0x13,
  TeletexString: 0x14,
  Ia5String: 0x16,
  UtcTime: 0x17,
  GeneralizedTime: 0x18,
  UniversalString: 0x1c,
  BmpString: 0x1e,
  Sequence: 0x30,
  Set: 0x31,
} as const;

// ---------------------------------------------------------------- encoding

/** Octets of the DER length field for a content of `length` bytes. */
function lengthSize(length: number): number {
  if (length < 0x80) {
    return 1;
  }
  let size = 1;
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) {
    size += 1;
  }
  return size;
}

/**
 * Encodes one element with a single-byte tag whose content is the
 * concatenation of `parts`, copying each part once into one new buffer.
 */
function element(tag: number, parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const part of parts) {
    length += part.length;
  }
  const headerSize = 1 + lengthSize(length);
  const out = Buffer.allocUnsafe(headerSize + length);
  out[0] = tag;
  if (length < 0x80) {
    out[1] = length;
  } else {
    out[1] = 0x80 | (headerSize - 2);
    let rest = length;
    for (let index = headerSize - 1; index >= 2; index -= 1) {
      out[index] = rest & 0xff;
      rest = Math.floor(rest / 256);
    }
  }
  let offset = headerSize;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Encodes one element with a single-byte tag. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  return element(tag, [content]);
}

export function sequence(...elements: readonly Uint8Array[]): Buffer {
  return element(Tag.Sequence, elements);
}

/** A SET OF, with elements sorted by their encoding as DER requires (X.690 section 11.6). */
export function setOf(...elements: readonly Uint8Array[]): Buffer {
  const sorted =
    elements.length < 2
      ? elements
      : [...elements].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return element(Tag.Set, sorted);
}

/** A context-specific constructed element `[n] EXPLICIT`. */
export function explicit(tagNumber: number, ...elements: readonly Uint8Array[]): Buffer {
  return element(0xa0 | tagNumber, elements);
}

/** A context-specific primitive element `[n] IMPLICIT`. */
export function implicitPrimitive(tagNumber: number, content: Uint8Array): Buffer {
  return tlv(0x80 | tagNumber, content);
}

/** An INTEGER from unsigned big-endian bytes; a leading zero is added when the top bit is set. */
export function integerFromBytes(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0 && ((bytes[start + 1] ?? 0) & 0x80) === 0) {
    start += 1;
  }
  const trimmed = Buffer.from(bytes.subarray(start));
  const content =
    ((trimmed[0] ?? 0) & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
  return tlv(Tag.Integer, content.length === 0 ? Buffer.from([0]) : content);
}

export function integer(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`DER integer ${value} must be a non-negative safe integer`);
  }
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) {
    bytes.unshift(rest & 0xff);
  }
  return integerFromBytes(Buffer.from(bytes.length === 0 ? [0] : bytes));
}

/** Encoded OBJECT IDENTIFIERs by dotted form; medward writes a few dozen distinct ones. */
const encodedIdentifiers = new Map<string, Buffer>();
const MAX_ENCODED_IDENTIFIERS = 256;

export function objectIdentifier(dotted: string): Buffer {
  const known = encodedIdentifiers.get(dotted);
  if (known !== undefined) {
    return known;
  }
  const arcs = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const chunk: number[] = [arc & 0x7f];
    for (
      let remaining = Math.floor(arc / 128);
      remaining > 0;
      remaining = Math.floor(remaining / 128)
    ) {
      chunk.unshift((remaining & 0x7f) | 0x80);
    }
    bytes.push(...chunk);
  }
  const encoded = tlv(Tag.ObjectIdentifier, Buffer.from(bytes));
  // Subject attribute types come from CSRs, so the cache stops growing at a bound.
  if (encodedIdentifiers.size < MAX_ENCODED_IDENTIFIERS) {
    encodedIdentifiers.set(dotted, encoded);
  }
  return encoded;
}

export function utf8String(value: string): Buffer {
  return tlv(Tag.Utf8String, Buffer.from(value, 'utf8'));
}

export function printableString(value: string): Buffer {
  return tlv(Tag.PrintableString, Buffer.from(value, 'latin1'));
}

export function ia5String(value: string): Buffer {
  return tlv(Tag.Ia5String, Buffer.from(value, 'latin1'));
}

export function octetString(value: Uint8Array): Buffer {
  return tlv(Tag.OctetString, value);
}

export function bitString(value: Uint8Array, unusedBits = 0): Buffer {
  return element(Tag.BitString, [Uint8Array.of(unusedBits), value]);
}

export function booleanValue(value: boolean): Buffer {
  return tlv(Tag.Boolean, Buffer.from([value ? 0xff : 0x00]));
}

export function nullValue(): Buffer {
  return Buffer.from([Tag.Null, 0]);
}

export function enumerated(value: number): Buffer {
  return tlv(Tag.Enumerated, integer(value).subarray(2));
}

/** RFC 5280 Time: UTCTime through 2049, GeneralizedTime from 2050, both to the second in UTC. */
export function time(date: Date): Buffer {
  const iso = date.toISOString();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  return date.getUTCFullYear() < 2050
    ? tlv(Tag.UtcTime, Buffer.from(`${digits.slice(2)}Z`, 'latin1'))
    : tlv(Tag.GeneralizedTime, Buffer.from(`${digits}Z`, 'latin1'));
}

// ---------------------------------------------------------------- reading

/** One element of a DER encoding: its tag and the bytes of its content. */
export interface DerNode {
  tag: number;
  /** The whole element, header included. */
  bytes: Buffer;
  content: Buffer;
}

function derError(what: string, message: string): never {
  throw invalid('DER_INVALID', `${what} is not valid DER: ${message}`);
}

/** Reads one element at `offset`; returns it and the offset after it. */
function readElement(
  buffer: Buffer,
  offset: number,
  what: string,
): { node: DerNode; next: number } {
  if (offset + 2 > buffer.length) {
    derError(what, `truncated header at byte ${offset}`);
  }
  const tag = buffer[offset] ?? 0;
  if ((tag & 0x1f) === 0x1f) {
    derError(what, `multi-byte tag at byte ${offset} is not supported`);
  }
  let length = buffer[offset + 1] ?? 0;
  let headerLength = 2;
  if (length & 0x80) {
    const lengthBytes = length & 0x7f;
    if (lengthBytes === 0 || lengthBytes > 4) {
      derError(what, `length at byte ${offset} is indefinite or longer than 4 bytes`);
    }
    if (offset + 2 + lengthBytes > buffer.length) {
      derError(what, `truncated length at byte ${offset}`);
    }
    length = 0;
    for (let index = 0; index < lengthBytes; index += 1) {
      length = length * 256 + (buffer[offset + 2 + index] ?? 0);
    }
    headerLength += lengthBytes;
  }
  const end = offset + headerLength + length;
  if (end > buffer.length) {
    derError(
      what,
      `element at byte ${offset} claims ${length} bytes but only ${buffer.length - offset - headerLength} remain`,
    );
  }
  return {
    node: {
      tag,
      bytes: buffer.subarray(offset, end),
      content: buffer.subarray(offset + headerLength, end),
    },
    next: end,
  };
}

/** Reads exactly one element spanning all of `bytes`. */
export function readDer(bytes: Uint8Array, what: string): DerNode {
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const { node, next } = readElement(buffer, 0, what);
  if (next !== buffer.length) {
    derError(what, `${buffer.length - next} bytes follow the outer element`);
  }
  return node;
}

/** The elements inside a constructed element. */
export function childrenOf(node: DerNode, what: string): DerNode[] {
  if ((node.tag & 0x20) === 0) {
    derError(what, `tag 0x${node.tag.toString(16)} is not constructed`);
  }
  const children: DerNode[] = [];
  let offset = 0;
  while (offset < node.content.length) {
    const { node: child, next } = readElement(node.content, offset, what);
    children.push(child);
    offset = next;
  }
  return children;
}

/** Checks the tag of `node` (possibly missing) and returns it. */
export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (node === undefined) {
    derError(what, 'element is missing');
  }
  if (node.tag !== tag) {
    derError(what, `expected tag 0x${tag.toString(16)}, found 0x${node.tag.toString(16)}`);
  }
  return node;
}

export function readObjectIdentifier(node: DerNode | undefined, what: string): string {
  const content = expectTag(node, Tag.ObjectIdentifier, what).content;
  if (content.length === 0 || ((content[content.length - 1] ?? 0) & 0x80) !== 0) {
    derError(what, 'object identifier is empty or truncated');
  }
  const arcs: number[] = [];
  let value = 0;
  for (const byte of content) {
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) {
      derError(what, 'object identifier arc is too large');
    }
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }
  const [first = 0, ...rest] = arcs;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...rest].join('.');
}

/** Reads a directory string (UTF8String, PrintableString, IA5String, BMPString, ...) as text. */
export function readString(node: DerNode, what: string): string {
  switch (node.tag) {
    case Tag.Utf8String:
      return node.content.toString('utf8');
    case Tag.PrintableString:
    case Tag.Ia5String:
    case Tag.TeletexString:
      return node.content.toString('latin1');
    case Tag.BmpString:
      return Buffer.from(node.content).swap16().toString('utf16le');
    case Tag.UniversalString: {
      let text = '';
      for (let index = 0; index + 3 < node.content.length; index += 4) {
        text += String.fromCodePoint(node.content.readUInt32BE(index));
      }
      return text;
    }
    default:
      return derError(what, `tag 0x${node.tag.toString(16)} is not a string type`);
  }
}

/** The bits of a BIT STRING without its unused-bits octet. */
export function readBitString(node: DerNode | undefined, what: string): Buffer {
  const content = expectTag(node, Tag.BitString, what).content;
  if (content.length === 0) {
    derError(what, 'bit string is empty');
  }
  return content.subarray(1);
}

/** An INTEGER's content as unsigned big-endian hex without leading zero octets. */
export function readIntegerHex(node: DerNode | undefined, what: string): string {
  const content = expectTag(node, Tag.Integer, what).content;
  let start = 0;
  while (start < content.length - 1 && content[start] === 0) {
    start += 1;
  }
  return content.subarray(start).toString('hex');
}

/** Reads a UTCTime or GeneralizedTime in the DER form (seconds, `Z`). */
export function readTime(node: DerNode | undefined, what: string): Date {
  if (node === undefined || (node.tag !== Tag.UtcTime && node.tag !== Tag.GeneralizedTime)) {
    return derError(what, 'expected UTCTime or GeneralizedTime');
  }
  const text = node.content.toString('latin1');
  const match =
    node.tag === Tag.UtcTime
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (match === null) {
    return derError(what, `time ${JSON.stringify(text.slice(0, 20))} is not in DER form`);
  }
  let year = Number(match[1]);
  if (node.tag === Tag.UtcTime) {
    year += year < 50 ? 2000 : 1900;
  }
  return new Date(
    Date.UTC(
      year,
      Number(match[2]) - 1,
      Number(match[3]),
      Number(match[4]),
      Number(match[5]),
      Number(match[6]),
    ),
  );
}
