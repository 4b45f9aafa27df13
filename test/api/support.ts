import { Value } from '@sinclair/typebox/value';
import type { Kysely } from 'kysely';
import { AccessService, type Role } from '../../src/access/index.js';
import { createApiServer, type ApiServer, type ApiServerDeps } from '../../src/api/index.js';
import { AuditTrail } from '../../src/core/audit/index.js';
import { ConfigSchema, type MedwardConfig } from '../../src/core/config/index.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import { InventoryService } from '../../src/inventory/index.js';
import { createTestDatabase, type TestDatabase } from '../support/storage.js';

export type Rows = Kysely<Record<string, Record<string, unknown>>>;

export interface ApiHarness {
  server: ApiServer;
  database: TestDatabase;
  audit: AuditTrail;
  access: AccessService;
  inventory: InventoryService;
  /** Token text per role, each token holding that role alone. */
  tokens: Record<Role, string>;
  /** Advances the clock that the access service and the failure limiter read. */
  advanceMs(ms: number): void;
  close(): Promise<void>;
}

export function apiConfig(overrides: Partial<MedwardConfig['api']> = {}): MedwardConfig['api'] {
  const defaults = Value.Default(ConfigSchema, {}) as MedwardConfig;
  return { ...defaults.api, port: 0, ...overrides };
}

/** An API server on a fresh SQLite database with one token per role. */
export async function createApiHarness(
  options: {
    config?: Partial<MedwardConfig['api']>;
    logger?: Logger;
    extra?: Partial<ApiServerDeps>;
  } = {},
): Promise<ApiHarness> {
  const database = await createTestDatabase('sqlite');
  const logger = options.logger ?? silentLogger();
  const audit = new AuditTrail(database.storage, { siteId: 'test' });
  let clockMs = Date.now();
  const access = new AccessService({
    storage: database.storage,
    audit,
    logger,
    now: () => new Date(clockMs),
  });
  const inventory = new InventoryService({ storage: database.storage, audit, logger });
  const bootstrap = await access.ensureBootstrapAdmin();
  if (bootstrap.status !== 'generated') {
    throw new Error('expected a generated bootstrap token');
  }
  const operator = await access.createToken({ label: 'operator', roles: ['operator'] });
  const auditor = await access.createToken({ label: 'auditor', roles: ['auditor'] });
  const server = createApiServer({
    config: apiConfig(options.config),
    logger,
    storage: database.storage,
    audit,
    access,
    inventory,
    metrics: createMetricsRegistry({ defaultMetrics: false }),
    nowMs: () => clockMs,
    ...options.extra,
  });
  await server.app.ready();
  return {
    server,
    database,
    audit,
    access,
    inventory,
    tokens: { admin: bootstrap.token, operator: operator.token, auditor: auditor.token },
    advanceMs(ms) {
      clockMs += ms;
    },
    async close() {
      await server.stop();
      await database.dispose();
    },
  };
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** Device table rows and the audit head, to prove a rejected request changed nothing. */
export async function storedState(harness: ApiHarness): Promise<unknown> {
  const db = harness.database.storage.db as Rows;
  const devices = await db.selectFrom('device').selectAll().orderBy('id').execute();
  const macs = await db
    .selectFrom('device_mac_address')
    .selectAll()
    .orderBy('mac_address')
    .execute();
  return { devices, macs, head: await harness.audit.head() };
}
