import type { KeyObject } from 'node:crypto';
import type { MudCertificate } from './certificate.js';
import { signatureError } from './signature-error.js';
import { keyMismatch, signatureAlgorithmOf, verifySignatureValue } from './signature-algorithms.js';

/**
 * Validation of a MUD signer certificate: its own validity and usage, and a
 * path through the certificates the signature carries to a configured trust
 * anchor (RFC 5280 section 6, without policies, name constraints and
 * revocation). Issuer and subject names are compared as encoded octets,
 * which is stricter than the name matching of RFC 5280 section 7.1: a CA
 * whose name is encoded differently in the certificates it issues is not
 * found.
 */

/** Trust material for MUD signatures, from enforcement.mud.trustKeyFiles. */
export interface TrustAnchors {
  certificates: readonly MudCertificate[];
  /** Bare public keys, each trusted as the key of a signer certificate. */
  publicKeys: readonly KeyObject[];
}

/** Intermediate certificates allowed between the signer and a trust anchor. */
const MAX_INTERMEDIATES = 4;

const TRUST_HINT =
  "add the manufacturer's CA certificate to enforcement.mud.trustKeyFiles, or have the MUD file signed with its intermediate certificates included (openssl cms -sign -certfile)";

function validityProblem(certificate: MudCertificate, now: Date): string | undefined {
  if (now < certificate.notBefore || now > certificate.notAfter) {
    return `is valid from ${certificate.notBefore.toISOString()} to ${certificate.notAfter.toISOString()}, not at ${now.toISOString()}`;
  }
  return undefined;
}

function criticalExtensionProblem(certificate: MudCertificate): string | undefined {
  if (certificate.unknownCriticalExtensions.length === 0) {
    return undefined;
  }
  return `has critical extensions that medward does not process: ${certificate.unknownCriticalExtensions.join(', ')}`;
}

/**
 * Describes why `issuer` cannot be the issuer of `child` in a path with
 * `intermediatesBelow` intermediate certificates under `issuer`; undefined
 * when it can.
 */
function issuerProblem(
  issuer: MudCertificate,
  child: MudCertificate,
  intermediatesBelow: number,
  role: string,
  now: Date,
): string | undefined {
  const name = `${role} ${issuer.subjectText}`;
  const validity = validityProblem(issuer, now);
  if (validity !== undefined) {
    return `${name} ${validity}`;
  }
  if (!issuer.isCa) {
    return `${name} is not a CA certificate (basicConstraints cA is not set)`;
  }
  if (issuer.keyUsage?.keyCertSign === false) {
    return `${name} does not allow keyCertSign in its keyUsage`;
  }
  if (issuer.maxPathLength !== undefined && intermediatesBelow > issuer.maxPathLength) {
    return `${name} allows ${issuer.maxPathLength} intermediate certificates below it, not ${intermediatesBelow}`;
  }
  const unknownCritical = criticalExtensionProblem(issuer);
  if (unknownCritical !== undefined) {
    return `${name} ${unknownCritical}`;
  }
  const algorithm = signatureAlgorithmOf(
    child.signatureAlgorithm,
    `certificate ${child.subjectText} signature algorithm`,
  );
  const mismatch = keyMismatch(algorithm, issuer.publicKey);
  if (mismatch !== undefined) {
    return `${name} cannot have signed ${child.subjectText}: ${mismatch}`;
  }
  if (!verifySignatureValue(algorithm, child.tbs, child.signature, issuer.publicKey)) {
    return `the signature of ${child.subjectText} does not verify with the key of ${name}`;
  }
  return undefined;
}

/**
 * Searches, depth first, for a chain of issuers from `current` to a trust
 * anchor; `intermediatesBelow` counts the intermediate certificates between
 * the signer and `current`. Each carried certificate is tried as an issuer
 * at most once, so crafted certificates cost at most one signature check
 * each, besides one per matching trust anchor at each step. `problems`
 * collects why candidates failed.
 */
function reachesAnchor(
  current: MudCertificate,
  intermediatesBelow: number,
  carried: readonly MudCertificate[],
  anchors: TrustAnchors,
  now: Date,
  tried: Set<MudCertificate>,
  problems: string[],
): boolean {
  for (const anchor of anchors.certificates) {
    if (!anchor.subjectDer.equals(current.issuerDer)) {
      continue;
    }
    const problem = issuerProblem(anchor, current, intermediatesBelow, 'trust anchor', now);
    if (problem === undefined) {
      return true;
    }
    problems.push(problem);
  }
  for (const candidate of carried) {
    if (tried.has(candidate) || !candidate.subjectDer.equals(current.issuerDer)) {
      continue;
    }
    tried.add(candidate);
    if (intermediatesBelow >= MAX_INTERMEDIATES) {
      problems.push(`the path is longer than ${MAX_INTERMEDIATES} intermediate certificates`);
      return false;
    }
    const problem = issuerProblem(
      candidate,
      current,
      intermediatesBelow,
      'intermediate certificate',
      now,
    );
    if (problem !== undefined) {
      problems.push(problem);
    } else if (
      reachesAnchor(candidate, intermediatesBelow + 1, carried, anchors, now, tried, problems)
    ) {
      return true;
    }
  }
  return false;
}

/**
 * Checks the signer certificate at `now`: it is valid, is not a CA
 * certificate, allows digitalSignature when it has keyUsage, and either
 * carries a trusted public key, is itself a trust anchor certificate, or
 * chains to one through `carried`. Raises MUD_SIGNATURE_INVALID naming the
 * check that failed.
 */
export function validateSignerCertificate(
  signer: MudCertificate,
  carried: readonly MudCertificate[],
  anchors: TrustAnchors,
  now: Date,
): void {
  const name = `signer certificate ${signer.subjectText}`;
  const expired = validityProblem(signer, now);
  if (expired !== undefined) {
    throw signatureError(
      `${name} ${expired}; check the gateway clock, or ask the manufacturer to sign the MUD file again with a current certificate`,
    );
  }
  if (signer.isCa) {
    throw signatureError(
      `${name} is a CA certificate (basicConstraints cA is set); MUD files must be signed with an end-entity certificate`,
    );
  }
  if (signer.keyUsage?.digitalSignature === false) {
    throw signatureError(
      `${name} does not allow digitalSignature in its keyUsage; sign with a certificate issued for signing`,
    );
  }
  const unknownCritical = criticalExtensionProblem(signer);
  if (unknownCritical !== undefined) {
    throw signatureError(`${name} ${unknownCritical}`);
  }
  if (
    anchors.publicKeys.some((key) => key.equals(signer.publicKey)) ||
    anchors.certificates.some((anchor) => anchor.der.equals(signer.der))
  ) {
    return;
  }
  const problems: string[] = [];
  if (reachesAnchor(signer, 0, carried, anchors, now, new Set([signer]), problems)) {
    return;
  }
  const reason =
    problems.length === 0
      ? `: neither a trust anchor nor a certificate in the signature is its issuer ${signer.issuerText}`
      : ` (${problems.slice(0, 3).join('; ')})`;
  throw signatureError(`${name} does not chain to a trust anchor${reason}; ${TRUST_HINT}`);
}
