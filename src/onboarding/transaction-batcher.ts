import { sql, type Transaction } from 'kysely';
import { currentContext, runWithContext } from '../core/context.js';
import type { Logger } from '../core/logger.js';
import type { Storage } from '../core/storage/index.js';

export type BatchedWork<T> = (trx: Transaction<object>) => Promise<T>;

interface Pending {
  work: BatchedWork<unknown>;
  context: ReturnType<typeof currentContext>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface TransactionBatcherOptions {
  storage: Storage;
  logger: Logger;
  /** Units of work per transaction. */
  maxBatch: number;
}

/**
 * Runs independent units of work in shared transactions (group commit), so
 * the commit is paid once per batch. Each unit runs in a savepoint of its
 * own: a unit that throws is rolled back alone and its caller receives the
 * error, while the others commit. Work that arrives while a batch runs
 * forms the next batch, so an idle batcher adds no delay, and each unit
 * runs in the operation context it was submitted from.
 *
 * On SQLite with a write-ahead log the batch commits without blocking the
 * event loop on the disk (Storage.transactionWithBackgroundSync), and the
 * next batch may start while the log is synced. A caller's promise still
 * settles only once the commit holding its work is on disk. Readers that
 * report rows of these tables must wait for Storage.backgroundSyncsSettled()
 * first, as the provisioning listener and the API do.
 */
export class TransactionBatcher {
  private queue: Pending[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly options: TransactionBatcherOptions) {}

  run<T>(work: BatchedWork<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        work,
        context: currentContext(),
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running !== undefined) {
      return;
    }
    this.running = new Promise<void>((started) => {
      // Waiting one turn of the event loop lets work submitted together share the first batch.
      setImmediate(started);
    })
      .then(() => this.drain())
      .catch((error: unknown) => {
        this.options.logger.error({ err: error }, 'transaction batcher failed');
      })
      .finally(() => {
        this.running = undefined;
        if (this.queue.length > 0) {
          this.schedule();
        }
      });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, this.options.maxBatch);
      this.queue = this.queue.slice(batch.length);
      await this.commit(batch);
    }
  }

  /**
   * Commits a batch and returns once the transaction has committed; its
   * units settle later, when the commit is on disk.
   */
  private async commit(batch: readonly Pending[]): Promise<void> {
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    let durable: Promise<void>;
    try {
      const committed = await this.options.storage.transactionWithBackgroundSync(async (typed) => {
        // Units name their own tables with withTables(), as on storage.db.
        const trx = typed as unknown as Transaction<object>;
        for (const [index, item] of batch.entries()) {
          const savepoint = sql.raw(`medward_unit_${index}`);
          await sql`savepoint ${savepoint}`.execute(trx);
          try {
            const value = await (item.context === undefined
              ? item.work(trx)
              : runWithContext(item.context, () => item.work(trx)));
            await sql`release savepoint ${savepoint}`.execute(trx);
            outcomes.push({ ok: true, value });
          } catch (error) {
            await sql`rollback to savepoint ${savepoint}`.execute(trx);
            await sql`release savepoint ${savepoint}`.execute(trx);
            outcomes.push({ ok: false, error });
          }
        }
      });
      durable = committed.durable;
    } catch (error) {
      this.options.logger.error({ err: error, units: batch.length }, 'batched transaction failed');
      for (const item of batch) {
        item.reject(error);
      }
      return;
    }
    durable.then(
      () => {
        batch.forEach((item, index) => {
          const outcome = outcomes[index];
          if (outcome?.ok === true) {
            item.resolve(outcome.value);
          } else {
            item.reject(outcome?.error);
          }
        });
      },
      (error: unknown) => {
        this.options.logger.error(
          { err: error, units: batch.length },
          'batched transaction not synced to disk',
        );
        for (const item of batch) {
          item.reject(error);
        }
      },
    );
  }
}
