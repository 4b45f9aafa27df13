import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  Kysely,
  PostgresDialect,
  SqliteDialect,
  sql,
  type Dialect,
  type Transaction,
} from 'kysely';
import pg from 'pg';
import { MedwardError, ErrorKind } from '../errors.js';
import type { Component } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { CachingSqliteDatabase } from './sqlite-statements.js';
import { translateDatabaseError } from './errors.js';
import { TranslatingDialect } from './translating-dialect.js';
import { WalCheckpointer } from './wal-checkpointer.js';
import { WalSync } from './wal-sync.js';
import { MainWriteLock, createWriteLockBuffer } from './write-lock.js';

export type DialectName = 'sqlite' | 'postgres';

/** Table types as Kysely's `withTables` accepts them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the constraint of Kysely's withTables
type Tables = Record<string, Record<string, any>>;

const SYNCHRONOUS_NORMAL = 'pragma synchronous = NORMAL';
const SYNCHRONOUS_FULL = 'pragma synchronous = FULL';

/**
 * Pause between the checkpoints of the checkpoint thread. At 20,000
 * observations a second the log grows by about 2,000 frames in this time.
 */
const CHECKPOINT_INTERVAL_MS = 100;
/** Log frames (4 KiB pages, about 16 MiB) at which the checkpoint thread raises its restart request. */
const RESTART_FRAMES = 4000;
/** SQLite's default: an automatic checkpoint once the log contains this many pages. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

export interface StorageOptions {
  /** `sqlite:<path>`, `sqlite::memory:`, or `postgres://user@host:port/database`. */
  url: string;
  poolSize: number;
  statementTimeoutMs: number;
}

export interface StorageTarget {
  dialect: DialectName;
  /** File path for SQLite (`:memory:` for an in-memory database); the URL for PostgreSQL. */
  location: string;
}

/** Reads the storage URL; an unknown scheme stops startup with the accepted forms. */
export function parseStorageUrl(url: string): StorageTarget {
  if (url.startsWith('sqlite:')) {
    const location = url.slice('sqlite:'.length);
    if (location === '') {
      throw new MedwardError(
        ErrorKind.Invalid,
        'CONFIG_INVALID',
        'storage.url "sqlite:" has no path; use sqlite:./data/medward.db or sqlite::memory:',
      );
    }
    return { dialect: 'sqlite', location };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return { dialect: 'postgres', location: url };
  }
  throw new MedwardError(
    ErrorKind.Invalid,
    'CONFIG_INVALID',
    `storage.url has an unsupported scheme: ${redactUrl(url)}; use sqlite:<path> or postgres://...`,
    { details: { key: 'storage.url' } },
  );
}

/** Hides the password of a database URL so it can be logged. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/**
 * The database behind every context. Tables belong to the context that
 * creates them in its migrations; a context reaches its own tables through
 * `db.withTables<ItsTables>()` and never another context's.
 */
export class Storage implements Component {
  readonly name = 'storage';
  readonly dialect: DialectName;
  readonly db: Kysely<object>;
  private readonly target: StorageTarget;
  private sqlite: SqliteDatabase.Database | undefined;
  private walSync: WalSync | undefined;
  private checkpointer: WalCheckpointer | undefined;
  private readonly restartRequest = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  private readonly writeLock: MainWriteLock | undefined;
  private readonly statementTimeoutMs: number;
  private synchronousStatements:
    | {
        of: SqliteDatabase.Database;
        NORMAL: SqliteDatabase.Statement;
        FULL: SqliteDatabase.Statement;
      }
    | undefined;

  constructor(
    options: StorageOptions,
    private readonly logger: Logger,
  ) {
    this.target = parseStorageUrl(options.url);
    this.dialect = this.target.dialect;
    this.statementTimeoutMs = options.statementTimeoutMs;
    if (this.dialect !== 'sqlite') {
      this.db = new Kysely<object>({
        dialect: new TranslatingDialect(this.createDialect(options)),
      });
      return;
    }
    const writeLock = new MainWriteLock(createWriteLockBuffer());
    this.writeLock = writeLock;
    this.db = new Kysely<object>({
      dialect: new TranslatingDialect(this.createDialect(options), {
        beginStatement: 'begin immediate',
        transactionLock: {
          acquire: () => writeLock.acquire(this.statementTimeoutMs),
          release: () => {
            writeLock.release();
          },
        },
      }),
    });
  }

  private createDialect(options: StorageOptions): Dialect {
    if (this.target.dialect === 'sqlite') {
      return new SqliteDialect({
        database: () => Promise.resolve(new CachingSqliteDatabase(this.openSqlite(options))),
      });
    }
    const pool = new pg.Pool({
      connectionString: this.target.location,
      max: options.poolSize,
      statement_timeout: options.statementTimeoutMs,
      connectionTimeoutMillis: options.statementTimeoutMs,
      // int8 values (sequences, counts) fit a JS number for any realistic row count.
      types: {
        getTypeParser: (oid: number, format?: 'text' | 'binary') =>
          oid === 20
            ? (value: string) => Number(value)
            : (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format),
      },
    });
    pool.on('error', (error) => {
      // An idle client lost its connection; pg removes it from the pool and the
      // next query opens a fresh one, so this must not end the process.
      this.logger.warn({ err: error }, 'idle database connection failed');
    });
    return new PostgresDialect({ pool });
  }

  private openSqlite(options: StorageOptions): SqliteDatabase.Database {
    const location = this.target.location;
    if (location !== ':memory:') {
      mkdirSync(dirname(resolve(location)), { recursive: true });
    }
    const database = new SqliteDatabase(location, { timeout: options.statementTimeoutMs });
    // WAL lets readers run beside the writer. synchronous=FULL syncs the WAL at
    // every commit, so a committed transaction survives a power cut, not only
    // a process crash.
    const journalMode: unknown = database.pragma('journal_mode = WAL', { simple: true });
    database.pragma('synchronous = FULL');
    if (journalMode === 'wal') {
      // SQLite names the log after the database file.
      this.walSync = new WalSync(`${resolve(location)}-wal`);
    }
    database.pragma('foreign_keys = ON');
    // Keeps statement journals, and temporary tables and sorts, in memory. A
    // savepoint journals every page it changes, and above 64 KiB SQLite moves
    // that journal to a temporary file, which made a batch of writes in
    // savepoints cost two extra write calls per page.
    database.pragma('temp_store = MEMORY');
    this.sqlite = database;
    return database;
  }

  async start(): Promise<void> {
    await this.ping();
    this.logger.info(
      { dialect: this.dialect, location: redactUrl(this.target.location) },
      'storage connected',
    );
  }

  /** Runs a trivial query; rejects with STORAGE_UNAVAILABLE when the database cannot answer. */
  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  /**
   * Runs `work` in one transaction and resolves once it has committed, with
   * `durable`, a promise that resolves once the commit is on disk (or
   * rejects with STORAGE_UNAVAILABLE when the disk failed). Other work runs
   * meanwhile. On SQLite the COMMIT runs with `synchronous = NORMAL`, so it
   * does not block the event loop on the disk. The write-ahead log is then
   * synced on the thread pool, one sync for all commits made in the
   * meantime. Every other transaction still commits with `synchronous =
   * FULL`, which syncs the log itself.
   *
   * Other readers can see the committed rows before `durable` resolves, so
   * the caller must not report them to anyone before that, and a reader of
   * these tables must wait for `backgroundSyncsSettled()` before it reports
   * what it read. On PostgreSQL, and on SQLite without a write-ahead log,
   * this is a plain transaction and `durable` is already resolved.
   *
   * The first such transaction also moves the checkpoints of the log to a
   * worker thread (see WalCheckpointer), because an automatic checkpoint
   * runs inside a COMMIT and syncs on the event loop.
   */
  async transactionWithBackgroundSync<T extends Tables, R>(
    work: (trx: Transaction<T>) => Promise<R>,
  ): Promise<{ value: R; durable: Promise<void> }> {
    const walSync = this.walSync;
    if (walSync === undefined || !walSync.open()) {
      const value = await this.db.withTables<T>().transaction().execute(work);
      return { value, durable: Promise.resolve() };
    }
    // The single SQLite connection stays held from the first pragma to the
    // last, so no other transaction commits with NORMAL in between.
    return this.db.connection().execute(async (connection) => {
      this.startCheckpointer();
      this.setSynchronous('NORMAL');
      let value: R;
      try {
        value = await connection.withTables<T>().transaction().execute(work);
      } finally {
        this.setSynchronous('FULL');
      }
      const durable = walSync.sync();
      // The caller handles a failure; this keeps it from counting as unhandled meanwhile.
      durable.catch(() => undefined);
      return { value, durable };
    });
  }

  /**
   * Moves the checkpoints of a SQLite file in WAL mode to a thread of their
   * own, once; the connection's automatic checkpoints stop. Returns the
   * thread's restart request (see checkpoint-worker.ts) for a writer thread
   * that commits to the file, or undefined when there is no such file.
   */
  startBackgroundCheckpoints(): SharedArrayBuffer | undefined {
    const sqlite = this.sqlite;
    if (sqlite === undefined || this.walSync === undefined) {
      return undefined;
    }
    this.startCheckpointer();
    return this.restartRequest;
  }

  /**
   * Starts the checkpoint thread once and turns the automatic checkpoints of
   * the SQLite connection off; the caller must have acquired the connection.
   */
  private startCheckpointer(): void {
    const sqlite = this.sqlite;
    if (this.checkpointer !== undefined || sqlite === undefined) {
      return;
    }
    const checkpointer = new WalCheckpointer({
      file: resolve(this.target.location),
      intervalMs: CHECKPOINT_INTERVAL_MS,
      busyTimeoutMs: this.statementTimeoutMs,
      restartRequest: this.restartRequest,
      restartFrames: RESTART_FRAMES,
      logger: this.logger,
      onUnexpectedExit: () => {
        this.restoreAutocheckpoint(sqlite);
      },
    });
    sqlite.pragma('wal_autocheckpoint = 0');
    checkpointer.start();
    this.checkpointer = checkpointer;
  }

  private restoreAutocheckpoint(sqlite: SqliteDatabase.Database): void {
    try {
      sqlite.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
    } catch (error) {
      this.logger.error({ err: error }, 'restoring sqlite automatic checkpoints failed');
    }
  }

  /** Sets `synchronous` on the SQLite connection, which the caller must have acquired. */
  private setSynchronous(level: 'NORMAL' | 'FULL'): void {
    const sqlite = this.sqlite;
    if (sqlite === undefined) {
      return;
    }
    let statements = this.synchronousStatements;
    if (statements?.of !== sqlite) {
      statements = {
        of: sqlite,
        NORMAL: sqlite.prepare(SYNCHRONOUS_NORMAL),
        FULL: sqlite.prepare(SYNCHRONOUS_FULL),
      };
      this.synchronousStatements = statements;
    }
    try {
      statements[level].run();
    } catch (error) {
      throw translateDatabaseError(error);
    }
  }

  /**
   * Resolves once every commit of `transactionWithBackgroundSync` made so far
   * is on disk, and rejects with STORAGE_UNAVAILABLE when a sync failed.
   */
  backgroundSyncsSettled(): Promise<void> {
    return this.walSync?.settled() ?? Promise.resolve();
  }

  /**
   * The write lock that worker threads writing to this SQLite file take
   * around their transactions (see write-lock.ts); undefined on PostgreSQL.
   */
  get sqliteWriteLock(): MainWriteLock | undefined {
    return this.writeLock;
  }

  /** The raw SQLite handle, for operations Kysely does not expose (backup, checkpoint). */
  get sqliteHandle(): SqliteDatabase.Database | undefined {
    return this.sqlite;
  }

  async stop(): Promise<void> {
    await this.walSync?.settled().catch(() => undefined);
    await this.checkpointer?.stop();
    this.checkpointer = undefined;
    await this.db.destroy();
    this.walSync?.close();
  }
}
