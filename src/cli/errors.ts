import { CommanderError } from 'commander';
import { isMedwardError, type ErrorKind } from '../core/errors.js';

/** Process exit codes by error kind, so scripts can tell failures apart. */
const exitCodeByKind: Readonly<Record<ErrorKind, number>> = {
  invalid: 2,
  unauthenticated: 5,
  forbidden: 5,
  'not-found': 3,
  conflict: 4,
  'too-large': 2,
  'rate-limited': 6,
  timeout: 6,
  unavailable: 6,
  internal: 1,
};

/** A command's own failure that is not an error of medward, such as a failed audit check. */
export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/**
 * Prints a CLI failure and returns its exit code; every command's errors end
 * here. Causes print only with --verbose.
 */
export function handleCliError(error: unknown, verbose: boolean): number {
  if (error instanceof CommanderError) {
    // Commander has already printed usage errors and help.
    return error.code === 'commander.helpDisplayed' || error.code === 'commander.version'
      ? 0
      : error.exitCode === 0
        ? 0
        : 2;
  }
  if (error instanceof CommandFailed) {
    process.stderr.write(`medward: ${error.message}\n`);
    return error.exitCode;
  }
  if (isMedwardError(error)) {
    process.stderr.write(`medward: ${error.message} [${error.code}]\n`);
    if (verbose && error.cause !== undefined) {
      process.stderr.write(`cause: ${describeCause(error.cause)}\n`);
    }
    return exitCodeByKind[error.kind];
  }
  process.stderr.write(`medward: unexpected failure: ${describeCause(error)}\n`);
  return 1;
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    return cause.stack ?? cause.message;
  }
  return JSON.stringify(cause);
}
