import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ErrorKind, MedwardError, isMedwardError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Registry } from '../../core/metrics.js';
import { errorResponses } from '../errors.js';
import type { ReadinessCheck } from '../types.js';

export interface SystemRouteDeps {
  checks: readonly ReadinessCheck[];
  metrics: Registry;
  logger: Logger;
  /** Time each readiness check has before it counts as failed. */
  checkTimeoutMs: number;
}

interface CheckResult {
  name: string;
  status: 'ok' | 'failed';
  /** MedwardError code of the failure, or CHECK_FAILED / CHECK_TIMED_OUT. */
  code?: string;
}

const CheckResultSchema = Type.Object(
  {
    name: Type.String(),
    status: Type.Union([Type.Literal('ok'), Type.Literal('failed')]),
    code: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

async function runCheck(
  check: ReadinessCheck,
  timeoutMs: number,
  logger: Logger,
): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new MedwardError(ErrorKind.Timeout, 'CHECK_TIMED_OUT', `${check.name} timed out`));
    }, timeoutMs);
  });
  try {
    await Promise.race([check.check(), timeout]);
    return { name: check.name, status: 'ok' };
  } catch (error) {
    logger.warn({ check: check.name, err: error }, 'readiness check failed');
    return {
      name: check.name,
      status: 'failed',
      code: isMedwardError(error) ? error.code : 'CHECK_FAILED',
    };
  } finally {
    clearTimeout(timer);
  }
}

/** GET /health, /ready, /metrics and /openapi.json. Only /metrics needs a token (any role). */
export function systemRoutes(deps: SystemRouteDeps): FastifyPluginAsyncTypebox {
  return (app) => {
    app.get(
      '/health',
      {
        config: { public: true },
        schema: {
          tags: ['system'],
          summary: 'Liveness: the process serves HTTP',
          response: {
            200: Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false }),
          },
        },
      },
      () => ({ status: 'ok' as const }),
    );

    app.get(
      '/ready',
      {
        config: { public: true },
        schema: {
          tags: ['system'],
          summary: 'Readiness: storage and every registered dependency answer',
          response: {
            200: Type.Object(
              { status: Type.Literal('ready'), checks: Type.Array(CheckResultSchema) },
              { additionalProperties: false },
            ),
            ...errorResponses,
          },
        },
      },
      async () => {
        const checks = await Promise.all(
          deps.checks.map((check) => runCheck(check, deps.checkTimeoutMs, deps.logger)),
        );
        const failed = checks.filter((check) => check.status === 'failed');
        if (failed.length > 0) {
          throw new MedwardError(
            ErrorKind.Unavailable,
            'API_NOT_READY',
            `not ready: ${failed.map((check) => check.name).join(', ')} failed`,
            { details: { checks } },
          );
        }
        return { status: 'ready' as const, checks };
      },
    );

    app.get(
      '/metrics',
      {
        config: { allowedRoles: ['operator', 'auditor'] },
        schema: {
          tags: ['system'],
          summary: 'Prometheus metrics in the text exposition format; any role may read them',
          response: {
            200: Type.String({ description: 'Prometheus text exposition format' }),
            ...errorResponses,
          },
        },
      },
      async (_request, reply) => {
        const text = await deps.metrics.metrics();
        return reply.type(deps.metrics.contentType).send(text);
      },
    );

    app.get(
      '/openapi.json',
      {
        config: { public: true },
        schema: {
          tags: ['system'],
          summary: 'This OpenAPI 3 document',
          response: { 200: Type.Object({}, { additionalProperties: true }) },
        },
      },
      () => app.swagger(),
    );
    return Promise.resolve();
  };
}
