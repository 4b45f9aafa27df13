export {
  AuthorisationService,
  entryUnusableReason,
  hashSecret,
  type AuthorisationServiceOptions,
  type ImportResult,
  type ListSource,
  type RevocationEffect,
  type RevocationHandler,
} from './authorisation-service.js';
export {
  AuthorityPoller,
  type AuthorityPollerOptions,
  type PollOutcome,
} from './authority-client.js';
export {
  AuthorityServer,
  ensureAuthorityTls,
  etagMatches,
  type AuthorityServerOptions,
} from './authority-server.js';
export {
  AUTHORISATION_LIST_FORMAT,
  AuthorisationListSchema,
  type AuthorisationList,
  type BirthIdentity,
  type ListEntry,
  type ListEnvelope,
  type ListRevocation,
} from './list-schema.js';
export { MANUAL_LIST_ID, type AuthorisedEntry } from './list-store.js';
export { identityKey } from './list-checks.js';
export {
  keyIdOf,
  loadAuthorityKeys,
  signList,
  verifyEnvelope,
  type AuthorityKey,
} from './signature.js';
