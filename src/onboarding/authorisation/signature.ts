import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { canonicalJson } from '../../core/audit/canonical-json.js';
import { ErrorKind, MedwardError, invalid } from '../../core/errors.js';
import {
  AuthorisationListSchema,
  ListEnvelopeSchema,
  type AuthorisationList,
  type ListEnvelope,
  type SignatureAlgorithm,
} from './list-schema.js';

/** A public key that may sign authorisation lists. */
export interface AuthorityKey {
  /** SHA-256 of the SubjectPublicKeyInfo DER, lowercase hex. */
  keyId: string;
  algorithm: SignatureAlgorithm;
  publicKey: KeyObject;
  /** File the key was read from, for messages. */
  source: string;
}

const envelopeCheck = TypeCompiler.Compile(ListEnvelopeSchema);
const listCheck = TypeCompiler.Compile(AuthorisationListSchema);

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** Returns the list signature algorithm for a key: Ed25519, ES256 for P-256, ES384 for P-384. */
export function algorithmFor(key: KeyObject, source: string): SignatureAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') {
    return 'Ed25519';
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') {
      return 'ES256';
    }
    if (curve === 'secp384r1') {
      return 'ES384';
    }
  }
  throw invalid(
    'AUTHORISATION_KEY_UNSUPPORTED',
    `key in ${source} is ${key.asymmetricKeyType ?? 'unknown'}` +
      `${key.asymmetricKeyDetails?.namedCurve === undefined ? '' : ` ${key.asymmetricKeyDetails.namedCurve}`}; ` +
      'lists are signed with Ed25519, ECDSA P-256 or ECDSA P-384 keys',
    { source },
  );
}

/** Reads the configured authority public keys (PEM SubjectPublicKeyInfo or certificate). */
export function loadAuthorityKeys(files: readonly string[]): AuthorityKey[] {
  return files.map((file) => {
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new MedwardError(
        ErrorKind.Invalid,
        'AUTHORISATION_KEY_UNREADABLE',
        `cannot read the authority public key ${file}: ${(error as Error).message}; ` +
          'give a PEM public key in onboarding.authority.publicKeyFiles',
        { cause: error, details: { file } },
      );
    }
    return {
      keyId: keyIdOf(publicKey),
      algorithm: algorithmFor(publicKey, file),
      publicKey,
      source: file,
    };
  });
}

function digestOf(algorithm: SignatureAlgorithm): string | null {
  if (algorithm === 'ES256') {
    return 'sha256';
  }
  return algorithm === 'ES384' ? 'sha384' : null;
}

/** Signs a list with a private key and returns the envelope to publish. */
export function signList(list: AuthorisationList, privateKey: KeyObject): ListEnvelope {
  const publicKey = createPublicKey(privateKey);
  const algorithm = algorithmFor(publicKey, 'the signing key');
  const payload = Buffer.from(canonicalJson(list), 'utf8');
  const signature = sign(
    digestOf(algorithm),
    payload,
    algorithm === 'Ed25519' ? privateKey : { key: privateKey, dsaEncoding: 'ieee-p1363' },
  );
  return {
    list,
    signature: { algorithm, keyId: keyIdOf(publicKey), value: signature.toString('base64url') },
  };
}

export interface VerifiedList {
  list: AuthorisationList;
  key: AuthorityKey;
  /** SHA-256 of the canonical list, lowercase hex; equal lists have equal digests. */
  digest: string;
}

function rejected(
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): MedwardError {
  return new MedwardError(ErrorKind.Invalid, code, message, { details });
}

/**
 * Parses an envelope and verifies its signature against the trusted keys,
 * then checks the list against the schema. Throws AUTHORISATION_LIST_INVALID
 * (malformed, with JSON paths), AUTHORISATION_LIST_KEY_UNKNOWN or
 * AUTHORISATION_LIST_SIGNATURE_INVALID. Expiry and version order are the
 * importer's checks.
 */
export function verifyEnvelope(text: string, keys: readonly AuthorityKey[]): VerifiedList {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (error) {
    throw rejected(
      'AUTHORISATION_LIST_INVALID',
      `authorisation list is not valid JSON: ${(error as Error).message}`,
    );
  }
  if (!envelopeCheck.Check(parsed)) {
    const problems = [...envelopeCheck.Errors(parsed)]
      .slice(0, 10)
      .map((error) => ({ path: error.path, message: error.message }));
    throw rejected(
      'AUTHORISATION_LIST_INVALID',
      `authorisation list envelope is invalid at ${problems.map((problem) => problem.path || '/').join(', ')}; ` +
        'expected { "list": {...}, "signature": { "algorithm", "keyId", "value" } }',
      { problems },
    );
  }
  const key = keys.find((candidate) => candidate.keyId === parsed.signature.keyId);
  if (key === undefined) {
    throw rejected(
      'AUTHORISATION_LIST_KEY_UNKNOWN',
      `authorisation list is signed with key ${parsed.signature.keyId}, which is not among the ` +
        `${keys.length} configured authority key(s); add its public key to onboarding.authority.publicKeyFiles`,
      { keyId: parsed.signature.keyId },
    );
  }
  if (key.algorithm !== parsed.signature.algorithm) {
    throw rejected(
      'AUTHORISATION_LIST_SIGNATURE_INVALID',
      `authorisation list names algorithm ${parsed.signature.algorithm} but key ${key.keyId} is an ${key.algorithm} key`,
      { keyId: key.keyId },
    );
  }
  let canonical: string;
  try {
    canonical = canonicalJson(parsed.list);
  } catch (error) {
    throw rejected(
      'AUTHORISATION_LIST_INVALID',
      `authorisation list cannot be canonicalised: ${(error as Error).message}`,
    );
  }
  const payload = Buffer.from(canonical, 'utf8');
  const signature = Buffer.from(parsed.signature.value, 'base64url');
  const valid = verify(
    digestOf(key.algorithm),
    payload,
    key.algorithm === 'Ed25519' ? key.publicKey : { key: key.publicKey, dsaEncoding: 'ieee-p1363' },
    signature,
  );
  if (!valid) {
    throw rejected(
      'AUTHORISATION_LIST_SIGNATURE_INVALID',
      `authorisation list signature does not verify with key ${key.keyId} (${key.source}); ` +
        'the list was changed after signing or signed with another key',
      { keyId: key.keyId },
    );
  }
  if (!listCheck.Check(parsed.list)) {
    const problems = [...listCheck.Errors(parsed.list)]
      .slice(0, 10)
      .map((error) => ({ path: `/list${error.path}`, message: error.message }));
    throw rejected(
      'AUTHORISATION_LIST_INVALID',
      `authorisation list is invalid at ${problems.map((problem) => problem.path).join(', ')}: ${problems[0]?.message ?? ''}`,
      { problems },
    );
  }
  return { list: parsed.list, key, digest: createHash('sha256').update(payload).digest('hex') };
}
