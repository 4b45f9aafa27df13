import type { Actor } from '../core/context.js';
import type { Role } from './roles.js';

export interface ApiTokenTable {
  /** 16 lowercase hex digits, the middle part of the token text. */
  id: string;
  label: string;
  /** JSON array of role names, sorted. */
  roles: string;
  /** SHA-256 of the token's secret, lowercase hex. */
  secret_sha256: string;
  /** ISO 8601 UTC timestamps, as written by Date.toISOString, so text order is time order. */
  created_at: string;
  /** `<actor kind>:<actor id>` of whoever created the token. */
  created_by: string;
  expires_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
  last_used_at: string | null;
}

// A type alias, not an interface: Kysely's withTables needs an index-compatible type.
export type AccessTables = {
  api_token: ApiTokenTable;
};

export type ApiTokenStatus = 'active' | 'expired' | 'revoked';

/** An API token as callers see it: everything but the secret and its digest. */
export interface ApiTokenInfo {
  id: string;
  label: string;
  roles: Role[];
  status: ApiTokenStatus;
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  lastUsedAt: string | null;
}

export interface CreateTokenInput {
  /** 1 to 100 printable characters naming the token's holder or purpose. */
  label: string;
  roles: readonly Role[];
  /** Instant after which the token no longer authenticates; must be in the future. */
  expiresAt?: Date;
}

export interface CreatedToken {
  /** The token text. It is not stored and cannot be shown again. */
  token: string;
  info: ApiTokenInfo;
}

/** The identity behind an authenticated request: an API token and its roles. */
export interface AuthenticatedActor extends Actor {
  roles: readonly Role[];
}

/** What ensureBootstrapAdmin did; `token` is set only when it generated one. */
export type BootstrapResult =
  | { status: 'existing'; tokenId?: undefined; token?: undefined }
  | { status: 'configured'; tokenId: string; token?: undefined }
  | { status: 'generated'; tokenId: string; token: string };

/**
 * Why an authentication failed. Recorded in the audit trail and carried as the
 * error code, but never sent to the remote caller.
 */
export const AuthFailureCode = {
  Missing: 'ACCESS_TOKEN_MISSING',
  Malformed: 'ACCESS_TOKEN_MALFORMED',
  Unknown: 'ACCESS_TOKEN_UNKNOWN',
  SecretMismatch: 'ACCESS_TOKEN_SECRET_MISMATCH',
  Expired: 'ACCESS_TOKEN_EXPIRED',
  Revoked: 'ACCESS_TOKEN_REVOKED',
} as const;
export type AuthFailureCode = (typeof AuthFailureCode)[keyof typeof AuthFailureCode];
