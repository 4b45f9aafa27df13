import type SqliteDatabase from 'better-sqlite3';
import { sql, type Kysely, type Transaction } from 'kysely';
import { translateDatabaseError, type Storage } from '../core/storage/index.js';

/** The executor a write runs on: a transaction, possibly shared with other writes. */
export type WriteExecutor<T> = Transaction<T>;

export interface WriteOptions {
  /**
   * Lets the write's batch commit without blocking the event loop on the
   * disk sync (`Storage.transactionWithBackgroundSync`). The promise still
   * resolves only once the commit is on disk. Other requests can read the
   * rows before that, so every reader of the tables must wait for
   * `Storage.backgroundSyncsSettled()` before it reports what it read.
   */
  backgroundSync?: boolean;
  /**
   * On PostgreSQL, writes with the same key share a transaction when they
   * arrive together. The contentInstance creations of one container use its
   * address: they all update the container's row, whose lock would otherwise
   * let only one of their transactions commit at a time. On SQLite every
   * write is batched and the key is not used.
   */
  batchKey?: string;
}

interface PendingWrite<T, R> {
  work: (trx: WriteExecutor<T>) => Promise<R>;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
  backgroundSync: boolean;
}

type Outcome<T> =
  | { write: PendingWrite<T, unknown>; value: unknown }
  | { write: PendingWrite<T, unknown>; error: unknown };

const SAVEPOINT = 'savepoint write_queue_entry';
const RELEASE_SAVEPOINT = 'release savepoint write_queue_entry';
const ROLLBACK_TO_SAVEPOINT = 'rollback to savepoint write_queue_entry';

/** Maximum writes in one batch, which bounds how long one batch keeps the database or row locks. */
const MAX_BATCH = 64;

/** Upper bound of the wait for more writes before a batch starts. */
const MAX_GATHER_WINDOW_MS = 4;

/** Turns of the event loop without a new write after which a background-sync batch commits. */
const MAX_IDLE_TURNS = 2;

/**
 * Runs write transactions with group commit on SQLite.
 *
 * SQLite with synchronous=FULL syncs the WAL at every commit, and the sync
 * (0.2 to 5 ms on the development machine, depending on other disk traffic)
 * caps one-transaction-per-request at a few hundred to a few thousand
 * commits per second. The queue therefore runs the writes that arrive while
 * a commit is in progress together in the next transaction, one after the
 * other inside a savepoint: a write that fails rolls back to its savepoint
 * and is rejected alone. A write's promise resolves only after the COMMIT
 * of its batch is on disk, so a caller never reports a write that a crash
 * could still lose. If the COMMIT fails, every write of the batch is
 * rejected.
 *
 * A batch of writes that all allow `backgroundSync` commits without waiting
 * for the disk. Until it commits it also takes such writes that arrive
 * while it runs (see `extend`). The next batch starts while the write-ahead
 * log is synced on the thread pool, and the batch's promises resolve after
 * that sync. Other writes run in batches of their own with a synchronous
 * COMMIT.
 *
 * On PostgreSQL a write without a `batchKey` runs in a transaction of its
 * own, and the connection pool lets such commits overlap. Writes with a key
 * run in batches per key, the same way: one batch of a key at a time, each
 * write in a savepoint, and writes that arrive meanwhile join the batch
 * until it commits. Batches of different keys run concurrently.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the constraint of Kysely's withTables
export class WriteQueue<T extends Record<string, Record<string, any>>> {
  private readonly db: Kysely<T>;
  private readonly pending: PendingWrite<T, unknown>[] = [];
  private running = false;
  private lastCommitMs = 0;
  /** The wait of `gather`, ended by the write that brings the queue to `expected`. */
  private gathering: { expected: number; finish: () => void } | undefined;
  private statementsOf: SqliteDatabase.Database | undefined;
  private readonly statements = new Map<string, SqliteDatabase.Statement>();
  /** PostgreSQL writes by batch key, waiting for the batch of their key or running in it. */
  private readonly keyed = new Map<string, PendingWrite<T, unknown>[]>();

  constructor(private readonly storage: Storage) {
    this.db = storage.db.withTables<T>();
  }

  run<R>(work: (trx: WriteExecutor<T>) => Promise<R>, options: WriteOptions = {}): Promise<R> {
    if (this.storage.dialect === 'postgres') {
      return options.batchKey === undefined
        ? this.db.transaction().execute(work)
        : this.runKeyed(work, options.batchKey);
    }
    return new Promise<R>((resolve, reject) => {
      this.pending.push({
        work,
        resolve: resolve as (value: unknown) => void,
        reject,
        backgroundSync: options.backgroundSync === true,
      });
      if (this.gathering !== undefined && this.pending.length >= this.gathering.expected) {
        this.gathering.finish();
      }
      if (!this.running) {
        this.running = true;
        // better-sqlite3 runs synchronously, so a batch started right here would
        // finish before the event loop reads the other requests that arrived in
        // the same poll phase. Starting in the check phase lets them join.
        setImmediate(() => {
          void this.drain();
        });
      }
    });
  }

  /** Queues a PostgreSQL write for the batches of `key`, starting them when none runs. */
  private runKeyed<R>(work: (trx: WriteExecutor<T>) => Promise<R>, key: string): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const write: PendingWrite<T, unknown> = {
        work,
        resolve: resolve as (value: unknown) => void,
        reject,
        backgroundSync: true,
      };
      const queue = this.keyed.get(key);
      if (queue !== undefined) {
        queue.push(write);
        return;
      }
      const started = [write];
      this.keyed.set(key, started);
      // As on SQLite, writes read in the same poll phase join the first batch.
      setImmediate(() => {
        void this.drainKeyed(key, started);
      });
    });
  }

  /** Runs the batches of one key until its queue is empty. */
  private async drainKeyed(key: string, queue: PendingWrite<T, unknown>[]): Promise<void> {
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, MAX_BATCH);
        let outcomes: Outcome<T>[];
        try {
          outcomes = await this.db.transaction().execute(async (trx) => {
            const done = await this.runWrites(trx, batch);
            await this.extend(trx, batch, done, queue);
            return done;
          });
        } catch (error) {
          for (const write of batch) {
            write.reject(error);
          }
          continue;
        }
        settle(outcomes);
      }
    } finally {
      this.keyed.delete(key);
    }
  }

  private async drain(): Promise<void> {
    // Writers that keep writing concurrently: those of the last batch and
    // those whose writes arrived while it ran.
    let writers = 1;
    let previousBackground = false;
    try {
      for (;;) {
        if (writers > 1 && !previousBackground) {
          // The writers of the last batch usually come back with their next
          // write. Waiting for all writers merges them into one batch and one
          // commit, also when they had split into groups that alternate.
          // Writers of a background-sync batch come back only after the
          // sync, so waiting for them would only delay the writes queued.
          await this.gather(Math.min(MAX_BATCH, writers));
        }
        const batch = this.takeBatch();
        if (batch.length === 0) {
          return;
        }
        previousBackground = batch[0]?.backgroundSync === true;
        await this.runBatch(batch);
        writers = batch.length + this.pending.length;
      }
    } finally {
      this.running = false;
    }
  }

  /** Takes the next writes in arrival order that share one sync mode, at most MAX_BATCH. */
  private takeBatch(): PendingWrite<T, unknown>[] {
    const first = this.pending[0];
    if (first === undefined) {
      return [];
    }
    let count = 1;
    while (
      count < MAX_BATCH &&
      count < this.pending.length &&
      this.pending[count]?.backgroundSync === first.backgroundSync
    ) {
      count += 1;
    }
    return this.pending.splice(0, count);
  }

  /**
   * Waits briefly until `expected` writes are queued, because the responses
   * of the last batch went out at its commit and the writers' next requests
   * need a few event loop turns to arrive. `drain` calls it only when
   * several writers were active, so a single writer never waits. The wait
   * ends on the write that completes the count (see `run`), or after as long
   * as the last commit took: at most the price of one more commit for the
   * late writers, and a writer that stopped writing costs one wait, after
   * which `drain` counts the writers again.
   */
  private async gather(expected: number): Promise<void> {
    const windowMs = Math.min(this.lastCommitMs, MAX_GATHER_WINDOW_MS);
    if (this.pending.length >= expected || windowMs <= 0) {
      return;
    }
    await new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.gathering = undefined;
        resolve();
      };
      const timer = setTimeout(finish, windowMs);
      this.gathering = { expected, finish };
    });
  }

  private async runBatch(batch: PendingWrite<T, unknown>[]): Promise<void> {
    let outcomes: Outcome<T>[];
    let durable: Promise<void> | undefined;
    try {
      if (batch[0]?.backgroundSync === true) {
        const committed = await this.storage.transactionWithBackgroundSync<T, Outcome<T>[]>(
          async (trx) => {
            const outcomes = await this.runWrites(trx, batch);
            await this.extend(trx, batch, outcomes, this.pending);
            return outcomes;
          },
        );
        outcomes = committed.value;
        durable = committed.durable;
      } else {
        outcomes = await this.runWithSynchronousCommit(batch);
      }
    } catch (error) {
      for (const write of batch) {
        write.reject(error);
      }
      return;
    }
    if (durable === undefined) {
      settle(outcomes);
      return;
    }
    durable.then(
      () => {
        settle(outcomes);
      },
      (error: unknown) => {
        for (const write of batch) {
          write.reject(error);
        }
      },
    );
  }

  private async runWithSynchronousCommit(batch: PendingWrite<T, unknown>[]): Promise<Outcome<T>[]> {
    const trx = await this.db.startTransaction().execute();
    try {
      const outcomes = await this.runWrites(trx, batch);
      const commitStart = performance.now();
      await trx.commit().execute();
      this.lastCommitMs = performance.now() - commitStart;
      return outcomes;
    } catch (error) {
      await trx
        .rollback()
        .execute()
        .catch(() => undefined);
      throw error;
    }
  }

  /**
   * Runs the writes of a batch on its transaction. A single write runs
   * without a savepoint, and its failure fails the transaction. Several
   * writes each run inside the same savepoint name, which is released before
   * the next write starts. The fixed statement texts are prepared once.
   */
  private async runWrites(
    trx: Transaction<T>,
    batch: PendingWrite<T, unknown>[],
  ): Promise<Outcome<T>[]> {
    const [only] = batch;
    if (batch.length === 1 && only !== undefined) {
      return [{ write: only, value: await only.work(trx) }];
    }
    const outcomes: Outcome<T>[] = [];
    for (const write of batch) {
      outcomes.push(await this.runInSavepoint(trx, write));
    }
    return outcomes;
  }

  private async runInSavepoint(
    trx: Transaction<T>,
    write: PendingWrite<T, unknown>,
  ): Promise<Outcome<T>> {
    await this.savepoint(trx, SAVEPOINT);
    try {
      const value = await write.work(trx);
      await this.savepoint(trx, RELEASE_SAVEPOINT);
      return { write, value };
    } catch (error) {
      await this.savepoint(trx, ROLLBACK_TO_SAVEPOINT);
      await this.savepoint(trx, RELEASE_SAVEPOINT);
      return { write, error };
    }
  }

  /**
   * Adds background-sync writes to an open background-sync batch while they
   * keep arriving: the batch commits once MAX_IDLE_TURNS turns of the event
   * loop in a row brought none, or when it is full. Clients whose responses
   * left together after one sync send their next requests almost together,
   * but the server reads them over several turns. In one batch they cost one
   * commit and one sync of the log instead of several. An idle turn takes a
   * few microseconds.
   */
  private async extend(
    trx: Transaction<T>,
    batch: PendingWrite<T, unknown>[],
    outcomes: Outcome<T>[],
    queue: PendingWrite<T, unknown>[],
  ): Promise<void> {
    let idleTurns = 0;
    while (batch.length < MAX_BATCH) {
      const next = queue[0];
      if (next !== undefined) {
        if (!next.backgroundSync) {
          return;
        }
        queue.shift();
        batch.push(next);
        outcomes.push(await this.runInSavepoint(trx, next));
        idleTurns = 0;
        continue;
      }
      if (idleTurns >= MAX_IDLE_TURNS) {
        return;
      }
      idleTurns += 1;
      await new Promise<void>((resolve) => {
        setImmediate(resolve);
      });
    }
  }

  /**
   * Runs a savepoint statement in the batch's transaction. On SQLite it runs
   * as a prepared statement on the connection, which the transaction holds.
   */
  private async savepoint(trx: Transaction<T>, command: string): Promise<void> {
    const sqlite = this.storage.sqliteHandle;
    if (sqlite === undefined) {
      await sql.raw(command).execute(trx);
      return;
    }
    if (this.statementsOf !== sqlite) {
      this.statements.clear();
      this.statementsOf = sqlite;
    }
    let statement = this.statements.get(command);
    if (statement === undefined) {
      statement = sqlite.prepare(command);
      this.statements.set(command, statement);
    }
    try {
      statement.run();
    } catch (error) {
      throw translateDatabaseError(error);
    }
  }
}

function settle<T>(outcomes: readonly Outcome<T>[]): void {
  for (const outcome of outcomes) {
    if ('error' in outcome) {
      outcome.write.reject(outcome.error);
    } else {
      outcome.write.resolve(outcome.value);
    }
  }
}
