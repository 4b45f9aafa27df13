import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { translateDatabaseError } from './errors.js';

async function translated<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw translateDatabaseError(error);
  }
}

/** Returns true for a statement that only reads: a SELECT, or raw SQL starting with SELECT, PRAGMA or EXPLAIN. */
function readsOnly(compiledQuery: CompiledQuery): boolean {
  const kind = compiledQuery.query.kind;
  if (kind === 'SelectQueryNode') {
    return true;
  }
  return kind === 'RawNode' && /^\s*(select|pragma|explain)\b/i.test(compiledQuery.sql);
}

class TranslatingConnection implements DatabaseConnection {
  /** True from BEGIN until COMMIT or ROLLBACK, while the transaction holds the lock. */
  inTransaction = false;

  constructor(
    readonly inner: DatabaseConnection,
    private readonly lock: TransactionLock | undefined,
  ) {}

  /**
   * Runs a statement. Outside a transaction a statement that writes takes
   * the lock around itself, as a transaction would.
   */
  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const lock = this.lock;
    if (lock === undefined || this.inTransaction || readsOnly(compiledQuery)) {
      return translated(() => this.inner.executeQuery<R>(compiledQuery));
    }
    await lock.acquire();
    try {
      return await translated(() => this.inner.executeQuery<R>(compiledQuery));
    } finally {
      lock.release();
    }
  }

  async *streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize?: number,
  ): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(compiledQuery, chunkSize);
    } catch (error) {
      throw translateDatabaseError(error);
    }
  }
}

function unwrap(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof TranslatingConnection ? connection.inner : connection;
}

function markTransaction(connection: DatabaseConnection, open: boolean): void {
  if (connection instanceof TranslatingConnection) {
    connection.inTransaction = open;
  }
}

type CompileQuery = QueryCompiler['compileQuery'];

/** A lock that transactions hold from before BEGIN until after COMMIT or ROLLBACK. */
export interface TransactionLock {
  acquire(): Promise<void>;
  /** Frees the lock; does nothing when it is not held. */
  release(): void;
}

export interface TranslatingDialectOptions {
  /**
   * Replaces the driver's BEGIN. SQLite passes BEGIN IMMEDIATE: a deferred
   * transaction that reads and then writes fails at once with SQLITE_BUSY,
   * without waiting, when another connection (a writer thread) committed in
   * between, while IMMEDIATE waits for the write lock.
   */
  beginStatement?: string;
  /** Taken before every BEGIN; see write-lock.ts. */
  transactionLock?: TransactionLock;
}

class TranslatingDriver implements Driver {
  private readonly beginStatement: string | undefined;
  private readonly lock: TransactionLock | undefined;

  constructor(
    private readonly inner: Driver,
    options: TranslatingDialectOptions,
  ) {
    this.beginStatement = options.beginStatement;
    this.lock = options.transactionLock;
  }

  init(): Promise<void> {
    return translated(() => this.inner.init());
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await translated(() => this.inner.acquireConnection());
    return new TranslatingConnection(connection, this.lock);
  }

  async beginTransaction(
    connection: DatabaseConnection,
    settings: TransactionSettings,
  ): Promise<void> {
    await this.lock?.acquire();
    try {
      const beginStatement = this.beginStatement;
      await translated(async () => {
        if (beginStatement === undefined) {
          await this.inner.beginTransaction(unwrap(connection), settings);
          return;
        }
        await unwrap(connection).executeQuery(CompiledQuery.raw(beginStatement));
      });
    } catch (error) {
      this.lock?.release();
      throw error;
    }
    markTransaction(connection, true);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await translated(() => this.inner.commitTransaction(unwrap(connection)));
    } finally {
      // After a failed COMMIT Kysely rolls back, which finds the lock free.
      markTransaction(connection, false);
      this.lock?.release();
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await translated(() => this.inner.rollbackTransaction(unwrap(connection)));
    } finally {
      markTransaction(connection, false);
      this.lock?.release();
    }
  }

  async savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: CompileQuery,
  ): Promise<void> {
    await translated(async () => this.inner.savepoint?.(unwrap(connection), name, compile));
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: CompileQuery,
  ): Promise<void> {
    await translated(async () =>
      this.inner.rollbackToSavepoint?.(unwrap(connection), name, compile),
    );
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: CompileQuery,
  ): Promise<void> {
    await translated(async () => this.inner.releaseSavepoint?.(unwrap(connection), name, compile));
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(unwrap(connection));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** Wraps a Kysely dialect so every driver error leaves storage as a MedwardError. */
export class TranslatingDialect implements Dialect {
  constructor(
    private readonly inner: Dialect,
    private readonly options: TranslatingDialectOptions = {},
  ) {}

  createDriver(): Driver {
    return new TranslatingDriver(this.inner.createDriver(), this.options);
  }

  createQueryCompiler(): QueryCompiler {
    return this.inner.createQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return this.inner.createAdapter();
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the Dialect contract types db as Kysely<any>
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return this.inner.createIntrospector(db);
  }
}
