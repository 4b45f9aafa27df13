import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AccessService, AuthenticatedActor, Role } from '../access/index.js';
import type { AuditTrail } from '../core/audit/index.js';
import type { MedwardConfig } from '../core/config/index.js';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/metrics.js';
import type { Storage } from '../core/storage/index.js';
import type { InventoryService } from '../inventory/index.js';

export type ApiConfig = MedwardConfig['api'];

/** A dependency that must answer before the server reports ready on GET /ready. */
export interface ReadinessCheck {
  /** Short name shown in the /ready response, for example `event-bus`. */
  name: string;
  /** Resolves when the dependency works; rejects (or exceeds the check timeout) when not. */
  check(): Promise<void>;
}

/**
 * Routes another context adds to the API. `plugin` is registered under
 * `prefix`, which must start with `/api/v1/`. Every route it declares must
 * set `config.allowedRoles` (admin is always admitted); the server then
 * authenticates the bearer token, checks the roles and runs the handler inside
 * an OperationContext carrying the actor, so the context's audit records name
 * the caller. Routes use the TypeBox type provider and should declare JSON
 * schemas for params, querystring, body (`additionalProperties: false`) and
 * responses; they appear in GET /openapi.json. Errors are thrown as
 * MedwardError and reach the client as the common error body.
 *
 * @example
 * const onem2mRoutes: ApiRoutePlugin = {
 *   name: 'onem2m',
 *   prefix: '/api/v1/onem2m',
 *   plugin: async (app) => {
 *     app.get('/status', { config: { allowedRoles: ['operator', 'auditor'] }, schema }, handler);
 *   },
 * };
 */
export interface ApiRoutePlugin {
  name: string;
  prefix: string;
  plugin: FastifyPluginAsyncTypebox;
}

export interface ApiServerDeps {
  config: ApiConfig;
  logger: Logger;
  /** Pinged by GET /ready. */
  storage: Storage;
  audit: AuditTrail;
  access: AccessService;
  inventory: InventoryService;
  metrics: Registry;
  readinessChecks?: readonly ReadinessCheck[];
  routePlugins?: readonly ApiRoutePlugin[];
  /** Clock of the authentication failure limiter, in epoch milliseconds. */
  nowMs?: () => number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Roles admitted to the route besides admin. Routes without it must set
     * `public: true` and are served without authentication.
     */
    allowedRoles?: readonly Role[];
    public?: boolean;
  }

  interface FastifyRequest {
    /** The authenticated caller; null on public routes and before authentication. */
    actor: AuthenticatedActor | null;
  }
}
