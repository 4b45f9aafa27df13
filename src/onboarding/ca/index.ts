export {
  CertificateAuthority,
  type CertificateAuthorityOptions,
  type CertificateRequest,
  type CertificateTable,
  type IssuedCertificate,
} from './certificate-authority.js';
export { loadOrCreateCaMaterial, resolveDataPath, type CaMaterial } from './ca-material.js';
export { fromPem, fromPemAll, toPem } from './pem.js';
export {
  CrlReason,
  buildCsr,
  certsOnlyPkcs7,
  formatName,
  oid,
  parseCertificate,
  parseCsr,
  readCertsOnlyPkcs7,
  sha256Hex,
  type NameAttribute,
  type ParsedCertificate,
  type ParsedCsr,
  type SubjectAltNames,
} from './x509.js';
