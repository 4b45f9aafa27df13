/**
 * Decodes one MDER-encoded IEEE 11073-20601 APDU from untrusted bytes.
 */
import type { MedwardError } from '../core/errors.js';
import type { Apdu, PrstApdu } from './apdu.js';
import { readAare, readAarq } from './association.js';
import { readDataMessage } from './data-apdu.js';
import { MderReader, type Quirk } from './mder.js';
import { MderErrorCode } from './mder-error.js';

/** APDU CHOICE tags. */
export const ApduTag = {
  aarq: 0xe200,
  aare: 0xe300,
  rlrq: 0xe400,
  rlre: 0xe500,
  abrt: 0xe600,
  prst: 0xe700,
} as const satisfies Record<Apdu['kind'], number>;

/** Bytes of the APDU header: CHOICE tag and length. */
export const APDU_HEADER_BYTES = 4;

/**
 * Default maximum APDU size: 63 KiB (64512 octets), the largest APDU that
 * IEEE 11073-20601 allows a manager to receive.
 * NOTE: this is the 20601 limit as recalled, not checked against a copy of the
 * standard. Specializations set smaller limits, so managers may pass a lower
 * `maxApduBytes`.
 */
export const DEFAULT_MAX_APDU_BYTES = 63 * 1024;

export interface DecodeOptions {
  /** Largest APDU, header included, that the decoder accepts; default `DEFAULT_MAX_APDU_BYTES`. */
  maxApduBytes?: number;
}

export interface DecodedApdu {
  apdu: Apdu;
  /** Tolerated deviations, empty for a conforming APDU. */
  quirks: readonly Quirk[];
}

const noQuirks: readonly Quirk[] = Object.freeze([]);

/**
 * Returns the total size (header included) of the APDU that starts at the
 * beginning of `bytes`, or undefined when fewer than 4 bytes are present.
 * Stream transports use it to cut APDUs out of a byte stream.
 */
export function peekApduLength(bytes: Uint8Array): number | undefined {
  if (bytes.byteLength < APDU_HEADER_BYTES) {
    return undefined;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, APDU_HEADER_BYTES);
  return APDU_HEADER_BYTES + view.getUint16(2);
}

/**
 * Decodes exactly one APDU. Throws a MedwardError with an `MDER_*` code whose
 * details carry the byte offset, the field and the protocol reaction (see
 * `reactionFor`) when the bytes are not a well-formed APDU.
 */
export function decodeApdu(bytes: Uint8Array, options?: DecodeOptions): DecodedApdu {
  const maxApduBytes = options?.maxApduBytes ?? DEFAULT_MAX_APDU_BYTES;
  const reader = new MderReader(bytes);
  reader.framing = true;
  if (bytes.byteLength > maxApduBytes) {
    throw tooLarge(reader, bytes.byteLength, maxApduBytes);
  }
  const tag = reader.u16('apdu');
  const length = reader.u16('apdu');
  checkFrame(reader, length, maxApduBytes);
  reader.enter(length, 'apdu');
  const apdu = readApduBody(reader, tag);
  reader.leave('apdu');
  return { apdu, quirks: reader.quirks ?? noQuirks };
}

function tooLarge(reader: MderReader, size: number, maxApduBytes: number): MedwardError {
  return reader.fail(
    MderErrorCode.TooLarge,
    'apdu',
    `APDU of ${size} bytes exceeds maxApduBytes ${maxApduBytes}`,
    size,
    0,
  );
}

function checkFrame(reader: MderReader, length: number, maxApduBytes: number): void {
  const declared = APDU_HEADER_BYTES + length;
  const actual = reader.bytes.byteLength;
  if (declared > maxApduBytes) {
    throw tooLarge(reader, declared, maxApduBytes);
  }
  if (declared > actual) {
    throw reader.fail(
      MderErrorCode.Truncated,
      'apdu',
      `APDU declares ${declared} bytes but ${actual} were received`,
      length,
      2,
    );
  }
  if (declared < actual) {
    throw reader.fail(
      MderErrorCode.LengthMismatch,
      'apdu',
      `${actual - declared} bytes follow the ${declared}-byte APDU`,
      length,
      declared,
    );
  }
}

function readApduBody(reader: MderReader, tag: number): Apdu {
  switch (tag) {
    case ApduTag.aarq:
      return readAarq(reader);
    case ApduTag.aare:
      return readAare(reader);
    case ApduTag.rlrq:
      return { kind: 'rlrq', reason: reader.u16('reason') };
    case ApduTag.rlre:
      return { kind: 'rlre', reason: reader.u16('reason') };
    case ApduTag.abrt:
      return { kind: 'abrt', reason: reader.u16('reason') };
    case ApduTag.prst:
      return readPrst(reader);
    default:
      throw reader.fail(
        MderErrorCode.UnknownApdu,
        'apdu',
        `APDU CHOICE 0x${tag.toString(16).padStart(4, '0')} is none of AARQ, AARE, RLRQ, RLRE, ABRT, PRST`,
        tag,
        0,
      );
  }
}

function readPrst(reader: MderReader): PrstApdu {
  const lengthOffset = reader.pos;
  const length = reader.u16('prst');
  if (length !== reader.remaining) {
    throw reader.fail(
      MderErrorCode.LengthMismatch,
      'prst',
      `PRST octet string length ${length} disagrees with the ${reader.remaining} bytes of the APDU`,
      length,
      lengthOffset,
    );
  }
  const invokeId = reader.u16('invoke-id');
  reader.invokeId = invokeId;
  reader.framing = false;
  const message = readDataMessage(reader);
  return { kind: 'prst', data: { invokeId, message } };
}
