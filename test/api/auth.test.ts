import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Role } from '../../src/access/index.js';
import { bearer, createApiHarness, storedState, type ApiHarness } from './support.js';

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown>; requestId: string };
}

const validDevice = {
  manufacturer: 'Acme Medical',
  model: 'Pump 1',
  serialNumber: 'AUTH-1',
  lifeSustaining: false,
  criticality: 'moderate' as const,
};

describe('api authentication', () => {
  let harness: ApiHarness;

  before(async () => {
    harness = await createApiHarness({ config: { authFailureLimit: 1000 } });
  });

  after(async () => {
    await harness.close();
  });

  test('bad tokens get one outward 401', async () => {
    const app = harness.server.app;
    const revoked = await harness.access.createToken({ label: 'old', roles: ['operator'] });
    await harness.access.revokeToken(revoked.info.id);
    const expiring = await harness.access.createToken({
      label: 'brief',
      roles: ['operator'],
      expiresAt: new Date(Date.now() + 60_000),
    });
    harness.advanceMs(120_000);
    const operatorId = harness.tokens.operator.slice(4, 20);
    const cases: { name: string; headers: Record<string, string>; reason: string }[] = [
      { name: 'missing', headers: {}, reason: 'ACCESS_TOKEN_MISSING' },
      {
        name: 'basic scheme',
        headers: { authorization: 'Basic YWRtaW46YWRtaW4=' },
        reason: 'ACCESS_TOKEN_MALFORMED',
      },
      { name: 'malformed', headers: bearer('mwd_zz'), reason: 'ACCESS_TOKEN_MALFORMED' },
      {
        name: 'unknown',
        headers: bearer(`mwd_${'0'.repeat(16)}_${'a'.repeat(43)}`),
        reason: 'ACCESS_TOKEN_UNKNOWN',
      },
      {
        name: 'wrong secret',
        headers: bearer(`mwd_${operatorId}_${'a'.repeat(43)}`),
        reason: 'ACCESS_TOKEN_SECRET_MISMATCH',
      },
      { name: 'revoked', headers: bearer(revoked.token), reason: 'ACCESS_TOKEN_REVOKED' },
      { name: 'expired', headers: bearer(expiring.token), reason: 'ACCESS_TOKEN_EXPIRED' },
    ];
    const bodies = new Set<string>();
    for (const { name, headers, reason } of cases) {
      const before = await storedState(harness);
      const head = await harness.audit.head();
      const response = await app.inject({
        method: 'POST',
        url: '/api/v1/devices',
        headers,
        payload: { ...validDevice, serialNumber: `AUTH-${name}` },
      });
      assert.equal(response.statusCode, 401, name);
      assert.equal(response.headers['www-authenticate'], 'Bearer realm="medward"', name);
      const body = response.json<ErrorBody>();
      assert.equal(body.error.code, 'API_UNAUTHENTICATED', name);
      assert.equal(body.error.requestId, response.headers['x-request-id']);
      bodies.add(JSON.stringify({ ...body.error, requestId: '' }));

      const records = await harness.audit.list({ afterSeq: head.seq });
      assert.equal(records.length, 1, `${name}: one audit record`);
      const record = records[0]!;
      assert.equal(record.event, 'auth.failure', name);
      assert.equal(record.details.reason, reason, name);
      assert.equal(record.correlationId, response.headers['x-request-id'], name);
      assert.equal(record.sourceAddress, '127.0.0.1', name);
      const after = await storedState(harness);
      assert.deepEqual(
        { ...(after as object), head: null },
        { ...(before as object), head: null },
        `${name}: no device change`,
      );
    }
    assert.equal(bodies.size, 1, 'every failure has the same body');
  });

  test('bearer scheme is case-insensitive', async () => {
    const response = await harness.server.app.inject({
      method: 'GET',
      url: '/api/v1/devices',
      headers: { authorization: `bearer ${harness.tokens.auditor}` },
    });
    assert.equal(response.statusCode, 200);
  });

  test('role matrix', async () => {
    const app = harness.server.app;
    const device = await harness.inventory.create({ ...validDevice, serialNumber: 'MATRIX-1' });
    const routes: { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; allowed: Role[] }[] =
      [
        { method: 'GET', url: '/api/v1/tokens', allowed: ['admin', 'auditor'] },
        { method: 'POST', url: '/api/v1/tokens', allowed: ['admin'] },
        { method: 'DELETE', url: '/api/v1/tokens/ffffffffffffffff', allowed: ['admin'] },
        { method: 'GET', url: '/api/v1/devices', allowed: ['admin', 'operator', 'auditor'] },
        {
          method: 'GET',
          url: `/api/v1/devices/${device.id}`,
          allowed: ['admin', 'operator', 'auditor'],
        },
        { method: 'POST', url: '/api/v1/devices', allowed: ['admin', 'operator'] },
        { method: 'PATCH', url: `/api/v1/devices/${device.id}`, allowed: ['admin', 'operator'] },
        {
          method: 'POST',
          url: `/api/v1/devices/${device.id}/decommission`,
          allowed: ['admin', 'operator'],
        },
        { method: 'GET', url: '/api/v1/audit', allowed: ['admin', 'auditor'] },
        { method: 'GET', url: '/api/v1/audit/verify', allowed: ['admin', 'auditor'] },
        { method: 'GET', url: '/metrics', allowed: ['admin', 'operator', 'auditor'] },
      ];
    for (const route of routes) {
      for (const role of ['admin', 'operator', 'auditor'] as const) {
        const head = await harness.audit.head();
        // An empty JSON object passes authorisation and then fails validation,
        // so no route changes anything here.
        const response = await app.inject({
          method: route.method,
          url: route.url,
          headers: bearer(harness.tokens[role]),
          ...(route.method === 'POST' || route.method === 'PATCH' ? { payload: { bogus: 1 } } : {}),
        });
        const label = `${role} ${route.method} ${route.url}`;
        if (route.allowed.includes(role)) {
          assert.notEqual(response.statusCode, 403, label);
          assert.notEqual(response.statusCode, 401, label);
        } else {
          assert.equal(response.statusCode, 403, label);
          assert.equal(response.json<ErrorBody>().error.code, 'API_FORBIDDEN', label);
          const records = await harness.audit.list({ afterSeq: head.seq });
          assert.deepEqual(
            records.map((r) => r.event),
            ['access.denied'],
            label,
          );
          assert.equal(records[0]?.actorId, harness.tokens[role].slice(4, 20), label);
        }
      }
    }
    assert.equal((await harness.inventory.get(device.id)).version, 1);
  });
});

describe('api authentication rate limit', () => {
  let harness: ApiHarness;

  before(async () => {
    harness = await createApiHarness({
      config: { authFailureLimit: 3, authFailureWindowMs: 60_000 },
    });
  });

  after(async () => {
    await harness.close();
  });

  test('failures block the source address', async () => {
    const app = harness.server.app;
    const attacker = '198.51.100.9';
    const attempt = (token: string, remoteAddress = attacker) =>
      app.inject({
        method: 'GET',
        url: '/api/v1/devices',
        headers: bearer(token),
        remoteAddress,
      });
    const wrong = `mwd_${'1'.repeat(16)}_${'x'.repeat(43)}`;
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await attempt(wrong)).statusCode, 401);
    }
    const head = await harness.audit.head();
    const blocked = await attempt(wrong);
    assert.equal(blocked.statusCode, 429);
    assert.equal(blocked.json<ErrorBody>().error.code, 'API_RATE_LIMITED');
    assert.equal(blocked.headers['retry-after'], '60');

    harness.advanceMs(30_000);
    const validButBlocked = await attempt(harness.tokens.operator);
    assert.equal(validButBlocked.statusCode, 429);
    assert.equal(validButBlocked.headers['retry-after'], '30');

    const records = await harness.audit.list({ afterSeq: head.seq });
    assert.deepEqual(
      records.map((r) => r.event),
      ['auth.rate-limit'],
      'the block is audited once, and blocked requests reach no token check',
    );
    assert.equal(records[0]?.sourceAddress, attacker);

    assert.equal((await attempt(harness.tokens.operator, '198.51.100.10')).statusCode, 200);
    const health = await app.inject({ method: 'GET', url: '/health', remoteAddress: attacker });
    assert.equal(health.statusCode, 200);

    harness.advanceMs(30_000);
    assert.equal((await attempt(harness.tokens.operator)).statusCode, 200);

    const metrics = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: bearer(harness.tokens.auditor),
    });
    assert.match(metrics.body, /medward_api_auth_rate_limited_total 2/);
    assert.match(
      metrics.body,
      /medward_api_auth_failures_total\{reason="ACCESS_TOKEN_UNKNOWN"\} 3/,
    );
  });
});

describe('api behind a reverse proxy', () => {
  let harness: ApiHarness;

  before(async () => {
    harness = await createApiHarness({
      config: { authFailureLimit: 1000, trustedProxies: ['192.0.2.0/24'] },
    });
  });

  after(async () => {
    await harness.close();
  });

  test('trusted proxy names the client', async () => {
    const app = harness.server.app;
    const wrong = `mwd_${'2'.repeat(16)}_${'y'.repeat(43)}`;
    const head = await harness.audit.head();
    const viaProxy = await app.inject({
      method: 'GET',
      url: '/api/v1/devices',
      headers: { ...bearer(wrong), 'x-forwarded-for': '203.0.113.7' },
      remoteAddress: '192.0.2.10',
    });
    assert.equal(viaProxy.statusCode, 401);
    // Any other peer cannot name a client, so the header is ignored.
    const direct = await app.inject({
      method: 'GET',
      url: '/api/v1/devices',
      headers: { ...bearer(wrong), 'x-forwarded-for': '203.0.113.8' },
      remoteAddress: '198.51.100.20',
    });
    assert.equal(direct.statusCode, 401);
    const records = await harness.audit.list({ afterSeq: head.seq });
    assert.deepEqual(
      records.map((record) => record.sourceAddress),
      ['203.0.113.7', '198.51.100.20'],
    );
  });
});
