import { invalid } from '../../core/errors.js';
import { readCycloneDx } from './cyclonedx.js';
import { FieldReader } from './fields.js';
import { parseJsonInput } from './json-input.js';
import { readSpdx } from './spdx.js';
import { defaultSbomLimits, type SbomDocument, type SbomLimits } from './types.js';

/**
 * Reads a CycloneDX (1.4 to 1.6) or SPDX 2.3 JSON SBOM from bytes, a string
 * or an already parsed value. Throws only MedwardError: SBOM_TOO_LARGE,
 * SBOM_TOO_DEEP, SBOM_TOO_MANY_COMPONENTS, SBOM_ENCODING_INVALID,
 * SBOM_JSON_INVALID, SBOM_FORMAT_UNKNOWN, SBOM_SPEC_VERSION_UNSUPPORTED and
 * SBOM_INVALID, each with the JSON path in `details.path`. Problems that leave
 * the document usable (duplicates, dangling references, ill-typed optional
 * members) are returned as findings.
 */
export function readSbom(
  input: Uint8Array | string | { json: unknown },
  limits: SbomLimits = defaultSbomLimits,
): SbomDocument {
  const value = parseJsonInput(isParsed(input) ? serialise(input.json) : input, limits);
  const root = FieldReader.of(value, '$', []);
  if (root.value.bomFormat === 'CycloneDX') {
    return readCycloneDx(root, limits);
  }
  if (typeof root.value.spdxVersion === 'string') {
    return readSpdx(root, limits);
  }
  throw invalid(
    'SBOM_FORMAT_UNKNOWN',
    'SBOM is neither CycloneDX JSON (bomFormat "CycloneDX") nor SPDX JSON (spdxVersion); ' +
      'send a CycloneDX 1.4 to 1.6 or SPDX 2.3 JSON document',
    { path: '$' },
  );
}

/**
 * Serialises an already parsed SBOM again, so its size and depth are checked
 * like those of received bytes.
 */
function serialise(value: unknown): string {
  try {
    const text = JSON.stringify(value) as string | undefined;
    if (text === undefined) {
      throw new TypeError(`a ${typeof value} is not JSON`);
    }
    return text;
  } catch (error) {
    throw invalid(
      'SBOM_JSON_INVALID',
      `SBOM value cannot be serialised as JSON: ${(error as Error).message}`,
      {
        path: '$',
      },
    );
  }
}

function isParsed(input: Uint8Array | string | { json: unknown }): input is { json: unknown } {
  return typeof input === 'object' && !(input instanceof Uint8Array);
}
