import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { AuditTrail } from '../../core/audit/index.js';
import { InProcessBus, type EventBus } from '../../core/bus/index.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { createMetricsRegistry, type Registry } from '../../core/metrics.js';
import { Storage, migrateToLatest } from '../../core/storage/index.js';
import {
  EnforcementSection,
  createEnforcementService,
  type EnforcementConfig,
  type EnforcementService,
} from '../../enforcement/index.js';
import { InventoryService } from '../../inventory/index.js';
import { allMigrations } from '../../migrations.js';
import type { AuthorisationList, ListEntry } from '../authorisation/list-schema.js';
import { toPem } from '../ca/pem.js';
import { OnboardingSection, type OnboardingConfig } from '../config.js';
import {
  AUTHORISATION_SOURCE_CHECK,
  createOnboarding,
  type Onboarding,
} from '../create-onboarding.js';
import { SimulatedManufacturer, type SimulatedDevice } from './simulated-device.js';
import {
  signedSimulationList,
  simulatedDeviceOf,
  simulatedDeviceSpecs,
  simulatedMac,
  type DeviceSpec,
} from './simulated-fleet.js';

export { simulatedMac, type DeviceSpec };

export interface OnboardingEnvironmentOptions {
  /** Directory for the database, CA and keys; a temporary one, removed on close, when omitted. */
  dataDir?: string;
  /** Storage URL; SQLite in dataDir when omitted. */
  storageUrl?: string;
  /** Provisioning listener port; 0 picks a free one. Always on 127.0.0.1. */
  port?: number;
  /** Onboarding configuration members applied over the defaults. */
  config?: Record<string, unknown>;
  enforcement?: Record<string, unknown>;
  logger?: Logger;
  now?: () => Date;
}

/**
 * A complete onboarding deployment in one process, for the simulator, the
 * benchmark and end-to-end tests. It holds storage with every migration, the
 * audit trail, the in-process bus, the inventory, the enforcement service
 * with its in-memory point, and the onboarding context with its provisioning
 * listener on 127.0.0.1. It also plays the authority (an Ed25519 signing key
 * whose public key medward trusts) and a device manufacturer (an IDevID CA).
 */
export class OnboardingEnvironment {
  readonly manufacturer = new SimulatedManufacturer('Lumen Pumps GmbH');
  private listVersion = 0;
  private readonly entries: ListEntry[] = [];
  private started = false;

  private constructor(
    readonly dataDir: string,
    private readonly temporary: boolean,
    readonly config: OnboardingConfig,
    readonly storage: Storage,
    readonly audit: AuditTrail,
    readonly bus: EventBus,
    readonly metrics: Registry,
    readonly inventory: InventoryService,
    readonly enforcement: EnforcementService,
    readonly onboarding: Onboarding,
    private readonly authorityKey: KeyObject,
    private readonly logger: Logger,
  ) {}

  static async create(options: OnboardingEnvironmentOptions = {}): Promise<OnboardingEnvironment> {
    const logger = options.logger ?? silentLogger();
    const temporary = options.dataDir === undefined;
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'medward-onboarding-'));
    mkdirSync(dataDir, { recursive: true });
    const authority = generateKeyPairSync('ed25519');
    const authorityKeyFile = join(dataDir, 'authority-public-key.pem');
    writeFileSync(authorityKeyFile, authority.publicKey.export({ type: 'spki', format: 'pem' }));
    const config = Value.Default(
      OnboardingSection,
      structuredClone({
        ...options.config,
        provisioning: {
          host: '127.0.0.1',
          port: options.port ?? 0,
          ...(options.config?.provisioning as object | undefined),
        },
        authority: { publicKeyFiles: [authorityKeyFile] },
      }),
    ) as OnboardingConfig;
    const storage = new Storage(
      {
        url: options.storageUrl ?? `sqlite:${join(dataDir, 'medward.db')}`,
        poolSize: 10,
        statementTimeoutMs: 15_000,
      },
      logger,
    );
    await storage.start();
    await migrateToLatest(storage, allMigrations, logger);
    const now = options.now;
    const audit = new AuditTrail(storage, {
      siteId: 'simulation',
      ...(now === undefined ? {} : { now }),
    });
    const bus = new InProcessBus(logger);
    await bus.start();
    const metrics = createMetricsRegistry({ defaultMetrics: false });
    const inventory = new InventoryService({
      storage,
      audit,
      logger,
      bus,
      ...(now === undefined ? {} : { now }),
    });
    const enforcementConfig = Value.Default(
      EnforcementSection,
      structuredClone(options.enforcement ?? {}),
    ) as EnforcementConfig;
    const enforcement = createEnforcementService(enforcementConfig, {
      storage,
      audit,
      bus,
      logger,
      metrics,
    });
    await enforcement.start();
    const onboarding = createOnboarding({
      config,
      dataDir,
      siteId: 'simulation',
      storage,
      audit,
      bus,
      logger,
      metrics,
      inventory,
      enforcement,
      ...(now === undefined ? {} : { now }),
    });
    return new OnboardingEnvironment(
      dataDir,
      temporary,
      config,
      storage,
      audit,
      bus,
      metrics,
      inventory,
      enforcement,
      onboarding,
      authority.privateKey,
      logger,
    );
  }

  async start(): Promise<void> {
    // The environment imports its own lists after start, so the warning that none is stored is noise.
    for (const component of this.onboarding.components) {
      if (component.name !== AUTHORISATION_SOURCE_CHECK) {
        await component.start();
      }
    }
    this.started = true;
  }

  get listenerUrl(): string {
    return `https://127.0.0.1:${this.onboarding.provisioningListener.port}`;
  }

  /** The CA certificate devices trust for the listener, PEM. */
  get caPem(): string {
    return this.onboarding.ca.caCertificates
      .map((certificate) => toPem(certificate.der, 'CERTIFICATE'))
      .join('');
  }

  /** Signs and imports a new version of the list with every device authorised so far plus `specs`. */
  async authorise(specs: readonly DeviceSpec[]): Promise<void> {
    this.entries.push(...specs.map((spec) => spec.entry));
    await this.importList(this.entries, []);
  }

  /** Signs a list with the environment's authority key. */
  signedList(
    entries: readonly ListEntry[],
    revocations: AuthorisationList['revocations'] = [],
    version?: number,
  ): string {
    return signedSimulationList(entries, {
      listId: 'simulation',
      version: version ?? this.listVersion + 1,
      authorityKey: this.authorityKey,
      revocations,
    });
  }

  async importList(
    entries: readonly ListEntry[],
    revocations: AuthorisationList['revocations'],
  ): Promise<void> {
    const text = this.signedList(entries, revocations);
    this.listVersion += 1;
    await this.onboarding.authorisation.importList(text, { kind: 'file', location: 'simulation' });
  }

  /** Specs of `count` devices, alternating IDevID and bootstrap-secret birth identities. */
  deviceSpecs(count: number, offset = 0): DeviceSpec[] {
    return simulatedDeviceSpecs(this.manufacturer, count, offset);
  }

  device(spec: DeviceSpec, index: number, sbom?: unknown): SimulatedDevice {
    return simulatedDeviceOf(
      spec,
      { listenerUrl: this.listenerUrl, trustedCaPem: this.caPem },
      { macAddress: simulatedMac(index), sbom },
    );
  }

  async close(): Promise<void> {
    if (this.started) {
      for (const component of [...this.onboarding.components].reverse()) {
        await component.stop();
      }
    }
    await this.enforcement.stop();
    await this.bus.stop();
    await this.storage.stop();
    if (this.temporary) {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
    this.logger.debug({ dataDir: this.dataDir }, 'onboarding environment closed');
  }
}
