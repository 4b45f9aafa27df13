import { ErrorKind, MedwardError } from '../errors.js';

/**
 * NATS client errors by class name. Names are compared instead of classes
 * because the client's error classes live in several packages.
 */
const kindByErrorName: Readonly<Record<string, ErrorKind>> = {
  TimeoutError: ErrorKind.Timeout,
  ConnectionError: ErrorKind.Unavailable,
  ClosedConnectionError: ErrorKind.Unavailable,
  DrainingConnectionError: ErrorKind.Unavailable,
  NoResponders: ErrorKind.Unavailable,
  JetStreamNotEnabled: ErrorKind.Unavailable,
  AuthorizationError: ErrorKind.Unauthenticated,
  UserAuthenticationExpiredError: ErrorKind.Unauthenticated,
  PermissionViolationError: ErrorKind.Forbidden,
  StreamNotFoundError: ErrorKind.NotFound,
  ConsumerNotFoundError: ErrorKind.NotFound,
};

/** JetStream API error codes from the NATS server's error table (server/errors.json). */
const kindByApiCode: Readonly<Record<number, ErrorKind>> = {
  10054: ErrorKind.TooLarge, // message exceeds the stream's maximum message size
  10058: ErrorKind.Conflict, // stream name already in use with a different configuration
  10065: ErrorKind.Conflict, // stream subjects overlap with another stream
};

function errorChain(error: unknown): Error[] {
  const chain: Error[] = [];
  let current: unknown = error;
  while (current instanceof Error && chain.length < 8) {
    chain.push(current);
    current = current.cause;
  }
  return chain;
}

function apiCodeOf(error: Error): number | undefined {
  if (error.name !== 'JetStreamApiError') {
    return undefined;
  }
  const code = (error as Error & { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Wraps a NATS client error in a MedwardError. Timeouts become kind `timeout`
 * with code `BUS_TIMEOUT`, and lost or refused connections become kind
 * `unavailable` with code `BUS_UNAVAILABLE`. Other errors keep `code`.
 */
export function toBusError(error: unknown, code: string, action: string): MedwardError {
  if (error instanceof MedwardError) {
    return error;
  }
  let kind: ErrorKind = ErrorKind.Internal;
  for (const link of errorChain(error)) {
    const apiCode = apiCodeOf(link);
    const linkKind =
      (apiCode === undefined ? undefined : kindByApiCode[apiCode]) ?? kindByErrorName[link.name];
    if (linkKind !== undefined) {
      kind = linkKind;
      break;
    }
  }
  const reason = error instanceof Error ? error.message : String(error);
  const resolvedCode =
    kind === ErrorKind.Timeout
      ? 'BUS_TIMEOUT'
      : kind === ErrorKind.Unavailable
        ? 'BUS_UNAVAILABLE'
        : code;
  const hint =
    kind === ErrorKind.Timeout || kind === ErrorKind.Unavailable
      ? '; check that the NATS server is running with JetStream enabled and retry'
      : '';
  return new MedwardError(kind, resolvedCode, `${action} failed: ${reason}${hint}`, {
    cause: error,
  });
}

export function isNotFound(error: unknown): boolean {
  return errorChain(error).some(
    (link) => link.name === 'StreamNotFoundError' || link.name === 'ConsumerNotFoundError',
  );
}
