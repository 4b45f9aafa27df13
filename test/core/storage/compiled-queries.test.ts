import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompiledQueries } from '../../../src/core/storage/compiled-queries.js';
import { createTestDatabase } from '../../support/storage.js';

type PairTables = { pair: { name: string; value: number } };

test('compiled query reused with new parameters', async () => {
  const database = await createTestDatabase('sqlite', { migrate: false });
  try {
    const db = database.storage.db.withTables<PairTables>();
    await db.schema
      .createTable('pair')
      .addColumn('name', 'text', (col) => col.primaryKey())
      .addColumn('value', 'integer', (col) => col.notNull())
      .execute();
    const queries = new CompiledQueries();
    let builds = 0;
    const insert = (name: string, value: number) =>
      queries.execute(database.storage.db, 'insert-pair', [name, value], () => {
        builds += 1;
        return db.insertInto('pair').values({ name, value });
      });
    await insert('a', 1);
    await insert('b', 2);
    assert.equal(builds, 1);
    const rows = await db.selectFrom('pair').selectAll().orderBy('name').execute();
    assert.deepEqual(rows, [
      { name: 'a', value: 1 },
      { name: 'b', value: 2 },
    ]);

    await assert.rejects(
      queries.execute(database.storage.db, 'insert-swapped', [3, 'c'], () =>
        db.insertInto('pair').values({ name: 'c', value: 3 }),
      ),
      { code: 'STORAGE_QUERY_PARAMETERS_MISMATCH' },
    );
    assert.equal((await db.selectFrom('pair').selectAll().execute()).length, 2);
  } finally {
    await database.dispose();
  }
});
