import { verify, type KeyObject } from 'node:crypto';
import { MedwardError } from '../../core/errors.js';
import { signatureError } from './signature-error.js';

const algorithms = {
  EdDSA: { hash: null, keyType: 'ed25519', curve: undefined },
  ES256: { hash: 'sha256', keyType: 'ec', curve: 'prime256v1' },
  ES384: { hash: 'sha384', keyType: 'ec', curve: 'secp384r1' },
} as const;
type Algorithm = keyof typeof algorithms;

function base64url(text: string, part: string): Buffer {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) {
    throw signatureError(`${part} is not base64url`);
  }
  return Buffer.from(text, 'base64url');
}

/**
 * Verifies a detached JWS in compact form (`header..signature`, RFC 7515
 * Appendix F) over the MUD file's bytes. Supports the unencoded payload
 * option of RFC 7797 (`"b64": false` listed in `crit`). Rejects an unknown
 * algorithm, a key of the wrong type, and a signature no trust key verifies.
 */
export function verifyDetachedJws(
  fileBytes: Uint8Array,
  jws: string,
  trustKeys: readonly KeyObject[],
): void {
  const parts = jws.trim().split('.');
  if (parts.length !== 3 || parts[1] !== '') {
    throw signatureError(
      'is neither a detached JWS of the form header..signature nor a CMS SignedData in DER or PEM',
    );
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
