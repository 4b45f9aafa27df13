import type { FastifyRequest } from 'fastify';
import type { Counter } from 'prom-client';
import { hasAnyRole, type AccessService } from '../access/index.js';
import type { AuditTrail } from '../core/audit/index.js';
import { ActorKind, runWithContext, type Actor, type OperationContext } from '../core/context.js';
import { ErrorKind, MedwardError, isMedwardError } from '../core/errors.js';
import { unauthenticatedError } from './errors.js';

/** Actor of a request before it has authenticated. */
export const anonymousActor: Actor = { kind: ActorKind.ApiToken, id: 'anonymous' };

interface FailureWindow {
  startedAtMs: number;
  failures: number;
  /** Whether the block in this window has been written to the audit trail. */
  blockAudited: boolean;
}

/**
 * Counts failed authentications per source address in fixed windows that
 * start at an address's first failure. Once an address reaches `limit`
 * failures, every authenticated request from it is rejected until its window
 * ends, valid tokens included, so guessing cannot go on with a valid token
 * mixed in. medward's own limiter rather than @fastify/rate-limit, because
 * that plugin counts all requests and this must count failures only.
 * Memory is bounded: at most `maxAddresses` windows are kept, and the oldest
 * is dropped when a new address arrives at the cap.
 */
export class AuthFailureLimiter {
  private readonly windows = new Map<string, FailureWindow>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly nowMs: () => number = Date.now,
    private readonly maxAddresses = 10_000,
  ) {}

  /** Milliseconds until `address` may try again; 0 when it is not blocked. */
  retryAfterMs(address: string): number {
    const window = this.currentWindow(address);
    if (window === undefined || window.failures < this.limit) {
      return 0;
    }
    return window.startedAtMs + this.windowMs - this.nowMs();
  }

  recordFailure(address: string): void {
    const window = this.currentWindow(address);
    if (window !== undefined) {
      window.failures += 1;
      return;
    }
    if (this.windows.size >= this.maxAddresses) {
      this.dropExpired();
    }
    if (this.windows.size >= this.maxAddresses) {
      const oldest = this.windows.keys().next();
      if (oldest.done !== true) {
        this.windows.delete(oldest.value);
      }
    }
    this.windows.set(address, { startedAtMs: this.nowMs(), failures: 1, blockAudited: false });
  }

  /** True once per window and address: the first time a blocked request is seen. */
  claimBlockAudit(address: string): boolean {
    const window = this.currentWindow(address);
    if (window === undefined || window.blockAudited) {
      return false;
    }
    window.blockAudited = true;
    return true;
  }

  private currentWindow(address: string): FailureWindow | undefined {
    const window = this.windows.get(address);
    if (window !== undefined && this.nowMs() >= window.startedAtMs + this.windowMs) {
      this.windows.delete(address);
      return undefined;
    }
    return window;
  }

  private dropExpired(): void {
    const now = this.nowMs();
    for (const [address, window] of this.windows) {
      if (now >= window.startedAtMs + this.windowMs) {
        this.windows.delete(address);
      }
    }
  }
}

export interface AuthHookDeps {
  access: AccessService;
  audit: AuditTrail;
  limiter: AuthFailureLimiter;
  authFailures: Counter<'reason'>;
  rateLimited: Counter;
}

/** Builds the OperationContext of a request, with `actor` as the acting identity. */
export function requestContext(request: FastifyRequest, actor: Actor): OperationContext {
  return {
    requestId: request.id,
    correlationId: request.id,
    actor,
    sourceAddress: request.ip,
  };
}

/**
 * Extracts the token of an `Authorization: Bearer <token>` header. Other schemes yield the raw
 * value, which then fails authentication as malformed.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) {
    return undefined;
  }
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
  return match?.[1] ?? header;
}

/**
 * An onRequest hook: authenticates routes that declare `allowedRoles` and
 * checks the caller's roles before the body is read. Failures are audited by
 * the access service (`auth.failure`) or here (`access.denied`,
 * `auth.rate-limit`).
 */
export function createAuthHook(deps: AuthHookDeps) {
  return async function authenticateRequest(request: FastifyRequest): Promise<void> {
    const allowedRoles = request.routeOptions.config.allowedRoles;
    if (allowedRoles === undefined) {
      return;
    }
    const address = request.ip;
    const retryAfterMs = deps.limiter.retryAfterMs(address);
    if (retryAfterMs > 0) {
      await rejectRateLimited(deps, request, retryAfterMs);
    }

    let actor;
    try {
      actor = await runWithContext(requestContext(request, anonymousActor), () =>
        deps.access.authenticate(bearerToken(request.headers.authorization)),
      );
    } catch (error) {
      if (isMedwardError(error) && error.kind === ErrorKind.Unauthenticated) {
        deps.authFailures.inc({ reason: error.code });
        deps.limiter.recordFailure(address);
        throw unauthenticatedError();
      }
      throw error;
    }

    if (!hasAnyRole(actor.roles, allowedRoles)) {
      await runWithContext(requestContext(request, actor), () =>
        deps.audit.record({
          event: 'access.denied',
          action: 'E',
          outcome: 'minor-failure',
          target: { kind: 'api-route', id: `${request.method} ${request.routeOptions.url ?? ''}` },
          reason: 'the token has none of the roles the route admits',
          details: { roles: actor.roles, allowedRoles: ['admin', ...allowedRoles] },
        }),
      );
      request.log.info({ tokenId: actor.id, roles: actor.roles }, 'request forbidden');
      throw new MedwardError(
        ErrorKind.Forbidden,
        'API_FORBIDDEN',
        `this route requires one of the roles admin, ${allowedRoles.join(', ')}; ` +
          `the token has ${actor.roles.join(', ')}`,
        { details: { allowedRoles: ['admin', ...allowedRoles] } },
      );
    }
    request.actor = actor;
  };
}

async function rejectRateLimited(
  deps: AuthHookDeps,
  request: FastifyRequest,
  retryAfterMs: number,
): Promise<never> {
  const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  deps.rateLimited.inc();
  if (deps.limiter.claimBlockAudit(request.ip)) {
    await runWithContext(requestContext(request, anonymousActor), () =>
      deps.audit.record({
        event: 'auth.rate-limit',
        action: 'E',
        outcome: 'minor-failure',
        reason: 'too many failed authentications from this source address',
        details: { retryAfterSeconds },
      }),
    );
    request.log.warn(
      { sourceAddress: request.ip, retryAfterSeconds },
      'authentication rate limited',
    );
  }
  throw new MedwardError(
    ErrorKind.RateLimited,
    'API_RATE_LIMITED',
    `too many failed authentications from this address; retry after ${retryAfterSeconds} s`,
    { details: { retryAfterSeconds } },
  );
}
