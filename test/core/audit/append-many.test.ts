import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEntry } from '../../../src/core/audit/index.js';
import { AuditTrail, verifyAuditChain } from '../../../src/core/audit/index.js';
import type { DialectName } from '../../../src/core/storage/index.js';
import { requireService } from '../../support/services.js';
import { createTestDatabase } from '../../support/storage.js';

function entries(count: number, prefix: string): AuditEntry[] {
  return Array.from({ length: count }, (_, index) => ({
    event: 'device.lifecycle',
    action: 'U',
    outcome: 'success',
    target: { kind: 'device', id: `${prefix}-${index}` },
    reason: `step ${index}`,
    details: { index },
  }));
}

async function appendManyCases(dialect: DialectName): Promise<void> {
  const database = await createTestDatabase(dialect);
  try {
    const trail = new AuditTrail(database.storage, { siteId: 'test' });
    await trail.record({ event: 'device.create', action: 'C', outcome: 'success' });

    // 120 records take three INSERT statements of at most 50 rows.
    await database.storage.db
      .transaction()
      .execute((trx) => trail.appendMany(trx, entries(120, 'bulk')));
    await trail.record({ event: 'device.delete', action: 'D', outcome: 'success' });

    const records = await trail.list({ limit: 1000 });
    assert.equal(records.length, 122);
    assert.deepEqual(
      records.map((record) => record.seq),
      Array.from({ length: 122 }, (_, index) => index + 1),
    );
    assert.deepEqual(
      records.slice(1, 121).map((record) => record.targetId),
      Array.from({ length: 120 }, (_, index) => `bulk-${index}`),
    );
    assert.equal(records[121]?.event, 'device.delete');
    const verification = await verifyAuditChain(trail);
    assert.equal(verification.ok, true, JSON.stringify(verification.problem));
    assert.equal(verification.recordsChecked, 122);

    await database.storage.db.transaction().execute((trx) => trail.appendMany(trx, []));
    assert.equal((await trail.head()).seq, 122);

    const invalid = [...entries(2, 'rejected'), { ...entries(1, 'bad')[0], event: 'Bad' }];
    await assert.rejects(
      database.storage.db
        .transaction()
        .execute((trx) => trail.appendMany(trx, invalid as AuditEntry[])),
      { code: 'AUDIT_EVENT_INVALID' },
    );
    assert.equal((await trail.head()).seq, 122);
    assert.equal((await trail.list({ targetKind: 'device', limit: 1000 })).length, 120);
  } finally {
    await database.dispose();
  }
}

describe('audit appendMany', () => {
  test('chain on SQLite', async () => {
    await appendManyCases('sqlite');
  });

  test('chain on PostgreSQL', async (t) => {
    if (!(await requireService(t, 'postgres'))) {
      return;
    }
    await appendManyCases('postgres');
  });
});
