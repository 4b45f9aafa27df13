import { ErrorKind, MedwardError } from '../../core/errors.js';

/** Builds the MUD_SIGNATURE_INVALID error; `message` continues the words "MUD signature". */
export function signatureError(message: string, cause?: unknown): MedwardError {
  return new MedwardError(
    ErrorKind.Unauthenticated,
    'MUD_SIGNATURE_INVALID',
    `MUD signature ${message}`,
    cause === undefined ? {} : { cause },
  );
}
