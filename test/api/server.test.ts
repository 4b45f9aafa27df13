import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import { createApiServer, type ApiRoutePlugin } from '../../src/api/index.js';
import { currentContext } from '../../src/core/context.js';
import { invalid } from '../../src/core/errors.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import { interceptFdatasync, settledWithin } from '../support/fdatasync.js';
import { apiConfig, bearer, createApiHarness, type ApiHarness } from './support.js';

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown>; requestId: string };
}

describe('api server basics', () => {
  let harness: ApiHarness;

  before(async () => {
    harness = await createApiHarness();
  });

  after(async () => {
    await harness.close();
  });

  test('health needs no token', async () => {
    const response = await harness.server.app.inject({ method: 'GET', url: '/health' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { status: 'ok' });
  });

  test('responses carry security headers', async () => {
    const response = await harness.server.app.inject({ method: 'GET', url: '/health' });
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
    assert.equal(response.headers['x-frame-options'], 'DENY');
    assert.match(String(response.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  test('request id accepted or replaced', async () => {
    const app = harness.server.app;
    const kept = await app.inject({
      method: 'GET',
      url: '/health',
      headers: { 'x-request-id': 'trace-42.a:b' },
    });
    assert.equal(kept.headers['x-request-id'], 'trace-42.a:b');
    for (const bad of ['x'.repeat(129), 'has space', 'semi;colon', '']) {
      const replaced = await app.inject({
        method: 'GET',
        url: '/health',
        headers: { 'x-request-id': bad },
      });
      assert.match(String(replaced.headers['x-request-id']), /^[0-9a-f-]{36}$/, bad);
    }
    const failed = await app.inject({
      method: 'GET',
      url: '/nowhere',
      headers: { 'x-request-id': 'trace-43' },
    });
    assert.equal(failed.json<ErrorBody>().error.requestId, 'trace-43');
  });

  test('unknown route is 404', async () => {
    const response = await harness.server.app.inject({ method: 'GET', url: '/api/v2/x?a=1' });
    assert.equal(response.statusCode, 404);
    const body = response.json<ErrorBody>();
    assert.equal(body.error.code, 'API_ROUTE_NOT_FOUND');
    assert.deepEqual(body.error.details, { method: 'GET', path: '/api/v2/x' });
  });

  test('ready reports storage', async () => {
    const response = await harness.server.app.inject({ method: 'GET', url: '/ready' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), {
      status: 'ready',
      checks: [{ name: 'storage', status: 'ok' }],
    });
  });

  test('metrics require a token', async () => {
    const app = harness.server.app;
    const anonymous = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(anonymous.statusCode, 401);
    const response = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: bearer(harness.tokens.operator),
    });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain/);
    assert.match(
      response.body,
      /medward_http_request_duration_seconds_count\{method="GET",route="\/health",status_code="200"\} \d+/,
    );
    assert.match(
      response.body,
      /medward_api_auth_failures_total\{reason="ACCESS_TOKEN_MISSING"\} 1/,
    );
    assert.match(response.body, /route="unmatched",status_code="404"/);
  });

  test('openapi document lists routes', async () => {
    const response = await harness.server.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(response.statusCode, 200);
    const document = response.json<{
      openapi: string;
      paths: Record<
        string,
        Record<string, { security?: unknown; requestBody?: unknown } | undefined> | undefined
      >;
    }>();
    assert.equal(document.openapi, '3.0.3');
    for (const path of [
      '/api/v1/tokens',
      '/api/v1/tokens/{id}',
      '/api/v1/devices',
      '/api/v1/devices/{id}',
      '/api/v1/devices/{id}/decommission',
      '/api/v1/audit',
      '/api/v1/audit/verify',
      '/health',
      '/ready',
      '/metrics',
    ]) {
      assert.ok(document.paths[path], `${path} is documented`);
    }
    const createDevice = document.paths['/api/v1/devices']?.post;
    assert.ok(createDevice?.requestBody);
    assert.deepEqual(createDevice.security, [{ bearerAuth: [] }]);
    assert.equal(document.paths['/health']?.get?.security, undefined);
  });
});

describe('api server readiness', () => {
  test('failed check gives 503', async () => {
    const harness = await createApiHarness({
      config: { requestTimeoutMs: 1000 },
      extra: {
        readinessChecks: [
          { name: 'event-bus', check: () => Promise.reject(invalid('BUS_DOWN', 'down')) },
          { name: 'hangs', check: () => new Promise(() => undefined) },
          { name: 'fine', check: () => Promise.resolve() },
        ],
      },
    });
    try {
      const response = await harness.server.app.inject({ method: 'GET', url: '/ready' });
      assert.equal(response.statusCode, 503);
      const body = response.json<ErrorBody>();
      assert.equal(body.error.code, 'API_NOT_READY');
      assert.match(body.error.message, /event-bus, hangs/);
      assert.deepEqual(body.error.details.checks, [
        { name: 'storage', status: 'ok' },
        { name: 'event-bus', status: 'failed', code: 'BUS_DOWN' },
        { name: 'hangs', status: 'failed', code: 'CHECK_TIMED_OUT' },
        { name: 'fine', status: 'ok' },
      ]);
    } finally {
      await harness.close();
    }
  });
});

describe('api route plugins', () => {
  let harness: ApiHarness;
  let release: () => void = () => undefined;

  const plugin: ApiRoutePlugin = {
    name: 'probe',
    prefix: '/api/v1/probe',
    plugin: (app) => {
      app.get(
        '/context',
        {
          config: { allowedRoles: ['auditor'] },
          schema: {
            response: {
              200: Type.Object({
                actorId: Type.String(),
                requestId: Type.String(),
                sourceAddress: Type.String(),
              }),
            },
          },
        },
        async () => {
          await new Promise((resolve) => setImmediate(resolve));
          const context = currentContext();
          return {
            actorId: context?.actor.id ?? 'none',
            requestId: context?.requestId ?? 'none',
            sourceAddress: context?.sourceAddress ?? 'none',
          };
        },
      );
      app.get('/boom', { config: { allowedRoles: ['auditor'] } }, () => {
        throw new Error('connection string postgres://secret@db failed');
      });
      app.get('/slow', { config: { allowedRoles: ['auditor'] } }, async () => {
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return { done: true };
      });
      return Promise.resolve();
    },
  };

  before(async () => {
    harness = await createApiHarness({
      config: { requestTimeoutMs: 1000 },
      extra: { routePlugins: [plugin] },
    });
  });

  after(async () => {
    release();
    await harness.close();
  });

  test('plugin routes get auth and context', async () => {
    const app = harness.server.app;
    const anonymous = await app.inject({ method: 'GET', url: '/api/v1/probe/context' });
    assert.equal(anonymous.statusCode, 401);
    const response = await app.inject({
      method: 'GET',
      url: '/api/v1/probe/context',
      headers: { ...bearer(harness.tokens.auditor), 'x-request-id': 'probe-1' },
      remoteAddress: '192.0.2.7',
    });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), {
      actorId: harness.tokens.auditor.slice(4, 20),
      requestId: 'probe-1',
      sourceAddress: '192.0.2.7',
    });
  });

  test('thrown error hides internals', async () => {
    const response = await harness.server.app.inject({
      method: 'GET',
      url: '/api/v1/probe/boom',
      headers: bearer(harness.tokens.auditor),
    });
    assert.equal(response.statusCode, 500);
    const body = response.json<ErrorBody>();
    assert.equal(body.error.code, 'INTERNAL_ERROR');
    assert.equal(response.body.includes('secret'), false);
    assert.equal(response.body.includes('postgres'), false);
  });

  test('slow handler times out', async () => {
    const response = await harness.server.app.inject({
      method: 'GET',
      url: '/api/v1/probe/slow',
      headers: bearer(harness.tokens.auditor),
    });
    release();
    assert.equal(response.statusCode, 504);
    assert.equal(response.json<ErrorBody>().error.code, 'API_REQUEST_TIMEOUT');
  });

  test('plugin without roles is rejected', async () => {
    const server = createApiServer({
      config: apiConfig(),
      logger: silentLogger(),
      storage: harness.database.storage,
      audit: harness.audit,
      access: harness.access,
      inventory: harness.inventory,
      metrics: createMetricsRegistry({ defaultMetrics: false }),
      routePlugins: [
        {
          name: 'careless',
          prefix: '/api/v1/careless',
          plugin: (app) => {
            app.get('/open', { config: { public: true } }, () => ({}));
            return Promise.resolve();
          },
        },
      ],
    });
    await assert.rejects(
      async () => {
        await server.app.ready();
      },
      (error: unknown) => (error as { code?: string }).code === 'API_ROUTE_ACCESS_UNDECLARED',
    );
  });

  test('plugin outside api prefix rejected', () => {
    assert.throws(
      () =>
        createApiServer({
          config: apiConfig(),
          logger: silentLogger(),
          storage: harness.database.storage,
          audit: harness.audit,
          access: harness.access,
          inventory: harness.inventory,
          metrics: createMetricsRegistry({ defaultMetrics: false }),
          routePlugins: [{ name: 'root', prefix: '/admin', plugin: () => Promise.resolve() }],
        }),
      (error: unknown) => (error as { code?: string }).code === 'API_ROUTE_PREFIX_INVALID',
    );
  });
});

describe('api logging', () => {
  test('log lines carry the request id', async () => {
    const stream = new PassThrough();
    const lines: Record<string, unknown>[] = [];
    stream.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
      }
    });
    const harness = await createApiHarness({
      logger: createLogger({ level: 'info', destination: stream }),
    });
    try {
      const token = harness.tokens.operator;
      await harness.server.app.inject({
        method: 'POST',
        url: '/api/v1/devices',
        headers: { ...bearer(token), 'x-request-id': 'log-trace-1' },
        payload: { unknownField: true },
      });
      await new Promise((resolve) => setImmediate(resolve));
      const ofRequest = lines.filter((line) => line.requestId === 'log-trace-1');
      const messages = ofRequest.map((line) => line.msg);
      assert.ok(messages.includes('incoming request'), JSON.stringify(messages));
      assert.ok(messages.includes('request rejected'), JSON.stringify(messages));
      assert.ok(messages.includes('request completed'), JSON.stringify(messages));
      const secret = token.slice(21);
      assert.equal(
        lines.some((line) => JSON.stringify(line).includes(secret)),
        false,
        'no log line contains a token secret',
      );
    } finally {
      await harness.close();
    }
  });
});

describe('api server lifecycle', () => {
  test('stop drains in-flight requests', async () => {
    let release: () => void = () => undefined;
    let arrived: () => void = () => undefined;
    const requestArrived = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const harness = await createApiHarness({
      config: { host: '127.0.0.1', port: 0 },
      extra: {
        routePlugins: [
          {
            name: 'drain',
            prefix: '/api/v1/drain',
            plugin: (app) => {
              app.get('/wait', { config: { allowedRoles: ['auditor'] } }, async () => {
                arrived();
                await new Promise<void>((resolve) => {
                  release = resolve;
                });
                return { finished: true };
              });
              return Promise.resolve();
            },
          },
        ],
      },
    });
    try {
      await harness.server.start();
      const { port } = harness.server.app.server.address() as AddressInfo;
      const pending = fetch(`http://127.0.0.1:${port}/api/v1/drain/wait`, {
        headers: bearer(harness.tokens.auditor),
      });
      await requestArrived;
      let stopped = false;
      const stopping = harness.server.stop().then(() => {
        stopped = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(stopped, false, 'stop waits for the request in flight');
      release();
      const response = await pending;
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { finished: true });
      await stopping;
      assert.equal(stopped, true);
    } finally {
      release();
      await harness.database.dispose();
    }
  });
});

describe('api responses after background commits', () => {
  test('response waits for disk sync', async () => {
    const harness = await createApiHarness();
    const pendingSyncs: (() => void)[] = [];
    const interception = interceptFdatasync((_fd, callback) => {
      pendingSyncs.push(() => {
        callback(null);
      });
    });
    try {
      const { durable } = await harness.database.storage.transactionWithBackgroundSync(
        async (trx) => {
          await sql`select 1`.execute(trx);
        },
      );
      const response = harness.server.app.inject({ method: 'GET', url: '/health' });
      assert.equal(await settledWithin(response, 30), false, 'answered before the sync');
      for (const release of pendingSyncs.splice(0)) {
        release();
      }
      await durable;
      assert.equal((await response).statusCode, 200);
    } finally {
      interception.restore();
      await harness.close();
    }
  });
});
