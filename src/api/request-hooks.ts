import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';
import { runWithContext } from '../core/context.js';
import { anonymousActor, requestContext } from './auth.js';

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._~:+/=-]{1,128}$/;

/**
 * Fastify's genReqId: the client's X-Request-Id when it is 1 to 128 safe
 * characters, else a new UUID. Fastify's own `requestIdHeader` would take
 * the header unchecked into every log line, so it stays off.
 */
export function generateRequestId(raw: IncomingMessage): string {
  const header = raw.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID_PATTERN.test(header) ? header : randomUUID();
}

/**
 * A preHandler hook that runs the rest of the request (the handler) inside
 * an OperationContext, so audit records name the actor, the source address
 * and the request id as correlation id. It is a preHandler and not an
 * onRequest hook because the body parser's stream callbacks would not carry
 * a context set before them.
 */
export function enterRequestContext(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  runWithContext(requestContext(request, request.actor ?? anonymousActor), done);
}

/** An onSend hook adding the request id and security headers to every response. */
export function addResponseHeaders(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (error: Error | null, payload: unknown) => void,
): void {
  void reply.headers({
    'x-request-id': request.id,
    // API responses carry inventory data and tokens; no cache may keep them.
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  });
  done(null, payload);
}

export interface ApiMetrics {
  requestDuration: Histogram<'method' | 'route' | 'status_code'>;
  authFailures: Counter<'reason'>;
  authRateLimited: Counter;
}

/** Finds the metric named `name` of class `type` in the registry, or creates it. */
function reuseMetric<T>(
  registry: Registry,
  name: string,
  type: abstract new (...args: never[]) => T,
  create: () => T,
): T {
  const found = registry.getSingleMetric(name);
  return found instanceof type ? found : create();
}

/** Registers the API's metrics, reusing them when the registry already has them. */
export function createApiMetrics(registry: Registry): ApiMetrics {
  const requestDuration = reuseMetric(
    registry,
    'medward_http_request_duration_seconds',
    Histogram<'method' | 'route' | 'status_code'>,
    () =>
      new Histogram({
        name: 'medward_http_request_duration_seconds',
        help: 'API request duration from arrival to the last byte sent, by route template',
        labelNames: ['method', 'route', 'status_code'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
  );
  const authFailures = reuseMetric(
    registry,
    'medward_api_auth_failures_total',
    Counter<'reason'>,
    () =>
      new Counter({
        name: 'medward_api_auth_failures_total',
        help: 'Rejected API authentications, by internal reason code',
        labelNames: ['reason'],
        registers: [registry],
      }),
  );
  const authRateLimited = reuseMetric(
    registry,
    'medward_api_auth_rate_limited_total',
    Counter,
    () =>
      new Counter({
        name: 'medward_api_auth_rate_limited_total',
        help: 'API requests rejected because their source address failed authentication too often',
        registers: [registry],
      }),
  );
  return { requestDuration, authFailures, authRateLimited };
}

/** An onResponse hook observing the request duration; unmatched URLs share one route label. */
export function createDurationHook(metrics: ApiMetrics) {
  return function observeDuration(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ): void {
    metrics.requestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  };
}
