import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../src/core/logger.js';
import { migrateToLatest, type DialectName } from '../../src/core/storage/index.js';
import {
  FhirStore,
  fhirMigrations,
  type PhdDeviceInput,
  type PhdObservationInput,
} from '../../src/fhir/index.js';
import { requireService } from '../support/services.js';
import { createTestDatabase, type TestDatabase } from '../support/storage.js';

const device: PhdDeviceInput = {
  systemId: '00a0b0c0d0e0f001',
  manufacturer: 'Acme',
  specializations: [{ code: 528392, version: 1 }],
};

function observation(index: number, systemId = device.systemId): PhdObservationInput {
  return {
    observationId: `obs-${index}`,
    deviceSystemId: systemId,
    type: 150364,
    value: {
      kind: 'numeric',
      unitCode: 6048,
      ucum: 'Cel',
      value: { kind: 'finite', decimal: `36.${index}0` },
    },
    gatewayReceivedAt: new Date(Date.UTC(2026, 2, 1, 10, index)).toISOString(),
  };
}

function runStoreTests(dialect: DialectName): void {
  describe(`fhir store on ${dialect}`, () => {
    let database: TestDatabase | undefined;
    let store: FhirStore;

    before(async (context) => {
      if (dialect === 'postgres' && !(await requireService(context as never, 'postgres'))) {
        return;
      }
      database = await createTestDatabase(dialect, { migrate: false });
      await migrateToLatest(database.storage, fhirMigrations, silentLogger());
      store = new FhirStore(database.storage);
    });

    after(async () => {
      await database?.dispose();
    });

    test('record queues new observations', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      const first = await store.record({ device, observations: [observation(1), observation(2)] });
      assert.deepEqual(first, { added: ['obs-1', 'obs-2'], duplicates: [] });
      const again = await store.record({ device, observations: [observation(2), observation(3)] });
      assert.deepEqual(again, { added: ['obs-3'], duplicates: ['obs-2'] });
      assert.deepEqual(await store.outboxCounts(), { pending: 3, isolated: 0, parked: 0 });
    });

    test('batch keeps order and devices', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      const batch = await store.nextBatch(2);
      assert.deepEqual(
        batch.entries.map((entry) => entry.observationId),
        ['obs-1', 'obs-2'],
      );
      const [first] = batch.entries;
      assert.ok(first);
      assert.equal(first.input.deviceSystemId, '00A0B0C0D0E0F001');
      assert.deepEqual(first.input.value, observation(1).value);
      assert.equal(batch.devices.get('00A0B0C0D0E0F001')?.manufacturer, 'Acme');
      assert.deepEqual(batch.unreadable, []);
    });

    test('isolated rows go alone', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      await store.isolate(['obs-2', 'obs-3'], { status: 400, error: 'rejected' });
      const batch = await store.nextBatch(10);
      assert.deepEqual(
        batch.entries.map((entry) => [entry.observationId, entry.state, entry.attempts]),
        [['obs-2', 'isolated', 1]],
      );
    });

    test('parked rows wait for requeue', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      await store.park(['obs-2'], {
        status: 400,
        error: 'rejected',
        outcome: '{"resourceType":"OperationOutcome"}',
      });
      assert.deepEqual(await store.outboxCounts(), { pending: 1, isolated: 1, parked: 1 });
      const rows = await store.outboxRows();
      const parked = rows.find((row) => row.observationId === 'obs-2');
      assert.deepEqual(parked, {
        observationId: 'obs-2',
        state: 'parked',
        attempts: 2,
        lastStatus: 400,
        lastError: 'rejected',
        outcome: '{"resourceType":"OperationOutcome"}',
      });
      const next = await store.nextBatch(10);
      assert.deepEqual(
        next.entries.map((entry) => entry.observationId),
        ['obs-3'],
      );
      assert.equal(await store.requeueParked(['obs-9']), 0);
      assert.equal(await store.requeueParked(), 1);
      assert.deepEqual(await store.outboxCounts(), { pending: 2, isolated: 1, parked: 0 });
    });

    test('retry counts attempts', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      await store.markRetry(['obs-1'], { status: 503, error: 'unavailable' });
      await store.markRetry(['obs-1'], { error: 'connection refused' });
      const row = (await store.outboxRows()).find((entry) => entry.observationId === 'obs-1');
      assert.ok(row);
      assert.equal(row.attempts, 2);
      assert.equal(row.lastStatus, null);
      assert.equal(row.lastError, 'connection refused');
      assert.equal(row.state, 'pending');
    });

    test('exported rows leave outbox only', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      await store.markExported(['obs-1', 'obs-2', 'obs-3']);
      assert.deepEqual(await store.outboxCounts(), { pending: 0, isolated: 0, parked: 0 });
      const stored = await store.observations({ limit: 100 });
      assert.deepEqual(
        stored.observations.map((entry) => entry.observationId),
        ['obs-1', 'obs-2', 'obs-3'],
      );
      assert.equal(stored.unreadable, 0);
    });

    test('observations filtered by device and time', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      const other: PhdDeviceInput = { systemId: '00A0B0C0D0E0F002', specializations: [] };
      await store.record({ device: other, observations: [observation(4, other.systemId)] });
      const byDevice = await store.observations({ deviceSystemId: '00a0b0c0d0e0f002', limit: 10 });
      assert.deepEqual(
        byDevice.observations.map((entry) => entry.observationId),
        ['obs-4'],
      );
      assert.deepEqual([...byDevice.devices.keys()], ['00A0B0C0D0E0F002']);
      const window = await store.observations({
        from: new Date(Date.UTC(2026, 2, 1, 10, 2)),
        to: new Date(Date.UTC(2026, 2, 1, 10, 4)),
        limit: 10,
      });
      assert.deepEqual(
        window.observations.map((entry) => entry.observationId),
        ['obs-2', 'obs-3'],
      );
      const limited = await store.observations({ limit: 2 });
      assert.equal(limited.observations.length, 2);
    });

    test('unreadable input reported', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      await store.record({ device, observations: [observation(5)] });
      const db = database.storage.db.withTables<{
        fhir_observation: { observation_id: string; input: string };
      }>();
      await db
        .updateTable('fhir_observation')
        .set({ input: '{"observationId":"obs-5"}' })
        .where('observation_id', '=', 'obs-5')
        .execute();
      const batch = await store.nextBatch(10);
      assert.deepEqual(
        batch.entries.map((entry) => entry.observationId),
        ['obs-4'],
      );
      assert.equal(batch.unreadable.length, 1);
      const [unreadable] = batch.unreadable;
      assert.ok(unreadable);
      assert.equal(unreadable.observationId, 'obs-5');
      assert.match(unreadable.problem, /no longer validates/);
    });
  });
}

runStoreTests('sqlite');
runStoreTests('postgres');
