import { readFileSync } from 'node:fs';
import { CommandFailed } from './errors.js';

/** Reads a UTF-8 file named on the command line; `description` names it in the error, which exits 2. */
export function readText(file: string, description: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new CommandFailed(`cannot read ${description} ${file}: ${(error as Error).message}`, 2);
  }
}
