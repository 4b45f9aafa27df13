import * as fs from 'node:fs';
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test, type TestContext } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { isMedwardError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { Storage } from '../../../src/core/storage/index.js';
import { CachingSqliteDatabase } from '../../../src/core/storage/sqlite-statements.js';
import { interceptFdatasync, settledWithin } from '../../support/fdatasync.js';
import { requireService } from '../../support/services.js';
import { createTestDatabase, type TestDatabase } from '../../support/storage.js';

type ItemTables = { sync_item: { id: string } };

async function createItemTable(storage: Storage): Promise<Kysely<ItemTables>> {
  const db = storage.db.withTables<ItemTables>();
  await db.schema
    .createTable('sync_item')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .execute();
  return db;
}

describe('background sync on SQLite', () => {
  let database: TestDatabase;
  let db: Kysely<ItemTables>;
  let interception: { restore: () => void } | undefined;

  before(async () => {
    database = await createTestDatabase('sqlite', { migrate: false });
    db = await createItemTable(database.storage);
  });

  afterEach(() => {
    interception?.restore();
    interception = undefined;
  });

  after(async () => {
    await database.dispose();
  });

  test('commit resolves before durable', async () => {
    const held: (() => void)[] = [];
    interception = interceptFdatasync((_fd, callback) => {
      held.push(() => {
        callback(null);
      });
    });
    const { value, durable } = await database.storage.transactionWithBackgroundSync<
      ItemTables,
      string
    >(async (trx) => {
      await trx.insertInto('sync_item').values({ id: 'held' }).execute();
      return 'done';
    });
    assert.equal(value, 'done');
    assert.equal(held.length, 1, 'one sync of the log was started');
    assert.equal(await settledWithin(durable, 20), false, 'durable waits for the sync');
    assert.equal(await settledWithin(database.storage.backgroundSyncsSettled(), 5), false);
    for (const release of held.splice(0)) {
      release();
    }
    await durable;
    await database.storage.backgroundSyncsSettled();
  });

  test('synchronous is FULL again afterwards', async () => {
    await database.storage.transactionWithBackgroundSync<ItemTables, undefined>(async (trx) => {
      await trx.insertInto('sync_item').values({ id: 'pragma' }).execute();
    });
    const sqlite = database.storage.sqliteHandle;
    assert.ok(sqlite !== undefined);
    assert.equal(sqlite.pragma('synchronous', { simple: true }), 2);
  });

  test('failed transaction rolls back', async () => {
    await assert.rejects(
      database.storage.transactionWithBackgroundSync<ItemTables, undefined>(async (trx) => {
        await trx.insertInto('sync_item').values({ id: 'rolled-back' }).execute();
        throw new Error('work failed');
      }),
      /work failed/,
    );
    const rows = await db
      .selectFrom('sync_item')
      .selectAll()
      .where('id', '=', 'rolled-back')
      .execute();
    assert.equal(rows.length, 0);
    const sqlite = database.storage.sqliteHandle;
    assert.equal(sqlite?.pragma('synchronous', { simple: true }), 2);
  });

  test('concurrent commits share syncs', async () => {
    let syncs = 0;
    const held: (() => void)[] = [];
    interception = interceptFdatasync((_fd, callback) => {
      syncs += 1;
      held.push(() => {
        callback(null);
      });
    });
    const commits = await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        database.storage.transactionWithBackgroundSync<ItemTables, undefined>(async (trx) => {
          await trx
            .insertInto('sync_item')
            .values({ id: `shared-${index}` })
            .execute();
        }),
      ),
    );
    // Syncs overlap up to a bound; the commits made meanwhile wait for the next one.
    assert.ok(syncs < commits.length, `${syncs} syncs for ${commits.length} commits`);
    while (held.length > 0) {
      for (const release of held.splice(0)) {
        release();
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(commits.map((commit) => commit.durable));
    assert.ok(syncs <= commits.length);
  });
});

describe('WAL checkpoints on SQLite', () => {
  test('checkpoint thread keeps the log small', async () => {
    const database = await createTestDatabase('sqlite', { migrate: false });
    try {
      await createItemTable(database.storage);
      const sqlite = database.storage.sqliteHandle;
      assert.ok(sqlite !== undefined);
      const walPath = `${sqlite.name}-wal`;
      // Writes 800 rows of about 1 KiB each in 20 background-sync commits.
      const writeRows = async (prefix: string): Promise<void> => {
        for (let batch = 0; batch < 20; batch += 1) {
          await database.storage.transactionWithBackgroundSync<ItemTables, undefined>(
            async (trx) => {
              const ids = Array.from({ length: 40 }, (_, index) => ({
                id: `${prefix}-${batch}-${index}-${'x'.repeat(1000)}`,
              }));
              await trx.insertInto('sync_item').values(ids).execute();
            },
          );
        }
        await database.storage.backgroundSyncsSettled();
      };
      await writeRows('first');
      assert.equal(sqlite.pragma('wal_autocheckpoint', { simple: true }), 0);
      const firstSize = fs.statSync(walPath).size;
      // The thread checkpoints every 200 ms; the next writer then restarts the log.
      await new Promise((resolve) => setTimeout(resolve, 600));
      await writeRows('second');
      // Without a checkpoint the log would hold both rounds, about twice the first.
      const secondSize = fs.statSync(walPath).size;
      assert.ok(
        secondSize < firstSize * 1.5,
        `log grew from ${firstSize} to ${secondSize} bytes, so no checkpoint ran`,
      );
    } finally {
      await database.dispose();
    }
  });
});

describe('background sync failure', () => {
  test('failed sync rejects later commits', async () => {
    const database = await createTestDatabase('sqlite', { migrate: false });
    const interception = interceptFdatasync((_fd, callback) => {
      const error: NodeJS.ErrnoException = new Error('EIO: i/o error, fdatasync');
      error.code = 'EIO';
      callback(error);
    });
    try {
      await createItemTable(database.storage);
      const { durable } = await database.storage.transactionWithBackgroundSync<
        ItemTables,
        undefined
      >(async (trx) => {
        await trx.insertInto('sync_item').values({ id: 'lost' }).execute();
      });
      await assert.rejects(durable, (error: unknown) => {
        assert.ok(isMedwardError(error));
        assert.equal(error.code, 'STORAGE_UNAVAILABLE');
        return true;
      });
      await assert.rejects(database.storage.backgroundSyncsSettled());
      // Later commits fall back to a synchronous COMMIT, which syncs the log itself.
      const later = await database.storage.transactionWithBackgroundSync<ItemTables, string>(
        async (trx) => {
          await trx.insertInto('sync_item').values({ id: 'later' }).execute();
          return 'committed';
        },
      );
      assert.equal(later.value, 'committed');
      await later.durable;
    } finally {
      interception.restore();
      await database.dispose();
    }
  });
});

describe('background sync without a log', () => {
  test('in-memory database commits plainly', async () => {
    const storage = new Storage(
      { url: 'sqlite::memory:', poolSize: 1, statementTimeoutMs: 1000 },
      silentLogger(),
    );
    await storage.start();
    try {
      await createItemTable(storage);
      const { value, durable } = await storage.transactionWithBackgroundSync<ItemTables, number>(
        async (trx) => {
          await trx.insertInto('sync_item').values({ id: 'memory' }).execute();
          return 1;
        },
      );
      assert.equal(value, 1);
      await durable;
    } finally {
      await storage.stop();
    }
  });
});

describe('background sync on PostgreSQL', () => {
  test('plain transaction, already durable', async (t: TestContext) => {
    if (!(await requireService(t, 'postgres'))) {
      return;
    }
    const database = await createTestDatabase('postgres', { migrate: false });
    try {
      const db = await createItemTable(database.storage);
      const { value, durable } = await database.storage.transactionWithBackgroundSync<
        ItemTables,
        string
      >(async (trx) => {
        await trx.insertInto('sync_item').values({ id: 'pg' }).execute();
        return 'pg';
      });
      assert.equal(value, 'pg');
      await durable;
      await database.storage.backgroundSyncsSettled();
      const rows = await db.selectFrom('sync_item').selectAll().execute();
      assert.deepEqual(rows, [{ id: 'pg' }]);
    } finally {
      await database.dispose();
    }
  });
});

describe('SQLite statement cache', () => {
  test('statement reused by SQL text', () => {
    const sqlite = new SqliteDatabase(':memory:');
    const cache = new CachingSqliteDatabase(sqlite);
    try {
      assert.equal(cache.prepare('select 1 as one'), cache.prepare('select 1 as one'));
      assert.notEqual(cache.prepare('select 1 as one'), cache.prepare('select 2 as two'));
    } finally {
      cache.close();
    }
  });

  test('busy statement is not shared', () => {
    const sqlite = new SqliteDatabase(':memory:');
    const cache = new CachingSqliteDatabase(sqlite);
    try {
      sqlite.exec('create table item (id integer); insert into item values (1), (2), (3)');
      const text = 'select id from item order by id';
      const seen: unknown[] = [];
      for (const row of cache.prepare(text).iterate([])) {
        // The first statement is still iterating, so this gets a fresh one.
        const again = cache.prepare(text).all([]);
        assert.equal(again.length, 3);
        seen.push((row as { id: number }).id);
      }
      assert.deepEqual(seen, [1, 2, 3]);
    } finally {
      cache.close();
    }
  });

  test('cache is bounded', () => {
    const sqlite = new SqliteDatabase(':memory:');
    const cache = new CachingSqliteDatabase(sqlite);
    try {
      const first = cache.prepare('select 0');
      for (let index = 1; index <= 600; index += 1) {
        cache.prepare(`select ${index}`);
      }
      // The least recently used statement was dropped, so a new one is prepared.
      assert.notEqual(cache.prepare('select 0'), first);
      const recent = cache.prepare('select 600');
      assert.equal(cache.prepare('select 600'), recent);
    } finally {
      cache.close();
    }
  });
});
