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

class TranslatingConnection implements DatabaseConnection {
  constructor(readonly inner: DatabaseConnection) {}

  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    return translated(() => this.inner.executeQuery<R>(compiledQuery));
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
    return new TranslatingConnection(connection);
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
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await translated(() => this.inner.commitTransaction(unwrap(connection)));
    } finally {
      // After a failed COMMIT Kysely rolls back, which finds the lock free.
      this.lock?.release();
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await translated(() => this.inner.rollbackTransaction(unwrap(connection)));
    } finally {
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
