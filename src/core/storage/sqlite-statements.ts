import type SqliteDatabase from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase, SqliteStatement } from 'kysely';

/** Maximum number of prepared statements kept; beyond it the least recently used is dropped. */
const MAX_CACHED_STATEMENTS = 500;

/**
 * The database handed to Kysely's SQLite driver, with prepared statements
 * reused by SQL text. Kysely prepares every query anew, and preparing costs
 * more than running the short statements of a request. A statement that is
 * still being iterated (`busy`) is not shared: the caller gets a fresh one.
 */
export class CachingSqliteDatabase implements KyselySqliteDatabase {
  private readonly statements = new Map<string, SqliteDatabase.Statement>();

  constructor(private readonly database: SqliteDatabase.Database) {}

  prepare(sql: string): SqliteStatement {
    const cached = this.statements.get(sql);
    if (cached !== undefined) {
      if (cached.busy) {
        return this.database.prepare(sql);
      }
      // Re-inserting moves the statement to the end of the map's order, so the
      // first key is always the least recently used.
      this.statements.delete(sql);
      this.statements.set(sql, cached);
      return cached;
    }
    const statement = this.database.prepare(sql);
    if (this.statements.size >= MAX_CACHED_STATEMENTS) {
      const oldest = this.statements.keys().next();
      if (oldest.done !== true) {
        this.statements.delete(oldest.value);
      }
    }
    this.statements.set(sql, statement);
    return statement;
  }

  close(): void {
    this.statements.clear();
    this.database.close();
  }
}
