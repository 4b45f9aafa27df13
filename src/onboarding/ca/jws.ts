import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../../core/audit/canonical-json.js';
import { ErrorKind, MedwardError } from '../../core/errors.js';

type JwsAlgorithm = 'ES256' | 'ES384' | 'RS256' | 'EdDSA';

function algorithmOf(key: KeyObject): { alg: JwsAlgorithm; digest: string | null } {
  if (key.asymmetricKeyType === 'ed25519') {
    return { alg: 'EdDSA', digest: null };
  }
  if (key.asymmetricKeyType === 'rsa') {
    return { alg: 'RS256', digest: 'sha256' };
  }
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1') {
    return { alg: 'ES384', digest: 'sha384' };
  }
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return { alg: 'ES256', digest: 'sha256' };
  }
  throw new MedwardError(
    ErrorKind.Internal,
    'REGISTRATION_SIGNING_KEY_UNSUPPORTED',
    `configuration signing key type ${key.asymmetricKeyType ?? 'unknown'} has no JWS algorithm`,
  );
}

const digestByAlgorithm: Readonly<Record<JwsAlgorithm, string | null>> = {
  ES256: 'sha256',
  ES384: 'sha384',
  RS256: 'sha256',
  EdDSA: null,
};

/**
 * Signs a document (a device configuration) as a JWS in compact
 * serialisation (RFC 7515) with the CA key. The header names the signing certificate by its SHA-256
 * thumbprint (`x5t#S256`), so a device verifies with the CA certificate it
 * received from /cacerts. The payload is the canonical JSON of `payload`.
 */
export function signJws(
  payload: unknown,
  privateKey: KeyObject,
  certificateDer: Uint8Array,
): string {
  const { alg, digest } = algorithmOf(privateKey);
  const header = {
    alg,
    typ: 'JOSE',
    cty: 'application/json',
    'x5t#S256': createHash('sha256').update(certificateDer).digest('base64url'),
  };
  const signingInput =
    Buffer.from(JSON.stringify(header)).toString('base64url') +
    '.' +
    Buffer.from(canonicalJson(payload)).toString('base64url');
  const signature = sign(
    digest,
    Buffer.from(signingInput),
    privateKey.asymmetricKeyType === 'ec'
      ? { key: privateKey, dsaEncoding: 'ieee-p1363' }
      : privateKey,
  );
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** Verifies a compact JWS from signJws and returns its payload; raises REGISTRATION_JWS_INVALID. */
export function verifyJws(jws: string, publicKey: KeyObject): unknown {
  const reject = (reason: string): never => {
    throw new MedwardError(
      ErrorKind.Invalid,
      'REGISTRATION_JWS_INVALID',
      `configuration signature is invalid: ${reason}`,
    );
  };
  const parts = jws.split('.');
  if (parts.length !== 3) {
    return reject('expected three base64url parts');
  }
  const [headerPart = '', payloadPart = '', signaturePart = ''] = parts;
  let header: { alg?: unknown };
  try {
    header = JSON.parse(Buffer.from(headerPart, 'base64url').toString('utf8')) as { alg?: unknown };
  } catch {
    return reject('header is not JSON');
  }
  const alg = header.alg;
  if (typeof alg !== 'string' || !(alg in digestByAlgorithm)) {
    return reject(`algorithm ${String(alg)} is not accepted`);
  }
  const digest = digestByAlgorithm[alg as JwsAlgorithm];
  const valid = verify(
    digest,
    Buffer.from(`${headerPart}.${payloadPart}`),
    publicKey.asymmetricKeyType === 'ec'
      ? { key: publicKey, dsaEncoding: 'ieee-p1363' }
      : publicKey,
    Buffer.from(signaturePart, 'base64url'),
  );
  if (!valid) {
    return reject('signature does not verify with the CA key');
  }
  return JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8')) as unknown;
}
