import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { invalid, isMedwardError, type MedwardError } from '../../core/errors.js';
import { parseCertificate, type MudCertificate } from './certificate.js';
import type { TrustAnchors } from './certificate-path.js';
import { verifyCmsSignature } from './cms.js';
import { verifyDetachedJws } from './jws.js';
import { signatureError } from './signature-error.js';

/**
 * Signature check for MUD files, in the two forms medward accepts:
 *
 * - a detached CMS SignedData (RFC 8520 section 13), in DER or in PEM
 *   (`CMS` or `PKCS7`), whose signer certificate chains to a trust anchor
 *   certificate or carries a trusted public key;
 * - a detached JWS (RFC 7515 Appendix F) over the file bytes, signed with
 *   EdDSA (Ed25519), ES256 or ES384 by a trusted public key or by the key of a
 *   trust anchor certificate.
 */

/** A trusted certificate or bare public key from enforcement.mud.trustKeyFiles. */
export type MudTrustKey = KeyObject | X509Certificate;

/** Largest signature file accepted, in bytes (or characters for text). */
const MAX_SIGNATURE_BYTES = 65536;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)\r?\n?-----END \1-----/g;

const anchorCertificates = new WeakMap<X509Certificate, MudCertificate>();

/** Reads a trust anchor certificate once; it was checked when its file was loaded. */
function anchorCertificate(certificate: X509Certificate): MudCertificate {
  let parsed = anchorCertificates.get(certificate);
  if (parsed === undefined) {
    parsed = parseCertificate(certificate.raw, `trust anchor ${certificate.subject}`);
    anchorCertificates.set(certificate, parsed);
  }
  return parsed;
}

function trustKeyError(file: string, problem: string): MedwardError {
  return invalid('MUD_TRUST_KEY_INVALID', `MUD trust key file ${file} ${problem}`, { file });
}

function loadTrustKeyFile(file: string): MudTrustKey[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw trustKeyError(file, `cannot be read: ${(error as Error).message}`);
  }
  const keys: MudTrustKey[] = [];
  for (const [block, label] of text.matchAll(PEM_BLOCK)) {
    if (label === 'CERTIFICATE') {
      let certificate: X509Certificate;
      try {
        certificate = new X509Certificate(block);
        anchorCertificate(certificate);
      } catch (error) {
        throw trustKeyError(
          file,
          `contains a certificate that cannot be used: ${(error as Error).message}`,
        );
      }
      keys.push(certificate);
    } else if (label === 'PUBLIC KEY' || label === 'RSA PUBLIC KEY') {
      try {
        keys.push(createPublicKey(block));
      } catch (error) {
        throw trustKeyError(
          file,
          `contains a public key that cannot be read: ${(error as Error).message}`,
        );
      }
    } else {
      throw trustKeyError(
        file,
        `contains a ${label} block; give only CERTIFICATE and PUBLIC KEY blocks`,
      );
    }
  }
  if (keys.length === 0) {
    throw trustKeyError(file, 'contains no PEM certificate or public key');
  }
  return keys;
}

/**
 * Loads the trust anchors of MUD signatures from PEM files. Each file may
 * hold several blocks: CERTIFICATE blocks become trust anchor certificates,
 * PUBLIC KEY blocks bare public keys. Raises MUD_TRUST_KEY_INVALID naming
 * the file for anything else.
 */
export function loadMudTrustKeys(files: readonly string[]): MudTrustKey[] {
  return files.flatMap(loadTrustKeyFile);
}

function trustAnchorsOf(trustKeys: readonly MudTrustKey[]): TrustAnchors {
  const certificates: MudCertificate[] = [];
  const publicKeys: KeyObject[] = [];
  for (const key of trustKeys) {
    if (key instanceof X509Certificate) {
      certificates.push(anchorCertificate(key));
    } else {
      publicKeys.push(key);
    }
  }
  return { certificates, publicKeys };
}

/** Returns the DER of a PEM CMS or PKCS7 block; raises for any other PEM text. */
function pemSignatureDer(text: string): Buffer {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  const [block] = blocks;
  if (block === undefined || blocks.length > 1 || block[0] !== text) {
    throw signatureError('is PEM text that is not exactly one CMS or PKCS7 block');
  }
  if (block[1] !== 'CMS' && block[1] !== 'PKCS7') {
    throw signatureError(`is a PEM ${block[1] ?? ''} block, not CMS or PKCS7`);
  }
  return Buffer.from(block[2] ?? '', 'base64');
}

function verifyByFormat(
  fileBytes: Uint8Array,
  signature: Uint8Array | string,
  trustKeys: readonly MudTrustKey[],
  now: Date,
): void {
  if (typeof signature !== 'string' && signature[0] === 0x30) {
    verifyCmsSignature(fileBytes, signature, trustAnchorsOf(trustKeys), now);
    return;
  }
  const text = (
    typeof signature === 'string' ? signature : Buffer.from(signature).toString('utf8')
  ).trim();
  if (text.startsWith('-----BEGIN ')) {
    verifyCmsSignature(fileBytes, pemSignatureDer(text), trustAnchorsOf(trustKeys), now);
    return;
  }
  const keys = trustKeys.map((key) => (key instanceof X509Certificate ? key.publicKey : key));
  verifyDetachedJws(fileBytes, text, keys);
}

/**
 * Verifies a MUD file's signature at `now` and raises MUD_SIGNATURE_INVALID,
 * naming the failed check, unless it is valid. `signature` is the signature
 * file as fetched: CMS SignedData in DER (bytes starting with a SEQUENCE
 * tag) or PEM, or a detached compact JWS.
 */
export function verifyMudSignature(
  fileBytes: Uint8Array,
  signature: Uint8Array | string,
  trustKeys: readonly MudTrustKey[],
  now: Date = new Date(),
): void {
  if (signature.length > MAX_SIGNATURE_BYTES) {
    throw signatureError(
      `file is ${signature.length} bytes long, more than the ${MAX_SIGNATURE_BYTES} accepted`,
    );
  }
  try {
    verifyByFormat(fileBytes, signature, trustKeys, now);
  } catch (error) {
    if (isMedwardError(error) && error.code === 'DER_INVALID') {
      throw signatureError(
        `is malformed: ${error.message}; fetch the signature file again or ask its publisher for a new one`,
        error,
      );
    }
    if (isMedwardError(error)) {
      throw error;
    }
    // The readers raise MedwardError for every malformed input they know of; anything
    // else still means that the signature could not be checked.
    throw signatureError(`could not be checked: ${(error as Error).message}`, error);
  }
}
