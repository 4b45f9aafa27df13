/**
 * Worker thread entry of the SQLite observation writer (see
 * sqlite-observation-writer.ts). It opens its own connection to the database
 * file and commits batches of observation rows with synchronous=FULL, so
 * neither the row inserts nor the fsync of each commit runs on the
 * event-loop thread of the manager.
 */
import SqliteDatabase from 'better-sqlite3';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { acquireInWorker, releaseInWorker } from '../../core/storage/write-lock.js';

export interface CommitWorkerData {
  /** Path of the SQLite database file. */
  file: string;
  /** How long a statement waits for a lock held by another connection. */
  busyTimeoutMs: number;
  /** INSERT (OR ROLLBACK) INTO table (columns) without its VALUES clause. */
  insertPrefix: string;
  columnCount: number;
  /** Rows per transaction when it merges waiting batches; a larger batch commits alone. */
  maxBatchRows: number;
  /** The write lock shared with the event-loop thread's connection; see write-lock.ts. */
  writeLock: SharedArrayBuffer;
  /** The storage checkpoint thread's restart request; see checkpoint-worker.ts. */
  restartRequest: SharedArrayBuffer;
}

/** A batch of rows, flattened: row i is `values[i * columnCount ... (i + 1) * columnCount - 1]`. */
export interface CommitRequest {
  id: number;
  values: unknown[];
}

/**
 * Outcome of one transaction: the requests it committed, or the one request
 * that failed in a transaction of its own.
 */
export type CommitReply =
  | { ids: number[]; ok: true; rows: number; durationMs: number }
  | { ids: number[]; ok: false; message: string; code: string | undefined };

/** Rows per multi-row INSERT of the writer. */
const MULTI_ROW_COUNT = 50;

/**
 * Log frames after which the writer checkpoints inside a COMMIT on its own,
 * about 128 MiB: a bound on the log for when the checkpoint thread does not
 * keep up.
 */
const FALLBACK_AUTOCHECKPOINT_FRAMES = 32000;

const port = parentPort;
if (port === null) {
  throw new Error('commit-worker.ts runs only as a worker thread');
}
const options = workerData as CommitWorkerData;
const database = new SqliteDatabase(options.file, { timeout: options.busyTimeoutMs });
// Each connection has its own synchronous setting: FULL syncs the WAL at every
// commit, as the main connection does, so an acknowledged report is on disk.
database.pragma('synchronous = FULL');
database.pragma('foreign_keys = ON');
// The storage's checkpoint thread copies the log into the database with
// PASSIVE checkpoints, which never wait for this writer, and syncs the
// database file: with 1,000 agents each copy covers about 1,500 scattered
// pages and its sync takes 15 to 30 ms. A passive checkpoint cannot copy the
// frames appended while it runs, so under continuous commits the log would
// never start over: it grew to 475 MB in 20 s of the ieee11073-manager
// benchmark. So once the log is long the checkpoint thread raises its restart
// request, and this writer, after answering its last transaction, copies the
// few frames added since; its next transaction then starts the log over.
// When the writer instead checkpointed inside COMMIT every 4,000 frames, the
// sync held back every commit queued behind it, the largest part of the p99
// acknowledgement latency.
database.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_FRAMES}`);
const restartRequest = new Int32Array(options.restartRequest);

const { columnCount } = options;
const rowPlaceholders = `(${new Array<string>(columnCount).fill('?').join(', ')})`;
const insertRows = (rows: number): SqliteDatabase.Statement =>
  database.prepare(
    `${options.insertPrefix} VALUES ${new Array<string>(rows).fill(rowPlaceholders).join(', ')}`,
  );
// One statement per 50 rows (950 parameters, below SQLite's limit of 32,766)
// costs one call into SQLite instead of 50.
const insertMany = insertRows(MULTI_ROW_COUNT);
const insertOne = insertRows(1);
const begin = database.prepare('BEGIN IMMEDIATE');
const checkpoint = database.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const commit = database.prepare('COMMIT');
const rollback = database.prepare('ROLLBACK');
const manyValues = new Array<unknown>(columnCount * MULTI_ROW_COUNT);
const oneValues = new Array<unknown>(columnCount);

const copy = (values: unknown[], start: number, target: unknown[]): void => {
  for (let index = 0; index < target.length; index += 1) {
    target[index] = values[start + index];
  }
};

/** Inserts rows inside the open transaction. */
const insertValues = (values: unknown[]): void => {
  let start = 0;
  const manyLength = manyValues.length;
  for (; start + manyLength <= values.length; start += manyLength) {
    copy(values, start, manyValues);
    insertMany.run(manyValues);
  }
  for (; start < values.length; start += columnCount) {
    copy(values, start, oneValues);
    insertOne.run(oneValues);
  }
};

const failureReply = (id: number, error: unknown): CommitReply => {
  const code = (error as { code?: unknown }).code;
  return {
    ids: [id],
    ok: false,
    message: error instanceof Error ? error.message : String(error),
    code: typeof code === 'string' ? code : undefined,
  };
};

/**
 * Commits `requests` in one transaction. When it fails, each request is
 * committed in a transaction of its own, so one bad request (a duplicate
 * key) fails alone and the others still commit.
 */
const commitRequests = (requests: readonly CommitRequest[]): void => {
  const startedAt = performance.now();
  try {
    let rows = 0;
    acquireInWorker(options.writeLock);
    try {
      begin.run();
      for (const request of requests) {
        insertValues(request.values);
        rows += request.values.length / columnCount;
      }
      commit.run();
    } catch (error) {
      if (database.inTransaction) {
        rollback.run();
      }
      throw error;
    } finally {
      releaseInWorker(options.writeLock);
    }
    const reply: CommitReply = {
      ids: requests.map((request) => request.id),
      ok: true,
      rows,
      durationMs: performance.now() - startedAt,
    };
    port.postMessage(reply);
  } catch (error) {
    if (requests.length === 1) {
      port.postMessage(failureReply(requests[0]?.id ?? 0, error));
      return;
    }
    for (const request of requests) {
      commitRequests([request]);
    }
  }
};

const finishCheckpoint = (): void => {
  if (Atomics.exchange(restartRequest, 0, 0) === 1) {
    // BUSY when the checkpoint thread has started its next copy, which raises the request again.
    checkpoint.run();
  }
};

const waiting: CommitRequest[] = [];
let stopRequested = false;

const enqueue = (message: CommitRequest | 'stop'): void => {
  if (message === 'stop') {
    stopRequested = true;
  } else {
    waiting.push(message);
  }
};

/**
 * Commits until no request waits. Requests that arrived while a transaction
 * ran are taken from the port before the next one starts, so they share it
 * (up to `maxBatchRows` rows) instead of committing one by one.
 */
const drain = (): void => {
  for (;;) {
    for (let next = receiveMessageOnPort(port); next !== undefined;) {
      enqueue(next.message as CommitRequest | 'stop');
      next = receiveMessageOnPort(port);
    }
    if (waiting.length === 0) {
      break;
    }
    let rows = 0;
    let requestCount = 0;
    while (requestCount < waiting.length) {
      const size = (waiting[requestCount]?.values.length ?? 0) / columnCount;
      if (requestCount > 0 && rows + size > options.maxBatchRows) {
        break;
      }
      rows += size;
      requestCount += 1;
    }
    commitRequests(waiting.splice(0, requestCount));
    finishCheckpoint();
  }
  if (stopRequested) {
    database.close();
    port.close();
  }
};

port.on('message', (message: CommitRequest | 'stop') => {
  enqueue(message);
  drain();
});
