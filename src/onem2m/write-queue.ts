import type { Kysely, Transaction } from 'kysely';
import type { Storage } from '../core/storage/index.js';

/** The executor a write runs on: a transaction, or a savepoint inside a shared one. */
export type WriteExecutor<T> = Transaction<T>;

interface PendingWrite<T, R> {
  work: (trx: WriteExecutor<T>) => Promise<R>;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/** Maximum writes in one SQLite transaction, which bounds how long one batch keeps the database. */
const MAX_BATCH = 64;

/** Upper bound of the wait for more writes before a batch starts. */
const MAX_GATHER_WINDOW_MS = 4;

/**
 * Runs write transactions with group commit on SQLite.
 *
 * SQLite with synchronous=FULL syncs the WAL at every commit, and the sync
 * (about 0.5 ms on the development machine) caps one-transaction-per-request
 * at about 2000 commits per second. The queue therefore runs the writes that
 * arrive while a commit is in progress together in the next transaction,
 * each inside its own savepoint: a write that fails rolls back to its
 * savepoint and is rejected alone. A write's promise resolves only after the
 * COMMIT of its batch succeeded, so a caller never reports a write that a
 * crash could still lose. If the COMMIT fails, every write of the batch is
 * rejected.
 *
 * On PostgreSQL each write runs in a transaction of its own; the connection
 * pool already lets commits overlap.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the constraint of Kysely's withTables
export class WriteQueue<T extends Record<string, Record<string, any>>> {
  private readonly db: Kysely<T>;
  private readonly pending: PendingWrite<T, unknown>[] = [];
  private running = false;
  private lastCommitMs = 0;

  constructor(private readonly storage: Storage) {
    this.db = storage.db.withTables<T>();
  }

  run<R>(work: (trx: WriteExecutor<T>) => Promise<R>): Promise<R> {
    if (this.storage.dialect === 'postgres') {
      return this.db.transaction().execute(work);
    }
    return new Promise<R>((resolve, reject) => {
      this.pending.push({
        work,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
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

  private async drain(): Promise<void> {
    let previousSize = 1;
    let sizeBefore = 1;
    try {
      for (;;) {
        if (previousSize > 1) {
          // The writers of the last batch usually come back with their next
          // write. Waiting for them (and for a second group that alternates
          // with them) merges both into one batch and one commit.
          await this.gather(Math.min(MAX_BATCH, previousSize + sizeBefore));
        }
        if (this.pending.length === 0) {
          return;
        }
        const batch = this.pending.splice(0, MAX_BATCH);
        sizeBefore = previousSize;
        previousSize = batch.length;
        await this.runBatch(batch);
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * Waits briefly for the writers of the previous batch to send their next
   * write, because their responses went out at the commit and their next
   * requests need a few event loop turns to arrive. `drain` calls it only
   * after a batch of several writes, so a single writer never waits.
   */
  private async gather(expected: number): Promise<void> {
    // Waiting as long as the last commit took costs at most one commit, the
    // price of running the late writers in a batch of their own.
    const deadline = performance.now() + Math.min(this.lastCommitMs, MAX_GATHER_WINDOW_MS);
    while (this.pending.length < expected && performance.now() < deadline) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private async runBatch(batch: PendingWrite<T, unknown>[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [PendingWrite<T, unknown>];
      try {
        only.resolve(await this.db.transaction().execute(only.work));
      } catch (error) {
        only.reject(error);
      }
      return;
    }
    const succeeded: { write: PendingWrite<T, unknown>; value: unknown }[] = [];
    const failed: { write: PendingWrite<T, unknown>; error: unknown }[] = [];
    let trx;
    try {
      trx = await this.db.startTransaction().execute();
    } catch (error) {
      for (const write of batch) {
        write.reject(error);
      }
      return;
    }
    try {
      for (const [index, write] of batch.entries()) {
        const name = `w${index}`;
        const savepoint = await trx.savepoint(name).execute();
        try {
          const value = await write.work(savepoint);
          await savepoint.releaseSavepoint(name).execute();
          succeeded.push({ write, value });
        } catch (error) {
          await savepoint.rollbackToSavepoint(name).execute();
          await savepoint.releaseSavepoint(name).execute();
          failed.push({ write, error });
        }
      }
      const commitStart = performance.now();
      await trx.commit().execute();
      this.lastCommitMs = performance.now() - commitStart;
    } catch (error) {
      await trx
        .rollback()
        .execute()
        .catch(() => undefined);
      for (const { write } of succeeded) {
        write.reject(error);
      }
      for (const { write } of failed) {
        write.reject(error);
      }
      const remaining = batch.filter(
        (write) =>
          !succeeded.some((s) => s.write === write) && !failed.some((f) => f.write === write),
      );
      for (const write of remaining) {
        write.reject(error);
      }
      return;
    }
    for (const { write, value } of succeeded) {
      write.resolve(value);
    }
    for (const { write, error } of failed) {
      write.reject(error);
    }
  }
}
