export {
  EstServer,
  CRL_PATH,
  REGISTRATION_PATH,
  REPORT_PATH,
  type EstServerOptions,
} from './est-server.js';
export {
  EnrolmentService,
  type EnrolmentResult,
  type EnrolmentServiceOptions,
} from './enrolment-service.js';
export { deviceUrn, type DeviceCredential } from './credentials.js';
export { checkInitialIdentity, checkRenewalIdentity, parseAndCheckCsr } from './csr-policy.js';
export { verifyBirthIdentity, type PresentedCertificate } from './birth-identity.js';
