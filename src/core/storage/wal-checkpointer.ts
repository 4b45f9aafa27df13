import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.js';
import { workerEntry } from '../worker-entry.js';
import type { CheckpointFailure, CheckpointWorkerData } from './checkpoint-worker.js';

export interface WalCheckpointerOptions extends CheckpointWorkerData {
  logger: Logger;
  /** Called when the thread ended without `stop`, so checkpoints must run elsewhere again. */
  onUnexpectedExit: () => void;
}

/**
 * Runs passive checkpoints of a SQLite file in WAL mode on a worker thread
 * with a connection of its own. The connection that commits turns its
 * automatic checkpoints off meanwhile: they run inside a COMMIT and sync the
 * log and the database file, which stalls the event loop for as long as the
 * disk takes.
 */
export class WalCheckpointer {
  private worker: Worker | undefined;
  private exited: Promise<void> | undefined;
  private stopping = false;

  constructor(private readonly options: WalCheckpointerOptions) {}

  start(): void {
    const { logger, onUnexpectedExit, ...workerData } = this.options;
    const { entry, eval: isScript } = workerEntry(new URL('./checkpoint-worker', import.meta.url));
    const worker = new Worker(entry, { workerData, eval: isScript });
    // A storage that is never stopped must not keep the process alive.
    worker.unref();
    worker.on('message', (failure: CheckpointFailure) => {
      logger.warn(
        { file: workerData.file, reason: failure.checkpointFailed },
        'sqlite wal checkpoint failed; retrying at the next interval',
      );
    });
    worker.on('error', (error) => {
      logger.error({ err: error, file: workerData.file }, 'sqlite wal checkpoint thread failed');
    });
    this.exited = new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        this.worker = undefined;
        if (!this.stopping) {
          logger.error(
            { file: workerData.file, code },
            'sqlite wal checkpoint thread exited; checkpoints run on commit again',
          );
          onUnexpectedExit();
        }
        resolve();
      });
    });
    this.worker = worker;
    logger.info({ file: workerData.file }, 'sqlite wal checkpoint thread started');
  }

  /** Stops the thread after one more checkpoint. */
  async stop(): Promise<void> {
    this.stopping = true;
    // Keeps the process alive until the thread has closed its connection.
    this.worker?.ref();
    this.worker?.postMessage('stop');
    await this.exited;
  }
}
