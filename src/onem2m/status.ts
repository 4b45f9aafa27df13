import { ErrorKind, MedwardError, isMedwardError } from '../core/errors.js';

/**
 * Response status codes (m2m:responseStatusCode, TS-0004) used by this CSE,
 * with the HTTP status each maps to in the HTTP binding (TS-0009, as the ACME
 * reference CSE applies it:
 * 4008 becomes 504 and 4001 becomes 501).
 */
export const ResponseStatusCode = {
  OK: 2000,
  CREATED: 2001,
  DELETED: 2002,
  UPDATED: 2004,
  BAD_REQUEST: 4000,
  RELEASE_VERSION_NOT_SUPPORTED: 4001,
  NOT_FOUND: 4004,
  OPERATION_NOT_ALLOWED: 4005,
  REQUEST_TIMEOUT: 4008,
  UNSUPPORTED_MEDIA_TYPE: 4015,
  SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE: 4101,
  CONTENTS_UNACCEPTABLE: 4102,
  ORIGINATOR_HAS_NO_PRIVILEGE: 4103,
  CONFLICT: 4105,
  ORIGINATOR_HAS_NOT_REGISTERED: 4106,
  SECURITY_ASSOCIATION_REQUIRED: 4107,
  INVALID_CHILD_RESOURCE_TYPE: 4108,
  GROUP_MEMBER_TYPE_INCONSISTENT: 4110,
  ORIGINATOR_HAS_ALREADY_REGISTERED: 4117,
  APP_RULE_VALIDATION_FAILED: 4126,
  INTERNAL_SERVER_ERROR: 5000,
  NOT_IMPLEMENTED: 5001,
  TARGET_NOT_REACHABLE: 5103,
  RECEIVER_HAS_NO_PRIVILEGE: 5105,
  ALREADY_EXISTS: 5106,
  TARGET_NOT_SUBSCRIBABLE: 5203,
  SUBSCRIPTION_VERIFICATION_INITIATION_FAILED: 5204,
  NON_BLOCKING_REQUEST_NOT_SUPPORTED: 5206,
  NOT_ACCEPTABLE: 5207,
  MAX_NUMBER_OF_MEMBER_EXCEEDED: 6010,
} as const;
export type ResponseStatusCodeName = keyof typeof ResponseStatusCode;
export type ResponseStatusCode = (typeof ResponseStatusCode)[ResponseStatusCodeName];

const httpStatusByRsc: Readonly<Record<number, number>> = {
  2000: 200,
  2001: 201,
  2002: 200,
  2004: 200,
  4000: 400,
  4001: 501,
  4004: 404,
  4005: 405,
  4008: 504,
  4015: 415,
  4101: 403,
  4102: 400,
  4103: 403,
  4105: 409,
  4106: 403,
  4107: 403,
  4108: 403,
  4110: 400,
  4117: 403,
  4126: 403,
  5000: 500,
  5001: 501,
  5103: 404,
  5105: 403,
  5106: 403,
  5203: 403,
  5204: 500,
  5206: 501,
  5207: 406,
  6010: 400,
};

/** HTTP status for a response status code; unknown error codes map by their class. */
export function httpStatusOfRsc(rsc: number): number {
  const mapped = httpStatusByRsc[rsc];
  if (mapped !== undefined) {
    return mapped;
  }
  if (rsc >= 2000 && rsc < 3000) {
    return 200;
  }
  return rsc >= 5000 ? 500 : 400;
}

export function isSuccessRsc(rsc: number): boolean {
  return rsc >= 1000 && rsc < 3000;
}

const CODE_PREFIX = 'ONEM2M_';

const rscByName = new Map<string, number>(Object.entries(ResponseStatusCode));

const kindByClass = (rsc: number): ErrorKind => {
  if (rsc === ResponseStatusCode.NOT_FOUND || rsc === ResponseStatusCode.TARGET_NOT_REACHABLE) {
    return ErrorKind.NotFound;
  }
  if (
    rsc === ResponseStatusCode.ORIGINATOR_HAS_NO_PRIVILEGE ||
    rsc === ResponseStatusCode.APP_RULE_VALIDATION_FAILED ||
    rsc === ResponseStatusCode.ORIGINATOR_HAS_NOT_REGISTERED ||
    rsc === ResponseStatusCode.SECURITY_ASSOCIATION_REQUIRED
  ) {
    return ErrorKind.Forbidden;
  }
  if (
    rsc === ResponseStatusCode.CONFLICT ||
    rsc === ResponseStatusCode.ORIGINATOR_HAS_ALREADY_REGISTERED
  ) {
    return ErrorKind.Conflict;
  }
  if (rsc === ResponseStatusCode.REQUEST_TIMEOUT) {
    return ErrorKind.Timeout;
  }
  return rsc >= 5000 ? ErrorKind.Internal : ErrorKind.Invalid;
};

/**
 * Builds the error for a oneM2M failure. Its code is `ONEM2M_<name>`, so the
 * response status code follows from the code alone (see `rscOf`), and the
 * message becomes the response's `m2m:dbg` text.
 */
export function onem2mError(
  name: ResponseStatusCodeName,
  dbg: string,
  details: Record<string, unknown> = {},
): MedwardError {
  const rsc = ResponseStatusCode[name];
  return new MedwardError(kindByClass(rsc), CODE_PREFIX + name, dbg, { details });
}

/**
 * Returns the response status code for anything thrown while handling a
 * request: `ONEM2M_*` codes directly, storage and other medward errors by
 * their kind, and everything else as 5000.
 */
export function rscOf(error: unknown): number {
  if (!isMedwardError(error)) {
    return ResponseStatusCode.INTERNAL_SERVER_ERROR;
  }
  if (error.code.startsWith(CODE_PREFIX)) {
    const rsc = rscByName.get(error.code.slice(CODE_PREFIX.length));
    if (rsc !== undefined) {
      return rsc;
    }
  }
  switch (error.kind) {
    case ErrorKind.Invalid:
      return ResponseStatusCode.BAD_REQUEST;
    case ErrorKind.NotFound:
      return ResponseStatusCode.NOT_FOUND;
    case ErrorKind.Conflict:
      return ResponseStatusCode.CONFLICT;
    case ErrorKind.Forbidden:
    case ErrorKind.Unauthenticated:
      return ResponseStatusCode.ORIGINATOR_HAS_NO_PRIVILEGE;
    case ErrorKind.TooLarge:
      return ResponseStatusCode.BAD_REQUEST;
    case ErrorKind.Timeout:
      return ResponseStatusCode.REQUEST_TIMEOUT;
    case ErrorKind.RateLimited:
    case ErrorKind.Unavailable:
    case ErrorKind.Internal:
      return ResponseStatusCode.INTERNAL_SERVER_ERROR;
  }
}
