import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
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
import { hashSecret } from '../authorisation/authorisation-service.js';
import {
  AUTHORISATION_LIST_FORMAT,
  type AuthorisationList,
  type ListEntry,
} from '../authorisation/list-schema.js';
import { signList } from '../authorisation/signature.js';
import { toPem } from '../ca/pem.js';
import { OnboardingSection, type OnboardingConfig } from '../config.js';
import { createOnboarding, type Onboarding } from '../create-onboarding.js';
import {
  SimulatedDevice,
  SimulatedManufacturer,
  type BirthCredential,
} from './simulated-device.js';

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

export interface DeviceSpec {
  manufacturer: string;
  model: string;
  serialNumber: string;
  birth: BirthCredential;
  entry: ListEntry;
}

const MODELS = ['LP-420', 'PM-9', 'VX-2'] as const;

/** Returns the MAC address of simulated device `index`: locally administered, unique per index. */
export function simulatedMac(index: number): string {
  const hex = index.toString(16).padStart(8, '0');
  return `02:5e:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}`;
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
    for (const component of this.onboarding.components) {
      await component.start();
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
    const now = Date.now();
    const list: AuthorisationList = {
      format: AUTHORISATION_LIST_FORMAT,
      formatVersion: 1,
      listId: 'simulation',
      version: version ?? this.listVersion + 1,
      issuedAt: new Date(now - 60_000).toISOString(),
      expiresAt: new Date(now + 86_400_000).toISOString(),
      authority: 'medward simulation',
      devices: [...entries],
      revocations,
    };
    return JSON.stringify(signList(list, this.authorityKey));
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
    const specs: DeviceSpec[] = [];
    for (let index = offset; index < offset + count; index += 1) {
      const model = MODELS[index % MODELS.length] ?? 'LP-420';
      const serialNumber = `SIM-${String(index).padStart(6, '0')}`;
      const manufacturer = this.manufacturer.name;
      let birth: BirthCredential;
      let birthIdentity: ListEntry['birthIdentity'];
      if (index % 2 === 0) {
        birth = { kind: 'idevid', ...this.manufacturer.issueIdevid(model, serialNumber) };
        birthIdentity = { kind: 'idevid', trustAnchors: [this.manufacturer.certificatePem] };
      } else {
        const secret = randomBytes(24).toString('base64url');
        birth = { kind: 'bootstrap-secret', secret };
        birthIdentity = { kind: 'bootstrap-secret', secretSha256: hashSecret(secret) };
      }
      specs.push({
        manufacturer,
        model,
        serialNumber,
        birth,
        entry: {
          entryId: `sim-${index}`,
          manufacturer,
          model,
          serialNumber,
          birthIdentity,
          deviceClass: model === 'PM-9' ? 'patient-monitor' : 'infusion-pump',
          macAddresses: [simulatedMac(index)],
        },
      });
    }
    return specs;
  }

  device(spec: DeviceSpec, index: number, sbom?: unknown): SimulatedDevice {
    return new SimulatedDevice({
      manufacturer: spec.manufacturer,
      model: spec.model,
      serialNumber: spec.serialNumber,
      birth: spec.birth,
      listenerUrl: this.listenerUrl,
      trustedCaPem: this.caPem,
      interfaces: [{ name: 'eth0', mac: simulatedMac(index), kind: 'wired' }],
      firmwareVersion: '4.2.0',
      ...(sbom === undefined ? {} : { sbom }),
    });
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
