/**
 * Worker thread entry of the WAL checkpointer (see wal-checkpointer.ts). It
 * opens its own connection to the SQLite file and runs a passive checkpoint
 * at every interval, so copying the log into the database and the two syncs
 * around it do not block the event loop.
 */
import SqliteDatabase from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

export interface CheckpointWorkerData {
  /** Path of the SQLite database file, which is in WAL mode. */
  file: string;
  /** Pause between checkpoints. */
  intervalMs: number;
  /** How long opening the connection waits for a lock held by another connection. */
  busyTimeoutMs: number;
}

/** Sent when a checkpoint fails after one that succeeded. */
export interface CheckpointFailure {
  checkpointFailed: string;
}

const port = parentPort;
if (port === null) {
  throw new Error('checkpoint-worker.ts runs only as a worker thread');
}
const options = workerData as CheckpointWorkerData;
const database = new SqliteDatabase(options.file, { timeout: options.busyTimeoutMs });
// This connection checkpoints only on the timer below, not on its own commits.
database.pragma('wal_autocheckpoint = 0');
// PASSIVE copies what it can without waiting for readers or writers, so
// commits go on while it runs. Once every frame is copied, the next writer
// starts the log from its beginning, which keeps the file small.
const checkpoint = database.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let failing = false;

function runCheckpoint(): void {
  try {
    checkpoint.run();
    failing = false;
  } catch (error) {
    // A failed copy is retried at the next interval. Only the first failure
    // of a run is reported, so the log is not flooded.
    if (!failing) {
      failing = true;
      const failure: CheckpointFailure = {
        checkpointFailed: error instanceof Error ? error.message : String(error),
      };
      port?.postMessage(failure);
    }
  }
}

const timer = setInterval(runCheckpoint, options.intervalMs);
port.on('message', (message: unknown) => {
  if (message === 'stop') {
    clearInterval(timer);
    runCheckpoint();
    database.close();
    port.close();
  }
});
