import type { KeyObject } from 'node:crypto';
import { ErrorKind, MedwardError } from '../../core/errors.js';
import type { MudConfig } from '../config.js';
import { parseMudFile, type MudFile } from './mud-file.js';
import { mudToFlows, type MudFlows } from './mud-flows.js';
import { verifyMudSignature } from './signature.js';

export interface CompiledMud extends MudFlows {
  mud: MudFile;
  signed: boolean;
}

/**
 * Checks a MUD file's signature, parses it and returns its flows, ready for
 * `EnforcedDevice.mudFlows`. With `requireSignature` (the default) a file
 * without a valid detached signature is rejected.
 */
export function compileMudFile(
  fileBytes: Uint8Array,
  signature: string | undefined,
  config: MudConfig,
  trustKeys: readonly KeyObject[],
): CompiledMud {
  if (signature === undefined) {
    if (config.requireSignature) {
      throw new MedwardError(
        ErrorKind.Unauthenticated,
        'MUD_SIGNATURE_MISSING',
        'MUD file has no signature and enforcement.mud.requireSignature is true; fetch its signature file',
      );
    }
  } else {
    verifyMudSignature(fileBytes, signature, trustKeys);
  }
  const mud = parseMudFile(fileBytes, config.maxFileBytes);
  return { mud, signed: signature !== undefined, ...mudToFlows(mud) };
}
