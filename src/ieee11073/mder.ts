/**
 * Bounded MDER reader and growable MDER writer (IEEE 11073-20601 Medical
 * Device Encoding Rules: big-endian integers, 16-bit lengths and counts).
 *
 * The reader keeps a stack of limits. `enter(length)` narrows the readable
 * range to a declared length after checking it fits the enclosing range, and
 * `leave()` restores the outer limit after checking that the content used all
 * declared bytes. No read crosses the current limit, so a hostile length can
 * never make the decoder read past its container.
 */
import type { MedwardError } from '../core/errors.js';
import {
  AbortReason,
  MderErrorCode,
  RorjProblem,
  encodeError,
  mderError,
  type MderReaction,
} from './mder-error.js';

/** A deviation from IEEE 11073-20601 that the codec tolerates and reports. */
export interface Quirk {
  code: QuirkCode;
  message: string;
  /** Object handle the quirk concerns, when there is one. */
  handle?: number;
  /** Number of bytes involved (extra bytes, for example). */
  bytes?: number;
}

export type QuirkCode =
  | 'EVENT_INFO_TRAILING_BYTES'
  | 'VALUE_LONGER_THAN_MAP'
  | 'HANDLE_NOT_IN_CONFIGURATION'
  | 'VALUE_MAP_MISSING'
  | 'SCANNER_NOT_IN_CONFIGURATION'
  | 'ZERO_TIME_STAMP'
  | 'INVALID_TIME_STAMP';

export class MderReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos: number;
  limit: number;
  /** Invoke id of the DataApdu being decoded; selects the RORJ reaction of errors. */
  invokeId: number | undefined = undefined;
  /** True while decoding APDU framing, where errors abort the association. */
  framing = false;
  quirks: Quirk[] | undefined = undefined;
  private readonly limits: number[] = [];

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.limit = bytes.byteLength;
  }

  get remaining(): number {
    return this.limit - this.pos;
  }

  u8(field: string): number {
    const p = this.pos;
    if (p + 1 > this.limit) {
      throw this.truncated(field, 1);
    }
    this.pos = p + 1;
    return this.view.getUint8(p);
  }

  u16(field: string): number {
    const p = this.pos;
    if (p + 2 > this.limit) {
      throw this.truncated(field, 2);
    }
    this.pos = p + 2;
    return this.view.getUint16(p);
  }

  i16(field: string): number {
    const p = this.pos;
    if (p + 2 > this.limit) {
      throw this.truncated(field, 2);
    }
    this.pos = p + 2;
    return this.view.getInt16(p);
  }

  u32(field: string): number {
    const p = this.pos;
    if (p + 4 > this.limit) {
      throw this.truncated(field, 4);
    }
    this.pos = p + 4;
    return this.view.getUint32(p);
  }

  u64(field: string): bigint {
    const p = this.pos;
    if (p + 8 > this.limit) {
      throw this.truncated(field, 8);
    }
    this.pos = p + 8;
    return this.view.getBigUint64(p);
  }

  /** Returns the next `length` bytes as a view into the buffer. */
  take(length: number, field: string): Uint8Array {
    const p = this.pos;
    if (p + length > this.limit) {
      throw this.truncated(field, length);
    }
    this.pos = p + length;
    return this.bytes.subarray(p, p + length);
  }

  /** Reads an OCTET STRING: a 16-bit length and that many bytes. */
  octetString(field: string): Uint8Array {
    const length = this.u16(field);
    return this.take(length, field);
  }

  /** Narrows the readable range to the next `length` bytes. */
  enter(length: number, field: string): void {
    const end = this.pos + length;
    if (end > this.limit) {
      throw this.fail(
        MderErrorCode.LengthMismatch,
        field,
        `declared length ${length} exceeds the ${this.remaining} bytes left in its container`,
        length,
      );
    }
    this.limits.push(this.limit);
    this.limit = end;
  }

  /** Restores the outer range; rejects content that left declared bytes unread. */
  leave(field: string): void {
    if (this.pos !== this.limit) {
      throw this.fail(
        MderErrorCode.LengthMismatch,
        field,
        `${this.remaining} bytes left over inside the declared length`,
        this.remaining,
      );
    }
    this.limit = this.limits.pop() ?? this.bytes.byteLength;
  }

  /** Restores the outer range and returns any unread bytes of the inner one. */
  leaveTolerant(): Uint8Array | undefined {
    const rest = this.pos < this.limit ? this.bytes.subarray(this.pos, this.limit) : undefined;
    this.pos = this.limit;
    this.limit = this.limits.pop() ?? this.bytes.byteLength;
    return rest;
  }

  /**
   * Reads the count and length of a SEQUENCE OF and enters its range. The count
   * is checked against the length with `minElementBytes`, so an oversized count
   * fails before any element is read. Pair with `leave`.
   */
  beginList(minElementBytes: number, field: string): number {
    const count = this.u16(field);
    const length = this.u16(field);
    if (count * minElementBytes > length) {
      throw this.fail(
        MderErrorCode.CountMismatch,
        field,
        `count ${count} needs at least ${count * minElementBytes} bytes but the list length is ${length}`,
        count,
      );
    }
    this.enter(length, field);
    return count;
  }

  /** Fails when a list ran out of bytes before its count of elements was read. */
  expectElement(field: string, index: number, count: number): void {
    if (this.pos >= this.limit) {
      throw this.fail(
        MderErrorCode.CountMismatch,
        field,
        `list ended after ${index} of ${count} elements`,
        count,
      );
    }
  }

  addQuirk(quirk: Quirk): void {
    if (this.quirks === undefined) {
      this.quirks = [];
    }
    this.quirks.push(quirk);
  }

  fail(
    code: MderErrorCode,
    field: string,
    problem: string,
    value?: number,
    offset = this.pos,
  ): MedwardError {
    const message = `MDER decode failed at offset ${offset} (${field}): ${problem}; send the sender the reaction in details.reaction`;
    const reaction = this.reaction(code);
    const details =
      value === undefined ? { offset, field, reaction } : { offset, field, value, reaction };
    return mderError(code, message, details);
  }

  private truncated(field: string, needed: number): MedwardError {
    return this.fail(
      MderErrorCode.Truncated,
      field,
      `needs ${needed} bytes but ${this.remaining} remain`,
      needed,
    );
  }

  private reaction(code: MderErrorCode): MderReaction {
    if (code === MderErrorCode.TooLarge) {
      return { kind: 'abort', reason: AbortReason.bufferOverflow };
    }
    if (this.framing) {
      return { kind: 'abort', reason: AbortReason.undefined };
    }
    const problem =
      code === MderErrorCode.UnknownChoice
        ? RorjProblem.unrecognizedApdu
        : RorjProblem.badlyStructuredApdu;
    return this.invokeId === undefined
      ? { kind: 'reject', problem }
      : { kind: 'reject', problem, invokeId: this.invokeId };
  }
}

const initialWriterBytes = 256;

export class MderWriter {
  private buffer = new Uint8Array(initialWriterBytes);
  private view = new DataView(this.buffer.buffer);
  pos = 0;

  u8(value: number, field: string): void {
    checkUnsigned(value, 0xff, field);
    this.reserve(1);
    this.view.setUint8(this.pos, value);
    this.pos += 1;
  }

  u16(value: number, field: string): void {
    checkUnsigned(value, 0xffff, field);
    this.reserve(2);
    this.view.setUint16(this.pos, value);
    this.pos += 2;
  }

  i16(value: number, field: string): void {
    if (!Number.isInteger(value) || value < -0x8000 || value > 0x7fff) {
      throw encodeError(`${field} must be an integer in -32768..32767`, field, value);
    }
    this.reserve(2);
    this.view.setInt16(this.pos, value);
    this.pos += 2;
  }

  u32(value: number, field: string): void {
    checkUnsigned(value, 0xffffffff, field);
    this.reserve(4);
    this.view.setUint32(this.pos, value);
    this.pos += 4;
  }

  u64(value: bigint, field: string): void {
    if (value < 0n || value > 0xffffffffffffffffn) {
      throw encodeError(`${field} must fit in 64 unsigned bits`, field);
    }
    this.reserve(8);
    this.view.setBigUint64(this.pos, value);
    this.pos += 8;
  }

  bytes(value: Uint8Array): void {
    this.reserve(value.byteLength);
    this.buffer.set(value, this.pos);
    this.pos += value.byteLength;
  }

  octetString(value: Uint8Array, field: string): void {
    this.u16(value.byteLength, field);
    this.bytes(value);
  }

  /** Writes a placeholder length and returns its position for `endLength`. */
  beginLength(): number {
    const at = this.pos;
    this.reserve(2);
    this.pos += 2;
    return at;
  }

  /** Fills the length written by `beginLength` with the bytes written since. */
  endLength(at: number, field: string): void {
    const length = this.pos - at - 2;
    if (length > 0xffff) {
      throw encodeError(
        `${field} is ${length} bytes, above the MDER maximum of 65535`,
        field,
        length,
      );
    }
    this.view.setUint16(at, length);
  }

  /** Writes a SEQUENCE OF count and a length placeholder; close it with `endLength`. */
  beginList(count: number, field: string): number {
    this.u16(count, field);
    return this.beginLength();
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.pos);
  }

  private reserve(extra: number): void {
    const needed = this.pos + extra;
    if (needed <= this.buffer.byteLength) {
      return;
    }
    let size = this.buffer.byteLength * 2;
    while (size < needed) {
      size *= 2;
    }
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.pos));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }
}

function checkUnsigned(value: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw encodeError(`${field} must be an integer in 0..${max}`, field, value);
  }
}
