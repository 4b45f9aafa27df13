import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { isMedwardError, type MedwardError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { AuditTrail, verifyAuditChain, type AuditEntry } from '../../../src/core/audit/index.js';
import { Storage, migrateToLatest, type DialectName } from '../../../src/core/storage/index.js';
import { allMigrations } from '../../../src/migrations.js';
import { requireService } from '../../support/services.js';
import { createTestDatabase, type TestDatabase } from '../../support/storage.js';

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<MedwardError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isMedwardError(error), `expected a MedwardError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected rejection with ${code}`);
}

const entry = (n: number): AuditEntry => ({
  event: 'test.event',
  action: 'U',
  outcome: 'success',
  target: { kind: 'thing', id: `thing-${n}` },
  details: { n },
});

type Anything = Kysely<Record<string, Record<string, unknown>>>;

/** Lets a test change history the way an intruder with database access would. */
async function withTriggersOff(
  dialect: DialectName,
  db: Anything,
  change: (db: Anything) => Promise<void>,
): Promise<void> {
  if (dialect === 'sqlite') {
    await sql`DROP TRIGGER IF EXISTS audit_event_no_update`.execute(db);
    await sql`DROP TRIGGER IF EXISTS audit_event_no_delete`.execute(db);
    await change(db);
    return;
  }
  await db.connection().execute(async (connection) => {
    await sql`SET session_replication_role = replica`.execute(connection);
    await change(connection);
    await sql`SET session_replication_role = origin`.execute(connection);
  });
}

/** The storage and audit contract that every backend must pass. */
export function runStorageContract(dialect: DialectName): void {
  describe(`storage contract on ${dialect}`, () => {
    let database: TestDatabase | undefined;
    let skip = false;

    before(async (t) => {
      if (dialect === 'postgres' && !(await requireService(t as never, 'postgres'))) {
        skip = true;
        return;
      }
      database = await createTestDatabase(dialect);
      const db = database.storage.db as Anything;
      await db.schema
        .createTable('contract_item')
        .addColumn('id', 'text', (col) => col.primaryKey())
        .addColumn('parent_id', 'text', (col) => col.references('contract_item.id'))
        .addColumn('name', 'text', (col) => col.notNull())
        .execute();
    });

    after(async () => {
      await database?.dispose();
    });

    const use = (t: { skip: (message: string) => void }): TestDatabase | undefined => {
      if (skip || database === undefined) {
        t.skip('PostgreSQL is not reachable');
        return undefined;
      }
      return database;
    };

    test('migrations are recorded and rerun as no-ops', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const applied = await migrateToLatest(d.storage, allMigrations, silentLogger());
      assert.deepEqual(applied, []);
      const rows = await (d.storage.db as Anything)
        .selectFrom('medward_migration')
        .select('name')
        .execute();
      assert.equal(rows.length, allMigrations.length);
    });

    test('duplicate key becomes STORAGE_CONFLICT', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const db = d.storage.db as Anything;
      await db.insertInto('contract_item').values({ id: 'dup', name: 'a' }).execute();
      const error = await rejectsWith(
        db.insertInto('contract_item').values({ id: 'dup', name: 'b' }).execute(),
        'STORAGE_CONFLICT',
      );
      assert.equal(error.kind, 'conflict');
      assert.ok(error.cause !== undefined);
    });

    test('missing reference becomes STORAGE_REFERENCE_VIOLATION', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const db = d.storage.db as Anything;
      await rejectsWith(
        db
          .insertInto('contract_item')
          .values({ id: 'child', parent_id: 'nope', name: 'c' })
          .execute(),
        'STORAGE_REFERENCE_VIOLATION',
      );
    });

    test('null in not-null column becomes STORAGE_CONSTRAINT', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const db = d.storage.db as Anything;
      await rejectsWith(
        db.insertInto('contract_item').values({ id: 'x', name: null }).execute(),
        'STORAGE_CONSTRAINT',
      );
    });

    test('failed transaction leaves no change', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const db = d.storage.db as Anything;
      await assert.rejects(
        db.transaction().execute(async (trx) => {
          await trx.insertInto('contract_item').values({ id: 'tx-1', name: 'a' }).execute();
          await trx.insertInto('contract_item').values({ id: 'tx-1', name: 'b' }).execute();
        }),
      );
      const row = await db
        .selectFrom('contract_item')
        .selectAll()
        .where('id', '=', 'tx-1')
        .executeTakeFirst();
      assert.equal(row, undefined);
    });

    test('audit record rolls back with its change', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const trail = new AuditTrail(d.storage, { siteId: 'test' });
      const before = await trail.head();
      await assert.rejects(
        d.storage.db.transaction().execute(async (trx) => {
          await trail.append(trx, entry(1));
          throw new Error('change failed after the record was written');
        }),
      );
      assert.deepEqual(await trail.head(), before);
      assert.equal((await trail.list({ afterSeq: before.seq })).length, 0);
    });

    test('audit table rejects update and delete', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const trail = new AuditTrail(d.storage, { siteId: 'test' });
      const record = await trail.record(entry(2));
      const db = d.storage.db as Anything;
      await rejectsWith(
        db
          .updateTable('audit_event')
          .set({ reason: 'changed' })
          .where('id', '=', record.id)
          .execute(),
        'STORAGE_RULE_VIOLATION',
      );
      await rejectsWith(
        db.deleteFrom('audit_event').where('id', '=', record.id).execute(),
        'STORAGE_RULE_VIOLATION',
      );
    });

    test('concurrent appends keep one valid chain', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const trail = new AuditTrail(d.storage, { siteId: 'test' });
      const before = await trail.head();
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          d.storage.db.transaction().execute((trx) => trail.append(trx, entry(100 + i))),
        ),
      );
      const head = await trail.head();
      assert.equal(head.seq, before.seq + 40);
      const result = await verifyAuditChain(trail);
      assert.equal(result.ok, true, result.problem?.message);
      assert.equal(result.recordsChecked, head.seq);
    });

    /** Writes eight records to a database of their own, tampers, and verifies. */
    const verifyAfterTampering = async (
      change: (db: Anything) => Promise<void>,
    ): Promise<{ result: Awaited<ReturnType<typeof verifyAuditChain>>; ids: string[] }> => {
      const own = await createTestDatabase(dialect);
      try {
        const trail = new AuditTrail(own.storage, { siteId: 'test' });
        const ids: string[] = [];
        for (let i = 0; i < 8; i += 1) {
          ids.push((await trail.record(entry(i))).id);
        }
        assert.equal((await verifyAuditChain(trail)).ok, true);
        await withTriggersOff(dialect, own.storage.db as Anything, change);
        return { result: await verifyAuditChain(trail), ids };
      } finally {
        await own.dispose();
      }
    };

    test('verify names an altered record', async (t) => {
      if (!use(t)) {
        return;
      }
      const { result, ids } = await verifyAfterTampering(async (db) => {
        await db
          .updateTable('audit_event')
          .set({ reason: 'rewritten' })
          .where('seq', '=', 3)
          .execute();
      });
      assert.equal(result.ok, false);
      assert.equal(result.problem?.kind, 'altered');
      assert.equal(result.problem.seq, 3);
      assert.equal(result.problem.recordId, ids[2]);
    });

    test('verify names the record after a removal', async (t) => {
      if (!use(t)) {
        return;
      }
      const { result, ids } = await verifyAfterTampering(async (db) => {
        await db.deleteFrom('audit_event').where('seq', '=', 5).execute();
      });
      assert.equal(result.problem?.kind, 'removed');
      assert.equal(result.problem.seq, 6);
      assert.equal(result.problem.recordId, ids[5]);
    });

    test('verify detects a renumbered removal', async (t) => {
      if (!use(t)) {
        return;
      }
      // Delete record 5 and shift 6 into its place, so the sequence has no gap.
      const { result } = await verifyAfterTampering(async (db) => {
        await db.deleteFrom('audit_event').where('seq', '=', 5).execute();
        await db.updateTable('audit_event').set({ seq: 5 }).where('seq', '=', 6).execute();
      });
      assert.equal(result.problem?.kind, 'removed');
      assert.equal(result.problem.seq, 5);
    });

    test('verify names a reordered record', async (t) => {
      if (!use(t)) {
        return;
      }
      const { result, ids } = await verifyAfterTampering(async (db) => {
        await db.updateTable('audit_event').set({ seq: 100 }).where('seq', '=', 6).execute();
        await db.updateTable('audit_event').set({ seq: 6 }).where('seq', '=', 7).execute();
        await db.updateTable('audit_event').set({ seq: 7 }).where('seq', '=', 100).execute();
      });
      assert.equal(result.problem?.kind, 'reordered');
      assert.equal(result.problem.seq, 6);
      assert.equal(result.problem.recordId, ids[6]);
    });

    test('verify detects records removed at the end', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const own = await createTestDatabase(dialect);
      try {
        const trail = new AuditTrail(own.storage, { siteId: 'test' });
        for (let i = 0; i < 4; i += 1) {
          await trail.record(entry(i));
        }
        await withTriggersOff(dialect, own.storage.db as Anything, async (tx) => {
          await tx.deleteFrom('audit_event').where('seq', '=', 4).execute();
        });
        const result = await verifyAuditChain(trail);
        assert.equal(result.problem?.kind, 'truncated');
        assert.equal(result.problem.seq, 3);
      } finally {
        await own.dispose();
      }
    });
  });

  describe(`storage failures on ${dialect}`, () => {
    test('unreachable database becomes STORAGE_UNAVAILABLE', async () => {
      // For SQLite, the database's folder would have to live under a regular file.
      const blocker = join(mkdtempSync(join(tmpdir(), 'medward-test-')), 'not-a-folder');
      writeFileSync(blocker, '');
      const url =
        dialect === 'sqlite'
          ? `sqlite:${blocker}/medward.db`
          : 'postgres://postgres@127.0.0.1:1/test';
      const storage = new Storage({ url, poolSize: 1, statementTimeoutMs: 1000 }, silentLogger());
      await rejectsWith(storage.start(), 'STORAGE_UNAVAILABLE');
      await storage.stop().catch(() => undefined);
    });

    test('slow statement becomes STORAGE_TIMEOUT', async (t) => {
      if (dialect === 'postgres' && !(await requireService(t, 'postgres'))) {
        return;
      }
      const database = await createTestDatabase(dialect, {
        migrate: false,
        statementTimeoutMs: 200,
      });
      try {
        if (dialect === 'postgres') {
          await rejectsWith(
            sql`select pg_sleep(2)`.execute(database.storage.db),
            'STORAGE_TIMEOUT',
          );
          return;
        }
        // Another connection holds the write lock longer than the busy timeout.
        const { default: Sqlite } = await import('better-sqlite3');
        const other = new Sqlite(database.url.slice('sqlite:'.length));
        other.exec('CREATE TABLE IF NOT EXISTS lock_probe (id integer)');
        other.exec('BEGIN IMMEDIATE');
        try {
          await rejectsWith(
            sql`CREATE TABLE other_probe (id integer)`.execute(database.storage.db),
            'STORAGE_TIMEOUT',
          );
        } finally {
          other.exec('ROLLBACK');
          other.close();
        }
      } finally {
        await database.dispose();
      }
    });
  });
}
