import { CompiledQuery, sql, type Compilable, type Kysely, type QueryResult } from 'kysely';
import { MedwardError, ErrorKind } from '../errors.js';

/**
 * SQL text of hot queries, compiled by Kysely once and run again with new
 * parameters. Building and compiling a Kysely query costs tens of
 * microseconds, more than SQLite takes to run a short statement, so a
 * component that runs the same statement shape on every request keeps it
 * here. The cache separates dialects itself, so a key names only the
 * statement and, for multi-row inserts, the row count.
 */
export class CompiledQueries {
  private readonly texts = new Map<string, string>();

  /**
   * Runs the query `build` returns, with `parameters` as its values. The
   * first run for `key` compiles it and checks that Kysely put exactly
   * `parameters`, in that order, into the compiled query. Later runs reuse
   * its SQL text without building anything.
   */
  async execute<R>(
    executor: Kysely<object>,
    key: string,
    parameters: readonly unknown[],
    build: () => Compilable<R>,
  ): Promise<QueryResult<R>> {
    const dialectKey = `${placeholderOf(executor)}${key}`;
    let text = this.texts.get(dialectKey);
    if (text === undefined) {
      const compiled = build().compile();
      assertSameParameters(key, compiled.parameters, parameters);
      text = compiled.sql;
      this.texts.set(dialectKey, text);
    }
    return executor.executeQuery<R>(CompiledQuery.raw(text, [...parameters]));
  }
}

/** Parameter placeholders by executor: `?` on SQLite, `$1` on PostgreSQL. */
const placeholders = new WeakMap<Kysely<object>, string>();

/**
 * Returns how the executor's dialect writes a parameter, which distinguishes
 * the dialects. Compiling this one-parameter fragment costs a few
 * microseconds and is done once per executor (a database or a transaction).
 */
function placeholderOf(executor: Kysely<object>): string {
  let placeholder = placeholders.get(executor);
  if (placeholder === undefined) {
    placeholder = sql`${0}`.compile(executor).sql;
    placeholders.set(executor, placeholder);
  }
  return placeholder;
}

function assertSameParameters(
  key: string,
  compiled: readonly unknown[],
  expected: readonly unknown[],
): void {
  const same =
    compiled.length === expected.length &&
    compiled.every((value, index) => value === expected[index]);
  if (!same) {
    throw new MedwardError(
      ErrorKind.Internal,
      'STORAGE_QUERY_PARAMETERS_MISMATCH',
      `compiled query ${key} takes ${compiled.length} parameters in another order than the ` +
        `${expected.length} given; list them in the order Kysely compiles them`,
      { details: { key } },
    );
  }
}
