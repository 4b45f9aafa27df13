/**
 * Worker thread entry of the SQLite observation writer (see
 * sqlite-observation-writer.ts). It opens its own connection to the database
 * file and, depending on `role`, either commits batches of observation rows
 * with synchronous=FULL or runs passive WAL checkpoints, so neither the row
 * inserts, the fsync of each commit nor a checkpoint runs on the event-loop
 * thread of the manager.
 */
import SqliteDatabase from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

export interface CommitWorkerData {
  role: 'writer' | 'checkpointer';
  /** Path of the SQLite database file. */
  file: string;
  /** How long a statement waits for a lock held by another connection. */
  busyTimeoutMs: number;
  /** Writer: INSERT INTO table (columns) without its VALUES clause. */
  insertPrefix: string;
  columnCount: number;
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

export type CommitReply =
  { id: number; ok: true } | { id: number; ok: false; message: string; code: string | undefined };

/** Rows per multi-row INSERT of the writer. */
const MULTI_ROW_COUNT = 50;

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
// Checkpoints run only in the checkpointer thread.
database.pragma('wal_autocheckpoint = 0');

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

  const commitRows = (values: unknown[]): void => {
    begin.run();
    try {
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
      commit.run();
    } catch (error) {
      if (database.inTransaction) {
        rollback.run();
      }
      throw error;
    }
  };

  port.on('message', (request: CommitRequest | 'stop') => {
    if (request === 'stop') {
      database.close();
      port.close();
      return;
    }
    let reply: CommitReply;
    try {
      commitRows(request.values);
      reply = { id: request.id, ok: true };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      reply = {
        id: request.id,
        ok: false,
        message: error instanceof Error ? error.message : String(error),
        code: typeof code === 'string' ? code : undefined,
      };
    }
    port.postMessage(reply);
  });
} else {
  const checkpoint = database.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  // PASSIVE copies what it can without waiting for readers or writers, so the
  // writer keeps committing while it runs. Once every frame is copied, the
  // next writer starts the log from its beginning, which keeps the file small.
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
