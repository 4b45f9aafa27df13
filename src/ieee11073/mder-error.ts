/**
 * Decode and encode errors of the MDER codec, and the protocol reaction a
 * manager sends when it receives bytes it cannot decode.
 */
import { ErrorKind, MedwardError, isMedwardError } from '../core/errors.js';

export const MderErrorCode = {
  /** A field needs more bytes than its container (or the buffer) has left. */
  Truncated: 'MDER_TRUNCATED',
  /** A declared length disagrees with its container or with the content it holds. */
  LengthMismatch: 'MDER_LENGTH_MISMATCH',
  /** A list count disagrees with the list length. */
  CountMismatch: 'MDER_COUNT_MISMATCH',
  /** The APDU CHOICE tag is not one of AARQ, AARE, RLRQ, RLRE, ABRT or PRST. */
  UnknownApdu: 'MDER_UNKNOWN_APDU',
  /** A CHOICE inside the APDU (the DataApdu message) has an unknown tag. */
  UnknownChoice: 'MDER_UNKNOWN_CHOICE',
  /** An AbsoluteTime byte contains a nibble above 9. */
  InvalidBcd: 'MDER_INVALID_BCD',
  /** The APDU is larger than `maxApduBytes`. */
  TooLarge: 'MDER_TOO_LARGE',
  /** A value handed to the encoder does not fit its MDER type. */
  EncodeInvalid: 'MDER_ENCODE_INVALID',
} as const;
export type MderErrorCode = (typeof MderErrorCode)[keyof typeof MderErrorCode];

/** AbortReason of IEEE 11073-20601. */
export const AbortReason = {
  undefined: 0,
  bufferOverflow: 1,
  responseTimeout: 2,
  configurationTimeout: 3,
} as const;

/** RorjProblem of IEEE 11073-20601. */
export const RorjProblem = {
  unrecognizedApdu: 0,
  badlyStructuredApdu: 2,
  unrecognizedOperation: 101,
  resourceLimitation: 103,
  unexpectedError: 303,
} as const;

/**
 * What the receiver of undecodable bytes sends back. Bytes that break the APDU
 * framing (APDU header, association APDUs, PRST length) leave no invoke id to
 * respond to, so the association is aborted: reason buffer-overflow for an APDU
 * above `maxApduBytes`, reason undefined otherwise. Once the DataApdu invoke id
 * is read, the reply is a RORJ with that invoke id: unrecognized-apdu for an
 * unknown message CHOICE, badly-structured-apdu for everything else.
 * `invokeId` is absent when the bytes were decoded outside an APDU, for
 * example observation values. The caller then uses the invoke id of the
 * DataApdu that carried them.
 */
export type MderReaction =
  { kind: 'abort'; reason: number } | { kind: 'reject'; problem: number; invokeId?: number };

export type MderErrorDetails = {
  /** Byte offset of the failing field within the decoded bytes. */
  offset: number;
  /** ASN.1 name of the failing field. */
  field: string;
  /** The offending value (a length, count, tag or byte) when there is one. */
  value?: number;
  reaction: MderReaction;
};

export function mderError(
  code: MderErrorCode,
  message: string,
  details: MderErrorDetails,
): MedwardError {
  const kind = code === MderErrorCode.TooLarge ? ErrorKind.TooLarge : ErrorKind.Invalid;
  return new MedwardError(kind, code, message, { details });
}

export function encodeError(message: string, field: string, value?: number): MedwardError {
  return new MedwardError(ErrorKind.Invalid, MderErrorCode.EncodeInvalid, message, {
    details: value === undefined ? { field } : { field, value },
  });
}

/** Returns the protocol reaction carried by an MDER decode error, or undefined for other errors. */
export function reactionFor(error: unknown): MderReaction | undefined {
  if (!isMedwardError(error) || !error.code.startsWith('MDER_')) {
    return undefined;
  }
  const reaction: unknown = error.details.reaction;
  return isReaction(reaction) ? reaction : undefined;
}

function isReaction(value: unknown): value is MderReaction {
  if (typeof value !== 'object' || value === null || !('kind' in value)) {
    return false;
  }
  return value.kind === 'abort' || value.kind === 'reject';
}
