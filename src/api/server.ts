import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyInstance, type RouteOptions } from 'fastify';
import { ErrorKind, MedwardError } from '../core/errors.js';
import type { Component } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import { AuthFailureLimiter, createAuthHook } from './auth.js';
import { sendError, toErrorResponse } from './errors.js';
import {
  addResponseHeaders,
  createApiMetrics,
  createDurationHook,
  enterRequestContext,
  generateRequestId,
} from './request-hooks.js';
import { auditRoutes } from './routes/audit.js';
import { deviceRoutes } from './routes/devices.js';
import { systemRoutes } from './routes/system.js';
import { tokenRoutes } from './routes/tokens.js';
import type { ApiConfig, ApiRoutePlugin, ApiServerDeps } from './types.js';
import { validatorCompiler } from './validation.js';

export type ApiApp = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  Logger,
  TypeBoxTypeProvider
>;

const API_PREFIX = '/api/v1/';
/** Time each readiness check has; well below a probe's usual 1 to 10 s timeout. */
const READINESS_CHECK_TIMEOUT_MS = 3000;

interface ServerState {
  closing: boolean;
}

/**
 * The HTTP API. start() listens on api.host and api.port; stop() stops
 * accepting connections, rejects requests arriving meanwhile with 503, waits
 * for in-flight requests and closes keep-alive connections as they go idle.
 */
export class ApiServer implements Component {
  readonly name = 'api';

  constructor(
    readonly app: ApiApp,
    private readonly config: ApiConfig,
    private readonly logger: Logger,
    private readonly state: ServerState,
  ) {}

  /** The bound port after start(), so api.port 0 can pick a free one; else api.port. */
  get port(): number {
    const address = this.app.server.address();
    return typeof address === 'object' && address !== null ? address.port : this.config.port;
  }

  async start(): Promise<void> {
    const address = await this.app.listen({ host: this.config.host, port: this.config.port });
    this.logger.info({ address }, 'api listening');
  }

  async stop(): Promise<void> {
    this.state.closing = true;
    await this.app.close();
  }
}

export function createApiServer(deps: ApiServerDeps): ApiServer {
  const state: ServerState = { closing: false };
  const app = buildApp(deps, state);
  return new ApiServer(app, deps.config, deps.logger, state);
}

function buildApp(deps: ApiServerDeps, state: ServerState): ApiApp {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    genReqId: generateRequestId,
    requestIdHeader: false,
    bodyLimit: config.bodyLimitBytes,
    // requestTimeout bounds receiving the request; handlerTimeout the whole route lifecycle.
    requestTimeout: config.requestTimeoutMs,
    handlerTimeout: config.requestTimeoutMs,
    // Only listed proxies may name the client; see api.trustedProxies.
    trustProxy: config.trustedProxies.length > 0 ? [...config.trustedProxies] : false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Only JSON bodies are accepted, so other media types are rejected with 415.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.decorateRequest('actor', null);

  app.setErrorHandler((error, request, reply) => {
    const response = toErrorResponse(error);
    if (response.status >= 500) {
      request.log.error({ err: error }, 'request failed');
    } else {
      request.log.info({ code: response.code, status: response.status }, 'request rejected');
    }
    return sendError(request, reply, response);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = (request.url.split('?')[0] ?? '').slice(0, 200);
    return sendError(request, reply, {
      status: 404,
      code: 'API_ROUTE_NOT_FOUND',
      message: `no route for ${request.method} ${path}; GET /openapi.json lists the routes`,
      details: { method: request.method, path },
    });
  });

  const metrics = createApiMetrics(deps.metrics);
  app.addHook('onRoute', (route) => {
    declareRouteAccess(route);
  });
  app.addHook(
    'onRequest',
    createAuthHook({
      access: deps.access,
      audit: deps.audit,
      limiter: new AuthFailureLimiter(
        config.authFailureLimit,
        config.authFailureWindowMs,
        deps.nowMs,
      ),
      authFailures: metrics.authFailures,
      rateLimited: metrics.authRateLimited,
    }),
  );
  app.addHook('preHandler', enterRequestContext);
  // Some writers commit before the disk sync (Storage.transactionWithBackgroundSync),
  // so a response waits for it rather than report rows a crash could still lose.
  app.addHook('onSend', async (_request, _reply, payload) => {
    await deps.storage.backgroundSyncsSettled();
    return payload;
  });
  app.addHook('onSend', addResponseHeaders);
  app.addHook('onSend', (_request, reply, payload, done) => {
    // Closing only drops connections that are idle at that moment. A response
    // finished later must end its connection itself, or the client's
    // keep-alive connection keeps stop() waiting until the keep-alive timeout.
    if (state.closing) {
      void reply.header('connection', 'close');
    }
    done(null, payload);
  });
  app.addHook('onResponse', createDurationHook(metrics));

  void app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'medward API',
        version: '1',
        description: 'Control plane of the medward security gateway for medical device fleets',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'mwd_<id>_<secret>' },
        },
      },
    },
  });
  void app.register(
    systemRoutes({
      checks: [
        { name: 'storage', check: () => deps.storage.ping() },
        ...(deps.readinessChecks ?? []),
      ],
      metrics: deps.metrics,
      logger: deps.logger,
      checkTimeoutMs: Math.min(READINESS_CHECK_TIMEOUT_MS, config.requestTimeoutMs / 2),
    }),
  );
  void app.register(tokenRoutes(deps.access), { prefix: '/api/v1/tokens' });
  void app.register(deviceRoutes(deps.inventory), { prefix: '/api/v1/devices' });
  void app.register(auditRoutes(deps.audit), { prefix: '/api/v1/audit' });
  for (const routePlugin of deps.routePlugins ?? []) {
    registerRoutePlugin(app, routePlugin);
  }
  return app;
}

function registerRoutePlugin(app: ApiApp, routePlugin: ApiRoutePlugin): void {
  if (!routePlugin.prefix.startsWith(API_PREFIX)) {
    throw new MedwardError(
      ErrorKind.Internal,
      'API_ROUTE_PREFIX_INVALID',
      `route plugin ${routePlugin.name} uses prefix ${routePlugin.prefix}; it must start with ${API_PREFIX}`,
    );
  }
  // The async wrapper turns a synchronous throw (a rejected route) into a
  // rejected ready(), which a plain function plugin would raise as uncaught.
  void app.register(
    async (instance, options) => {
      await routePlugin.plugin(instance, options);
    },
    { prefix: routePlugin.prefix },
  );
}

/**
 * Rejects, at registration, a route that declares neither `allowedRoles` nor
 * `public: true`, and a public route under /api/v1/. Protected routes are
 * marked for the bearer scheme in the OpenAPI document.
 */
function declareRouteAccess(route: RouteOptions): void {
  const config = route.config ?? {};
  const isApiRoute = route.url.startsWith(API_PREFIX) || route.url === API_PREFIX.slice(0, -1);
  if (config.allowedRoles === undefined && (config.public !== true || isApiRoute)) {
    throw new MedwardError(
      ErrorKind.Internal,
      'API_ROUTE_ACCESS_UNDECLARED',
      `route ${String(route.method)} ${route.url} must declare config.allowedRoles` +
        (isApiRoute ? '' : ' or config.public'),
    );
  }
  if (config.allowedRoles !== undefined) {
    route.schema = { ...route.schema, security: [{ bearerAuth: [] }] };
  }
}
