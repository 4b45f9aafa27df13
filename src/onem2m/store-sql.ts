import type SqliteDatabase from 'better-sqlite3';
import { CompiledQuery, type Kysely } from 'kysely';
import { translateDatabaseError, type Storage } from '../core/storage/index.js';

/**
 * Fixed SQL texts of the statements every contentInstance CREATE runs. The
 * query builder spends more time building and compiling these short
 * statements than the database spends running them. Values are always bound
 * parameters, written `?` here and numbered `$n` for PostgreSQL.
 */
const sqlTexts = {
  findByRi: 'select * from onem2m_resource where ri = ? and (et is null or et > ?)',
  exists: 'select ri from onem2m_resource where ri = ?',
  insert:
    'insert into onem2m_resource (ri, pi, rn, srn, ty, ct, lt, et, st, cni, cbs, cs, cr, attrs) ' +
    'values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  insertLabel: 'insert into onem2m_label (ri, label) values (?, ?)',
  deleteLabels: 'delete from onem2m_label where ri = ?',
  update: 'update onem2m_resource set lt = ?, et = ?, st = ?, attrs = ? where ri = ?',
  delete: 'delete from onem2m_resource where ri = ?',
  // coalesce keeps lt when the caller passes none.
  adjustContainer:
    'update onem2m_resource set st = st + ?, cni = cni + ?, cbs = cbs + ?, lt = coalesce(?, lt) ' +
    'where ri = ? returning st, cni, cbs',
  adjustCounters:
    'update onem2m_resource set cni = cni + ?, cbs = cbs + ? where ri = ? returning st, cni, cbs',
  oldestInstances:
    'select ri, cs from onem2m_resource where pi = ? and ty = ? order by st asc limit ?',
  // The subquery walks the (pi, ty, st) index from the oldest end. It is a
  // scalar subquery because SQLite runs `ri in (... limit n)` several times slower.
  deleteOldestInstance:
    'delete from onem2m_resource where ri = ' +
    '(select ri from onem2m_resource where pi = ? and ty = ? order by st asc limit 1) ' +
    'returning cs',
  // `pi || ''` and `ty + 0` keep both planners off the (pi, ty, st) index,
  // which would scan every instance of the container, and on the et index,
  // which holds only the few expired rows the sweep has not removed yet.
  expiredInstances:
    "select ri, cs from onem2m_resource where et <= ? and pi || '' = ? and ty + 0 = ?",
} as const;

/**
 * Statements that only PostgreSQL runs, with numbered parameters: each one
 * does in one round trip what SQLite, which has no round trips, does in
 * several statements. Data-modifying WITH queries share one snapshot, and
 * their parts communicate only through RETURNING.
 */
const postgresTexts = {
  // Deletes the container's expired instances (the expressions on pi and ty
  // keep the planner on the et index, as in expiredInstances), counts the
  // new instance in the container and inserts it with the container's new
  // st. $1 now, $2 container ri, $3 cs, then ri, rn, srn, ct, lt, et, cr and
  // attrs of the instance.
  insertInstanceCounted:
    'with expired as (' +
    "delete from onem2m_resource where et <= $1 and pi || '' = $2 and ty + 0 = 4 returning cs" +
    '), counted as (' +
    'update onem2m_resource set st = st + 1, cni = cni + 1 - (select count(*) from expired), ' +
    'cbs = cbs + $3 - (select coalesce(sum(cs), 0) from expired), lt = $1 ' +
    'where ri = $2 returning st, cni, cbs' +
    '), inserted as (' +
    'insert into onem2m_resource (ri, pi, rn, srn, ty, ct, lt, et, st, cni, cbs, cs, cr, attrs) ' +
    'select $4, $2, $5, $6, 4, $7, $8, $9, st, 0, 0, $3, $10, $11 from counted returning ri' +
    ') select st, cni, cbs from counted',
  // Deletes the oldest instance of container $1 and takes it off the counters.
  evictOldestInstance:
    'with victim as (' +
    'delete from onem2m_resource where ri = ' +
    '(select ri from onem2m_resource where pi = $1 and ty = 4 order by st asc limit 1) ' +
    'returning cs' +
    ') update onem2m_resource set cni = cni - 1, cbs = cbs - victim.cs from victim ' +
    'where onem2m_resource.ri = $1 ' +
    'returning onem2m_resource.st, onem2m_resource.cni, onem2m_resource.cbs',
} as const;

export type StatementName = keyof typeof sqlTexts;
export type PostgresStatementName = keyof typeof postgresTexts;

/** A query executor: the database or an open transaction on it. */
type Executor = Pick<Kysely<object>, 'executeQuery' | 'isTransaction'>;

/** Rewrites `?` placeholders as `$1`, `$2`, ... for PostgreSQL. */
function numberPlaceholders(text: string): string {
  let index = 0;
  return text.replace(/\?/g, () => {
    index += 1;
    return `$${index}`;
  });
}

/** `in` lists up to this length keep their statement text (and SQLite statement) for reuse. */
const MAX_REUSED_LIST_LENGTH = 64;

/**
 * Runs the fixed statements of the resource store. Inside a transaction on
 * SQLite they run as prepared statements on the connection itself, which
 * the transaction holds: Kysely's SQLite driver has one connection, so the
 * statement runs inside that transaction without a round through Kysely's
 * executor. Elsewhere, and always on PostgreSQL, they go through Kysely as
 * precompiled queries, which skip building and compiling.
 */
export class StoreSql {
  private readonly texts: Record<StatementName, string>;
  private readonly deleteManyTexts: string[] = [];
  private statementsOf: SqliteDatabase.Database | undefined;
  private readonly statements = new Map<string, SqliteDatabase.Statement>();

  constructor(private readonly storage: Storage) {
    const convert = storage.dialect === 'postgres' ? numberPlaceholders : (text: string) => text;
    this.texts = Object.fromEntries(
      Object.entries(sqlTexts).map(([name, text]) => [name, convert(text)]),
    ) as Record<StatementName, string>;
  }

  /** Runs statement `name` and returns its rows (none for statements without RETURNING). */
  rows<R>(ex: Executor, name: StatementName, parameters: readonly unknown[]): Promise<R[]> {
    return this.execute<R>(ex, this.texts[name], parameters);
  }

  /** Runs a PostgreSQL-only statement and returns its rows. */
  async postgresRows<R>(
    ex: Executor,
    name: PostgresStatementName,
    parameters: readonly unknown[],
  ): Promise<R[]> {
    const result = await ex.executeQuery<R>(
      CompiledQuery.raw(postgresTexts[name], [...parameters]),
    );
    return result.rows;
  }

  /** Deletes resources by ID. */
  async deleteMany(ex: Executor, ris: readonly string[]): Promise<void> {
    const reuse = ris.length <= MAX_REUSED_LIST_LENGTH;
    let text = this.deleteManyTexts[ris.length];
    if (text === undefined) {
      const list = ris.map((_, index) =>
        this.storage.dialect === 'postgres' ? `$${index + 1}` : '?',
      );
      text = `delete from onem2m_resource where ri in (${list.join(', ')})`;
      if (reuse) {
        this.deleteManyTexts[ris.length] = text;
      }
    }
    await this.execute(ex, text, ris, reuse);
  }

  private async execute<R>(
    ex: Executor,
    text: string,
    parameters: readonly unknown[],
    reuse = true,
  ): Promise<R[]> {
    const sqlite = ex.isTransaction ? this.storage.sqliteHandle : undefined;
    if (sqlite === undefined) {
      const result = await ex.executeQuery<R>(CompiledQuery.raw(text, [...parameters]));
      return result.rows;
    }
    try {
      const statement = reuse ? this.statement(sqlite, text) : sqlite.prepare(text);
      if (statement.reader) {
        return statement.all(parameters) as R[];
      }
      statement.run(parameters);
      return [];
    } catch (error) {
      throw translateDatabaseError(error);
    }
  }

  private statement(sqlite: SqliteDatabase.Database, text: string): SqliteDatabase.Statement {
    if (this.statementsOf !== sqlite) {
      this.statements.clear();
      this.statementsOf = sqlite;
    }
    let statement = this.statements.get(text);
    if (statement === undefined) {
      statement = sqlite.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }
}
