import { constants, verify, type KeyObject } from 'node:crypto';
import { childrenOf, type DerNode } from '../../core/der.js';
import {
  hasNoParameters,
  malformed,
  readAlgorithmIdentifier,
  readSmallInteger,
  sequenceMembers,
  type AlgorithmIdentifier,
} from './der-readers.js';
import { signatureError } from './signature-error.js';

/**
 * The digest and signature algorithms that MUD signatures and the
 * certificates behind them may use, and the signature check with Node's
 * crypto. SHA-1, MD5, DSA and RSA keys under 2048 bits are rejected.
 */

/** Object identifiers from RFC 5754 (SHA-2), RFC 4055 (RSA), RFC 5758 (ECDSA) and RFC 8410 (Ed25519). */
const oid = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  rsaEncryption: '1.2.840.113549.1.1.1',
  mgf1: '1.2.840.113549.1.1.8',
  rsassaPss: '1.2.840.113549.1.1.10',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  ed25519: '1.3.101.112',
} as const;

export type DigestName = 'sha256' | 'sha384' | 'sha512';

const digests = new Map<string, DigestName>([
  [oid.sha256, 'sha256'],
  [oid.sha384, 'sha384'],
  [oid.sha512, 'sha512'],
]);

const digestLabels: Readonly<Record<DigestName, string>> = {
  sha256: 'SHA-256',
  sha384: 'SHA-384',
  sha512: 'SHA-512',
};

const ecdsaDigests = new Map<string, DigestName>([
  [oid.ecdsaWithSha256, 'sha256'],
  [oid.ecdsaWithSha384, 'sha384'],
  [oid.ecdsaWithSha512, 'sha512'],
]);

const rsaDigests = new Map<string, DigestName>([
  [oid.sha256WithRsa, 'sha256'],
  [oid.sha384WithRsa, 'sha384'],
  [oid.sha512WithRsa, 'sha512'],
]);

/** A signature algorithm with what Node's `crypto.verify` needs to check it. */
export type SignatureAlgorithm =
  | { scheme: 'ecdsa' | 'rsa-pkcs1'; digest: DigestName; name: string }
  | { scheme: 'rsa-pss'; digest: DigestName; saltLength: number; name: string }
  | { scheme: 'ed25519'; digest: null; name: string };

const ACCEPTED_ALGORITHMS =
  'sign with ECDSA (P-256, P-384 or P-521), RSA PKCS#1 v1.5 or RSASSA-PSS (2048 bits or more) or Ed25519';

export function digestLabel(digest: DigestName): string {
  return digestLabels[digest];
}

/** Returns the digest an AlgorithmIdentifier names; SHA-256, SHA-384 and SHA-512 are accepted. */
export function digestAlgorithmOf(algorithm: AlgorithmIdentifier, what: string): DigestName {
  const digest = digests.get(algorithm.oid);
  if (digest === undefined) {
    throw signatureError(
      `${what} ${algorithm.oid} is not accepted; sign with SHA-256, SHA-384 or SHA-512 (openssl cms -sign -md sha256)`,
    );
  }
  if (!hasNoParameters(algorithm)) {
    malformed(what, 'has parameters other than NULL');
  }
  return digest;
}

function readDigestAlgorithm(node: DerNode | undefined, what: string): DigestName {
  return digestAlgorithmOf(readAlgorithmIdentifier(node, what), what);
}

/**
 * Reads RSASSA-PSS-params (RFC 4055 section 3.1). The hash must be SHA-2,
 * not the SHA-1 default, and MGF1 must use the same hash, because Node's
 * verify takes one digest for both.
 */
function readPssParameters(
  parameters: DerNode | undefined,
  what: string,
): { digest: DigestName; saltLength: number } {
  let digest: DigestName | undefined;
  let maskDigest: DigestName | undefined;
  let saltLength = 20;
  let previousTag = -1;
  for (const field of parameters === undefined ? [] : sequenceMembers(parameters, what)) {
    // The fields are EXPLICIT [0] to [3], each constructed, in ascending order.
    const tag = field.tag - 0xa0;
    if (tag < 0 || tag > 3 || tag <= previousTag) {
      malformed(what, 'has RSASSA-PSS parameters that are unknown or out of order');
    }
    previousTag = tag;
    const [value, ...rest] = childrenOf(field, what);
    if (rest.length > 0) {
      malformed(what, `has more than one value in RSASSA-PSS parameter [${tag}]`);
    }
    if (tag === 0) {
      digest = readDigestAlgorithm(value, `${what} hash algorithm`);
    } else if (tag === 1) {
      const mask = readAlgorithmIdentifier(value, `${what} mask generation function`);
      if (mask.oid !== oid.mgf1) {
        throw signatureError(`${what} uses mask generation function ${mask.oid}, not MGF1`);
      }
      maskDigest = readDigestAlgorithm(mask.parameters, `${what} MGF1 hash algorithm`);
    } else if (tag === 2) {
      saltLength = readSmallInteger(value, `${what} salt length`);
    } else if (readSmallInteger(value, `${what} trailer field`) !== 1) {
      malformed(what, 'has an RSASSA-PSS trailer field other than 1');
    }
  }
  if (digest === undefined || maskDigest === undefined) {
    throw signatureError(
      `${what} is RSASSA-PSS with the default SHA-1 hash or MGF1; sign with SHA-256 or stronger for both`,
    );
  }
  if (maskDigest !== digest) {
    throw signatureError(
      `${what} is RSASSA-PSS with ${digestLabel(digest)} but MGF1 with ${digestLabel(maskDigest)}; use the same hash for both`,
    );
  }
  return { digest, saltLength };
}

function algorithmOf(
  algorithm: AlgorithmIdentifier,
  what: string,
  signerDigest?: DigestName,
): SignatureAlgorithm {
  const ecdsaDigest = ecdsaDigests.get(algorithm.oid);
  const rsaDigest = rsaDigests.get(algorithm.oid);
  // ECDSA and Ed25519 identifiers carry no parameters (RFC 5758 section 3.2, RFC 8410 section 3).
  const parametersValid =
    ecdsaDigest !== undefined || algorithm.oid === oid.ed25519
      ? algorithm.parameters === undefined
      : algorithm.oid === oid.rsassaPss || hasNoParameters(algorithm);
  if (!parametersValid) {
    malformed(what, `has parameters that ${algorithm.oid} does not take`);
  }
  if (ecdsaDigest !== undefined) {
    return { scheme: 'ecdsa', digest: ecdsaDigest, name: `ECDSA with ${digestLabel(ecdsaDigest)}` };
  }
  if (rsaDigest !== undefined) {
    return { scheme: 'rsa-pkcs1', digest: rsaDigest, name: `RSA with ${digestLabel(rsaDigest)}` };
  }
  // In a SignerInfo, rsaEncryption means PKCS#1 v1.5 with the signer's digest (RFC 3370 section 3.2).
  if (algorithm.oid === oid.rsaEncryption && signerDigest !== undefined) {
    return {
      scheme: 'rsa-pkcs1',
      digest: signerDigest,
      name: `RSA with ${digestLabel(signerDigest)}`,
    };
  }
  if (algorithm.oid === oid.rsassaPss) {
    const { digest, saltLength } = readPssParameters(algorithm.parameters, what);
    return {
      scheme: 'rsa-pss',
      digest,
      saltLength,
      name: `RSASSA-PSS with ${digestLabel(digest)}`,
    };
  }
  if (algorithm.oid === oid.ed25519) {
    return { scheme: 'ed25519', digest: null, name: 'Ed25519' };
  }
  throw signatureError(`${what} ${algorithm.oid} is not accepted; ${ACCEPTED_ALGORITHMS}`);
}

/**
 * Returns the signature algorithm an AlgorithmIdentifier names, or raises
 * MUD_SIGNATURE_INVALID for one that is not accepted. `signerDigest` is given
 * for the signature of a SignerInfo: its algorithm must then hash with the
 * signer's digest algorithm, and Ed25519 requires SHA-512 there (RFC 8419
 * section 3.1).
 */
export function signatureAlgorithmOf(
  identifier: AlgorithmIdentifier,
  what: string,
  signerDigest?: DigestName,
): SignatureAlgorithm {
  const algorithm = algorithmOf(identifier, what, signerDigest);
  if (signerDigest === undefined) {
    return algorithm;
  }
  const expected = algorithm.scheme === 'ed25519' ? 'sha512' : algorithm.digest;
  if (expected !== signerDigest) {
    throw signatureError(
      `${what} is ${algorithm.name} but the signer's digest algorithm is ${digestLabel(signerDigest)}; sign with -md ${expected}`,
    );
  }
  return algorithm;
}

/** Named curves accepted for ECDSA, by OpenSSL name: P-256, P-384 and P-521. */
const ecCurves = new Set(['prime256v1', 'secp384r1', 'secp521r1']);
const MIN_RSA_BITS = 2048;

function describeKey(key: KeyObject): string {
  const type = key.asymmetricKeyType;
  if (type === 'rsa' || type === 'rsa-pss') {
    return `${type === 'rsa' ? 'RSA' : 'RSASSA-PSS'} ${key.asymmetricKeyDetails?.modulusLength ?? 0}-bit`;
  }
  if (type === 'ec') {
    return `EC ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown curve'}`;
  }
  return String(type);
}

const keyTypes: Readonly<Record<SignatureAlgorithm['scheme'], readonly string[]>> = {
  ecdsa: ['ec'],
  'rsa-pkcs1': ['rsa'],
  'rsa-pss': ['rsa', 'rsa-pss'],
  ed25519: ['ed25519'],
};

/**
 * Describes why `key` cannot check signatures of `algorithm`: another key
 * type, a curve other than P-256, P-384 or P-521, or an RSA key under 2048
 * bits. Returns undefined when it can.
 */
export function keyMismatch(algorithm: SignatureAlgorithm, key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType ?? '';
  if (!keyTypes[algorithm.scheme].includes(type)) {
    return `${algorithm.name} does not work with its ${describeKey(key)} key; ${ACCEPTED_ALGORITHMS}`;
  }
  const { modulusLength, namedCurve } = key.asymmetricKeyDetails ?? {};
  if ((type === 'rsa' || type === 'rsa-pss') && (modulusLength ?? 0) < MIN_RSA_BITS) {
    return `its RSA key has ${modulusLength ?? 0} bits, fewer than the ${MIN_RSA_BITS} required`;
  }
  if (type === 'ec' && !ecCurves.has(namedCurve ?? '')) {
    return `its EC key is on curve ${namedCurve ?? 'unknown'}, not P-256, P-384 or P-521`;
  }
  return undefined;
}

/**
 * Verifies `signature` over `data` with `key`. Returns false for a signature
 * that does not verify and for a key that keyMismatch rejects.
 */
export function verifySignatureValue(
  algorithm: SignatureAlgorithm,
  data: Uint8Array,
  signature: Uint8Array,
  key: KeyObject,
): boolean {
  if (keyMismatch(algorithm, key) !== undefined) {
    return false;
  }
  try {
    switch (algorithm.scheme) {
      case 'ecdsa':
        return verify(algorithm.digest, data, { key, dsaEncoding: 'der' }, signature);
      case 'rsa-pkcs1':
        return verify(
          algorithm.digest,
          data,
          { key, padding: constants.RSA_PKCS1_PADDING },
          signature,
        );
      case 'rsa-pss':
        return verify(
          algorithm.digest,
          data,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: algorithm.saltLength },
          signature,
        );
      case 'ed25519':
        return verify(null, data, key, signature);
    }
  } catch {
    // OpenSSL raises instead of returning false for some malformed signature values.
    return false;
  }
}
