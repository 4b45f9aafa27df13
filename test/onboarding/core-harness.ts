import { AuditTrail } from '../../src/core/audit/index.js';
import { InProcessBus, type BusMessage } from '../../src/core/bus/index.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import { createMetricsRegistry, type Registry } from '../../src/core/metrics.js';
import { InventoryService } from '../../src/inventory/index.js';
import { AuthorisationService } from '../../src/onboarding/authorisation/index.js';
import { CertificateAuthority, loadOrCreateCaMaterial } from '../../src/onboarding/ca/index.js';
import type { OnboardingConfig } from '../../src/onboarding/config.js';
import {
  DeviceLifecycle,
  ListRevocationHandler,
  SightingRegistry,
} from '../../src/onboarding/lifecycle/index.js';
import { createTestDatabase, type TestDatabase } from '../support/storage.js';
import {
  createAuthority,
  onboardingConfig,
  temporaryDirectory,
  type TestAuthority,
} from './support.js';

/** The onboarding services below the EST server, on a fresh database, with every bus event kept. */
export interface CoreHarness {
  database: TestDatabase;
  directory: { path: string; remove(): void };
  config: OnboardingConfig;
  audit: AuditTrail;
  bus: InProcessBus;
  events: BusMessage[];
  inventory: InventoryService;
  ca: CertificateAuthority;
  lifecycle: DeviceLifecycle;
  authority: TestAuthority;
  authorisation: AuthorisationService;
  sightings: SightingRegistry;
  metrics: Registry;
  suspended: string[];
  dispose(): Promise<void>;
}

export async function createCoreHarness(
  options: {
    dialect?: 'sqlite' | 'postgres';
    config?: Record<string, unknown>;
    now?: () => Date;
    logger?: Logger;
  } = {},
): Promise<CoreHarness> {
  const logger = options.logger ?? silentLogger();
  const metrics = createMetricsRegistry({ defaultMetrics: false });
  const database = await createTestDatabase(options.dialect ?? 'sqlite');
  const directory = temporaryDirectory();
  const config = onboardingConfig(options.config);
  const now = options.now ?? (() => new Date());
  const audit = new AuditTrail(database.storage, { siteId: 'test', now });
  const bus = new InProcessBus(logger);
  await bus.start();
  const events: BusMessage[] = [];
  await bus.subscribe({
    subject: 'onboarding.>',
    group: 'test',
    handler: (message) => {
      events.push(message);
    },
  });
  const inventory = new InventoryService({ storage: database.storage, audit, logger, bus, now });
  const ca = new CertificateAuthority({
    material: loadOrCreateCaMaterial({ config: config.ca, dataDir: directory.path, logger }),
    storage: database.storage,
    audit,
    logger,
    certificates: config.certificates,
    crlUrl: 'https://127.0.0.1:8443/crl',
    now,
  });
  const lifecycle = new DeviceLifecycle({ storage: database.storage, audit, logger, bus, now });
  const authority = createAuthority(directory.path);
  const authorisation = new AuthorisationService({
    storage: database.storage,
    audit,
    logger,
    keys: authority.keys,
    bus,
    now,
  });
  const suspended: string[] = [];
  authorisation.setRevocationHandler(
    new ListRevocationHandler({
      lifecycle,
      ca,
      logger,
      onSuspended: (deviceId) => {
        suspended.push(deviceId);
        return Promise.resolve();
      },
    }),
  );
  const sightings = new SightingRegistry({
    storage: database.storage,
    audit,
    logger,
    authorisation,
    bootstrapSecretLifetimeMs: config.certificates.bootstrapSecretLifetimeHours * 3_600_000,
    rateLimit: config.sightings,
    bus,
    metrics,
    now,
  });
  return {
    database,
    directory,
    config,
    audit,
    bus,
    events,
    inventory,
    ca,
    lifecycle,
    authority,
    authorisation,
    sightings,
    metrics,
    suspended,
    async dispose() {
      await bus.stop();
      await database.dispose();
      directory.remove();
    },
  };
}

/** Waits until the in-process bus delivered what was published; it delivers asynchronously. */
export async function settle(): Promise<void> {
  for (let round = 0; round < 5; round += 1) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}
