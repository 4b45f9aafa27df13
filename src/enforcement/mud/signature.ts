import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ErrorKind, MedwardError, invalid } from '../../core/errors.js';

/**
 * Signature check for MUD files.
 *
 * RFC 8520 §13 signs a MUD file with a detached CMS (PKCS#7) SignedData.
 * TODO: verify CMS signatures; medward accepts only a detached JWS (RFC 7515
 * Appendix F) over the file bytes, signed with EdDSA (Ed25519), ES256 or ES384
 * by one of the configured trust keys.
 */

const algorithms = {
  EdDSA: { hash: null, keyType: 'ed25519', curve: undefined },
  ES256: { hash: 'sha256', keyType: 'ec', curve: 'prime256v1' },
  ES384: { hash: 'sha384', keyType: 'ec', curve: 'secp384r1' },
} as const;
type Algorithm = keyof typeof algorithms;

function signatureError(message: string): MedwardError {
  return new MedwardError(
    ErrorKind.Unauthenticated,
    'MUD_SIGNATURE_INVALID',
    `MUD signature ${message}`,
  );
}

/** Loads PEM public keys (or certificates, whose public key is used) from files. */
export function loadMudTrustKeys(files: readonly string[]): KeyObject[] {
  return files.map((file) => {
    try {
      return createPublicKey(readFileSync(file));
    } catch (error) {
      throw invalid(
        'MUD_TRUST_KEY_INVALID',
        `MUD trust key file ${file} is not a readable PEM public key: ${(error as Error).message}`,
        { file },
      );
    }
  });
}

function base64url(text: string, part: string): Buffer {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) {
    throw signatureError(`${part} is not base64url`);
  }
  return Buffer.from(text, 'base64url');
}

/**
 * Verifies a detached JWS in compact form (`header..signature`) over the MUD
 * file's bytes. Supports the unencoded payload option of RFC 7797 (`"b64":
 * false` listed in `crit`). Rejects an unknown algorithm, a key of the wrong
 * type, and a signature no trust key verifies.
 */
export function verifyMudSignature(
  fileBytes: Uint8Array,
  jws: string,
  trustKeys: readonly KeyObject[],
): void {
  const parts = jws.trim().split('.');
  if (parts.length !== 3 || parts[1] !== '') {
    throw signatureError('is not a detached JWS of the form header..signature');
  }
  const [encodedHeader = '', , encodedSignature = ''] = parts;
  let header: unknown;
  try {
    header = JSON.parse(base64url(encodedHeader, 'header').toString('utf8'));
  } catch (error) {
    if (error instanceof MedwardError) {
      throw error;
    }
    throw signatureError('header is not JSON');
  }
  if (typeof header !== 'object' || header === null) {
    throw signatureError('header is not an object');
  }
  const { alg, b64, crit } = header as { alg?: unknown; b64?: unknown; crit?: unknown };
  if (typeof alg !== 'string' || !(alg in algorithms)) {
    throw signatureError(`algorithm ${String(alg)} is not accepted; use EdDSA, ES256 or ES384`);
  }
  const critical = Array.isArray(crit) ? crit : [];
  if (crit !== undefined && (!Array.isArray(crit) || critical.some((name) => name !== 'b64'))) {
    throw signatureError('header lists critical parameters other than b64');
  }
  if (b64 !== undefined && (b64 !== false || !critical.includes('b64'))) {
    throw signatureError('header sets b64 without listing it in crit as RFC 7797 requires');
  }
  const payload =
    b64 === false
      ? Buffer.from(fileBytes)
      : Buffer.from(Buffer.from(fileBytes).toString('base64url'));
  const signingInput = Buffer.concat([Buffer.from(`${encodedHeader}.`), payload]);
  const signature = base64url(encodedSignature, 'signature');
  const algorithm = algorithms[alg as Algorithm];
  for (const key of trustKeys) {
    if (key.asymmetricKeyType !== algorithm.keyType) {
      continue;
    }
    if (algorithm.curve !== undefined && key.asymmetricKeyDetails?.namedCurve !== algorithm.curve) {
      continue;
    }
    const valid =
      algorithm.hash === null
        ? verify(null, signingInput, key, signature)
        : verify(algorithm.hash, signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature);
    if (valid) {
      return;
    }
  }
  throw signatureError(`(${alg}) is not valid for any configured trust key`);
}
