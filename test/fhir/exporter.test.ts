import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { InProcessBus } from '../../src/core/bus/index.js';
import { isMedwardError } from '../../src/core/errors.js';
import { createLogger, silentLogger, type Logger } from '../../src/core/logger.js';
import { createMetricsRegistry, type Registry } from '../../src/core/metrics.js';
import { migrateToLatest, type DialectName } from '../../src/core/storage/index.js';
import {
  FhirExporter,
  FHIR_EXPORT_SUBJECT,
  fhirMigrations,
  type FhirConfig,
  type PhdExportPayload,
  type PhdObservationInput,
} from '../../src/fhir/index.js';
import { requireService } from '../support/services.js';
import { createTestDatabase, type TestDatabase } from '../support/storage.js';
import { FakeFhirServer, outcome, type RecordedRequest } from './fake-fhir-server.js';
import { assertValidR4 } from './validate.js';
import { vectorAgents } from './vectors.js';

const agents = vectorAgents();

/** Returns the scale, pulse oximeter and blood pressure vectors as one payload each. */
function payloads(): PhdExportPayload[] {
  return [agents.scaleBodyFat, agents.pulseOximeter, agents.bloodPressure].map((inputs) => ({
    device: inputs.device,
    observations: inputs.observations,
  }));
}

function observationCount(list: PhdExportPayload[]): number {
  return list.reduce((total, payload) => total + payload.observations.length, 0);
}

async function waitFor(
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 8000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      assert.fail(`condition not met within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

class LogLines extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() !== '') {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      }
    }
    callback();
  }
}

function identifierValues(request: RecordedRequest | undefined): string[] {
  return (request?.bundle.entry ?? []).flatMap((entry) =>
    (entry.resource.identifier ?? []).map((identifier) => identifier.value),
  );
}

interface Harness {
  exporter: FhirExporter;
  bus: InProcessBus;
  metrics: Registry;
  logs: LogLines;
  stop(): Promise<void>;
}

function runExporterTests(dialect: DialectName): void {
  describe(`fhir exporter on ${dialect}`, () => {
    let database: TestDatabase | undefined;
    let server: FakeFhirServer;
    let serverUrl: string;
    let harness: Harness | undefined;

    before(async (context) => {
      if (dialect === 'postgres' && !(await requireService(context as never, 'postgres'))) {
        return;
      }
      database = await createTestDatabase(dialect, { migrate: false });
      await migrateToLatest(database.storage, fhirMigrations, silentLogger());
    });

    after(async () => {
      await database?.dispose();
    });

    beforeEach(async () => {
      server = new FakeFhirServer();
      serverUrl = await server.start();
      if (database !== undefined) {
        const db = database.storage.db.withTables<{
          fhir_outbox: { seq: number };
          fhir_observation: { observation_id: string };
          fhir_device: { system_id: string };
        }>();
        await db.deleteFrom('fhir_outbox').execute();
        await db.deleteFrom('fhir_observation').execute();
        await db.deleteFrom('fhir_device').execute();
      }
    });

    afterEach(async () => {
      await harness?.stop();
      harness = undefined;
      await server.stop();
    });

    async function startExporter(overrides: Partial<FhirConfig> = {}): Promise<Harness> {
      assert.ok(database);
      const logs = new LogLines();
      const logger: Logger = createLogger({ level: 'debug', destination: logs });
      const bus = new InProcessBus(silentLogger());
      await bus.start();
      const metrics = createMetricsRegistry({ defaultMetrics: false });
      const exporter = new FhirExporter({
        config: {
          enabled: true,
          serverUrl,
          batchSize: 100,
          retryBaseDelayMs: 20,
          retryMaxDelayMs: 400,
          requestTimeoutMs: 2000,
          gatewaySystemId: '02AABBCCDDEEFF00',
          gatewayTimeSync: 'ntpv4',
          ...overrides,
        },
        storage: database.storage,
        bus,
        logger,
        metrics,
        siteId: 'test-site',
        random: () => 0,
      });
      await exporter.start();
      let stopped = false;
      const started: Harness = {
        exporter,
        bus,
        metrics,
        logs,
        async stop() {
          if (!stopped) {
            stopped = true;
            await exporter.stop();
            await bus.stop();
          }
        },
      };
      harness = started;
      return started;
    }

    async function publishAll(bus: InProcessBus, list: PhdExportPayload[]): Promise<void> {
      for (const payload of list) {
        await bus.publish(FHIR_EXPORT_SUBJECT, payload);
      }
    }

    /** Records the payloads directly, so the outbox contains them when this resolves. */
    async function enqueueAll(exporter: FhirExporter, list: PhdExportPayload[]): Promise<void> {
      for (const payload of list) {
        await exporter.enqueue(payload);
      }
    }

    async function outboxEmpty(exporter: FhirExporter): Promise<boolean> {
      const counts = await exporter.outboxCounts();
      return counts.pending + counts.isolated + counts.parked === 0;
    }

    test('exports bus payloads', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      const { exporter, bus } = await startExporter();
      const list = payloads();
      await publishAll(bus, list);
      await waitFor(() => server.observationKeys().length === observationCount(list) + 3);
      await waitFor(() => outboxEmpty(exporter));
      for (const request of server.requests) {
        assert.equal(request.headers['content-type'], 'application/fhir+json');
        assert.equal(request.bundle.type, 'transaction');
        assertValidR4(request.bundle);
      }
      // 6 measurements and one coincident time stamp per agent.
      assert.equal(server.observationKeys().length, 9);
      const devices = [...server.resources.keys()].filter((key) => key.startsWith('Device '));
      assert.equal(devices.length, 4);
      const bodies = server.requests.map((request) => request.body).join('\n');
      assert.match(bodies, /"value":60\.0,"unit":"\/min"/);
    });

    test('nothing lost while server down', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      const failures = 4;
      server.reply = (number) =>
        number < failures
          ? { kind: 'status', status: 503, body: outcome('transient', 'down for maintenance') }
          : { kind: 'process' };
      const { exporter } = await startExporter();
      const list = payloads();
      await enqueueAll(exporter, list);
      await waitFor(() => outboxEmpty(exporter));
      assert.equal(server.observationKeys().length, 9);
      const requests = server.requests;
      assert.ok(requests.length >= failures + 1);
      // Every observation of a failed request is in the next one.
      for (let index = 0; index < failures; index += 1) {
        const next = new Set(identifierValues(requests[index + 1]));
        assert.ok(
          identifierValues(requests[index]).every((id) => next.has(id)),
          `request ${index + 1} lost entries`,
        );
      }
      // Back-off with random() = 0 waits half the ceiling: 10, 20, 40, 80 ms.
      const gaps = requests.slice(1, failures + 1).map((request, index) => {
        const previous = requests[index];
        assert.ok(previous);
        return request.atMs - previous.atMs;
      });
      gaps.forEach((gap, index) => {
        const expected = 10 * 2 ** index;
        assert.ok(
          gap >= expected - 2,
          `gap ${index} was ${gap.toFixed(1)} ms, expected ≥ ${expected}`,
        );
        assert.ok(
          gap < expected + 150,
          `gap ${index} was ${gap.toFixed(1)} ms, expected ≈ ${expected}`,
        );
      });
    });

    test('retry after honoured', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      server.reply = (number) =>
        number === 0
          ? { kind: 'status', status: 429, headers: { 'retry-after': '1' } }
          : { kind: 'process' };
      const { exporter } = await startExporter({ retryMaxDelayMs: 5000 });
      await enqueueAll(exporter, payloads().slice(0, 1));
      await waitFor(() => outboxEmpty(exporter));
      const [first, second] = server.requests;
      assert.ok(first);
      assert.ok(second);
      assert.ok(second.atMs - first.atMs >= 990, `retried after ${second.atMs - first.atMs} ms`);
    });

    test('stop while down keeps rows', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      server.reply = () => ({ kind: 'status', status: 502 });
      const first = await startExporter();
      const list = payloads();
      await enqueueAll(first.exporter, list);
      await waitFor(() => server.requests.length >= 2);
      await first.stop();
      const counts = await first.exporter.outboxCounts();
      assert.equal(counts.pending, observationCount(list));
      const rows = await first.exporter.store.outboxRows();
      const tried = rows.filter((row) => row.attempts >= 1);
      assert.ok(tried.length > 0);
      assert.ok(tried.every((row) => row.lastStatus === 502 && row.state === 'pending'));

      server.reply = () => ({ kind: 'process' });
      const second = await startExporter();
      await waitFor(() => outboxEmpty(second.exporter));
      assert.equal(server.observationKeys().length, 9);
    });

    test('hanging server times out', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      server.reply = (number) => (number === 0 ? { kind: 'hang' } : { kind: 'process' });
      const { exporter } = await startExporter({ requestTimeoutMs: 200 });
      await enqueueAll(exporter, payloads().slice(0, 1));
      await waitFor(() => outboxEmpty(exporter));
      assert.equal(server.requests.length, 2);
    });

    test('resend after lost answer is idempotent', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      server.reply = (number) =>
        number === 0 ? { kind: 'process-then-fail', status: 504 } : { kind: 'process' };
      const { exporter, bus } = await startExporter();
      const list = payloads();
      await enqueueAll(exporter, list);
      await waitFor(() => outboxEmpty(exporter));
      const [first, second] = server.requests;
      // The retry repeats the first request's entries, which the server already stored.
      const retried = new Set(identifierValues(second));
      assert.ok(identifierValues(first).every((id) => retried.has(id)));
      assert.equal(server.observationKeys().length, 9);
      // Redelivered messages and a fresh resend of every stored observation change nothing.
      const resourcesBefore = server.resources.size;
      await publishAll(bus, list);
      const download = await exporter.buildBundleFor({ type: 'transaction' });
      const again = await fetch(serverUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify(download),
      });
      const answer = (await again.json()) as { entry: { response: { status: string } }[] };
      assert.ok(answer.entry.every((entry) => entry.response.status === '200 OK'));
      assert.equal(server.resources.size, resourcesBefore);
      assert.equal(await outboxEmpty(exporter), true);
    });

    test('400 parks the batch', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      const rejected = agents.pulseOximeter.observations[0]?.observationId;
      assert.ok(rejected);
      server.reply = (_number, bundle) =>
        bundle.entry.some((entry) =>
          entry.resource.identifier?.some((identifier) => identifier.value === rejected),
        )
          ? {
              kind: 'status',
              status: 400,
              body: outcome('invalid', 'Observation.code is not allowed'),
            }
          : { kind: 'process' };
      const { exporter, logs, metrics } = await startExporter();
      const list = payloads();
      await enqueueAll(exporter, list);
      await waitFor(async () => {
        const counts = await exporter.outboxCounts();
        return counts.parked === 1 && counts.pending + counts.isolated === 0;
      });
      assert.deepEqual(await exporter.outboxCounts(), { pending: 0, isolated: 0, parked: 1 });
      assert.equal(server.observationKeys().filter((key) => !key.includes('coincident')).length, 5);
      const [row] = await exporter.store.outboxRows();
      assert.ok(row);
      assert.equal(row.observationId, rejected);
      assert.equal(row.state, 'parked');
      assert.equal(row.lastStatus, 400);
      assert.match(row.outcome ?? '', /Observation\.code is not allowed/);
      const alert = logs.lines.find((line) => line.msg === 'fhir export batch parked');
      assert.ok(alert);
      assert.equal(alert.level, 50);
      assert.equal(alert.alert, true);
      assert.deepEqual(alert.observationIds, [rejected]);
      const exported = await metrics.getSingleMetricAsString(
        'medward_fhir_export_observations_total',
      );
      assert.match(exported, /outcome="parked"} 1/);
      assert.match(exported, /outcome="exported"} 5/);
      const gauge = await metrics.getSingleMetricAsString('medward_fhir_outbox_rows');
      assert.match(gauge, /state="parked"} 1/);

      // Once the server accepts it, a requeue delivers it.
      server.reply = () => ({ kind: 'process' });
      assert.equal(await exporter.requeueParked(), 1);
      await waitFor(() => outboxEmpty(exporter));
      assert.equal(server.observationKeys().filter((key) => !key.includes('coincident')).length, 6);
    });

    test('failed entry retried alone', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      const failing = agents.bloodPressure.observations[1]?.observationId;
      assert.ok(failing);
      server.reply = (number) => ({
        kind: 'process',
        entryStatus: (_index, entry) =>
          number === 0 &&
          entry.resource.identifier?.some((identifier) => identifier.value === failing) === true
            ? '500 Internal Server Error'
            : undefined,
      });
      const { exporter } = await startExporter();
      await enqueueAll(exporter, payloads().slice(2));
      await waitFor(() => outboxEmpty(exporter));
      assert.equal(server.requests.length, 2);
      const resent = server.requests[1]?.bundle.entry.filter(
        (entry) => entry.resource.resourceType === 'Observation',
      );
      // The retry contains the failed measurement and its coincident time stamp.
      assert.equal(resent?.length, 2);
    });

    test('bearer token sent not logged', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      const folder = mkdtempSync(join(tmpdir(), 'medward-fhir-'));
      const tokenFile = join(folder, 'token');
      writeFileSync(tokenFile, 'secret-token-123\n');
      server.reply = (number) =>
        number === 0 ? { kind: 'status', status: 401 } : { kind: 'process' };
      const { exporter, logs } = await startExporter({ bearerTokenFile: tokenFile });
      await enqueueAll(exporter, payloads().slice(0, 1));
      await waitFor(() => outboxEmpty(exporter));
      assert.equal(server.requests[0]?.headers.authorization, 'Bearer secret-token-123');
      assert.equal(server.requests.length, 2);
      assert.ok(!JSON.stringify(logs.lines).includes('secret-token-123'));
    });

    test('invalid payload rejected', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      const { exporter } = await startExporter();
      const observation = agents.glucose.observations[0] as PhdObservationInput;
      const cases: unknown[] = [
        {},
        { device: agents.glucose.device, observations: [] },
        {
          device: agents.glucose.device,
          observations: [{ ...observation, deviceSystemId: '0000000000000001' }],
        },
        {
          device: agents.glucose.device,
          observations: [{ ...observation, value: { kind: 'numeric', unitCode: 1, value: 5 } }],
        },
      ];
      for (const payload of cases) {
        await assert.rejects(exporter.enqueue(payload), (error: unknown) => {
          assert.ok(isMedwardError(error));
          assert.equal(error.code, 'FHIR_PAYLOAD_INVALID');
          return true;
        });
      }
      assert.deepEqual(await exporter.outboxCounts(), { pending: 0, isolated: 0, parked: 0 });
    });

    test('download bundle by device', async (t) => {
      if (database === undefined) {
        t.skip('database unavailable');
        return;
      }
      const { exporter } = await startExporter({ serverUrl: undefined });
      for (const payload of payloads()) {
        await exporter.enqueue(payload);
      }
      const all = await exporter.buildBundleFor();
      assert.equal(all.type, 'collection');
      assertValidR4(all);
      const bp = await exporter.buildBundleFor({
        deviceSystemId: agents.bloodPressure.device.systemId,
      });
      assertValidR4(bp);
      const observations = bp.entry.filter(
        (entry) => entry.resource.resourceType === 'Observation',
      );
      assert.equal(observations.length, 3);
      assert.equal(
        bp.entry.some((entry) => entry.request !== undefined),
        false,
      );
      const none = await exporter.buildBundleFor({ to: new Date('2000-01-01T00:00:00Z') });
      assert.equal(none.entry.length, 1);
      assert.equal(server.requests.length, 0);
    });
  });
}

runExporterTests('sqlite');
runExporterTests('postgres');
