import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { AuditTrail } from '../../../src/core/audit/index.js';
import { InProcessBus } from '../../../src/core/bus/index.js';
import { silentLogger } from '../../../src/core/logger.js';
import { createMetricsRegistry } from '../../../src/core/metrics.js';
import type { DialectName } from '../../../src/core/storage/index.js';
import {
  ASSOCIATION_SUBJECTS,
  Ieee11073Manager,
  Ieee11073Repository,
} from '../../../src/ieee11073/index.js';
import { ABANDONED_END_REASON } from '../../../src/ieee11073/manager/abandoned-associations.js';
import type { AssociationTable } from '../../../src/ieee11073/store/tables.js';
import { requireService } from '../../support/services.js';
import { createTestDatabase } from '../../support/storage.js';
import { managerConfig } from './support.js';

const managerSystemId = '4d45445741524430';
const otherManagerSystemId = '0102030405060708';

function associationRow(id: string, fields: Partial<AssociationTable>): AssociationTable {
  return {
    id,
    system_id: 'a1a2a3a4a5a6a7a8',
    dev_config_id: 0x0190,
    connection_id: `connection-${id}`,
    transport: 'tcp',
    remote_address: '127.0.0.1',
    started_at_ms: Date.parse('2026-03-01T00:00:00Z'),
    ended_at_ms: null,
    end_reason: null,
    manufacturer: null,
    model_number: null,
    mds_json: null,
    absolute_offset_ms: null,
    relative_epoch_ms: null,
    time_set: 0,
    manager_system_id: managerSystemId,
    ...fields,
  };
}

async function closesOwnOpenAssociations(t: TestContext, dialect: DialectName): Promise<void> {
  if (dialect === 'postgres' && !(await requireService(t, 'postgres'))) {
    return;
  }
  const database = await createTestDatabase(dialect);
  const logger = silentLogger();
  const bus = new InProcessBus(logger);
  const audit = new AuditTrail(database.storage, { siteId: 'test' });
  const repository = new Ieee11073Repository(database.storage);
  let manager: Ieee11073Manager | undefined;
  try {
    const rows = [
      associationRow('left-open', {}),
      associationRow('older-version', { manager_system_id: null }),
      associationRow('other-manager', { manager_system_id: otherManagerSystemId }),
      associationRow('released', { ended_at_ms: Date.now() - 1000, end_reason: 'released' }),
    ];
    await database.storage.db.transaction().execute(async (transaction) => {
      for (const row of rows) {
        await repository.insertAssociation(transaction, row);
      }
    });
    await bus.start();
    const ended: Record<string, unknown>[] = [];
    await bus.subscribe({
      subject: ASSOCIATION_SUBJECTS,
      group: 'abandoned-associations-test',
      handler: (message) => {
        ended.push(message.data as Record<string, unknown>);
        return Promise.resolve();
      },
    });

    manager = new Ieee11073Manager({
      config: managerConfig({ systemId: managerSystemId }),
      storage: database.storage,
      bus,
      audit,
      logger,
      metrics: createMetricsRegistry({ defaultMetrics: false }),
    });
    await manager.start();

    for (const id of ['left-open', 'older-version']) {
      const row = await repository.getAssociation(id);
      assert.equal(row?.end_reason, ABANDONED_END_REASON, id);
      assert.ok(row.ended_at_ms !== null, `${id} has an end time`);
    }
    const other = await repository.getAssociation('other-manager');
    assert.equal(other?.ended_at_ms, null, "another manager's association stays open");
    const released = await repository.getAssociation('released');
    assert.equal(released?.end_reason, 'released', 'an ended association keeps its reason');

    const records = await audit.list({ event: 'ieee11073.association.close-abandoned' });
    assert.deepEqual(
      records.map((record) => record.correlationId).sort(),
      ['left-open', 'older-version'],
    );
    const deadline = Date.now() + 3000;
    while (ended.length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(ended.map((event) => event.associationId).sort(), [
      'left-open',
      'older-version',
    ]);
    assert.ok(ended.every((event) => event.endReason === ABANDONED_END_REASON));
  } finally {
    await manager?.stop();
    await bus.stop();
    await database.dispose();
  }
}

test('restart closes abandoned associations on sqlite', async (t) => {
  await closesOwnOpenAssociations(t, 'sqlite');
});

test('restart closes abandoned associations on postgres', async (t) => {
  await closesOwnOpenAssociations(t, 'postgres');
});
