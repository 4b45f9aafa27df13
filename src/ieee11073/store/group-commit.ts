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
  /**
   * Maximum time a submission waits for others before its batch is handed to
   * the database, unless earlier batches still occupy every commit slot. With
   * 0 a batch collects the submissions of one event-loop turn.
   */
  maxDelayMs: number;
  logger: Logger;
  /** Receives the transactions of the storage's connection; a writer reports its own. */
  metrics?: GroupCommitMetrics;
  /** Called after each commit with the observations it made durable. */
  onCommitted?: (observations: readonly Observation[]) => void;
  /** Commits observation-only submissions off the event-loop thread; see `GroupCommitter`. */
  writer?: ObservationWriter;
}

/**
 * Commits observations on a connection of its own; `SqliteObservationWriter`
 * is one. A writer may merge the batches it was given into one transaction,
 * so it reports its transactions to the metrics itself.
 */
export interface ObservationWriter {
  /** False once the writer cannot take commits; the main connection takes them then. */
  readonly available: boolean;
  /** Resolves once the observations are durable; rejects with IEEE11073_WRITER_UNAVAILABLE when the writer died. */
  commit(observations: readonly Observation[]): Promise<void>;
}

interface Pending {
  work: CommitWork;
  resolve: () => void;
  reject: (error: unknown) => void;
  queuedAtMs: number;
}

interface CommitOutcome {
  observations: Observation[];
  /** True when a writer already reported the transaction to the metrics. */
  measured: boolean;
  /**
   * Settles once the committed transaction is on disk. Until then its batch's
   * submitters wait, while the next batch may already commit.
   */
  durable: Promise<void>;
}

type CommitFunction = (works: readonly CommitWork[]) => Promise<CommitOutcome>;

interface CommitQueueOptions extends GroupCommitOptions {
  /**
   * Batches handed to the database and not yet committed. With more than one,
   * the next batch reaches a writer thread while the previous one commits, so
   * the thread does not wait for a round trip through the event loop.
   */
  maxInFlight: number;
  /** Submissions per batch. */
  maxWorks: number;
}

/**
 * Queues work and commits it in batches. A batch starts when it contains
 * `maxBatch` observations, or when its oldest submission has waited
 * `maxDelayMs` and fewer than `maxInFlight` batches are committing. Under
 * load each batch covers everything that arrived while the batches before it
 * committed. Batches reach the database in submission order.
 */
class CommitQueue {
  private queue: Pending[] = [];
  private queuedObservations = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly options: CommitQueueOptions,
    private readonly commit: CommitFunction,
  ) {}

  get queuedCount(): number {
    return this.queue.length;
  }

  get idle(): boolean {
    return this.running.size === 0 && this.queue.length === 0;
  }

  add(work: CommitWork): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ work, resolve, reject, queuedAtMs: performance.now() });
      this.queuedObservations += work.observations.length;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.queue.length === 0 || this.running.size >= this.options.maxInFlight) {
      return;
    }
    if (
      this.queuedObservations >= this.options.maxBatch ||
      this.queue.length >= this.options.maxWorks
    ) {
      this.startCommit();
      return;
    }
    if (this.timer !== undefined || this.immediate !== undefined) {
      return;
    }
    const oldest = this.queue[0]?.queuedAtMs ?? performance.now();
    const waitMs = oldest + this.options.maxDelayMs - performance.now();
    if (waitMs > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.startCommit();
      }, waitMs);
      return;
    }
    // After the sockets of this event-loop turn are read, so their reports join the batch.
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.startCommit();
    });
  }

  private startCommit(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.immediate !== undefined) {
      clearImmediate(this.immediate);
      this.immediate = undefined;
    }
    if (this.queue.length === 0 || this.running.size >= this.options.maxInFlight) {
      return;
    }
    const batch = this.takeBatch();
    const committing = this.commitBatch(batch).finally(() => {
      this.running.delete(committing);
      this.schedule();
    });
    this.running.add(committing);
    // The rest of the queue may fill another batch already.
    this.schedule();
  }

  private takeBatch(): Pending[] {
    let count = 0;
    let taken = 0;
    while (taken < this.queue.length && taken < this.options.maxWorks) {
      const size = this.queue[taken]?.work.observations.length ?? 0;
      if (taken > 0 && count + size > this.options.maxBatch) {
        break;
      }
      count += size;
      taken += 1;
    }
    this.queuedObservations -= count;
    if (taken === this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      return batch;
    }
    return this.queue.splice(0, taken);
  }

  private async commitBatch(batch: Pending[]): Promise<void> {
    try {
      const startedAt = performance.now();
      const outcome = await this.commit(batch.map((pending) => pending.work));
      const observations = outcome.observations;
      if (!outcome.measured) {
        this.options.metrics?.observeBatch(
          observations.length,
          (performance.now() - startedAt) / 1000,
        );
      }
      outcome.durable.then(
        () => {
          this.settleDurable(batch, observations);
        },
        (error: unknown) => {
          // The disk failed under a committed transaction: nothing of it may be reported.
          this.options.metrics?.countFailure(batch.length);
          for (const pending of batch) {
            pending.reject(error);
          }
        },
      );
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

  private settleDurable(batch: readonly Pending[], observations: readonly Observation[]): void {
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
  }

  /** Commits everything queued now and resolves when it is committed and on disk. */
  async flush(): Promise<void> {
    while (this.running.size > 0 || this.queue.length > 0) {
      this.startCommit();
      await Promise.all([...this.running]);
    }
    await this.options.storage.backgroundSyncsSettled().catch(() => undefined);
  }
}

function collectObservations(works: readonly CommitWork[]): Observation[] {
  const observations: Observation[] = [];
  for (const work of works) {
    for (const observation of work.observations) {
      observations.push(observation);
    }
  }
  return observations;
}

/**
 * Batches handed to a writer thread before the first of them has committed.
 * The thread merges the batches waiting for it into one transaction, so more
 * batches in flight cost messages, not commits.
 */
const WRITER_MAX_IN_FLIGHT = 4;

/**
 * Submissions with an `operation` (association records, audit records) per
 * transaction on the storage's connection. Such a transaction keeps the
 * database's write lock while it runs on the event-loop thread, and the
 * observation writer waits for it. With 1,000 agents associating at once,
 * about 100 queued, and a transaction of 100 kept the lock for 40 to 70 ms.
 * 16 take about 5 ms.
 */
const TRANSACTION_MAX_WORKS = 16;

/**
 * Routes submissions to two commit queues. Work with an `operation` commits
 * through the storage's own connection, one transaction at a time.
 * Observations alone commit through `writer` when one is given and running
 * (SQLite files), so their inserts and fsyncs leave the event-loop thread, and
 * through the storage's connection otherwise (PostgreSQL, in-memory SQLite, a
 * failed writer thread). The two queues commit independently, so only
 * submissions of the same kind keep their order. A session awaits its
 * association record before it accepts observations, so no observation can
 * precede the row it refers to.
 */
export class GroupCommitter {
  private readonly transactions: CommitQueue;
  private readonly observationsOnly: CommitQueue;
  private stopped = false;

  constructor(private readonly options: GroupCommitOptions) {
    this.transactions = new CommitQueue(
      { ...options, maxInFlight: 1, maxWorks: TRANSACTION_MAX_WORKS },
      (works) => this.runTransaction(works),
    );
    this.observationsOnly = new CommitQueue(
      { ...options, maxInFlight: WRITER_MAX_IN_FLIGHT, maxWorks: Number.POSITIVE_INFINITY },
      (works) => this.commitObservations(works),
    );
  }

  /** Submissions waiting for a transaction. */
  get queuedCount(): number {
    return this.transactions.queuedCount + this.observationsOnly.queuedCount;
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
    if (work.operation === undefined && this.options.writer?.available === true) {
      return this.observationsOnly.add(work);
    }
    return this.transactions.add(work);
  }

  private async commitObservations(works: readonly CommitWork[]): Promise<CommitOutcome> {
    const writer = this.options.writer;
    if (writer === undefined || !writer.available) {
      return this.runTransaction(works);
    }
    const observations = collectObservations(works);
    try {
      await writer.commit(observations);
    } catch (error) {
      if (!(error instanceof MedwardError) || error.code !== 'IEEE11073_WRITER_UNAVAILABLE') {
        throw error;
      }
      // The thread died with this batch: commit it on the main connection. A
      // batch the thread had committed fails there with a key conflict, so
      // its reports stay unacknowledged and the agents send them again.
      return this.runTransaction(works);
    }
    return { observations, measured: true, durable: Promise.resolve() };
  }

  /**
   * Commits on the storage's connection. On a SQLite file the COMMIT does not
   * wait for the disk, because the log is synced on the thread pool. So the
   * write lock is free for the writer thread during that sync, and the event
   * loop does not block on it.
   */
  private async runTransaction(works: readonly CommitWork[]): Promise<CommitOutcome> {
    const observations = collectObservations(works);
    const { durable } = await this.options.storage.transactionWithBackgroundSync(async (typed) => {
      const transaction = typed as unknown as Kysely<object>;
      for (const work of works) {
        if (work.operation !== undefined) {
          await work.operation(transaction);
        }
      }
      await this.options.repository.insertObservations(transaction, observations);
    });
    return { observations, measured: false, durable };
  }

  /** Commits everything queued now and resolves when it is committed and `onCommitted` has run. */
  async flush(): Promise<void> {
    while (!this.transactions.idle || !this.observationsOnly.idle) {
      await Promise.all([this.transactions.flush(), this.observationsOnly.flush()]);
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
