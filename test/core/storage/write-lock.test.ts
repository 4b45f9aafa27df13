import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import { isMedwardError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { Storage } from '../../../src/core/storage/index.js';
import { workerEntry } from '../../../src/core/worker-entry.js';
import { MainWriteLock, createWriteLockBuffer } from '../../../src/core/storage/write-lock.js';
import type { WriteLockCommand, WriteLockEvent } from '../../support/write-lock-worker.js';

const workers: Worker[] = [];

after(async () => {
  await Promise.all(workers.map((worker) => worker.terminate()));
});

interface LockWorker {
  send(command: WriteLockCommand): void;
  next(event: WriteLockEvent['event']): Promise<WriteLockEvent>;
  terminate(): Promise<number>;
}

function startLockWorker(buffer: SharedArrayBuffer): LockWorker {
  const { entry, eval: isScript } = workerEntry(
    new URL('../../support/write-lock-worker', import.meta.url),
  );
  const worker = new Worker(entry, { workerData: { buffer }, eval: isScript });
  workers.push(worker);
  const events: WriteLockEvent[] = [];
  const waiters: (() => void)[] = [];
  worker.on('message', (event: WriteLockEvent) => {
    events.push(event);
    for (const wake of waiters.splice(0)) {
      wake();
    }
  });
  return {
    send: (command) => {
      worker.postMessage(command);
    },
    async next(kind) {
      for (;;) {
        const index = events.findIndex((event) => event.event === kind);
        if (index >= 0) {
          return events.splice(index, 1)[0] as WriteLockEvent;
        }
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    terminate: () => worker.terminate(),
  };
}

/** Starts a lock and a worker that holds it. */
async function workerHoldingLock(): Promise<{ lock: MainWriteLock; worker: LockWorker }> {
  const buffer = createWriteLockBuffer();
  const worker = startLockWorker(buffer);
  worker.send('acquire');
  await worker.next('acquired');
  return { lock: new MainWriteLock(buffer), worker };
}

/** Reads a time set by a callback; the call keeps the type checker from narrowing it. */
function timeOf(value: number | undefined): number | undefined {
  return value;
}

function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

test('main waits for worker without blocking', async () => {
  const { lock, worker } = await workerHoldingLock();

  const main: { acquiredAtMs?: number } = {};
  const acquiring = lock.acquire(5000).then(() => {
    main.acquiredAtMs = nowMs();
  });
  // The event loop keeps running while the worker holds the lock.
  let ticks = 0;
  const timer = setInterval(() => {
    ticks += 1;
  }, 5);
  await new Promise((resolve) => setTimeout(resolve, 60));
  clearInterval(timer);
  assert.ok(ticks >= 3, `timers ran ${ticks} times while main waited`);
  assert.equal(
    timeOf(main.acquiredAtMs),
    undefined,
    'main must not hold the lock the worker holds',
  );

  const releaseSentAtMs = nowMs();
  worker.send('release');
  await acquiring;
  assert.ok((main.acquiredAtMs ?? 0) >= releaseSentAtMs);
  lock.release();
});

test('worker waits for main', async () => {
  const buffer = createWriteLockBuffer();
  const lock = new MainWriteLock(buffer);
  const worker = startLockWorker(buffer);
  await lock.acquire(1000);
  worker.send('acquire');
  await new Promise((resolve) => setTimeout(resolve, 30));
  const releasedAtMs = nowMs();
  lock.release();
  const acquired = await worker.next('acquired');
  assert.ok(acquired.atMs >= releasedAtMs, 'the worker took the lock only after main freed it');
  worker.send('release');
  await worker.next('released');
});

test('parties take turns when both want the lock', async () => {
  const { lock, worker } = await workerHoldingLock();
  const main: { acquiredAtMs?: number } = {};
  const acquiring = lock.acquire(5000).then(() => {
    main.acquiredAtMs = nowMs();
  });
  // Let main register that it waits.
  await new Promise((resolve) => setTimeout(resolve, 20));
  // The worker frees the lock and requests it again at once, so main goes first.
  worker.send('release-and-acquire');
  await worker.next('released');
  await acquiring;
  await new Promise((resolve) => setTimeout(resolve, 20));
  const releasedAtMs = nowMs();
  lock.release();
  const acquired = await worker.next('acquired');
  assert.ok(main.acquiredAtMs !== undefined);
  assert.ok(acquired.atMs >= releasedAtMs, 'the worker waited for its turn');
  worker.send('release');
  await worker.next('released');
});

test('acquire times out with STORAGE_BUSY', async () => {
  const { lock, worker } = await workerHoldingLock();
  await assert.rejects(
    lock.acquire(50),
    (error: unknown) => isMedwardError(error) && error.code === 'STORAGE_BUSY',
  );
  // The worker is not held back by a main thread that gave up.
  worker.send('release-and-acquire');
  await worker.next('acquired');
  worker.send('release');
  await worker.next('released');
  await lock.acquire(1000);
  lock.release();
});

test('lock of an exited worker is freed', async () => {
  const { lock, worker } = await workerHoldingLock();
  await worker.terminate();
  lock.releaseAbandoned();
  await lock.acquire(100);
  lock.release();
});

test('storage transactions take the write lock', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medward-write-lock-'));
  const storage = new Storage(
    { url: `sqlite:${join(dir, 'medward.db')}`, poolSize: 1, statementTimeoutMs: 5000 },
    silentLogger(),
  );
  try {
    await storage.start();
    const writeLock = storage.sqliteWriteLock;
    assert.ok(writeLock !== undefined);
    await sql`create table item (id text primary key)`.execute(storage.db);
    const worker = startLockWorker(writeLock.buffer);
    worker.send('acquire');
    await worker.next('acquired');

    const main: { committedAtMs?: number } = {};
    const committing = storage.db
      .transaction()
      .execute(async (trx) => {
        await sql`insert into item (id) values ('a')`.execute(trx);
      })
      .then(() => {
        main.committedAtMs = nowMs();
      });
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(timeOf(main.committedAtMs), undefined, 'the transaction waits for the worker');
    const releaseSentAtMs = nowMs();
    worker.send('release');
    await committing;
    assert.ok((main.committedAtMs ?? 0) >= releaseSentAtMs);
    await worker.next('released');

    // Outside a transaction a write waits for the worker, and a read does not.
    worker.send('acquire');
    await worker.next('acquired');
    const rows = await sql<{ count: number }>`select count(*) as count from item`.execute(
      storage.db,
    );
    assert.equal(rows.rows[0]?.count, 1, 'the read ran while the worker held the lock');
    const writer: { doneAtMs?: number } = {};
    const writing = sql`insert into item (id) values ('b')`.execute(storage.db).then(() => {
      writer.doneAtMs = nowMs();
    });
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(timeOf(writer.doneAtMs), undefined, 'the write waits for the worker');
    const writeReleaseSentAtMs = nowMs();
    worker.send('release');
    await writing;
    assert.ok((writer.doneAtMs ?? 0) >= writeReleaseSentAtMs);
    await worker.next('released');

    // A failed transaction frees the lock too.
    await assert.rejects(
      storage.db.transaction().execute(async (trx) => {
        await sql`insert into item (id) values ('a')`.execute(trx);
      }),
    );
    worker.send('acquire');
    await worker.next('acquired');
    worker.send('release');
    await worker.next('released');
  } finally {
    await storage.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
