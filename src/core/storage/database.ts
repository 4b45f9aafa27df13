import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type Dialect } from 'kysely';
import pg from 'pg';
import { MedwardError, ErrorKind } from '../errors.js';
import type { Component } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import { TranslatingDialect } from './translating-dialect.js';

export type DialectName = 'sqlite' | 'postgres';

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

  constructor(
    options: StorageOptions,
    private readonly logger: Logger,
  ) {
    this.target = parseStorageUrl(options.url);
    this.dialect = this.target.dialect;
    this.db = new Kysely<object>({ dialect: new TranslatingDialect(this.createDialect(options)) });
  }

  private createDialect(options: StorageOptions): Dialect {
    if (this.target.dialect === 'sqlite') {
      return new SqliteDialect({ database: () => Promise.resolve(this.openSqlite(options)) });
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
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = FULL');
    database.pragma('foreign_keys = ON');
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

  /** The raw SQLite handle, for operations Kysely does not expose (backup, checkpoint). */
  get sqliteHandle(): SqliteDatabase.Database | undefined {
    return this.sqlite;
  }

  async stop(): Promise<void> {
    await this.db.destroy();
  }
}
