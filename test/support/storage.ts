import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { silentLogger } from '../../src/core/logger.js';
import { Storage, migrateToLatest, type DialectName } from '../../src/core/storage/index.js';
import { allMigrations } from '../../src/migrations.js';
import { testServices } from './services.js';

export interface TestDatabase {
  storage: Storage;
  url: string;
  /** Stops the storage and deletes the database. */
  dispose(): Promise<void>;
}

/** Creates an empty SQLite file in a temporary folder, or a fresh PostgreSQL database. */
export async function createTestDatabase(
  dialect: DialectName,
  options: { migrate?: boolean; statementTimeoutMs?: number } = {},
): Promise<TestDatabase> {
  const logger = silentLogger();
  let url: string;
  let cleanup: () => Promise<void>;
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'medward-test-'));
    url = `sqlite:${join(dir, 'medward.db')}`;
    cleanup = () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    };
  } else {
    const name = `medward_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: testServices.postgres.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const base = new URL(testServices.postgres.url);
    base.pathname = `/${name}`;
    url = base.toString();
    cleanup = async () => {
      const client = new pg.Client({ connectionString: testServices.postgres.url });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    };
  }
  const storage = new Storage(
    { url, poolSize: 10, statementTimeoutMs: options.statementTimeoutMs ?? 5000 },
    logger,
  );
  await storage.start();
  if (options.migrate !== false) {
    await migrateToLatest(storage, allMigrations, logger);
  }
  return {
    storage,
    url,
    async dispose() {
      await storage.stop();
      await cleanup();
    },
  };
}
