import assert from 'node:assert/strict';
import { after, describe, test, type TestContext } from 'node:test';
import { silentLogger } from '../../../src/core/logger.js';
import type { DialectName } from '../../../src/core/storage/index.js';
import {
  Ieee11073Repository,
  MdcObject,
  createScenario,
  type DeviceObservation,
} from '../../../src/ieee11073/index.js';
import { timeOrderedUuid } from '../../../src/ieee11073/store/from-20601.js';
import { GroupCommitter } from '../../../src/ieee11073/store/group-commit.js';
import { requireService } from '../../support/services.js';
import { createTestDatabase, type TestDatabase } from '../../support/storage.js';

const device = 'a1a2a3a4a5a6a7a8';
const baseMs = Date.parse('2026-03-01T00:00:00Z');

function observation(index: number, overrides: Partial<DeviceObservation> = {}): DeviceObservation {
  const gatewayMs = baseMs + index * 1000;
  return {
    id: timeOrderedUuid(gatewayMs),
    deviceSystemId: device,
    associationId: 'association-1',
    handle: 1,
    type: 2 * 65536 + 19292,
    unit: { code: 4 * 65536 + 6048, ucum: 'Cel' },
    value: { kind: 'numeric', decimal: `36.${index}`, number: 36 + index / 10 },
    timestamp: {
      clock: 'absolute',
      deviceTime: '2026-03-01T00:00:00.00',
      gatewayTime: new Date(gatewayMs).toISOString(),
      offsetApplied: true,
    },
    receivedAt: new Date(gatewayMs + 50).toISOString(),
    ...overrides,
  };
}

function recordingMetrics(): {
  batches: number[];
  failures: number;
  observeBatch(n: number): void;
  countFailure(): void;
} {
  return {
    batches: [],
    failures: 0,
    observeBatch(n: number) {
      this.batches.push(n);
    },
    countFailure() {
      this.failures += 1;
    },
  };
}

for (const dialect of ['sqlite', 'postgres'] as const satisfies readonly DialectName[]) {
  describe(`ieee11073 repository on ${dialect}`, () => {
    let database: TestDatabase | undefined;
    let repository: Ieee11073Repository;
    let committer: GroupCommitter | undefined;
    const metrics = recordingMetrics();

    /** Opens the database on first use; false when PostgreSQL is unavailable and the test was skipped. */
    async function ready(context: TestContext): Promise<boolean> {
      if (dialect === 'postgres' && !(await requireService(context, 'postgres'))) {
        return false;
      }
      if (database === undefined) {
        database = await createTestDatabase(dialect);
        repository = new Ieee11073Repository(database.storage);
        committer = new GroupCommitter({
          storage: database.storage,
          repository,
          maxBatch: 50,
          maxDelayMs: 10,
          logger: silentLogger(),
          metrics,
        });
      }
      return true;
    }

    after(async () => {
      await committer?.stop();
      await database?.dispose();
    });

    test('concurrent submissions share transactions', async (context) => {
      if (!(await ready(context))) {
        return;
      }
      await Promise.all(
        Array.from({ length: 30 }, (_, index) =>
          committer!.submit({ observations: [observation(index)] }),
        ),
      );
      assert.equal(
        metrics.batches.reduce((sum, size) => sum + size, 0),
        30,
      );
      assert.ok(metrics.batches.length < 30, `batches ${JSON.stringify(metrics.batches)}`);
      assert.ok(metrics.batches.every((size) => size <= 50));
    });

    test('pages in gateway time order', async (context) => {
      if (!(await ready(context))) {
        return;
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page += 1) {
        const result = await repository.listObservations({
          deviceSystemId: device.toUpperCase(),
          limit: 7,
          ...(cursor === undefined ? {} : { cursor }),
        });
        seen.push(
          ...result.observations.map((item) =>
            item.value.kind === 'numeric' ? item.value.decimal : '',
          ),
        );
        cursor = result.nextCursor;
        if (cursor === undefined) {
          break;
        }
      }
      assert.deepEqual(
        seen,
        Array.from({ length: 30 }, (_, index) => `36.${index}`),
      );
    });

    test('time range bounds the page', async (context) => {
      if (!(await ready(context))) {
        return;
      }
      const result = await repository.listObservations({
        deviceSystemId: device,
        from: new Date(baseMs + 5000),
        to: new Date(baseMs + 8000).toISOString(),
      });
      assert.deepEqual(
        result.observations.map((item) => item.timestamp.gatewayTime),
        [5, 6, 7].map((index) => new Date(baseMs + index * 1000).toISOString()),
      );
      assert.equal(result.nextCursor, undefined);
    });

    test('stored observation reads back whole', async (context) => {
      if (!(await ready(context))) {
        return;
      }
      const compound = observation(100, {
        deviceSystemId: 'b1b2b3b4b5b6b7b8',
        personId: 2,
        measurementStatus: 0x4000,
        supplementalTypes: [2 * 65536 + 19508],
        value: {
          kind: 'compound',
          components: [
            { code: 150021, decimal: '120', number: 120 },
            { code: 150022, decimal: 'nres', number: null, special: 'nres' },
          ],
        },
      });
      await committer!.submit({ observations: [compound] });
      const result = await repository.listObservations({ deviceSystemId: 'b1b2b3b4b5b6b7b8' });
      assert.deepEqual(result.observations[0], { ...compound, typeReferenceId: 'MDC_TEMP_BODY' });
    });

    test('failing submission alone rejected', async (context) => {
      if (!(await ready(context))) {
        return;
      }
      const failures = metrics.failures;
      const good = observation(200, { deviceSystemId: 'c1c2c3c4c5c6c7c8' });
      const results = await Promise.allSettled([
        committer!.submit({ observations: [good] }),
        committer!.submit({
          observations: [],
          operation: () => Promise.reject(new Error('operation failed on purpose')),
        }),
      ]);
      assert.equal(results[0].status, 'fulfilled');
      assert.equal(results[1].status, 'rejected');
      assert.ok(metrics.failures > failures);
      const stored = await repository.listObservations({ deviceSystemId: 'c1c2c3c4c5c6c7c8' });
      assert.equal(stored.observations.length, 1);
    });

    test('configuration saved and loaded', async (context) => {
      if (!(await ready(context))) {
        return;
      }
      const objects = createScenario('thermometer').configuration;
      await committer!.submit({
        observations: [],
        operation: (transaction) =>
          repository.saveConfiguration(
            transaction,
            device,
            { kind: 'config-report', configReportId: 0x4000, configObjList: objects },
            Date.now(),
          ),
      });
      const loaded = await repository.loadConfiguration(device, 0x4000);
      assert.equal(loaded?.devConfigId, 0x4000);
      assert.equal(loaded.objects[0]?.objHandle, 1);
      const type = loaded.objects[0].attributes.find(
        (ava) => ava.attributeId === MdcObject.MDC_ATTR_ID_TYPE,
      );
      assert.deepEqual(type?.value, { kind: 'type', value: { partition: 2, code: 19292 } });
      assert.equal(await repository.loadConfiguration(device, 0x4001), undefined);
    });

    test('invalid queries rejected', async (context) => {
      if (!(await ready(context))) {
        return;
      }
      await assert.rejects(repository.listObservations({ deviceSystemId: 'not-an-eui' }), {
        code: 'IEEE11073_QUERY_INVALID',
      });
      await assert.rejects(repository.listObservations({ deviceSystemId: device, limit: 0 }), {
        code: 'IEEE11073_QUERY_INVALID',
      });
      await assert.rejects(
        repository.listObservations({ deviceSystemId: device, from: 'yesterday' }),
        {
          code: 'IEEE11073_QUERY_INVALID',
        },
      );
      await assert.rejects(
        repository.listObservations({ deviceSystemId: device, cursor: 'garbage' }),
        {
          code: 'IEEE11073_CURSOR_INVALID',
        },
      );
    });
  });
}
