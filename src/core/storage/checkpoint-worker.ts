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
  /**
   * One Int32 flag that this thread sets to 1 when the log contains at least
   * `restartFrames` frames. A writer that commits continuously then finishes
   * the copy between two of its transactions (see the observation writer's
   * commit-worker.ts).
   */
  restartRequest: SharedArrayBuffer;
  restartFrames: number;
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
const checkpointStatement = database.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const restartRequest = new Int32Array(options.restartRequest);
let failing = false;

/**
 * Copies that follow a long one, each taking the frames appended during the
 * one before. With 1,000 agents a first copy of 100 ms of commits takes about
 * 20 ms, the next one about 5 ms, and two or three more leave a few dozen
 * frames.
 */
const MAX_CATCH_UP_COPIES = 4;
/** Frames appended during a copy below which the writer finishes the rest. */
const FEW_FRAMES = 100;

interface CheckpointResult {
  /** Frames in the log when the copy started. */
  log: number;
  checkpointed: number;
}

function checkpoint(): CheckpointResult {
  return checkpointStatement.get() as CheckpointResult;
}

function runCheckpoint(): void {
  try {
    let result = checkpoint();
    if (result.log >= options.restartFrames) {
      // A passive checkpoint never copies the frames appended while it runs,
      // so under continuous commits the log is never wholly copied when the
      // next transaction begins, and never starts over. This thread copies
      // until few frames were added during its last copy. Then it raises the
      // request, and the writer copies those few between two transactions.
      // The writer's copy and its sync of the database delay its commits, so
      // that copy must be short.
      for (let copies = 0; copies < MAX_CATCH_UP_COPIES; copies += 1) {
        const previousLog = result.log;
        result = checkpoint();
        // A log that started over meanwhile is shorter than before.
        if (result.log - previousLog <= FEW_FRAMES) {
          break;
        }
      }
      if (result.log >= options.restartFrames) {
        Atomics.store(restartRequest, 0, 1);
      }
    }
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
