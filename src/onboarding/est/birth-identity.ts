import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import type { BirthIdentity } from '../authorisation/list-schema.js';
import { fromPem } from '../ca/pem.js';
import {
  isIssuedBy,
  oid,
  parseCertificate,
  sha256Hex,
  type ParsedCertificate,
} from '../ca/x509.js';

/** Certificates a device presented over mutual TLS: its own and any intermediates it sent. */
export interface PresentedCertificate {
  leaf: ParsedCertificate;
  intermediates: readonly ParsedCertificate[];
}

export type BirthIdentityCheck =
  { verified: true; evidence: Record<string, unknown> } | { verified: false; reason: string };

/** Maximum number of intermediates between an IDevID and a manufacturer trust anchor. */
const MAX_INTERMEDIATES = 4;

function validAt(certificate: ParsedCertificate, now: Date): boolean {
  return certificate.notBefore <= now && now <= certificate.notAfter;
}

function isCa(certificate: ParsedCertificate): boolean {
  return new X509Certificate(certificate.der).ca;
}

/** Parsed trust anchors by PEM text; lists repeat one manufacturer CA for many devices. */
const anchorCache = new Map<string, { certificate: ParsedCertificate; publicKey: KeyObject }>();
const MAX_CACHED_ANCHORS = 1000;

function parsedAnchor(pem: string): { certificate: ParsedCertificate; publicKey: KeyObject } {
  let anchor = anchorCache.get(pem);
  if (anchor === undefined) {
    const certificate = parseCertificate(fromPem(pem, 'CERTIFICATE', 'trust anchor'));
    anchor = {
      certificate,
      publicKey: createPublicKey({
        key: certificate.subjectPublicKeyInfoDer,
        format: 'der',
        type: 'spki',
      }),
    };
    if (anchorCache.size >= MAX_CACHED_ANCHORS) {
      anchorCache.clear();
    }
    anchorCache.set(pem, anchor);
  }
  return anchor;
}

/** Returns the serialNumber attribute (2.5.4.5) of a subject, where IEEE 802.1AR puts the device serial. */
export function subjectSerialNumber(certificate: ParsedCertificate): string | undefined {
  return certificate.subject.find((attribute) => attribute.type === oid.serialNumber)?.value;
}

/**
 * Verifies a presented certificate against an entry's birth identity:
 *
 * - idevid: the certificate chains, through at most four intermediates the
 *   device sent, to one of the manufacturer's trust anchors; every
 *   certificate is valid now, every issuer is a CA, and the subject's
 *   serialNumber attribute is the authorised serial number;
 * - public-key: the certificate carries the pinned public key, so it proves
 *   possession of the key the TLS handshake already checked.
 *
 * A bootstrap-secret identity never verifies with a certificate.
 */
export function verifyBirthIdentity(
  presented: PresentedCertificate,
  identity: BirthIdentity,
  expectedSerialNumber: string,
  now: Date,
): BirthIdentityCheck {
  const leaf = presented.leaf;
  if (identity.kind === 'bootstrap-secret') {
    return { verified: false, reason: 'entry expects a bootstrap secret, not a certificate' };
  }
  if (identity.kind === 'public-key') {
    const pinned = createPublicKey(identity.publicKey).export({ type: 'spki', format: 'der' });
    if (!pinned.equals(leaf.subjectPublicKeyInfoDer)) {
      return { verified: false, reason: 'certificate public key is not the pinned key' };
    }
    return {
      verified: true,
      evidence: {
        method: 'pinned-public-key',
        certificateFingerprint: leaf.fingerprint,
        publicKeySha256: sha256Hex(pinned),
      },
    };
  }
  const serial = identity.subjectSerialNumber ?? expectedSerialNumber;
  if (subjectSerialNumber(leaf) !== serial) {
    return {
      verified: false,
      reason: `IDevID subject serialNumber is ${subjectSerialNumber(leaf) ?? 'absent'}, not ${serial}`,
    };
  }
  if (!validAt(leaf, now)) {
    return {
      verified: false,
      reason: `IDevID is valid from ${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()}`,
    };
  }
  const anchors = identity.trustAnchors.map(parsedAnchor);
  const chain: ParsedCertificate[] = [leaf];
  for (let depth = 0; depth <= MAX_INTERMEDIATES; depth += 1) {
    const current = chain[chain.length - 1] as ParsedCertificate;
    for (const anchor of anchors) {
      if (
        validAt(anchor.certificate, now) &&
        isIssuedBy(current, anchor.certificate, anchor.publicKey)
      ) {
        return {
          verified: true,
          evidence: {
            method: 'idevid',
            certificateFingerprint: leaf.fingerprint,
            trustAnchorFingerprint: anchor.certificate.fingerprint,
            chainLength: chain.length,
          },
        };
      }
    }
    const issuer = presented.intermediates.find(
      (candidate) =>
        !chain.includes(candidate) &&
        validAt(candidate, now) &&
        isCa(candidate) &&
        isIssuedBy(
          current,
          candidate,
          createPublicKey({ key: candidate.subjectPublicKeyInfoDer, format: 'der', type: 'spki' }),
        ),
    );
    if (issuer === undefined) {
      break;
    }
    chain.push(issuer);
  }
  return { verified: false, reason: 'IDevID does not chain to a trust anchor of the entry' };
}
