import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../../src/core/logger.js';
import { Storage, migrateToLatest } from '../../../src/core/storage/index.js';
import { Ieee11073Repository, type DeviceObservation } from '../../../src/ieee11073/index.js';
import { timeOrderedUuid } from '../../../src/ieee11073/store/from-20601.js';
import { GroupCommitter } from '../../../src/ieee11073/store/group-commit.js';
import {
  SqliteObservationWriter,
  sqliteFileForWorker,
} from '../../../src/ieee11073/store/sqlite-observation-writer.js';
import { allMigrations } from '../../../src/migrations.js';

const device = 'b1b2b3b4b5b6b7b8';
const baseMs = Date.parse('2026-03-01T00:00:00Z');

function observation(index: number): DeviceObservation {
  const gatewayMs = baseMs + index * 1000;
  return {
    id: timeOrderedUuid(gatewayMs),
    deviceSystemId: device,
    associationId: 'association-1',
    handle: 1,
    type: 2 * 65536 + 18948,
    unit: { code: 4 * 65536 + 3872, ucum: 'mm[Hg]' },
    value:
      index % 2 === 0
        ? { kind: 'numeric', decimal: `120.${index}`, number: 120 + index / 10 }
        : {
            kind: 'compound',
            components: [{ code: 2 * 65536 + 18949, decimal: '120', number: 120 }],
          },
    timestamp: {
      clock: 'absolute',
      deviceTime: '2026-03-01T00:00:00.00',
      gatewayTime: new Date(gatewayMs).toISOString(),
      offsetApplied: true,
    },
    receivedAt: new Date(gatewayMs + 50).toISOString(),
  };
}

async function openStorage(file: string): Promise<Storage> {
  const storage = new Storage(
    { url: `sqlite:${file}`, poolSize: 1, statementTimeoutMs: 5000 },
    silentLogger(),
  );
  await storage.start();
  await migrateToLatest(storage, allMigrations, silentLogger());
  return storage;
}

test('observation writer commits from worker', { timeout: 30000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medward-writer-'));
  const storage = await openStorage(join(dir, 'medward.db'));
  const sqlite = storage.sqliteHandle;
  assert.ok(sqlite !== undefined);
  const file = sqliteFileForWorker(sqlite);
  assert.equal(file, join(dir, 'medward.db'));
  const writer = new SqliteObservationWriter({
    file,
    busyTimeoutMs: 5000,
    maxBatchRows: 100,
    logger: silentLogger(),
  });
  const repository = new Ieee11073Repository(storage);
  const committer = new GroupCommitter({
    storage,
    repository,
    maxBatch: 100,
    maxDelayMs: 5,
    logger: silentLogger(),
    writer,
  });
  const writeLock = storage.sqliteWriteLock;
  const restartRequest = storage.startBackgroundCheckpoints();
  assert.ok(writeLock !== undefined);
  assert.ok(restartRequest !== undefined);
  try {
    writer.start({ writeLock, restartRequest });
    assert.equal(writer.available, true);
    const observations = Array.from({ length: 130 }, (_, index) => observation(index));
    // 130 rows: two multi-row statements of 50 and 30 single rows.
    await Promise.all([
      committer.submit({ observations: observations.slice(0, 65) }),
      committer.submit({ observations: observations.slice(65) }),
    ]);
    assert.equal(await repository.countObservations(device), 130);
    const page = await repository.listObservations({ deviceSystemId: device, limit: 2 });
    assert.deepEqual(page.observations[0]?.value, observations[0]?.value);
    assert.deepEqual(page.observations[1]?.value, observations[1]?.value);

    await assert.rejects(
      committer.submit({ observations: [observations[0] as DeviceObservation] }),
      (error: unknown) => (error as { code?: string }).code === 'STORAGE_CONFLICT',
    );
    assert.equal(writer.available, true);
    await committer.stop();
    await writer.stop();
    assert.equal(writer.available, false);
    // The storage's checkpoint thread checkpoints the log, not the connection's commits.
    assert.equal(sqlite.pragma('wal_autocheckpoint', { simple: true }), 0);
  } finally {
    await committer.stop();
    await writer.stop();
    await storage.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10000;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('writer lets a long log start over', { timeout: 30000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medward-writer-'));
  const storage = await openStorage(join(dir, 'medward.db'));
  const sqlite = storage.sqliteHandle;
  assert.ok(sqlite !== undefined);
  const file = sqliteFileForWorker(sqlite);
  assert.ok(file !== undefined);
  const writer = new SqliteObservationWriter({
    file,
    busyTimeoutMs: 5000,
    maxBatchRows: 100,
    logger: silentLogger(),
  });
  const writeLock = storage.sqliteWriteLock;
  const restartRequest = storage.startBackgroundCheckpoints();
  assert.ok(writeLock !== undefined);
  assert.ok(restartRequest !== undefined);
  const request = new Int32Array(restartRequest);
  try {
    writer.start({ writeLock, restartRequest });
    // About 6,000 frames of 4 KiB in the log, more than the checkpoint
    // thread lets it contain before it raises its restart request.
    sqlite.exec('create table filler (data blob)');
    sqlite.prepare('insert into filler (data) values (zeroblob(24000000))').run();
    await until(() => Atomics.load(request, 0) === 1, 'the restart request');

    const first = observation(1000);
    await writer.commit([first]);
    await until(() => Atomics.load(request, 0) === 0, 'the writer to take the request');
    // The writer copied the rest of the log after that commit, so its next
    // transaction writes the log from its beginning again.
    await writer.commit([observation(1001)]);
    const [state] = sqlite.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
    assert.ok(state !== undefined);
    assert.ok(state.log < 100, `log contains ${state.log} frames`);
  } finally {
    await writer.stop();
    await storage.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('observation writer skips memory database', async () => {
  const storage = new Storage(
    { url: 'sqlite::memory:', poolSize: 1, statementTimeoutMs: 5000 },
    silentLogger(),
  );
  await storage.start();
  try {
    const sqlite = storage.sqliteHandle;
    assert.ok(sqlite !== undefined);
    assert.equal(sqliteFileForWorker(sqlite), undefined);
  } finally {
    await storage.stop();
  }
});
