import { ErrorKind, MedwardError, invalid } from '../../core/errors.js';
import { excessiveDepthOffset } from '../json-depth.js';
import type { SbomLimits } from './types.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes and parses an SBOM's JSON text after checking its size and nesting
 * depth, so an oversized or deeply nested document is rejected before the
 * parser builds it. Accepts bytes (UTF-8, with or without a byte order mark)
 * or an already decoded string.
 */
export function parseJsonInput(input: Uint8Array | string, limits: SbomLimits): unknown {
  const byteLength = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.length;
  if (byteLength > limits.maxBytes) {
    throw new MedwardError(
      ErrorKind.TooLarge,
      'SBOM_TOO_LARGE',
      `SBOM is ${byteLength} bytes, more than the limit of ${limits.maxBytes}; ` +
        'send a smaller document or raise onboarding.sbom.maxBytes',
      { details: { path: '$', bytes: byteLength, maxBytes: limits.maxBytes } },
    );
  }
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = decoder.decode(input);
    } catch (error) {
      throw new MedwardError(
        ErrorKind.Invalid,
        'SBOM_ENCODING_INVALID',
        'SBOM is not valid UTF-8; encode the JSON document as UTF-8',
        { cause: error, details: { path: '$' } },
      );
    }
  }
  if (text.charCodeAt(0) === 0xfeff) {
    text = text.slice(1);
  }
  assertDepth(text, limits.maxDepth);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalid('SBOM_JSON_INVALID', `SBOM is not valid JSON: ${(error as Error).message}`, {
      path: '$',
    });
  }
}

function assertDepth(text: string, maxDepth: number): void {
  const offset = excessiveDepthOffset(text, maxDepth);
  if (offset >= 0) {
    throw invalid(
      'SBOM_TOO_DEEP',
      `SBOM nests objects and arrays deeper than ${maxDepth} levels (at character ${offset}); ` +
        'flatten the document or raise onboarding.sbom.maxDepth',
      { path: '$', offset, maxDepth },
    );
  }
}
