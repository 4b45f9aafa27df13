import { ErrorKind, MedwardError } from '../../core/errors.js';
import type { MudConfig } from '../config.js';
import { parseMudFile, type MudFile } from './mud-file.js';
import { mudToFlows, type MudFlows } from './mud-flows.js';
import { verifyMudSignature, type MudTrustKey } from './signature.js';

export interface CompiledMud extends MudFlows {
  mud: MudFile;
  signed: boolean;
}

/**
 * Checks a MUD file's signature at `now`, parses the file and returns its
 * flows, ready for `EnforcedDevice.mudFlows`. `signature` is the signature
 * file as fetched (CMS in DER or PEM, or a detached JWS). With
 * `requireSignature` (the default) a file without a signature is rejected;
 * a signature that is present must be valid either way.
 */
export function compileMudFile(
  fileBytes: Uint8Array,
  signature: Uint8Array | string | undefined,
  config: MudConfig,
  trustKeys: readonly MudTrustKey[],
  now: Date = new Date(),
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
    verifyMudSignature(fileBytes, signature, trustKeys, now);
  }
  const mud = parseMudFile(fileBytes, config.maxFileBytes);
  return { mud, signed: signature !== undefined, ...mudToFlows(mud) };
}
