/**
 * Commits observation rows to a SQLite file from a worker thread with its own
 * connection, so the inserts and the fsync of each commit do not block the
 * event loop that serves the agents. A second worker thread runs passive WAL
 * checkpoints, and the writer finishes them between its transactions (see
 * commit-worker.ts). The main connection's automatic checkpoints are turned
 * off while the writer runs and restored when it stops.
 */
import type SqliteDatabase from 'better-sqlite3';
import { Worker } from 'node:worker_threads';
import { ErrorKind, MedwardError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { translateDatabaseError } from '../../core/storage/index.js';
import type {
  CheckpointFailure,
  CommitReply,
  CommitRequest,
  CommitWorkerData,
} from './commit-worker.js';
import type { GroupCommitMetrics } from './group-commit.js';
import type { Observation } from './model.js';
import {
  INSERT_OBSERVATION_OR_ROLLBACK_PREFIX,
  OBSERVATION_COLUMN_COUNT,
  appendObservationValues,
} from './repository.js';

export interface SqliteObservationWriterOptions {
  /** Path of the SQLite database file; it must be in WAL mode. */
  file: string;
  /** How long the worker's statements wait for a lock held by the main connection. */
  busyTimeoutMs: number;
  /** Pause between passive WAL checkpoints. */
  checkpointIntervalMs: number;
  /** Rows per transaction when the thread merges waiting batches; a larger batch commits alone. */
  maxBatchRows: number;
  logger: Logger;
  /** Receives each transaction the thread committed. */
  metrics?: GroupCommitMetrics;
}

interface PendingCommit {
  resolve: () => void;
  reject: (error: unknown) => void;
}

// Under tsx the sources run as .ts and a worker thread must register tsx's
// loader before it imports the entry, because the tsx command line does not
// pass its loader on to workers. The built package runs the .js entry directly.
const runsTypeScript = import.meta.url.endsWith('.ts');
const workerUrl = new URL(`./commit-worker.${runsTypeScript ? 'ts' : 'js'}`, import.meta.url);

function workerEntry(): URL | string {
  if (!runsTypeScript) {
    return workerUrl;
  }
  const tsxApi = import.meta.resolve('tsx/esm/api');
  return (
    `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); ` +
    `return import(${JSON.stringify(workerUrl.href)}); });`
  );
}

function startWorker(workerData: CommitWorkerData): { worker: Worker; exited: Promise<void> } {
  const entry = workerEntry();
  const worker = new Worker(entry, { workerData, eval: typeof entry === 'string' });
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      resolve();
    });
  });
  return { worker, exited };
}

/**
 * Returns the file of a SQLite connection when a second connection from a
 * worker thread can write to it: a file database in WAL mode. Returns
 * undefined for an in-memory database or another journal mode.
 */
export function sqliteFileForWorker(sqlite: SqliteDatabase.Database): string | undefined {
  if (sqlite.memory || sqlite.name === '') {
    return undefined;
  }
  const journalMode: unknown = sqlite.pragma('journal_mode', { simple: true });
  return journalMode === 'wal' ? sqlite.name : undefined;
}

export class SqliteObservationWriter {
  private writer: Worker | undefined;
  private checkpointer: Worker | undefined;
  private readonly exits: Promise<void>[] = [];
  private readonly pending = new Map<number, PendingCommit>();
  private nextId = 1;
  private failure: unknown;
  private restoreAutocheckpoint: (() => void) | undefined;

  constructor(private readonly options: SqliteObservationWriterOptions) {}

  /** True while the worker can take commits; false before start, after stop or after it failed. */
  get available(): boolean {
    return this.writer !== undefined && this.failure === undefined;
  }

  /**
   * Starts both worker threads. `mainConnection` is the connection that
   * serves everything else; its automatic checkpoints stop until `stop`.
   */
  start(mainConnection: SqliteDatabase.Database): void {
    const common = {
      file: this.options.file,
      busyTimeoutMs: this.options.busyTimeoutMs,
      insertPrefix: INSERT_OBSERVATION_OR_ROLLBACK_PREFIX,
      columnCount: OBSERVATION_COLUMN_COUNT,
      maxBatchRows: this.options.maxBatchRows,
      checkpointIntervalMs: this.options.checkpointIntervalMs,
    };
    const writerData: CommitWorkerData = { ...common, role: 'writer' };
    const checkpointerData: CommitWorkerData = { ...common, role: 'checkpointer' };
    const { worker: writer, exited: writerExited } = startWorker(writerData);
    writer.on('message', (reply: CommitReply) => {
      this.settle(reply);
    });
    writer.on('error', (error) => {
      this.fail(error);
    });
    writer.on('exit', (code) => {
      if (this.writer === writer) {
        this.fail(new Error(`observation writer thread exited with code ${code}`));
      }
    });
    const { worker: checkpointer, exited: checkpointerExited } = startWorker(checkpointerData);
    this.exits.push(writerExited, checkpointerExited);
    checkpointer.on('message', (failure: CheckpointFailure) => {
      this.options.logger.warn(
        { file: this.options.file, reason: failure.checkpointFailed },
        'ieee11073 wal checkpoint failed; retrying at the next interval',
      );
    });
    checkpointer.on('error', (error) => {
      this.options.logger.error({ err: error }, 'ieee11073 wal checkpoint thread failed');
    });
    this.writer = writer;
    this.checkpointer = checkpointer;
    const previous: unknown = mainConnection.pragma('wal_autocheckpoint', { simple: true });
    mainConnection.pragma('wal_autocheckpoint = 0');
    this.restoreAutocheckpoint = () => {
      mainConnection.pragma(`wal_autocheckpoint = ${Number(previous)}`);
    };
  }

  /** Resolves once the rows of `observations` are committed with synchronous=FULL. */
  commit(observations: readonly Observation[]): Promise<void> {
    const writer = this.writer;
    if (writer === undefined || this.failure !== undefined) {
      return Promise.reject(this.unavailableError());
    }
    const values: unknown[] = [];
    for (const observation of observations) {
      appendObservationValues(values, observation);
    }
    const id = this.nextId;
    this.nextId += 1;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const request: CommitRequest = { id, values };
      writer.postMessage(request);
    });
  }

  /** Stops both threads after the commits already posted; checkpoints once more on the way. */
  async stop(): Promise<void> {
    const writer = this.writer;
    const checkpointer = this.checkpointer;
    this.writer = undefined;
    this.checkpointer = undefined;
    // A thread that already exited ignores the message; its exit promise is settled.
    writer?.postMessage('stop');
    checkpointer?.postMessage('stop');
    await Promise.all(this.exits);
    this.exits.length = 0;
    this.rejectPending(this.unavailableError());
    this.restoreAutocheckpoint?.();
    this.restoreAutocheckpoint = undefined;
  }

  private settle(reply: CommitReply): void {
    if (reply.ok) {
      this.options.metrics?.observeBatch(reply.rows, reply.durationMs / 1000);
    }
    for (const id of reply.ids) {
      const pending = this.pending.get(id);
      if (pending === undefined) {
        continue;
      }
      this.pending.delete(id);
      if (reply.ok) {
        pending.resolve();
        continue;
      }
      const error = new Error(reply.message) as Error & { code?: string };
      if (reply.code !== undefined) {
        error.code = reply.code;
      }
      pending.reject(translateDatabaseError(error));
    }
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) {
      return;
    }
    this.failure = error;
    this.options.logger.error(
      { err: error, pendingCommits: this.pending.size },
      'ieee11073 observation writer thread failed; committing on the main connection',
    );
    this.rejectPending(this.unavailableError());
  }

  private rejectPending(error: MedwardError): void {
    for (const pending of this.pending.values()) {
      pending.reject(error);
    }
    this.pending.clear();
  }

  private unavailableError(): MedwardError {
    return new MedwardError(
      ErrorKind.Unavailable,
      'IEEE11073_WRITER_UNAVAILABLE',
      'observation writer thread is not running; the commit was not made, so send the report again',
      { cause: this.failure },
    );
  }
}
