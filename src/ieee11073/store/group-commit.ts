/**
 * Group commit: observations from all connections share database
 * transactions, so the cost of a commit (an fsync on SQLite) is paid once per
 * batch instead of once per report. A submitter's promise settles only when
 * the transaction holding its work has committed, which is what lets the
 * manager acknowledge a report only after its observations are durable.
 */
import type { Kysely } from 'kysely';
import { ErrorKind, MedwardError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Storage } from '../../core/storage/index.js';
import type { Observation } from './model.js';
import type { Ieee11073Repository } from './repository.js';
import { yieldToEventLoop } from './yield.js';

export interface CommitWork {
  observations: readonly Observation[];
  /** Further writes of the same transaction (association rows, audit records), run before the observations. */
  operation?: (transaction: Kysely<object>) => Promise<void>;
}

export interface GroupCommitMetrics {
  /** Observations per committed transaction. */
  observeBatch(observations: number, seconds: number): void;
  /** A transaction failed; `items` submissions were in it. */
  countFailure(items: number): void;
}

export interface GroupCommitOptions {
  storage: Storage;
  repository: Ieee11073Repository;
  /** Observations per transaction; a single larger submission commits alone. */
  maxBatch: number;
  /** Longest time the first submission after an idle period waits for others. */
  maxDelayMs: number;
  logger: Logger;
  metrics?: GroupCommitMetrics;
  /** Called after each commit with the observations it made durable. */
  onCommitted?: (observations: readonly Observation[]) => void;
}

interface Pending {
  work: CommitWork;
  resolve: () => void;
  reject: (error: unknown) => void;
  queuedAtMs: number;
}

/**
 * Queues work and commits it in batches, one transaction at a time. A batch
 * starts when it holds `maxBatch` observations or when its oldest submission
 * has waited `maxDelayMs`, so no submission waits longer than `maxDelayMs`
 * plus the commit before it, and under load each commit (an fsync on SQLite,
 * which blocks the thread) covers everything that arrived meanwhile. Batches
 * commit in submission order.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private queuedObservations = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: GroupCommitOptions) {}

  /** Submissions waiting for a transaction. */
  get queuedCount(): number {
    return this.queue.length;
  }

  /**
   * Resolves once `work` is committed; rejects when its transaction failed.
   * After `stop` it rejects with IEEE11073_STORE_STOPPED.
   */
  submit(work: CommitWork): Promise<void> {
    if (this.stopped) {
      return Promise.reject(
        new MedwardError(
          ErrorKind.Unavailable,
          'IEEE11073_STORE_STOPPED',
          'observation store is stopped; the manager is shutting down',
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ work, resolve, reject, queuedAtMs: performance.now() });
      this.queuedObservations += work.observations.length;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running !== undefined || this.queue.length === 0) {
      return;
    }
    const oldest = this.queue[0]?.queuedAtMs ?? performance.now();
    const waitMs = oldest + this.options.maxDelayMs - performance.now();
    if (this.queuedObservations >= this.options.maxBatch || waitMs <= 0) {
      this.startCommit();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.startCommit();
    }, waitMs);
  }

  private startCommit(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.running !== undefined || this.queue.length === 0) {
      return;
    }
    const batch = this.takeBatch();
    this.running = this.commitBatch(batch).finally(() => {
      this.running = undefined;
      this.schedule();
    });
  }

  private takeBatch(): Pending[] {
    let count = 0;
    let taken = 0;
    while (taken < this.queue.length) {
      const size = this.queue[taken]?.work.observations.length ?? 0;
      if (taken > 0 && count + size > this.options.maxBatch) {
        break;
      }
      count += size;
      taken += 1;
    }
    const batch = this.queue.slice(0, taken);
    this.queue = this.queue.slice(taken);
    this.queuedObservations -= count;
    return batch;
  }

  private async commitBatch(batch: Pending[]): Promise<void> {
    try {
      const observations = await this.runTransaction(batch.map((pending) => pending.work));
      for (const pending of batch) {
        pending.resolve();
      }
      const onCommitted = this.options.onCommitted;
      if (onCommitted !== undefined && observations.length > 0) {
        // After the submitters' continuations, so acknowledgements go out first.
        setImmediate(() => {
          onCommitted(observations);
        });
      }
    } catch (error) {
      this.options.metrics?.countFailure(batch.length);
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      // One bad submission must not fail the others of its batch, so each is
      // retried in a transaction of its own.
      this.options.logger.warn(
        { err: error, submissions: batch.length },
        'ieee11073 batch commit failed; retrying its submissions one by one',
      );
      for (const pending of batch) {
        await this.commitBatch([pending]);
      }
    }
  }

  private async runTransaction(works: readonly CommitWork[]): Promise<Observation[]> {
    const startedAt = performance.now();
    const observations: Observation[] = [];
    for (const work of works) {
      for (const observation of work.observations) {
        observations.push(observation);
      }
    }
    await this.options.storage.db.transaction().execute(async (transaction) => {
      for (const work of works) {
        if (work.operation !== undefined) {
          await work.operation(transaction);
          await yieldToEventLoop();
        }
      }
      await this.options.repository.insertObservations(transaction, observations);
    });
    this.options.metrics?.observeBatch(observations.length, (performance.now() - startedAt) / 1000);
    return observations;
  }

  /** Commits everything queued now and resolves when it is committed and `onCommitted` has run. */
  async flush(): Promise<void> {
    while (this.running !== undefined || this.queue.length > 0) {
      if (this.running === undefined) {
        this.startCommit();
      }
      await this.running;
    }
    // onCommitted runs in a setImmediate callback; this one runs after it.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Flushes, then rejects further submissions. */
  async stop(): Promise<void> {
    await this.flush();
    this.stopped = true;
  }
}
