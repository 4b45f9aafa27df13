export { AccessService, type AccessServiceOptions } from './access-service.js';
export { accessMigrations } from './migrations.js';
export { Role, allRoles, hasAnyRole, isRole } from './roles.js';
export { TOKEN_FORMAT_HINT, isTokenId } from './token-format.js';
export {
  AuthFailureCode,
  type ApiTokenInfo,
  type ApiTokenStatus,
  type AuthenticatedActor,
  type BootstrapResult,
  type CreateTokenInput,
  type CreatedToken,
} from './types.js';
