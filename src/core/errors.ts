/**
 * One error base for all of medward. Every error carries a stable machine code
 * (SCREAMING_SNAKE, scoped by subsystem, for example `STORAGE_CONFLICT` or
 * `MDER_LENGTH_OUT_OF_BOUNDS`) and a kind that says who is at fault and how a
 * caller should react. HTTP statuses and protocol result codes are derived
 * from the kind or the code in one table per protocol, never at throw sites.
 */

export const ErrorKind = {
  /** The request or input is malformed or violates a rule; the caller must change it. */
  Invalid: 'invalid',
  /** No credentials, or credentials that could not be verified. */
  Unauthenticated: 'unauthenticated',
  /** Verified caller without the right to do this. */
  Forbidden: 'forbidden',
  NotFound: 'not-found',
  /** The target exists in a state that conflicts with the request (duplicate, stale version). */
  Conflict: 'conflict',
  TooLarge: 'too-large',
  RateLimited: 'rate-limited',
  Timeout: 'timeout',
  /** A dependency (database, broker, peer) cannot be reached now; retrying later may work. */
  Unavailable: 'unavailable',
  /** A defect in medward itself. */
  Internal: 'internal',
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

export type ErrorDetails = Readonly<Record<string, unknown>>;

export interface MedwardErrorOptions {
  details?: ErrorDetails;
  cause?: unknown;
}

export class MedwardError extends Error {
  override readonly name = 'MedwardError';
  readonly kind: ErrorKind;
  readonly code: string;
  readonly details: ErrorDetails;

  constructor(kind: ErrorKind, code: string, message: string, options: MedwardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.code = code;
    this.details = options.details ?? {};
  }
}

export function isMedwardError(value: unknown): value is MedwardError {
  return value instanceof MedwardError;
}

const httpStatusByKind: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  'rate-limited': 429,
  timeout: 504,
  unavailable: 503,
  internal: 500,
};

export function httpStatusOf(kind: ErrorKind): number {
  return httpStatusByKind[kind];
}

/** Wraps anything thrown into a MedwardError, keeping the original as `cause`. */
export function toMedwardError(error: unknown, code = 'INTERNAL_ERROR'): MedwardError {
  if (error instanceof MedwardError) {
    return error;
  }
  const message = error instanceof Error ? error.message : String(error);
  return new MedwardError(ErrorKind.Internal, code, message, { cause: error });
}

/** Builds an `invalid` error; `field` names the value that failed so callers can report it. */
export function invalid(code: string, message: string, details?: ErrorDetails): MedwardError {
  return new MedwardError(ErrorKind.Invalid, code, message, details ? { details } : {});
}

export function notFound(code: string, message: string, details?: ErrorDetails): MedwardError {
  return new MedwardError(ErrorKind.NotFound, code, message, details ? { details } : {});
}

export function conflict(code: string, message: string, details?: ErrorDetails): MedwardError {
  return new MedwardError(ErrorKind.Conflict, code, message, details ? { details } : {});
}
