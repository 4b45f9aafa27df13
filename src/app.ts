import { AccessService } from './access/index.js';
import { createApiServer, type ApiServer } from './api/index.js';
import { AuditTrail } from './core/audit/index.js';
import { createEventBus, type EventBus } from './core/bus/index.js';
import type { MedwardConfig } from './core/config/index.js';
import { runWithContext, systemContext } from './core/context.js';
import { Lifecycle, type Component } from './core/lifecycle.js';
import type { Logger } from './core/logger.js';
import { createMetricsRegistry, type Registry } from './core/metrics.js';
import { EmbeddedBroker } from './core/mqtt/index.js';
import { Storage, migrateToLatest } from './core/storage/index.js';
import { createEnforcementService, type EnforcementService } from './enforcement/index.js';
import { FhirExporter, fhirRoutes } from './fhir/index.js';
import { Ieee11073Manager, observationRoutes } from './ieee11073/index.js';
import { InterworkingComponent } from './interworking/index.js';
import { InventoryService } from './inventory/index.js';
import { createOnboarding, type Onboarding } from './onboarding/index.js';
import { Onem2mCse } from './onem2m/index.js';
import { allMigrations } from './migrations.js';

/** One running medward: every component built from configuration, in start order. */
export interface Medward {
  readonly config: MedwardConfig;
  readonly storage: Storage;
  readonly bus: EventBus;
  readonly audit: AuditTrail;
  readonly access: AccessService;
  readonly inventory: InventoryService;
  readonly api: ApiServer;
  readonly enforcement: EnforcementService;
  readonly fhir: FhirExporter;
  readonly cse: Onem2mCse | undefined;
  readonly ieee11073: Ieee11073Manager | undefined;
  readonly interworking: InterworkingComponent | undefined;
  /** Device onboarding with its provisioning listener; undefined when onboarding.enabled is false. */
  readonly onboarding: Onboarding | undefined;
  readonly metrics: Registry;
  readonly broker: EmbeddedBroker | undefined;
  /** The MQTT broker URL components use: the embedded broker's or the configured one. */
  readonly mqttUrl: string;
  /** Set after start when medward generated the first admin token; print it once. */
  readonly bootstrapToken: string | undefined;
  readonly apiPort: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function task(name: string, start: () => Promise<void>): Component {
  return { name, start, stop: () => Promise.resolve() };
}

/**
 * Builds every component from configuration (the composition root).
 * Components start in the order they are added here and stop in reverse,
 * so storage starts first and stops last, and listeners the other way round.
 */
export function createMedward(config: MedwardConfig, logger: Logger): Medward {
  const lifecycle = new Lifecycle(logger);
  const metrics = createMetricsRegistry();

  const storage = lifecycle.add(new Storage(config.storage, logger));
  lifecycle.add(
    task('migrations', async () => {
      await migrateToLatest(storage, allMigrations, logger);
    }),
  );
  const bus = lifecycle.add(
    createEventBus(
      config.bus.kind === 'nats'
        ? {
            kind: 'nats',
            url: config.bus.url,
            stream: config.bus.stream,
            subjectPrefix: config.bus.subjectPrefix,
          }
        : { kind: 'in-process' },
      logger,
    ),
  );
  const broker =
    config.mqtt.kind === 'embedded'
      ? lifecycle.add(new EmbeddedBroker(config.mqtt.embedded, logger))
      : undefined;

  const audit = new AuditTrail(storage, { siteId: config.siteId });
  const access = new AccessService({ storage, audit, logger });
  const inventory = new InventoryService({ storage, audit, logger, bus });

  let bootstrapToken: string | undefined;
  lifecycle.add(
    task('bootstrap-admin', async () => {
      const result = await runWithContext(systemContext(), () =>
        access.ensureBootstrapAdmin(config.api.bootstrapToken),
      );
      bootstrapToken = result.token;
    }),
  );

  const enforcement = lifecycle.add(
    createEnforcementService(config.enforcement, { storage, audit, bus, logger, metrics }),
  );
  const fhir = lifecycle.add(
    new FhirExporter({ config: config.fhir, storage, bus, logger, metrics, siteId: config.siteId }),
  );
  // Read when the CSE starts, after the broker, so a broker on port 0 has its real port.
  const mqttUrl = (): string => broker?.url ?? config.mqtt.url;
  const cse = config.onem2m.enabled
    ? lifecycle.add(
        new Onem2mCse({
          config: config.onem2m,
          storage,
          audit,
          logger,
          registry: metrics,
          get mqttUrl() {
            return mqttUrl();
          },
        }),
      )
    : undefined;

  const ieee11073 = config.ieee11073.enabled
    ? lifecycle.add(
        new Ieee11073Manager({ config: config.ieee11073, storage, bus, audit, logger, metrics }),
      )
    : undefined;

  // Starts after the CSE, the manager and the exporter, so it stops before them.
  const interworking =
    config.interworking.enabled && cse !== undefined && ieee11073 !== undefined
      ? lifecycle.add(
          new InterworkingComponent({
            config: config.interworking,
            bus,
            audit,
            logger,
            repository: ieee11073.repository,
            cse,
            cseName: config.onem2m.cseName,
            adminOriginator: config.onem2m.adminOriginator,
            agents: ieee11073,
            ...(config.fhir.enabled ? { fhir } : {}),
          }),
        )
      : undefined;

  // Starts after enforcement, which moves onboarded devices to their segments, and before the
  // API server, so the onboarding routes only serve while the provisioning listener runs.
  const onboarding = config.onboarding.enabled
    ? createOnboarding({
        config: config.onboarding,
        dataDir: config.dataDir,
        siteId: config.siteId,
        storage,
        audit,
        bus,
        logger,
        metrics,
        inventory,
        enforcement,
      })
    : undefined;
  for (const component of onboarding?.components ?? []) {
    lifecycle.add(component);
  }

  const routePlugins = [fhirRoutes(fhir)];
  if (ieee11073 !== undefined) {
    routePlugins.push(observationRoutes(ieee11073));
  }
  if (onboarding !== undefined) {
    routePlugins.push(onboarding.routes);
  }
  const api = lifecycle.add(
    createApiServer({
      config: config.api,
      logger,
      storage,
      audit,
      access,
      inventory,
      metrics,
      readinessChecks: [],
      routePlugins,
    }),
  );

  return {
    config,
    storage,
    bus,
    audit,
    access,
    inventory,
    api,
    enforcement,
    fhir,
    cse,
    ieee11073,
    interworking,
    onboarding,
    metrics,
    broker,
    get mqttUrl() {
      return mqttUrl();
    },
    get bootstrapToken() {
      return bootstrapToken;
    },
    get apiPort() {
      return api.port;
    },
    start: () => lifecycle.start(),
    stop: () => lifecycle.stop(),
  };
}
