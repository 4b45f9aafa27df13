import { MedwardError, ErrorKind } from '../errors.js';

/**
 * Translates a database driver error into a MedwardError once, at the storage
 * boundary, so no caller ever inspects SQLite result codes or PostgreSQL
 * SQLSTATEs. The driver error stays attached as `cause`.
 *
 * SQLite codes: https://www.sqlite.org/rescode.html
 * PostgreSQL SQLSTATEs: https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export function translateDatabaseError(error: unknown): MedwardError {
  if (error instanceof MedwardError) {
    return error;
  }
  const code = readCode(error);
  const message = error instanceof Error ? error.message : String(error);
  const wrap = (kind: ErrorKind, medwardCode: string, text: string): MedwardError =>
    new MedwardError(kind, medwardCode, text, { cause: error, details: { driverCode: code } });

  if (code === undefined) {
    return wrap(ErrorKind.Internal, 'STORAGE_FAILED', `database operation failed: ${message}`);
  }
  // SQLite extended result codes and PostgreSQL integrity violations.
  if (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === '23505'
  ) {
    return wrap(
      ErrorKind.Conflict,
      'STORAGE_CONFLICT',
      `a record with the same key exists: ${message}`,
    );
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503') {
    return wrap(
      ErrorKind.Conflict,
      'STORAGE_REFERENCE_VIOLATION',
      `the change refers to a missing record or would orphan one: ${message}`,
    );
  }
  if (code === 'SQLITE_CONSTRAINT_TRIGGER' || code === 'P0001') {
    // Raised by medward's own triggers, for example the append-only audit table.
    return wrap(
      ErrorKind.Forbidden,
      'STORAGE_RULE_VIOLATION',
      `rejected by a storage rule: ${message}`,
    );
  }
  if (code.startsWith('SQLITE_CONSTRAINT') || code.startsWith('23')) {
    return wrap(
      ErrorKind.Invalid,
      'STORAGE_CONSTRAINT',
      `a stored value violates a constraint: ${message}`,
    );
  }
  if (code === '40001' || code === '40P01') {
    return wrap(
      ErrorKind.Conflict,
      'STORAGE_SERIALIZATION_FAILURE',
      `concurrent transactions collided; retry the operation: ${message}`,
    );
  }
  if (code === '57014' || code === '55P03') {
    return wrap(ErrorKind.Timeout, 'STORAGE_TIMEOUT', `database statement timed out: ${message}`);
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return wrap(ErrorKind.Timeout, 'STORAGE_TIMEOUT', `database is busy: ${message}`);
  }
  if (
    code.startsWith('08') ||
    code === '53300' ||
    code === '57P01' ||
    code === '57P03' ||
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT' ||
    code === 'ENOTFOUND' ||
    code === 'SQLITE_CANTOPEN' ||
    code === 'EACCES' ||
    code === 'ENOENT' ||
    code === 'ENOTDIR' ||
    code === 'EEXIST' ||
    code === 'EROFS' ||
    code === 'SQLITE_FULL' ||
    code === 'SQLITE_IOERR'
  ) {
    return wrap(
      ErrorKind.Unavailable,
      'STORAGE_UNAVAILABLE',
      `database is unavailable: ${message}`,
    );
  }
  return wrap(
    ErrorKind.Internal,
    'STORAGE_FAILED',
    `database operation failed (${code}): ${message}`,
  );
}

function readCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) {
    if (
      error instanceof Error &&
      /Connection terminated|timeout exceeded when trying to connect/.test(error.message)
    ) {
      return 'ECONNRESET';
    }
    return undefined;
  }
  const code = (error).code;
  return typeof code === 'string' ? code : undefined;
}
