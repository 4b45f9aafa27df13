import {
  Migrator,
  type Kysely,
  type Migration,
  type MigrationProvider,
  type CreateTableBuilder,
} from 'kysely';
import { MedwardError, ErrorKind } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DialectName, Storage } from './database.js';

/**
 * One schema change. Names start with a date and a sequence number
 * (`2026-12-04-01-audit`), because migrations run in name order and each
 * context adds its own over time.
 */
export interface MedwardMigration {
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against any schema version
  up(db: Kysely<any>, dialect: DialectName): Promise<void>;
}

const MIGRATION_NAME = /^\d{4}-\d{2}-\d{2}-\d{2}-[a-z0-9-]+$/;

class ListProvider implements MigrationProvider {
  constructor(
    private readonly migrations: readonly MedwardMigration[],
    private readonly dialect: DialectName,
  ) {}

  getMigrations(): Promise<Record<string, Migration>> {
    const entries: Record<string, Migration> = {};
    for (const migration of this.migrations) {
      entries[migration.name] = { up: (db) => migration.up(db, this.dialect) };
    }
    return Promise.resolve(entries);
  }
}

/** Applies every pending migration in name order, each in its own transaction. */
export async function migrateToLatest(
  storage: Storage,
  migrations: readonly MedwardMigration[],
  logger: Logger,
): Promise<string[]> {
  const names = new Set<string>();
  for (const migration of migrations) {
    if (!MIGRATION_NAME.test(migration.name) || names.has(migration.name)) {
      throw new MedwardError(
        ErrorKind.Internal,
        'STORAGE_MIGRATION_NAME_INVALID',
        `migration name ${migration.name} is invalid or duplicated; use YYYY-MM-DD-NN-description`,
      );
    }
    names.add(migration.name);
  }
  const migrator = new Migrator({
    db: storage.db,
    provider: new ListProvider(migrations, storage.dialect),
    migrationTableName: 'medward_migration',
    migrationLockTableName: 'medward_migration_lock',
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  const applied = results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
  const failed = results.find((r) => r.status === 'Error');
  if (error !== undefined) {
    throw new MedwardError(
      ErrorKind.Unavailable,
      'STORAGE_MIGRATION_FAILED',
      `database migration ${failed?.migrationName ?? '(before any migration)'} failed: ` +
        (error instanceof Error ? error.message : 'unknown error'),
      { cause: error },
    );
  }
  if (applied.length > 0) {
    logger.info({ migrations: applied }, 'database migrations applied');
  }
  return applied;
}

/** Adds an auto-incrementing integer primary key named `column` in either dialect. */
export function withSerialKey<T extends string, C extends string>(
  builder: CreateTableBuilder<T, C>,
  column: string,
  dialect: DialectName,
): CreateTableBuilder<T, C> {
  return dialect === 'postgres'
    ? builder.addColumn(column, 'bigserial', (col) => col.primaryKey())
    : builder.addColumn(column, 'integer', (col) => col.primaryKey().autoIncrement());
}
