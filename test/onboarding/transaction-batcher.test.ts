import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Transaction } from 'kysely';
import { silentLogger } from '../../src/core/logger.js';
import { TransactionBatcher } from '../../src/onboarding/transaction-batcher.js';
import { interceptFdatasync, settledWithin } from '../support/fdatasync.js';
import { requireService } from '../support/services.js';
import { createTestDatabase, type TestDatabase } from '../support/storage.js';

type ItemTables = { batch_item: { id: string } };

async function createItemTable(database: TestDatabase): Promise<void> {
  await database.storage.db
    .withTables<ItemTables>()
    .schema.createTable('batch_item')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .execute();
}

function insertItem(id: string): (trx: Transaction<object>) => Promise<string> {
  return async (trx) => {
    await trx.withTables<ItemTables>().insertInto('batch_item').values({ id }).execute();
    return id;
  };
}

async function storedIds(database: TestDatabase): Promise<string[]> {
  const rows = await database.storage.db
    .withTables<ItemTables>()
    .selectFrom('batch_item')
    .select('id')
    .orderBy('id')
    .execute();
  return rows.map((row) => row.id);
}

describe('transaction batcher on SQLite', () => {
  let database: TestDatabase;
  let batcher: TransactionBatcher;
  let interception: { restore: () => void } | undefined;

  before(async () => {
    database = await createTestDatabase('sqlite', { migrate: false });
    await createItemTable(database);
    batcher = new TransactionBatcher({
      storage: database.storage,
      logger: silentLogger(),
      maxBatch: 64,
    });
  });

  afterEach(() => {
    interception?.restore();
    interception = undefined;
  });

  after(async () => {
    await database.dispose();
  });

  test('units settle after disk sync', async () => {
    const pendingSyncs: (() => void)[] = [];
    interception = interceptFdatasync((_fd, callback) => {
      pendingSyncs.push(() => {
        callback(null);
      });
    });
    const units = [
      batcher.run(insertItem('pendingSyncs-1')),
      batcher.run(insertItem('pendingSyncs-2')),
    ];
    assert.equal(await settledWithin(Promise.race(units), 30), false, 'settled before the sync');
    assert.ok(pendingSyncs.length >= 1, 'no sync of the log started');
    // The rows are committed already; only the disk sync is outstanding.
    assert.deepEqual(await storedIds(database), ['pendingSyncs-1', 'pendingSyncs-2']);
    for (const release of pendingSyncs.splice(0)) {
      release();
    }
    assert.deepEqual(await Promise.all(units), ['pendingSyncs-1', 'pendingSyncs-2']);
  });

  test('failing unit rolled back alone', async () => {
    const results = await Promise.allSettled([
      batcher.run(insertItem('kept-1')),
      batcher.run(async (trx) => {
        await insertItem('dropped')(trx);
        throw new Error('unit failed');
      }),
      batcher.run(insertItem('kept-2')),
    ]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    const ids = await storedIds(database);
    assert.ok(ids.includes('kept-1'));
    assert.ok(ids.includes('kept-2'));
    assert.ok(!ids.includes('dropped'));
  });

  test('failed sync rejects units', async () => {
    interception = interceptFdatasync((_fd, callback) => {
      const error: NodeJS.ErrnoException = new Error('EIO: i/o error, fdatasync');
      error.code = 'EIO';
      callback(error);
    });
    await assert.rejects(batcher.run(insertItem('unsynced')), { code: 'STORAGE_UNAVAILABLE' });
  });
});

describe('transaction batcher on PostgreSQL', () => {
  test('units commit together', async (t) => {
    if (!(await requireService(t, 'postgres'))) {
      return;
    }
    const database = await createTestDatabase('postgres', { migrate: false });
    try {
      await createItemTable(database);
      const batcher = new TransactionBatcher({
        storage: database.storage,
        logger: silentLogger(),
        maxBatch: 64,
      });
      const results = await Promise.allSettled([
        batcher.run(insertItem('pg-1')),
        batcher.run(insertItem('pg-1')),
        batcher.run(insertItem('pg-2')),
      ]);
      assert.deepEqual(
        results.map((result) => result.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      assert.deepEqual(await storedIds(database), ['pg-1', 'pg-2']);
    } finally {
      await database.dispose();
    }
  });
});
