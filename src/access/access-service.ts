import type { Kysely } from 'kysely';
import type { AuditTrail, Executor } from '../core/audit/index.js';
import { ActorKind, currentContext, systemActor, type Actor } from '../core/context.js';
import { ErrorKind, MedwardError, conflict, invalid, notFound } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Storage } from '../core/storage/index.js';
import { Role, isRole } from './roles.js';
import {
  TOKEN_FORMAT_HINT,
  digestSecret,
  formatToken,
  generateToken,
  isTokenId,
  parseToken,
  secretMatches,
  tokenIdOf,
} from './token-format.js';
import {
  AuthFailureCode,
  type AccessTables,
  type ApiTokenInfo,
  type ApiTokenTable,
  type AuthenticatedActor,
  type BootstrapResult,
  type CreateTokenInput,
  type CreatedToken,
} from './types.js';

export interface AccessServiceOptions {
  storage: Storage;
  audit: AuditTrail;
  logger: Logger;
  now?: () => Date;
  /** Minimum time between two writes of one token's `last_used_at`. Default 60 000 ms. */
  lastUsedWriteIntervalMs?: number;
}

const MAX_LABEL_LENGTH = 100;
/** Longer bearer values are rejected as malformed before any pattern matching. */
const MAX_BEARER_LENGTH = 512;
const CONTROL_CHARACTERS = /\p{Cc}/u;
const BOOTSTRAP_LABEL = 'bootstrap admin';

const failureMessages: Readonly<Record<AuthFailureCode, string>> = {
  ACCESS_TOKEN_MISSING: 'no API token was presented',
  ACCESS_TOKEN_MALFORMED: `the presented API token does not have the form ${TOKEN_FORMAT_HINT}`,
  ACCESS_TOKEN_UNKNOWN: 'the presented API token id is not known',
  ACCESS_TOKEN_SECRET_MISMATCH: 'the presented API token secret does not match the stored digest',
  ACCESS_TOKEN_EXPIRED: 'the presented API token has expired',
  ACCESS_TOKEN_REVOKED: 'the presented API token was revoked',
};

/** `<kind>:<id>` of an actor, the form stored in `created_by` and `revoked_by`. */
function actorReference(actor: Actor): string {
  return `${actor.kind}:${actor.id}`;
}

function currentActor(): Actor {
  return currentContext()?.actor ?? systemActor;
}

/**
 * API tokens: creation, listing, revocation, the bootstrap admin token and
 * authentication. Every change writes its audit record in the same
 * transaction; failed authentications are audited in a transaction of their
 * own. Token secrets are never stored, logged or audited.
 */
export class AccessService {
  private readonly storage: Storage;
  private readonly db: Kysely<AccessTables>;
  private readonly audit: AuditTrail;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly lastUsedWriteIntervalMs: number;

  constructor(options: AccessServiceOptions) {
    this.storage = options.storage;
    this.db = options.storage.db.withTables<AccessTables>();
    this.audit = options.audit;
    this.logger = options.logger;
    this.now = options.now ?? (() => new Date());
    this.lastUsedWriteIntervalMs = options.lastUsedWriteIntervalMs ?? 60_000;
  }

  /** Creates a token for the current actor; the returned text is the only copy of the secret. */
  async createToken(input: CreateTokenInput): Promise<CreatedToken> {
    const now = this.now();
    const { label, roles } = this.validateCreateInput(input, now);
    const generated = generateToken();
    const actor = currentActor();
    const row: ApiTokenTable = {
      id: generated.tokenId,
      label,
      roles: JSON.stringify(roles),
      secret_sha256: digestSecret(generated.secret),
      created_at: now.toISOString(),
      created_by: actorReference(actor),
      expires_at: input.expiresAt?.toISOString() ?? null,
      revoked_at: null,
      revoked_by: null,
      last_used_at: null,
    };
    await this.storage.db.transaction().execute(async (trx) => {
      await trx.withTables<AccessTables>().insertInto('api_token').values(row).execute();
      await this.audit.append(trx, {
        event: 'token.create',
        action: 'C',
        outcome: 'success',
        actor,
        target: { kind: 'api-token', id: row.id },
        details: { label, roles, expiresAt: row.expires_at },
      });
    });
    this.logger.info({ tokenId: row.id, roles }, 'api token created');
    return { token: generated.token, info: this.toInfo(row, now) };
  }

  /** Lists every token, revoked and expired ones included, oldest first. */
  async listTokens(): Promise<ApiTokenInfo[]> {
    const rows = await this.db
      .selectFrom('api_token')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    const now = this.now();
    return rows.map((row) => this.toInfo(row, now));
  }

  async getToken(id: string): Promise<ApiTokenInfo> {
    const row = await this.findRow(this.db, id);
    return this.toInfo(row, this.now());
  }

  /** Revokes a token at once; a revoked token never authenticates again. */
  async revokeToken(id: string, reason?: string): Promise<ApiTokenInfo> {
    const now = this.now();
    const actor = currentActor();
    const row = await this.storage.db.transaction().execute(async (trx) => {
      const tables = trx.withTables<AccessTables>();
      const existing = await this.findRow(tables, id);
      if (existing.revoked_at !== null) {
        throw conflict(
          'ACCESS_TOKEN_ALREADY_REVOKED',
          `API token ${id} was already revoked at ${existing.revoked_at}`,
          { tokenId: id, revokedAt: existing.revoked_at },
        );
      }
      const revoked: ApiTokenTable = {
        ...existing,
        revoked_at: now.toISOString(),
        revoked_by: actorReference(actor),
      };
      await tables
        .updateTable('api_token')
        .set({ revoked_at: revoked.revoked_at, revoked_by: revoked.revoked_by })
        .where('id', '=', id)
        .execute();
      await this.audit.append(trx, {
        event: 'token.revoke',
        action: 'D',
        outcome: 'success',
        actor,
        target: { kind: 'api-token', id },
        ...(reason === undefined ? {} : { reason }),
        details: { label: existing.label, roles: this.rolesOf(existing) },
      });
      return revoked;
    });
    this.logger.info({ tokenId: id }, 'api token revoked');
    return this.toInfo(row, now);
  }

  /**
   * Makes sure an admin can reach the API. When no active admin token exists,
   * installs `configuredToken` (stored as a digest) or, without one, generates
   * a token and returns its text so the caller can print it once. When an
   * active admin token exists, changes nothing.
   *
   * NOTE: two processes starting at the same moment on one empty database may
   * each install a token; both are valid admin tokens and both are audited.
   */
  async ensureBootstrapAdmin(configuredToken?: string): Promise<BootstrapResult> {
    const configured = configuredToken === undefined ? undefined : parseToken(configuredToken);
    if (configuredToken !== undefined && configured === undefined) {
      throw invalid(
        'ACCESS_BOOTSTRAP_TOKEN_INVALID',
        `api.bootstrapToken must have the form ${TOKEN_FORMAT_HINT}; ` +
          'set a random value of that form or remove the setting to have one generated',
        { key: 'api.bootstrapToken' },
      );
    }
    const now = this.now();
    const nowIso = now.toISOString();
    const actor = currentActor();
    const result = await this.storage.db.transaction().execute(async (trx) => {
      const tables = trx.withTables<AccessTables>();
      if (await this.hasActiveAdmin(tables, nowIso)) {
        return { status: 'existing' } as const;
      }
      const token = configured ?? generateToken();
      if (configured !== undefined) {
        const clash = await tables
          .selectFrom('api_token')
          .select('id')
          .where('id', '=', configured.tokenId)
          .executeTakeFirst();
        if (clash !== undefined) {
          throw conflict(
            'ACCESS_BOOTSTRAP_TOKEN_USED',
            `api.bootstrapToken names token ${configured.tokenId}, which exists but is not an ` +
              'active admin token; set a new value or remove the setting to have one generated',
            { key: 'api.bootstrapToken', tokenId: configured.tokenId },
          );
        }
      }
      await tables
        .insertInto('api_token')
        .values({
          id: token.tokenId,
          label: BOOTSTRAP_LABEL,
          roles: JSON.stringify([Role.Admin]),
          secret_sha256: digestSecret(token.secret),
          created_at: nowIso,
          created_by: actorReference(actor),
          expires_at: null,
          revoked_at: null,
          revoked_by: null,
          last_used_at: null,
        })
        .execute();
      const source = configured === undefined ? 'generated' : 'configured';
      await this.audit.append(trx, {
        event: 'token.bootstrap',
        action: 'C',
        outcome: 'success',
        actor,
        target: { kind: 'api-token', id: token.tokenId },
        reason: 'no active admin token existed',
        details: { label: BOOTSTRAP_LABEL, roles: [Role.Admin], source },
      });
      return configured === undefined
        ? ({
            status: 'generated',
            tokenId: token.tokenId,
            token: formatToken(token.tokenId, token.secret),
          } as const)
        : ({ status: 'configured', tokenId: token.tokenId } as const);
    });
    if (result.status !== 'existing') {
      this.logger.info({ tokenId: result.tokenId, source: result.status }, 'admin token installed');
    } else if (configuredToken !== undefined) {
      this.logger.info('api.bootstrapToken ignored because an active admin token exists');
    }
    return result;
  }

  /**
   * Resolves a bearer token to its actor and roles. Rejects with an
   * `unauthenticated` MedwardError whose code names the reason (see
   * AuthFailureCode) after auditing `auth.failure`. Callers that answer a
   * remote peer must not reveal that code, so that a prober learns nothing
   * about which tokens exist.
   */
  async authenticate(bearer: string | undefined): Promise<AuthenticatedActor> {
    if (bearer === undefined || bearer === '') {
      return this.reject(AuthFailureCode.Missing, undefined);
    }
    const parsed = bearer.length <= MAX_BEARER_LENGTH ? parseToken(bearer) : undefined;
    if (parsed === undefined) {
      return this.reject(AuthFailureCode.Malformed, tokenIdOf(bearer.slice(0, 64)));
    }
    const row = await this.db
      .selectFrom('api_token')
      .selectAll()
      .where('id', '=', parsed.tokenId)
      .executeTakeFirst();
    if (row === undefined) {
      return this.reject(AuthFailureCode.Unknown, parsed.tokenId);
    }
    if (!secretMatches(parsed.secret, row.secret_sha256)) {
      return this.reject(AuthFailureCode.SecretMismatch, row.id);
    }
    if (row.revoked_at !== null) {
      return this.reject(AuthFailureCode.Revoked, row.id);
    }
    const now = this.now();
    if (row.expires_at !== null && row.expires_at <= now.toISOString()) {
      return this.reject(AuthFailureCode.Expired, row.id);
    }
    await this.recordUse(row, now);
    return { kind: ActorKind.ApiToken, id: row.id, display: row.label, roles: this.rolesOf(row) };
  }

  private async reject(code: AuthFailureCode, tokenId: string | undefined): Promise<never> {
    const message = failureMessages[code];
    await this.audit.record({
      event: 'auth.failure',
      action: 'E',
      outcome: 'minor-failure',
      actor: { kind: ActorKind.ApiToken, id: tokenId ?? 'anonymous' },
      ...(tokenId === undefined ? {} : { target: { kind: 'api-token', id: tokenId } }),
      reason: message,
      details: { reason: code },
    });
    this.logger.info({ reason: code, tokenId }, 'authentication failed');
    throw new MedwardError(ErrorKind.Unauthenticated, code, message, {
      details: tokenId === undefined ? {} : { tokenId },
    });
  }

  /** Writes `last_used_at` when the stored value is older than the write interval. */
  private async recordUse(row: ApiTokenTable, now: Date): Promise<void> {
    const threshold = new Date(now.getTime() - this.lastUsedWriteIntervalMs).toISOString();
    if (row.last_used_at !== null && row.last_used_at > threshold) {
      return;
    }
    try {
      await this.db
        .updateTable('api_token')
        .set({ last_used_at: now.toISOString() })
        .where('id', '=', row.id)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', threshold)]))
        .execute();
    } catch (error) {
      // The request is authenticated either way; a stale last-use time is not worth a failure.
      this.logger.warn({ tokenId: row.id, err: error }, 'api token last use not recorded');
    }
  }

  private async hasActiveAdmin(tables: Executor<AccessTables>, nowIso: string): Promise<boolean> {
    const row = await tables
      .selectFrom('api_token')
      .select('id')
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowIso)]))
      .where('roles', 'like', `%"${Role.Admin}"%`)
      .executeTakeFirst();
    return row !== undefined;
  }

  private async findRow(tables: Executor<AccessTables>, id: string): Promise<ApiTokenTable> {
    const row = isTokenId(id)
      ? await tables.selectFrom('api_token').selectAll().where('id', '=', id).executeTakeFirst()
      : undefined;
    if (row === undefined) {
      throw notFound('ACCESS_TOKEN_NOT_FOUND', `API token ${id} does not exist`, { tokenId: id });
    }
    return row;
  }

  private validateCreateInput(
    input: CreateTokenInput,
    now: Date,
  ): { label: string; roles: Role[] } {
    const problems: { path: string; message: string }[] = [];
    const label = input.label.trim();
    if (label.length === 0 || label.length > MAX_LABEL_LENGTH || CONTROL_CHARACTERS.test(label)) {
      problems.push({
        path: 'label',
        message: `label must be 1 to ${MAX_LABEL_LENGTH} characters without control characters`,
      });
    }
    const roles = [...new Set(input.roles)].sort();
    if (roles.length === 0 || !roles.every(isRole)) {
      problems.push({
        path: 'roles',
        message: 'roles must list at least one of admin, operator, auditor',
      });
    }
    if (input.expiresAt !== undefined) {
      const expiresAtMs = input.expiresAt.getTime();
      if (Number.isNaN(expiresAtMs) || expiresAtMs <= now.getTime()) {
        problems.push({ path: 'expiresAt', message: 'expiresAt must be a time in the future' });
      }
    }
    if (problems.length > 0) {
      throw invalid(
        'ACCESS_TOKEN_REQUEST_INVALID',
        `API token request is invalid: ${problems.map((p) => p.message).join('; ')}`,
        { problems },
      );
    }
    return { label, roles };
  }

  private rolesOf(row: ApiTokenTable): Role[] {
    const parsed: unknown = JSON.parse(row.roles);
    return Array.isArray(parsed) ? parsed.filter(isRole) : [];
  }

  private toInfo(row: ApiTokenTable, now: Date): ApiTokenInfo {
    let status: ApiTokenInfo['status'] = 'active';
    if (row.revoked_at !== null) {
      status = 'revoked';
    } else if (row.expires_at !== null && row.expires_at <= now.toISOString()) {
      status = 'expired';
    }
    return {
      id: row.id,
      label: row.label,
      roles: this.rolesOf(row),
      status,
      createdAt: row.created_at,
      createdBy: row.created_by,
      expiresAt: row.expires_at,
      revokedAt: row.revoked_at,
      revokedBy: row.revoked_by,
      lastUsedAt: row.last_used_at,
    };
  }
}
