import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiTokenInfo } from '../../src/access/index.js';
import { bearer, createApiHarness, type ApiHarness } from './support.js';

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown>; requestId: string };
}

describe('token routes', () => {
  let harness: ApiHarness;
  let admin: Record<string, string>;

  before(async () => {
    harness = await createApiHarness();
    admin = bearer(harness.tokens.admin);
  });

  after(async () => {
    await harness.close();
  });

  test('create shows the token once', async () => {
    const app = harness.server.app;
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: admin,
      payload: { label: 'grafana', roles: ['auditor'] },
    });
    assert.equal(created.statusCode, 201, created.body);
    const { token, info } = created.json<{ token: string; info: ApiTokenInfo }>();
    assert.match(token, /^mwd_[0-9a-f]{16}_/);
    assert.equal(info.label, 'grafana');
    assert.equal(info.createdBy, `api-token:${harness.tokens.admin.slice(4, 20)}`);

    const listed = await app.inject({ method: 'GET', url: '/api/v1/tokens', headers: admin });
    assert.equal(listed.statusCode, 200);
    assert.equal(listed.body.includes(token.slice(21)), false, 'no secret in the list');
    const tokens = listed.json<{ tokens: ApiTokenInfo[] }>().tokens;
    assert.ok(tokens.some((t) => t.id === info.id && t.status === 'active'));

    const used = await app.inject({ method: 'GET', url: '/api/v1/audit', headers: bearer(token) });
    assert.equal(used.statusCode, 200);

    const [record] = await harness.audit.list({ targetId: info.id, event: 'token.create' });
    assert.equal(record?.actorId, harness.tokens.admin.slice(4, 20));
  });

  test('revoke stops the token', async () => {
    const app = harness.server.app;
    const { token, info } = await harness.access.createToken({
      label: 'temp',
      roles: ['operator'],
    });
    const revoked = await app.inject({
      method: 'DELETE',
      url: `/api/v1/tokens/${info.id}?reason=rotated`,
      headers: admin,
    });
    assert.equal(revoked.statusCode, 200, revoked.body);
    assert.equal(revoked.json<ApiTokenInfo>().status, 'revoked');

    const rejected = await app.inject({
      method: 'GET',
      url: '/api/v1/devices',
      headers: bearer(token),
    });
    assert.equal(rejected.statusCode, 401);

    const again = await app.inject({
      method: 'DELETE',
      url: `/api/v1/tokens/${info.id}`,
      headers: admin,
    });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json<ErrorBody>().error.code, 'ACCESS_TOKEN_ALREADY_REVOKED');
    const missing = await app.inject({
      method: 'DELETE',
      url: '/api/v1/tokens/0123456789abcdef',
      headers: admin,
    });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json<ErrorBody>().error.code, 'ACCESS_TOKEN_NOT_FOUND');

    const [record] = await harness.audit.list({ targetId: info.id, event: 'token.revoke' });
    assert.equal(record?.reason, 'rotated');
  });

  test('expired token is rejected', async () => {
    const app = harness.server.app;
    const expiresAt = new Date(Date.now() + 60_000 * 30).toISOString();
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: admin,
      payload: { label: 'half hour', roles: ['auditor'], expiresAt },
    });
    assert.equal(created.statusCode, 201, created.body);
    const { token } = created.json<{ token: string }>();
    assert.equal(
      (await app.inject({ method: 'GET', url: '/api/v1/audit', headers: bearer(token) }))
        .statusCode,
      200,
    );
    harness.advanceMs(60_000 * 31);
    const late = await app.inject({ method: 'GET', url: '/api/v1/audit', headers: bearer(token) });
    assert.equal(late.statusCode, 401);
    const [failure] = (await harness.audit.list({ event: 'auth.failure' })).slice(-1);
    assert.equal(failure?.details.reason, 'ACCESS_TOKEN_EXPIRED');
  });

  test('create rejects bad input', async () => {
    const app = harness.server.app;
    const cases: [unknown, number, string][] = [
      [{ label: 'x', roles: [] }, 400, 'API_VALIDATION_FAILED'],
      [{ label: 'x', roles: ['root'] }, 400, 'API_VALIDATION_FAILED'],
      [{ label: 'x', roles: ['auditor', 'auditor'] }, 400, 'API_VALIDATION_FAILED'],
      [{ label: '', roles: ['auditor'] }, 400, 'API_VALIDATION_FAILED'],
      [{ label: 'x', roles: ['auditor'], expiresAt: 'tomorrow' }, 400, 'API_VALIDATION_FAILED'],
      [{ label: 'x', roles: ['auditor'], secret: 'mine' }, 400, 'API_VALIDATION_FAILED'],
      [
        { label: 'x', roles: ['auditor'], expiresAt: '2001-01-01T00:00:00Z' },
        400,
        'ACCESS_TOKEN_REQUEST_INVALID',
      ],
    ];
    const before = await app.inject({ method: 'GET', url: '/api/v1/tokens', headers: admin });
    for (const [payload, status, code] of cases) {
      const response = await app.inject({
        method: 'POST',
        url: '/api/v1/tokens',
        headers: admin,
        payload: payload as object,
      });
      assert.equal(response.statusCode, status, JSON.stringify(payload));
      assert.equal(response.json<ErrorBody>().error.code, code, JSON.stringify(payload));
    }
    const afterList = await app.inject({ method: 'GET', url: '/api/v1/tokens', headers: admin });
    assert.deepEqual(
      afterList.json<{ tokens: ApiTokenInfo[] }>().tokens.map((t) => t.id),
      before.json<{ tokens: ApiTokenInfo[] }>().tokens.map((t) => t.id),
    );
  });
});

describe('audit routes', () => {
  let harness: ApiHarness;

  before(async () => {
    harness = await createApiHarness();
    for (let i = 0; i < 5; i += 1) {
      await harness.inventory.create({
        manufacturer: 'Audit Co',
        model: 'A',
        serialNumber: `AUD-${i}`,
        lifeSustaining: false,
        criticality: 'low',
      });
    }
  });

  after(async () => {
    await harness.close();
  });

  test('list pages by sequence', async () => {
    const app = harness.server.app;
    const auditor = bearer(harness.tokens.auditor);
    const head = await harness.audit.head();
    const seqs: number[] = [];
    let afterSeq = 0;
    for (let page = 0; page < 10; page += 1) {
      const response = await app.inject({
        method: 'GET',
        url: `/api/v1/audit?afterSeq=${afterSeq}&limit=2`,
        headers: auditor,
      });
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json<{ records: { seq: number }[]; nextAfterSeq: number | null }>();
      seqs.push(...body.records.map((r) => r.seq));
      if (body.nextAfterSeq === null) {
        break;
      }
      afterSeq = body.nextAfterSeq;
    }
    assert.deepEqual(
      seqs.slice(0, head.seq),
      Array.from({ length: head.seq }, (_, i) => i + 1),
    );
  });

  test('list filters by target and event', async () => {
    const response = await harness.server.app.inject({
      method: 'GET',
      url: '/api/v1/audit?targetKind=device&event=device.create&limit=1000',
      headers: bearer(harness.tokens.admin),
    });
    assert.equal(response.statusCode, 200);
    const records = response.json<{ records: { event: string; targetKind: string }[] }>().records;
    assert.equal(records.length, 5);
    assert.ok(records.every((r) => r.event === 'device.create' && r.targetKind === 'device'));
  });

  test('verify reports an intact chain', async () => {
    const response = await harness.server.app.inject({
      method: 'GET',
      url: '/api/v1/audit/verify',
      headers: bearer(harness.tokens.auditor),
    });
    assert.equal(response.statusCode, 200);
    const result = response.json<{
      ok: boolean;
      recordsChecked: number;
      headSeq: number;
      headHash?: string;
    }>();
    assert.match(result.headHash ?? '', /^[0-9a-f]{64}$/);
    assert.equal(result.ok, true);
    assert.equal(result.recordsChecked, result.headSeq);
  });

  test('operator cannot read audit', async () => {
    const response = await harness.server.app.inject({
      method: 'GET',
      url: '/api/v1/audit',
      headers: bearer(harness.tokens.operator),
    });
    assert.equal(response.statusCode, 403);
  });
});
