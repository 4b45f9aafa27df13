import { randomUUID } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { AuditTrail } from '../../src/core/audit/index.js';
import { InProcessBus, type BusMessage } from '../../src/core/bus/index.js';
import { ActorKind, type Actor } from '../../src/core/context.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import { createMetricsRegistry, type Registry } from '../../src/core/metrics.js';
import { EnforcementSection, type EnforcementConfig } from '../../src/enforcement/config.js';
import { SegmentModel } from '../../src/enforcement/segments.js';
import { EnforcementService } from '../../src/enforcement/service.js';
import type {
  EnforcedDevice,
  EnforcementDecision,
  EnforcementPoint,
  SegmentKind,
} from '../../src/enforcement/types.js';
import { createTestDatabase, type TestDatabase } from '../support/storage.js';

export const automation: Actor = { kind: ActorKind.Automation, id: 'posture-rule-7' };
export const nurse: Actor = { kind: ActorKind.User, id: 'user-42', display: 'Charge nurse' };

/** Builds the enforcement section from partial YAML-like input, with the schema's defaults. */
export function enforcementConfig(partial: Record<string, unknown> = {}): EnforcementConfig {
  const value = Value.Default(EnforcementSection, structuredClone(partial));
  if (!Value.Check(EnforcementSection, value)) {
    const first = [...Value.Errors(EnforcementSection, value)][0];
    throw new Error(`test configuration invalid at ${first?.path}: ${first?.message}`);
  }
  return value;
}

export function makeDevice(overrides: Partial<EnforcedDevice> = {}): EnforcedDevice {
  return {
    id: 'pump-1',
    macs: ['02:00:00:00:01:01'],
    interfaces: [{ mac: '02:00:00:00:01:01', kind: 'wired' }],
    productionSegment: 'clinical',
    lifeSustaining: false,
    ...overrides,
  };
}

export function makeDecision(
  device: EnforcedDevice,
  target: SegmentKind,
  overrides: Partial<EnforcementDecision> = {},
): EnforcementDecision {
  return {
    id: `decision-${randomUUID()}`,
    device,
    target,
    reason: `test moves ${device.id} to ${target}`,
    cause: { kind: 'decision', id: `cause-${randomUUID()}` },
    actor: automation,
    ...overrides,
  };
}

export interface ServiceHarness {
  service: EnforcementService;
  database: TestDatabase;
  audit: AuditTrail;
  bus: InProcessBus;
  alerts: BusMessage[];
  metrics: Registry;
  model: SegmentModel;
  /** Stops the service (unless stopped), the bus and the database. */
  dispose(): Promise<void>;
}

/** Starts an enforcement service on a fresh SQLite database with the given points. */
export async function startService(
  points: readonly EnforcementPoint[],
  options: {
    config?: EnforcementConfig;
    logger?: Logger;
    database?: TestDatabase;
  } = {},
): Promise<ServiceHarness> {
  const logger = options.logger ?? silentLogger();
  const config =
    options.config ??
    enforcementConfig({ retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 } });
  const database = options.database ?? (await createTestDatabase('sqlite'));
  const audit = new AuditTrail(database.storage, { siteId: 'test-site' });
  const bus = new InProcessBus(logger);
  await bus.start();
  const alerts: BusMessage[] = [];
  await bus.subscribe({
    subject: 'enforcement.alert',
    group: 'test-alerts',
    handler: (message) => {
      alerts.push(message);
    },
  });
  const metrics = createMetricsRegistry({ defaultMetrics: false });
  const model = new SegmentModel(config.segments, config.services);
  const service = new EnforcementService({
    storage: database.storage,
    audit,
    bus,
    logger,
    metrics,
    model,
    points,
    retry: config.retry,
  });
  await service.start();
  let stopped = false;
  return {
    service,
    database,
    audit,
    bus,
    alerts,
    metrics,
    model,
    async dispose() {
      if (!stopped) {
        stopped = true;
        await service.stop();
      }
      await bus.stop();
      await database.dispose();
    },
  };
}

/** Waits until `condition` holds, polling every 5 ms, or fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
