import { isIP } from 'node:net';
import { ErrorKind, MedwardError } from '../../core/errors.js';
import { formatName, oid, parseCsr, type NameAttribute, type ParsedCsr } from '../ca/x509.js';

/** Largest CSR accepted, DER; an RSA 8192-bit request with a few names stays far below it. */
export const MAX_CSR_BYTES = 16 * 1024;

/** The identity a CSR must request, from the authorisation entry. */
export interface AuthorisedIdentity {
  manufacturer: string;
  serialNumber: string;
  /** DNS names the device may request. */
  hostnames: readonly string[];
  /** URIs the device may request; medward adds the device URN itself. */
  uris: readonly string[];
}

function csrError(
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): MedwardError {
  return new MedwardError(ErrorKind.Invalid, code, message, { details });
}

/** Checks for a DNS name that is really an IP address; IP addresses belong in iPAddress names. */
function looksLikeIpAddress(name: string): boolean {
  const bare = name.replace(/^\[|\]$/g, '');
  return isIP(bare) !== 0 || /^[0-9.]+$/.test(bare) || /^[0-9]+(\.[0-9]+){0,3}$/.test(bare);
}

/**
 * Parses a CSR and checks what every request must meet: a valid
 * self-signature (proof of possession of the private key), an ECDSA P-256 or
 * P-384 key or an RSA key of at least 2048 bits, and a subject that is not
 * empty. Raises EST_CSR_* errors naming the failed check.
 */
export function parseAndCheckCsr(der: Uint8Array): ParsedCsr {
  if (der.length > MAX_CSR_BYTES) {
    throw new MedwardError(
      ErrorKind.TooLarge,
      'EST_CSR_TOO_LARGE',
      `CSR is ${der.length} bytes, more than the limit of ${MAX_CSR_BYTES}`,
    );
  }
  const csr = parseCsr(der);
  if (!csr.signatureValid) {
    throw csrError(
      'EST_CSR_SIGNATURE_INVALID',
      'CSR signature does not verify with its own public key (no proof of possession); ' +
        'sign the request with the private key it names, using ECDSA or RSA with SHA-256 or stronger',
      { signatureAlgorithm: csr.signatureAlgorithmOid },
    );
  }
  const key = csr.publicKey;
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve !== 'prime256v1' && curve !== 'secp384r1') {
      throw csrError(
        'EST_CSR_KEY_UNSUPPORTED',
        `CSR key is on curve ${curve ?? 'unknown'}; use P-256 or P-384`,
        { curve: curve ?? null },
      );
    }
  } else if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048 || bits > 8192) {
      throw csrError(
        'EST_CSR_KEY_UNSUPPORTED',
        `CSR RSA key has ${bits} bits; use 2048 to 8192 bits`,
        { bits },
      );
    }
  } else {
    throw csrError(
      'EST_CSR_KEY_UNSUPPORTED',
      `CSR key type ${key.asymmetricKeyType ?? 'unknown'} is not accepted; use ECDSA P-256 or P-384, or RSA of at least 2048 bits`,
      { keyType: key.asymmetricKeyType ?? null },
    );
  }
  if (csr.subject.length === 0 || csr.subject.every((attribute) => attribute.value.trim() === '')) {
    throw csrError(
      'EST_CSR_SUBJECT_EMPTY',
      'CSR subject is empty; put the serial number in the subject CN',
    );
  }
  return csr;
}

/**
 * Checks that a CSR requests exactly the authorised identity: the subject
 * CN is the serial number, a serialNumber attribute (if any) is the serial
 * number and an O attribute (if any) the manufacturer, with no other subject
 * attributes; DNS names are among the authorised hostnames and none is an
 * IP address; no IP address, e-mail or other names.
 */
export function checkInitialIdentity(csr: ParsedCsr, identity: AuthorisedIdentity): void {
  const problems: string[] = [];
  const commonNames = csr.subject.filter((attribute) => attribute.type === oid.commonName);
  if (commonNames.length !== 1 || commonNames[0]?.value !== identity.serialNumber) {
    problems.push(`subject CN must be the serial number ${identity.serialNumber}`);
  }
  for (const attribute of csr.subject) {
    if (attribute.type === oid.commonName) {
      continue;
    }
    if (attribute.type === oid.serialNumber) {
      if (attribute.value !== identity.serialNumber) {
        problems.push(`subject serialNumber ${attribute.value} is not ${identity.serialNumber}`);
      }
    } else if (attribute.type === oid.organizationName) {
      if (attribute.value !== identity.manufacturer) {
        problems.push(
          `subject O ${attribute.value} is not the manufacturer ${identity.manufacturer}`,
        );
      }
    } else {
      problems.push(`subject attribute ${attribute.type} is not allowed`);
    }
  }
  checkNames(csr, identity.hostnames, identity.uris, problems);
  if (problems.length > 0) {
    throw csrError(
      'EST_CSR_IDENTITY_MISMATCH',
      `CSR does not match the authorised identity: ${problems.join('; ')}`,
      { subject: formatName(csr.subject), problems },
    );
  }
}

function checkNames(
  csr: ParsedCsr,
  hostnames: readonly string[],
  uris: readonly string[],
  problems: string[],
): void {
  const names = csr.subjectAltNames;
  const ipInDns = names.dns.filter(looksLikeIpAddress);
  if (ipInDns.length > 0) {
    throw csrError(
      'EST_CSR_DNS_NAME_IS_IP_ADDRESS',
      `CSR requests IP address ${ipInDns.join(', ')} as a DNS name; DNS names must be host names`,
      { dns: ipInDns },
    );
  }
  if (names.ip.length > 0 || names.email.length > 0 || names.otherCount > 0) {
    problems.push(
      'only DNS names and the device URI may be requested as subject alternative names',
    );
  }
  const allowedHosts = new Set(hostnames.map((name) => name.toLowerCase()));
  for (const dns of names.dns) {
    if (!allowedHosts.has(dns.toLowerCase())) {
      problems.push(`DNS name ${dns} is not authorised for this device`);
    }
  }
  for (const uri of names.uri) {
    if (!uris.includes(uri)) {
      problems.push(`URI ${uri} is not authorised for this device`);
    }
  }
}

/**
 * Checks a re-enrolment CSR against the certificate being renewed: RFC 7030
 * section 4.2.2 requires the same subject and subject alternative names, so
 * a device cannot change its identity by renewing.
 */
export function checkRenewalIdentity(
  csr: ParsedCsr,
  current: { subject: readonly NameAttribute[]; dns: readonly string[]; uris: readonly string[] },
): void {
  const problems: string[] = [];
  if (formatName(csr.subject) !== formatName(current.subject)) {
    problems.push(`subject ${formatName(csr.subject)} differs from ${formatName(current.subject)}`);
  }
  const names = csr.subjectAltNames;
  const ipInDns = names.dns.filter(looksLikeIpAddress);
  if (ipInDns.length > 0) {
    throw csrError(
      'EST_CSR_DNS_NAME_IS_IP_ADDRESS',
      `CSR requests IP address ${ipInDns.join(', ')} as a DNS name; DNS names must be host names`,
      { dns: ipInDns },
    );
  }
  const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
    a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
  if (
    !sameSet(
      names.dns.map((name) => name.toLowerCase()),
      current.dns.map((name) => name.toLowerCase()),
    )
  ) {
    problems.push(
      `DNS names ${names.dns.join(', ') || '(none)'} differ from ${current.dns.join(', ') || '(none)'}`,
    );
  }
  if (names.uri.some((uri) => !current.uris.includes(uri))) {
    problems.push(`URIs ${names.uri.join(', ')} are not in the current certificate`);
  }
  if (names.ip.length > 0 || names.email.length > 0 || names.otherCount > 0) {
    problems.push(
      'only DNS names and the device URI may be requested as subject alternative names',
    );
  }
  if (problems.length > 0) {
    throw csrError(
      'EST_REENROLL_IDENTITY_CHANGED',
      `re-enrolment may not change the certificate's identity: ${problems.join('; ')}`,
      { problems },
    );
  }
}
