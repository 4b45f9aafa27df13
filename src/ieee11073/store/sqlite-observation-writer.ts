/**
 * Commits observation rows to a SQLite file from a worker thread with its own
 * connection, so the inserts and the fsync of each commit do not block the
 * event loop that serves the agents. The storage's checkpoint thread copies
 * the log into the database, and the writer finishes those copies between
 * its transactions (see commit-worker.ts).
 */
import type SqliteDatabase from 'better-sqlite3';
import { Worker } from 'node:worker_threads';
import { ErrorKind, MedwardError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { translateDatabaseError } from '../../core/storage/index.js';
import type { MainWriteLock } from '../../core/storage/write-lock.js';
import { workerEntry } from '../../core/worker-entry.js';
import type { CommitReply, CommitRequest, CommitWorkerData } from './commit-worker.js';
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
  /** How long the worker's statements wait for a lock held by another process. */
  busyTimeoutMs: number;
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

function startWorker(workerData: CommitWorkerData): { worker: Worker; exited: Promise<void> } {
  const { entry, eval: isScript } = workerEntry(new URL('./commit-worker', import.meta.url));
  const worker = new Worker(entry, { workerData, eval: isScript });
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

/** Shared memory of the writer thread and the storage that owns the file. */
export interface SharedWriteState {
  /** Taken around each of the writer's transactions; see write-lock.ts. */
  writeLock: MainWriteLock;
  /** The storage checkpoint thread's restart request; see checkpoint-worker.ts. */
  restartRequest: SharedArrayBuffer;
}

export class SqliteObservationWriter {
  private writer: Worker | undefined;
  private exited: Promise<void> | undefined;
  private readonly pending = new Map<number, PendingCommit>();
  private nextId = 1;
  private failure: unknown;

  constructor(private readonly options: SqliteObservationWriterOptions) {}

  /** True while the worker can take commits; false before start, after stop or after it failed. */
  get available(): boolean {
    return this.writer !== undefined && this.failure === undefined;
  }

  /** Starts the writer thread. */
  start(shared: SharedWriteState): void {
    const { worker: writer, exited } = startWorker({
      file: this.options.file,
      busyTimeoutMs: this.options.busyTimeoutMs,
      insertPrefix: INSERT_OBSERVATION_OR_ROLLBACK_PREFIX,
      columnCount: OBSERVATION_COLUMN_COUNT,
      maxBatchRows: this.options.maxBatchRows,
      writeLock: shared.writeLock.buffer,
      restartRequest: shared.restartRequest,
    });
    writer.on('message', (reply: CommitReply) => {
      this.settle(reply);
    });
    writer.on('error', (error) => {
      this.fail(error);
    });
    writer.on('exit', (code) => {
      shared.writeLock.releaseAbandoned();
      if (this.writer === writer) {
        this.fail(new Error(`observation writer thread exited with code ${code}`));
      }
    });
    this.writer = writer;
    this.exited = exited;
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

  /** Stops the thread after the commits already posted. */
  async stop(): Promise<void> {
    const writer = this.writer;
    this.writer = undefined;
    // A thread that already exited ignores the message; its exit promise is settled.
    writer?.postMessage('stop');
    await this.exited;
    this.exited = undefined;
    this.rejectPending(this.unavailableError());
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
