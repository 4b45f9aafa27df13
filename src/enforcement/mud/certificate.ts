import { X509Certificate, createPublicKey, type KeyObject } from 'node:crypto';
import {
  Tag,
  childrenOf,
  expectTag,
  readDer,
  readObjectIdentifier,
  readTime,
  type DerNode,
} from '../../core/der.js';
import {
  isContextTag,
  malformed,
  readAlgorithmIdentifier,
  readBits,
  readBoolean,
  readIntegerBytes,
  readOctetAlignedBits,
  readOctetString,
  readSmallInteger,
  sequenceMembers,
  type AlgorithmIdentifier,
} from './der-readers.js';

/** Extensions that signer and path checks read or may ignore, by OID (RFC 5280 section 4.2.1). */
const extensionOid = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
} as const;

/**
 * Extensions that may be critical. The others would have to be processed
 * (name constraints, policies), so a certificate that marks one of them
 * critical is rejected, as RFC 5280 section 6.1.4 requires.
 */
const understoodExtensions = new Set<string>(Object.values(extensionOid));

/** An X.509 certificate, read for the checks a MUD signature needs. */
export interface MudCertificate {
  der: Buffer;
  /** The subject as OpenSSL prints it, for messages. */
  subjectText: string;
  /** The issuer as OpenSSL prints it, for messages. */
  issuerText: string;
  tbs: Buffer;
  /** The algorithm the issuer signed with, read when the signature is checked. */
  signatureAlgorithm: AlgorithmIdentifier;
  signature: Buffer;
  /** INTEGER content octets of the serial number, as encoded. */
  serialNumber: Buffer;
  issuerDer: Buffer;
  subjectDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  /** basicConstraints cA. */
  isCa: boolean;
  /** basicConstraints pathLenConstraint: intermediate CA certificates allowed below this one. */
  maxPathLength?: number;
  /** keyUsage bits; undefined when the extension is absent, which allows every usage. */
  keyUsage?: { digitalSignature: boolean; keyCertSign: boolean };
  subjectKeyIdentifier?: Buffer;
  /** Critical extensions outside understoodExtensions. */
  unknownCriticalExtensions: string[];
}

interface Extension {
  critical: boolean;
  value: Buffer;
}

function readExtensions(node: DerNode, what: string): Map<string, Extension> {
  const [list, ...rest] = childrenOf(node, what);
  if (rest.length > 0) {
    malformed(what, 'has more than one extension list');
  }
  const extensions = new Map<string, Extension>();
  for (const item of sequenceMembers(list, `${what} extensions`)) {
    const members = sequenceMembers(item, `${what} extension`);
    const id = readObjectIdentifier(members[0], `${what} extension`);
    const hasCritical = members.length === 3;
    if (members.length !== 2 && !hasCritical) {
      malformed(`${what} extension ${id}`, 'does not have two or three members');
    }
    if (extensions.has(id)) {
      // RFC 5280 section 4.2: a certificate carries each extension at most once.
      malformed(what, `has extension ${id} twice`);
    }
    extensions.set(id, {
      critical: hasCritical ? readBoolean(members[1], `${what} extension ${id}`) : false,
      value: readOctetString(members[members.length - 1], `${what} extension ${id}`),
    });
  }
  return extensions;
}

function readBasicConstraints(
  value: Buffer,
  what: string,
): { isCa: boolean; maxPathLength?: number } {
  const [first, second, ...rest] = sequenceMembers(readDer(value, what), what);
  if (rest.length > 0) {
    malformed(what, 'has more than two members');
  }
  const hasCaFlag = first?.tag === Tag.Boolean;
  const isCa = hasCaFlag ? readBoolean(first, what) : false;
  const pathLength = hasCaFlag ? second : first;
  if (!hasCaFlag && second !== undefined) {
    malformed(what, 'has members in the wrong order');
  }
  return pathLength === undefined
    ? { isCa }
    : { isCa, maxPathLength: readSmallInteger(pathLength, `${what} pathLenConstraint`) };
}

function readKeyUsage(
  value: Buffer,
  what: string,
): { digitalSignature: boolean; keyCertSign: boolean } {
  const { bytes } = readBits(readDer(value, what), what);
  // Bit 0 is the most significant bit of the first octet (RFC 5280 section 4.2.1.3).
  const first = bytes[0] ?? 0;
  return { digitalSignature: (first & 0x80) !== 0, keyCertSign: (first & 0x04) !== 0 };
}

function importPublicKey(subjectPublicKeyInfo: Buffer, what: string): KeyObject {
  try {
    return createPublicKey({ key: subjectPublicKeyInfo, format: 'der', type: 'spki' });
  } catch (error) {
    return malformed(what, `has a public key that cannot be read: ${(error as Error).message}`);
  }
}

/** Returns the subject and issuer as OpenSSL prints them, on one line each. */
function namesOf(der: Buffer, what: string): { subjectText: string; issuerText: string } {
  try {
    const certificate = new X509Certificate(der);
    return {
      subjectText: certificate.subject.replace(/\n/g, ', '),
      issuerText: certificate.issuer.replace(/\n/g, ', '),
    };
  } catch (error) {
    return malformed(what, `is rejected by OpenSSL: ${(error as Error).message}`);
  }
}

type ExtensionFields = Pick<
  MudCertificate,
  'isCa' | 'maxPathLength' | 'keyUsage' | 'subjectKeyIdentifier' | 'unknownCriticalExtensions'
>;

/**
 * Reads the members of a TBSCertificate after its public key: the unique
 * identifiers [1] and [2], which are skipped, and the extensions [3] of a
 * version 3 certificate, last.
 */
function readCertificateExtensions(
  members: readonly DerNode[],
  version: number,
  what: string,
): ExtensionFields {
  let extensions = new Map<string, Extension>();
  for (const [index, node] of members.entries()) {
    if (isContextTag(node, 3) && index === members.length - 1 && version === 2) {
      extensions = readExtensions(node, what);
    } else if (!isContextTag(node, 1) && !isContextTag(node, 2)) {
      malformed(what, 'has an unknown member after its public key');
    }
  }
  const basicConstraints = extensions.get(extensionOid.basicConstraints);
  const keyUsage = extensions.get(extensionOid.keyUsage);
  const subjectKeyIdentifier = extensions.get(extensionOid.subjectKeyIdentifier);
  return {
    ...(basicConstraints === undefined
      ? { isCa: false }
      : readBasicConstraints(basicConstraints.value, `${what} basicConstraints`)),
    ...(keyUsage === undefined
      ? {}
      : { keyUsage: readKeyUsage(keyUsage.value, `${what} keyUsage`) }),
    ...(subjectKeyIdentifier === undefined
      ? {}
      : {
          subjectKeyIdentifier: readOctetString(
            readDer(subjectKeyIdentifier.value, `${what} subjectKeyIdentifier`),
            `${what} subjectKeyIdentifier`,
          ),
        }),
    unknownCriticalExtensions: [...extensions]
      .filter(([id, extension]) => extension.critical && !understoodExtensions.has(id))
      .map(([id]) => id),
  };
}

/**
 * Reads an X.509 certificate (RFC 5280 section 4.1). Malformed input raises
 * DER_INVALID, naming the certificate by `what`.
 */
export function parseCertificate(der: Uint8Array, what: string): MudCertificate {
  const root = readDer(der, what);
  const [tbsNode, algorithmNode, signatureNode, ...rest] = sequenceMembers(root, what);
  if (rest.length > 0) {
    malformed(what, 'has members after its signature');
  }
  const fields = sequenceMembers(tbsNode, what);
  const versionNode = isContextTag(fields[0], 0) ? fields[0] : undefined;
  // Version 1 is encoded by omitting the field; the value 2 means version 3.
  const version =
    versionNode === undefined
      ? 0
      : readSmallInteger(childrenOf(versionNode, what)[0], `${what} version`);
  if (version > 2) {
    malformed(what, `has version ${version + 1}, which X.509 does not define`);
  }
  const [serial, innerAlgorithm, issuer, validity, subject, spki, ...optional] =
    versionNode === undefined ? fields : fields.slice(1);
  const signatureAlgorithm = readAlgorithmIdentifier(algorithmNode, `${what} signature algorithm`);
  const signedAlgorithm = readAlgorithmIdentifier(innerAlgorithm, `${what} signature algorithm`);
  // RFC 5280 section 4.1.1.2: the signed copy of the algorithm must equal the outer one.
  if (!signedAlgorithm.encoding.equals(signatureAlgorithm.encoding)) {
    malformed(what, 'names different signature algorithms inside and outside its signed part');
  }
  const [notBefore, notAfter, ...moreTimes] = sequenceMembers(validity, `${what} validity`);
  if (moreTimes.length > 0) {
    malformed(`${what} validity`, 'has more than two times');
  }
  const certificateDer = root.bytes;
  return {
    der: certificateDer,
    ...namesOf(certificateDer, what),
    tbs: expectTag(tbsNode, Tag.Sequence, what).bytes,
    signatureAlgorithm,
    signature: readOctetAlignedBits(signatureNode, `${what} signature`),
    serialNumber: readIntegerBytes(serial, `${what} serial number`),
    issuerDer: expectTag(issuer, Tag.Sequence, `${what} issuer`).bytes,
    subjectDer: expectTag(subject, Tag.Sequence, `${what} subject`).bytes,
    notBefore: readTime(notBefore, `${what} notBefore`),
    notAfter: readTime(notAfter, `${what} notAfter`),
    publicKey: importPublicKey(expectTag(spki, Tag.Sequence, `${what} public key`).bytes, what),
    ...readCertificateExtensions(optional, version, what),
  };
}
