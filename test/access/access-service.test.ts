import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { AuditTrail } from '../../src/core/audit/index.js';
import { runWithContext, systemContext } from '../../src/core/context.js';
import { isMedwardError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { AccessService, type AuthFailureCode } from '../../src/access/index.js';
import { createTestDatabase, type TestDatabase } from '../support/storage.js';

type Rows = Kysely<Record<string, Record<string, unknown>>>;

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isMedwardError(error), `expected a MedwardError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

describe('access service', () => {
  let database: TestDatabase;
  let audit: AuditTrail;
  let access: AccessService;
  let clock = new Date('2026-03-01T10:00:00.000Z');
  const admin = { kind: 'user' as const, id: 'alice' };
  const asAlice = <T>(fn: () => Promise<T>): Promise<T> =>
    runWithContext({ ...systemContext(admin) }, fn);

  before(async () => {
    database = await createTestDatabase('sqlite');
    audit = new AuditTrail(database.storage, { siteId: 'test' });
    access = new AccessService({
      storage: database.storage,
      audit,
      logger: silentLogger(),
      now: () => clock,
    });
  });

  after(async () => {
    await database.dispose();
  });

  test('create returns the token once', async () => {
    const created = await asAlice(() =>
      access.createToken({ label: 'ci pipeline', roles: ['operator', 'auditor', 'operator'] }),
    );
    assert.match(created.token, /^mwd_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.equal(created.info.id, created.token.slice(4, 20));
    assert.deepEqual(created.info.roles, ['auditor', 'operator']);
    assert.equal(created.info.createdBy, 'user:alice');
    assert.equal(created.info.status, 'active');

    const row = await (database.storage.db as Rows)
      .selectFrom('api_token')
      .selectAll()
      .where('id', '=', created.info.id)
      .executeTakeFirstOrThrow();
    const secret = created.token.slice(21);
    assert.equal(JSON.stringify(row).includes(secret), false, 'the secret must not be stored');
    assert.match(String(row.secret_sha256), /^[0-9a-f]{64}$/);

    const listed = (await access.listTokens()).find((token) => token.id === created.info.id);
    assert.deepEqual(listed, created.info);
    assert.equal(JSON.stringify(await access.listTokens()).includes(secret), false);

    const [record] = await audit.list({ targetId: created.info.id, event: 'token.create' });
    assert.equal(record?.actorId, 'alice');
    assert.deepEqual(record.details.roles, ['auditor', 'operator']);
    assert.equal(JSON.stringify(record).includes(secret), false);
  });

  test('authenticate returns actor and roles', async () => {
    const created = await access.createToken({ label: 'reader', roles: ['auditor'] });
    const actor = await access.authenticate(created.token);
    assert.deepEqual(actor, {
      kind: 'api-token',
      id: created.info.id,
      display: 'reader',
      roles: ['auditor'],
    });
  });

  test('last use written once a minute', async () => {
    const created = await access.createToken({ label: 'scraper', roles: ['auditor'] });
    const start = clock;
    await access.authenticate(created.token);
    assert.equal((await access.getToken(created.info.id)).lastUsedAt, start.toISOString());

    clock = new Date(start.getTime() + 59_000);
    await access.authenticate(created.token);
    assert.equal((await access.getToken(created.info.id)).lastUsedAt, start.toISOString());

    clock = new Date(start.getTime() + 61_000);
    await access.authenticate(created.token);
    assert.equal((await access.getToken(created.info.id)).lastUsedAt, clock.toISOString());
    clock = start;
  });

  test('authenticate rejects with distinct reasons', async () => {
    const valid = await access.createToken({ label: 'victim', roles: ['operator'] });
    const revoked = await access.createToken({ label: 'gone', roles: ['operator'] });
    await access.revokeToken(revoked.info.id);
    const expiring = await access.createToken({
      label: 'short',
      roles: ['operator'],
      expiresAt: new Date(clock.getTime() + 1000),
    });
    const wrongSecret = `${valid.token.slice(0, 21)}${'A'.repeat(43)}`;
    const cases: [string | undefined, AuthFailureCode, string | undefined][] = [
      [undefined, 'ACCESS_TOKEN_MISSING', undefined],
      ['', 'ACCESS_TOKEN_MISSING', undefined],
      ['not-a-token', 'ACCESS_TOKEN_MALFORMED', undefined],
      [`mwd_${valid.info.id}_short`, 'ACCESS_TOKEN_MALFORMED', valid.info.id],
      [`mwd_0000000000000000_${'B'.repeat(43)}`, 'ACCESS_TOKEN_UNKNOWN', '0000000000000000'],
      [wrongSecret, 'ACCESS_TOKEN_SECRET_MISMATCH', valid.info.id],
      [revoked.token, 'ACCESS_TOKEN_REVOKED', revoked.info.id],
    ];
    for (const [bearer, code, tokenId] of cases) {
      const head = await audit.head();
      await rejectsWithCode(access.authenticate(bearer), code);
      const records = await audit.list({ afterSeq: head.seq });
      assert.equal(records.length, 1, `one audit record for ${code}`);
      const record = records[0]!;
      assert.equal(record.event, 'auth.failure');
      assert.equal(record.outcome, 'minor-failure');
      assert.equal(record.details.reason, code);
      assert.equal(record.targetId, tokenId ?? null);
      if (bearer !== undefined && bearer.length > 21) {
        assert.equal(JSON.stringify(record).includes(bearer.slice(21)), false, 'no secret');
      }
    }

    await access.authenticate(expiring.token);
    clock = new Date(clock.getTime() + 1000);
    await rejectsWithCode(access.authenticate(expiring.token), 'ACCESS_TOKEN_EXPIRED');
    assert.equal((await access.getToken(expiring.info.id)).status, 'expired');
    clock = new Date(clock.getTime() - 1000);
  });

  test('revoke is final and audited', async () => {
    const created = await access.createToken({ label: 'temporary', roles: ['operator'] });
    const revoked = await asAlice(() => access.revokeToken(created.info.id, 'laptop lost'));
    assert.equal(revoked.status, 'revoked');
    assert.equal(revoked.revokedBy, 'user:alice');
    await rejectsWithCode(access.revokeToken(created.info.id), 'ACCESS_TOKEN_ALREADY_REVOKED');
    await rejectsWithCode(access.revokeToken('ffffffffffffffff'), 'ACCESS_TOKEN_NOT_FOUND');
    await rejectsWithCode(access.revokeToken('../etc'), 'ACCESS_TOKEN_NOT_FOUND');
    const records = await audit.list({ targetId: created.info.id, event: 'token.revoke' });
    assert.equal(records.length, 1);
    assert.equal(records[0]?.reason, 'laptop lost');
  });

  test('create rejects invalid input', async () => {
    const head = await audit.head();
    await assert.rejects(
      access.createToken({
        label: ' \u0007 ',
        roles: [],
        expiresAt: new Date(clock.getTime() - 1),
      }),
      (error: unknown) => {
        assert.ok(isMedwardError(error));
        assert.equal(error.code, 'ACCESS_TOKEN_REQUEST_INVALID');
        const problems = error.details.problems as { path: string }[];
        assert.deepEqual(
          problems.map((p) => p.path),
          ['label', 'roles', 'expiresAt'],
        );
        return true;
      },
    );
    await rejectsWithCode(
      access.createToken({ label: 'x', roles: ['root' as 'admin'] }),
      'ACCESS_TOKEN_REQUEST_INVALID',
    );
    assert.deepEqual(await audit.head(), head);
  });
});

describe('bootstrap admin token', () => {
  let database: TestDatabase;
  let audit: AuditTrail;
  let access: AccessService;

  before(async () => {
    database = await createTestDatabase('sqlite');
    audit = new AuditTrail(database.storage, { siteId: 'test' });
    access = new AccessService({ storage: database.storage, audit, logger: silentLogger() });
  });

  after(async () => {
    await database.dispose();
  });

  test('bootstrap generates then keeps', async () => {
    await access.createToken({ label: 'not an admin', roles: ['operator', 'auditor'] });
    const first = await access.ensureBootstrapAdmin();
    assert.equal(first.status, 'generated');
    const actor = await access.authenticate(first.token);
    assert.deepEqual(actor.roles, ['admin']);
    assert.deepEqual(await access.ensureBootstrapAdmin(), { status: 'existing' });
    const records = await audit.list({ event: 'token.bootstrap' });
    assert.equal(records.length, 1);
    assert.equal(records[0]?.details.source, 'generated');
    assert.equal(JSON.stringify(records).includes(first.token.slice(21)), false);

    // With the only admin token revoked, the next start installs a new one.
    await access.revokeToken(first.tokenId);
    const configured = `mwd_00112233aabbccdd_${'x'.repeat(40)}`;
    const second = await access.ensureBootstrapAdmin(configured);
    assert.deepEqual(second, { status: 'configured', tokenId: '00112233aabbccdd' });
    assert.deepEqual((await access.authenticate(configured)).roles, ['admin']);
    assert.equal((await audit.list({ event: 'token.bootstrap' })).length, 2);
    assert.deepEqual(await access.ensureBootstrapAdmin(configured), { status: 'existing' });
  });

  test('bootstrap rejects a reused configured token', async () => {
    const own = await createTestDatabase('sqlite');
    try {
      const service = new AccessService({
        storage: own.storage,
        audit: new AuditTrail(own.storage, { siteId: 'test' }),
        logger: silentLogger(),
      });
      const configured = `mwd_0a0a0a0a0a0a0a0a_${'y'.repeat(32)}`;
      await service.ensureBootstrapAdmin(configured);
      await service.revokeToken('0a0a0a0a0a0a0a0a');
      await rejectsWithCode(
        service.ensureBootstrapAdmin(configured),
        'ACCESS_BOOTSTRAP_TOKEN_USED',
      );
    } finally {
      await own.dispose();
    }
  });

  test('bootstrap rejects a malformed configured token', async () => {
    for (const configured of [
      'x'.repeat(40),
      `mwd_0011223344556677_${'z'.repeat(31)}`,
      `mwd_00112233445566ZZ_${'z'.repeat(40)}`,
      `mwd_0011223344556677_${'z'.repeat(39)}!`,
    ]) {
      await rejectsWithCode(
        access.ensureBootstrapAdmin(configured),
        'ACCESS_BOOTSTRAP_TOKEN_INVALID',
      );
    }
  });
});
