import { createHash } from 'node:crypto';
import {
  Tag,
  childrenOf,
  expectTag,
  readDer,
  readObjectIdentifier,
  setOf,
  type DerNode,
} from '../../core/der.js';
import {
  isContextTag,
  malformed,
  readAlgorithmIdentifier,
  readIntegerBytes,
  readOctetString,
  readSmallInteger,
  sequenceMembers,
  setMembers,
} from './der-readers.js';
import { parseCertificate, type MudCertificate } from './certificate.js';
import { validateSignerCertificate, type TrustAnchors } from './certificate-path.js';
import {
  digestLabel,
  keyMismatch,
  digestAlgorithmOf,
  signatureAlgorithmOf,
  verifySignatureValue,
  type DigestName,
  type SignatureAlgorithm,
} from './signature-algorithms.js';
import { signatureError } from './signature-error.js';

/**
 * Verification of the detached CMS SignedData (RFC 5652) that RFC 8520
 * section 13 uses to sign a MUD file, as made by `openssl cms -sign -binary
 * -outform DER`.
 */

const oid = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentTypeAttribute: '1.2.840.113549.1.9.3',
  messageDigestAttribute: '1.2.840.113549.1.9.4',
} as const;

/** Certificates a signature may carry; a signer and a few intermediates need far fewer. */
const MAX_CERTIFICATES = 16;

type SignerIdentifier =
  | { kind: 'issuer-and-serial-number'; issuerDer: Buffer; serialNumber: Buffer }
  | { kind: 'subject-key-identifier'; keyIdentifier: Buffer };

interface SignerInfo {
  version: number;
  signerId: SignerIdentifier;
  digestAlgorithmOid: string;
  digest: DigestName;
  contentType: string;
  messageDigest: Buffer;
  /** The signed attributes as a DER SET OF, the input of the signature (RFC 5652 section 5.4). */
  signedAttributesDer: Buffer;
  signatureAlgorithm: SignatureAlgorithm;
  signature: Buffer;
}

interface SignedData {
  certificates: MudCertificate[];
  signerInfo: SignerInfo;
}

/** Kinds of CertificateChoices and RevocationInfoChoice in a SignedData, which determine its version. */
interface CarriedKinds {
  otherCertificateFormat: boolean;
  attributeCertificateV1: boolean;
  attributeCertificateV2: boolean;
  otherRevocationInfoFormat: boolean;
}

function readSignerIdentifier(node: DerNode | undefined): {
  signerId: SignerIdentifier;
  requiredVersion: number;
} {
  // subjectKeyIdentifier is [0] IMPLICIT OCTET STRING, a primitive [0].
  if (node?.tag === 0x80) {
    return {
      signerId: { kind: 'subject-key-identifier', keyIdentifier: node.content },
      requiredVersion: 3,
    };
  }
  const [issuer, serialNumber, ...rest] = sequenceMembers(node, 'SignerInfo issuerAndSerialNumber');
  if (rest.length > 0) {
    malformed('SignerInfo issuerAndSerialNumber', 'has more than two members');
  }
  return {
    signerId: {
      kind: 'issuer-and-serial-number',
      issuerDer: expectTag(issuer, Tag.Sequence, 'SignerInfo issuer').bytes,
      serialNumber: readIntegerBytes(serialNumber, 'SignerInfo serial number'),
    },
    requiredVersion: 1,
  };
}

/**
 * Reads the signed attributes. The signature covers their DER encoding as a
 * SET OF, so the attributes are sorted again as DER requires and wrapped in
 * a SET tag in place of the [0] tag (RFC 5652 section 5.4).
 */
function readSignedAttributes(
  node: DerNode,
): Pick<SignerInfo, 'contentType' | 'messageDigest' | 'signedAttributesDer'> {
  const what = 'SignerInfo signedAttrs';
  const encodings: Buffer[] = [];
  const types = new Set<string>();
  let contentType: string | undefined;
  let messageDigest: Buffer | undefined;
  for (const attribute of childrenOf(node, what)) {
    const [typeNode, valuesNode, ...rest] = sequenceMembers(attribute, `${what} attribute`);
    const type = readObjectIdentifier(typeNode, `${what} attribute type`);
    const values = setMembers(valuesNode, `${what} attribute ${type}`);
    if (rest.length > 0) {
      malformed(`${what} attribute ${type}`, 'has more than two members');
    }
    if (types.has(type)) {
      malformed(what, `contains attribute ${type} twice`);
    }
    types.add(type);
    const isContentType = type === oid.contentTypeAttribute;
    if ((isContentType || type === oid.messageDigestAttribute) && values.length !== 1) {
      // RFC 5652 sections 11.1 and 11.2: exactly one value each.
      malformed(`${what} attribute ${type}`, `has ${values.length} values instead of one`);
    }
    if (isContentType) {
      contentType = readObjectIdentifier(values[0], `${what} content-type`);
    } else if (type === oid.messageDigestAttribute) {
      messageDigest = readOctetString(values[0], `${what} message-digest`);
    }
    // NOTE: each attribute is taken as encoded, not re-encoded, so an attribute in BER but not in
    // DER verifies only if the signer signed those same octets.
    encodings.push(attribute.bytes);
  }
  if (contentType === undefined || messageDigest === undefined) {
    throw signatureError(
      `has no ${contentType === undefined ? 'content-type' : 'message-digest'} signed attribute, which RFC 5652 section 11 requires; sign with openssl cms -sign, which adds both`,
    );
  }
  return { contentType, messageDigest, signedAttributesDer: setOf(...encodings) };
}

function readSignerInfo(node: DerNode | undefined): SignerInfo {
  const members = sequenceMembers(node, 'SignerInfo');
  const version = readSmallInteger(members[0], 'SignerInfo version');
  const { signerId, requiredVersion } = readSignerIdentifier(members[1]);
  if (version !== requiredVersion) {
    // RFC 5652 section 5.3: version 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier.
    malformed(
      'SignerInfo version',
      `is ${version} but its signer identifier requires ${requiredVersion}`,
    );
  }

  const digestAlgorithm = readAlgorithmIdentifier(members[2], 'SignerInfo digestAlgorithm');
  const digest = digestAlgorithmOf(digestAlgorithm, 'SignerInfo digestAlgorithm');
  const signedAttributes = members[3];
  if (signedAttributes === undefined || !isContextTag(signedAttributes, 0)) {
    throw signatureError(
      'has no signed attributes; sign with openssl cms -sign without -noattr, so that the signature covers the content type and the message digest',
    );
  }
  const signatureAlgorithm = signatureAlgorithmOf(
    readAlgorithmIdentifier(members[4], 'SignerInfo signatureAlgorithm'),
    'SignerInfo signatureAlgorithm',
    digest,
  );
  const signature = readOctetString(members[5], 'SignerInfo signature');

  // Unsigned attributes [1] may follow; nothing here relies on them.
  const end = isContextTag(members[6], 1) ? 7 : 6;
  if (members.length > end) {
    malformed('SignerInfo', 'has members after its signature and unsigned attributes');
  }
  return {
    version,
    signerId,
    digestAlgorithmOid: digestAlgorithm.oid,
    digest,
    ...readSignedAttributes(signedAttributes),
    signatureAlgorithm,
    signature,
  };
}

/** Reads the certificates [0] of a SignedData; attribute and other certificates are counted only. */
function readCertificates(node: DerNode, carried: CarriedKinds): MudCertificate[] {
  const choices = childrenOf(node, 'SignedData certificates');
  if (choices.length > MAX_CERTIFICATES) {
    throw signatureError(
      `carries ${choices.length} certificates, more than the ${MAX_CERTIFICATES} accepted; include only the signer and its intermediate certificates`,
    );
  }
  const certificates: MudCertificate[] = [];
  for (const [index, choice] of choices.entries()) {
    if (isContextTag(choice, 1)) {
      carried.attributeCertificateV1 = true;
    } else if (isContextTag(choice, 2)) {
      carried.attributeCertificateV2 = true;
    } else if (isContextTag(choice, 3)) {
      carried.otherCertificateFormat = true;
    } else if (!isContextTag(choice, 0)) {
      certificates.push(
        parseCertificate(choice.bytes, `certificate ${index + 1} of the signature`),
      );
    }
  }
  return certificates;
}

/** Reads the crls [1] of a SignedData only to learn whether it contains other revocation formats. */
function readRevocationInfo(node: DerNode, carried: CarriedKinds): void {
  for (const choice of childrenOf(node, 'SignedData crls')) {
    if (isContextTag(choice, 1)) {
      carried.otherRevocationInfoFormat = true;
    }
  }
}

/** The SignedData version RFC 5652 section 5.1 requires for id-data content and these contents. */
function requiredSignedDataVersion(carried: CarriedKinds, signerInfo: SignerInfo): number {
  if (carried.otherCertificateFormat || carried.otherRevocationInfoFormat) {
    return 5;
  }
  if (carried.attributeCertificateV2) {
    return 4;
  }
  return carried.attributeCertificateV1 || signerInfo.version === 3 ? 3 : 1;
}

/**
 * Reads the optional certificates [0] and crls [1] of a SignedData, whose
 * members start at `index`; returns the index of the member after them.
 */
function readCarriedSets(
  members: readonly DerNode[],
  index: number,
): { certificates: MudCertificate[]; carried: CarriedKinds; next: number } {
  const carried: CarriedKinds = {
    otherCertificateFormat: false,
    attributeCertificateV1: false,
    attributeCertificateV2: false,
    otherRevocationInfoFormat: false,
  };
  let next = index;
  let certificates: MudCertificate[] = [];
  const certificatesNode = members[next];
  if (certificatesNode !== undefined && isContextTag(certificatesNode, 0)) {
    certificates = readCertificates(certificatesNode, carried);
    next += 1;
  }
  const revocationNode = members[next];
  if (revocationNode !== undefined && isContextTag(revocationNode, 1)) {
    readRevocationInfo(revocationNode, carried);
    next += 1;
  }
  return { certificates, carried, next };
}

/** Checks that the encapsulated content is id-data and absent, as for a detached signature. */
function checkEncapsulatedContent(node: DerNode | undefined): void {
  const [contentType, content, ...rest] = sequenceMembers(node, 'SignedData encapContentInfo');
  if (rest.length > 0) {
    malformed('SignedData encapContentInfo', 'has more than two members');
  }
  const type = readObjectIdentifier(contentType, 'SignedData eContentType');
  if (type !== oid.data) {
    throw signatureError(
      `signs content of type ${type}, not id-data (${oid.data}); sign the MUD file as data with openssl cms -sign -binary and no -econtent_type`,
    );
  }
  if (content !== undefined) {
    throw signatureError(
      'is not detached: it carries the signed content itself; RFC 8520 signatures are detached, so sign without -nodetach',
    );
  }
}

/** Reads a ContentInfo that contains a detached SignedData over id-data with one signer. */
function readSignedData(der: Uint8Array): SignedData {
  const [contentType, content, ...rest] = sequenceMembers(
    readDer(der, 'ContentInfo'),
    'ContentInfo',
  );
  const type = readObjectIdentifier(contentType, 'ContentInfo contentType');
  if (type !== oid.signedData) {
    throw signatureError(
      `has content type ${type}, not id-signedData (${oid.signedData}); the signature file must be the output of openssl cms -sign`,
    );
  }
  if (content === undefined || !isContextTag(content, 0) || rest.length > 0) {
    return malformed('ContentInfo', 'does not contain its content in one [0] element');
  }
  const [signedDataNode, ...more] = childrenOf(content, 'ContentInfo content');
  if (more.length > 0) {
    malformed('ContentInfo content', 'contains more than one element');
  }

  const members = sequenceMembers(signedDataNode, 'SignedData');
  const version = readSmallInteger(members[0], 'SignedData version');
  const digestAlgorithms = setMembers(members[1], 'SignedData digestAlgorithms').map(
    (algorithm) => readAlgorithmIdentifier(algorithm, 'SignedData digestAlgorithms').oid,
  );
  checkEncapsulatedContent(members[2]);

  const { certificates, carried, next } = readCarriedSets(members, 3);
  const signerInfos = setMembers(members[next], 'SignedData signerInfos');
  if (members.length > next + 1) {
    malformed('SignedData', 'has members after signerInfos');
  }
  if (signerInfos.length !== 1) {
    throw signatureError(
      `has ${signerInfos.length} SignerInfos; medward accepts MUD signatures with exactly one signer`,
    );
  }
  const signerInfo = readSignerInfo(signerInfos[0]);

  const requiredVersion = requiredSignedDataVersion(carried, signerInfo);
  if (version !== requiredVersion) {
    malformed(
      'SignedData version',
      `is ${version} where RFC 5652 section 5.1 requires ${requiredVersion}`,
    );
  }
  if (!digestAlgorithms.includes(signerInfo.digestAlgorithmOid)) {
    malformed('SignedData digestAlgorithms', "does not list the signer's digest algorithm");
  }
  return { certificates, signerInfo };
}

function findSignerCertificate(
  certificates: readonly MudCertificate[],
  signerId: SignerIdentifier,
): MudCertificate | undefined {
  return certificates.find((certificate) =>
    signerId.kind === 'issuer-and-serial-number'
      ? certificate.issuerDer.equals(signerId.issuerDer) &&
        certificate.serialNumber.equals(signerId.serialNumber)
      : certificate.subjectKeyIdentifier?.equals(signerId.keyIdentifier) === true,
  );
}

/**
 * Verifies a detached CMS SignedData in DER over `fileBytes` at `now`:
 * structure, content type, message digest, the signature over the signed
 * attributes with the signer certificate's key, and the signer certificate
 * against `anchors`. Raises MUD_SIGNATURE_INVALID naming the check that failed.
 */
export function verifyCmsSignature(
  fileBytes: Uint8Array,
  der: Uint8Array,
  anchors: TrustAnchors,
  now: Date,
): void {
  const { certificates, signerInfo } = readSignedData(der);
  if (signerInfo.contentType !== oid.data) {
    throw signatureError(
      `content-type attribute is ${signerInfo.contentType}, not id-data (${oid.data}); sign the MUD file as data with openssl cms -sign -binary`,
    );
  }
  const digest = createHash(signerInfo.digest).update(fileBytes).digest();
  if (!digest.equals(signerInfo.messageDigest)) {
    throw signatureError(
      `message-digest attribute does not match the ${digestLabel(signerInfo.digest)} digest of the MUD file: the file changed after it was signed or the signature belongs to another file; fetch both again`,
    );
  }
  const signer = findSignerCertificate(certificates, signerInfo.signerId);
  if (signer === undefined) {
    throw signatureError(
      'carries no certificate that matches its signer identifier; sign without -nocerts so that the signer certificate is included',
    );
  }
  const mismatch = keyMismatch(signerInfo.signatureAlgorithm, signer.publicKey);
  if (mismatch !== undefined) {
    throw signatureError(
      `cannot be checked with signer certificate ${signer.subjectText}: ${mismatch}`,
    );
  }
  if (
    !verifySignatureValue(
      signerInfo.signatureAlgorithm,
      signerInfo.signedAttributesDer,
      signerInfo.signature,
      signer.publicKey,
    )
  ) {
    throw signatureError(
      `does not verify with the key of signer certificate ${signer.subjectText}: the signature file was altered or made with another key`,
    );
  }
  validateSignerCertificate(signer, certificates, anchors, now);
}
