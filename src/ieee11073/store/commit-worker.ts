/**
 * Worker thread entry of the SQLite observation writer (see
 * sqlite-observation-writer.ts). It opens its own connection to the database
 * file and, depending on `role`, either commits batches of observation rows
 * with synchronous=FULL or runs passive WAL checkpoints, so neither the row
 * inserts, the fsync of each commit nor a checkpoint runs on the event-loop
 * thread of the manager.
 */
import SqliteDatabase from 'better-sqlite3';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';

export interface CommitWorkerData {
  role: 'writer' | 'checkpointer';
  /** Path of the SQLite database file. */
  file: string;
  /** How long a statement waits for a lock held by another connection. */
  busyTimeoutMs: number;
  /** Writer: INSERT (OR ROLLBACK) INTO table (columns) without its VALUES clause. */
  insertPrefix: string;
  columnCount: number;
  /** Writer: rows per transaction when it merges waiting batches; a larger batch commits alone. */
  maxBatchRows: number;
  /** Checkpointer: pause between passive checkpoints. */
  checkpointIntervalMs: number;
}

/** A batch of rows, flattened: row i is `values[i * columnCount ... (i + 1) * columnCount - 1]`. */
export interface CommitRequest {
  id: number;
  values: unknown[];
}

/** Sent by the checkpointer when a checkpoint fails after one that succeeded. */
export interface CheckpointFailure {
  checkpointFailed: string;
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
 * Log frames (4 KiB pages) after which the writer checkpoints, about 16 MiB.
 * A checkpoint copies every page changed since the previous one, and each
 * report changes the index page of its device. So at SQLite's default of
 * 1,000 frames nearly every frame was copied, about 30 % of the writer
 * thread's CPU time in the ieee11073-manager benchmark (perf, 1,000 agents).
 * Larger checkpoints copy a busy page once for many reports, but the commits
 * queued behind one wait longer.
 */
const WRITER_AUTOCHECKPOINT_FRAMES = 4000;

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
// The checkpointer thread copies the log into the database in the background
// with PASSIVE checkpoints. Those never copy the frames that the writer appends
// meanwhile, so under continuous commits the log is never fully copied and
// never starts over: it grew to 475 MB in 20 s of the ieee11073-manager
// benchmark. The writer's own automatic checkpoint runs between two of its
// transactions once the log contains WRITER_AUTOCHECKPOINT_FRAMES frames. It
// copies the rest, so the writer's next transaction restarts the log.
database.pragma(
  `wal_autocheckpoint = ${options.role === 'writer' ? WRITER_AUTOCHECKPOINT_FRAMES : 0}`,
);

if (options.role === 'writer') {
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
      begin.run();
      try {
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
} else {
  const checkpoint = database.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  // PASSIVE copies what it can without waiting for readers or writers, so the
  // writer keeps committing while it runs and its own checkpoints find most
  // frames copied already.
  let failuresInRow = 0;
  const timer = setInterval(() => {
    try {
      checkpoint.run();
      failuresInRow = 0;
    } catch (error) {
      // A busy database or a failed copy is retried at the next interval. The
      // first failure of a run is reported, so the log is not flooded.
      failuresInRow += 1;
      if (failuresInRow === 1) {
        const reply: CheckpointFailure = {
          checkpointFailed: error instanceof Error ? error.message : String(error),
        };
        port.postMessage(reply);
      }
    }
  }, options.checkpointIntervalMs);
  port.on('message', (message: unknown) => {
    if (message === 'stop') {
      clearInterval(timer);
      checkpoint.run();
      database.close();
      port.close();
    }
  });
}
