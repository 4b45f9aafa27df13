import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from 'kysely';
import { MedwardError, ErrorKind } from '../errors.js';

/**
 * SQL text of hot queries, compiled by Kysely once and run again with new
 * parameters. Building and compiling a Kysely query costs tens of
 * microseconds, more than SQLite takes to run a short statement, so a
 * component that runs the same statement shape on every request keeps it
 * here. Keys must name everything that changes the SQL text: the dialect,
 * the statement and, for multi-row inserts, the row count.
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
    let text = this.texts.get(key);
    if (text === undefined) {
      const compiled = build().compile();
      assertSameParameters(key, compiled.parameters, parameters);
      text = compiled.sql;
      this.texts.set(key, text);
    }
    return executor.executeQuery<R>(CompiledQuery.raw(text, [...parameters]));
  }
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
