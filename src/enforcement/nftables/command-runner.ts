import { spawn } from 'node:child_process';
import { ErrorKind, MedwardError } from '../../core/errors.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** Runs the nft program with `args`, writing `input` to its standard input. Rejects on a non-zero exit. */
export type CommandRunner = (args: readonly string[], input?: string) => Promise<CommandResult>;

/**
 * Creates a runner for `argv` plus the call's arguments. `argv` is `['nft']`
 * on the gateway host, or `['ip', 'netns', 'exec', 'gw', 'nft']` to run nft
 * inside a network namespace.
 */
export function createCommandRunner(argv: readonly string[], timeoutMs: number): CommandRunner {
  const [program, ...prefix] = argv;
  if (program === undefined) {
    throw new MedwardError(
      ErrorKind.Internal,
      'ENFORCEMENT_COMMAND_EMPTY',
      'nft command line is empty; set enforcement.nftables.command',
    );
  }
  return (args, input) =>
    new Promise((resolve, reject) => {
      const child = spawn(program, [...prefix, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        timeout: timeoutMs,
      });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.once('error', (error) => {
        reject(
          new MedwardError(
            ErrorKind.Unavailable,
            'ENFORCEMENT_NFT_UNAVAILABLE',
            `cannot run ${program}: ${error.message}; install nftables (apt-get install nftables)`,
            {
              cause: error,
            },
          ),
        );
      });
      child.once('close', (code, signal) => {
        const result = {
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
        };
        if (code === 0) {
          resolve(result);
          return;
        }
        reject(
          new MedwardError(
            ErrorKind.Unavailable,
            'ENFORCEMENT_NFT_FAILED',
            `${[program, ...prefix, ...args].join(' ')} failed (${signal ?? `exit ${code}`}): ${result.stderr.trim().slice(0, 2000)}`,
            { details: { code, signal, args } },
          ),
        );
      });
      child.stdin.on('error', () => {
        // The exit status reports the failure; an EPIPE here adds nothing.
      });
      child.stdin.end(input ?? '');
    });
}
