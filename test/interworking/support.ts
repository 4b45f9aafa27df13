/**
 * A running manager, CSE and interworking component for the interworking
 * tests, with a hospital application registered at the CSE.
 */
import { Value } from '@sinclair/typebox/value';
import type { EventBus } from '../../src/core/bus/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import { FhirExporter, FhirSection, type FhirConfig } from '../../src/fhir/index.js';
import { InterworkingComponent } from '../../src/interworking/index.js';
import type { ResponsePrimitive } from '../../src/onem2m/index.js';
import { startManager, type LiveManager } from '../ieee11073/manager/support.js';
import {
  NotificationReceiver,
  registerAe,
  startTestCse,
  type ConfigOverrides,
  type TestCse,
} from '../onem2m/support.js';

export const APP = 'Cward-app';

export interface InterworkingEnv {
  live: LiveManager;
  env: TestCse;
  receiver: NotificationReceiver;
  interworking: InterworkingComponent;
  /** AE-ID of the hospital application. */
  app: string;
  /** Payloads handed to the FHIR exporter. */
  fhirPayloads: unknown[];
  /** The FHIR exporter the bridge feeds; not started, so it sends nothing. */
  fhir: FhirExporter;
  dispose(): Promise<void>;
}

export async function startInterworking(
  options: { cse?: ConfigOverrides; mqttUrl?: string; bus?: EventBus } = {},
): Promise<InterworkingEnv> {
  const live = await startManager(options.bus === undefined ? {} : { bus: options.bus });
  const env = await startTestCse('sqlite', options.cse ?? {}, options.mqttUrl);
  const receiver = new NotificationReceiver();
  const url = await receiver.start();
  const app = await registerAe(env, APP, { poa: [url] });
  await registerAe(env, 'Cstranger');
  const fhirPayloads: unknown[] = [];
  const fhir = new FhirExporter({
    config: Value.Default(FhirSection, { enabled: true }) as FhirConfig,
    storage: live.database.storage,
    bus: live.bus,
    logger: silentLogger(),
    metrics: createMetricsRegistry({ defaultMetrics: false }),
    siteId: 'test',
  });
  const interworking = new InterworkingComponent({
    config: {
      enabled: true,
      applicationOriginators: ['Cward-*'],
      commandContainer: 'command',
      commandNotificationPort: 0,
      fhirExport: true,
    },
    bus: live.bus,
    audit: live.audit,
    logger: silentLogger(),
    repository: live.manager.repository,
    cse: env.cse,
    cseName: env.config.cseName,
    adminOriginator: env.config.adminOriginator,
    agents: live.manager,
    fhir: {
      enqueue: (data) => {
        fhirPayloads.push(data);
        return fhir.enqueue(data);
      },
    },
  });
  await interworking.start();
  return {
    live,
    env,
    receiver,
    interworking,
    app,
    fhirPayloads,
    fhir,
    async dispose() {
      await interworking.stop();
      await live.stop();
      await env.dispose();
      await receiver.stop();
    },
  };
}

/** Polls `read` every 20 ms until it returns a value; rejects after `timeoutMs`. */
export async function until<T>(
  read: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 10000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} not reached within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The parsed `con` of a contentInstance response, or undefined when the response is no success. */
export function contentOf(response: ResponsePrimitive): Record<string, unknown> | undefined {
  if (response.rsc !== 2000 && response.rsc !== 2001) {
    return undefined;
  }
  const cin = (response.pc as Record<string, Record<string, unknown>> | undefined)?.['m2m:cin'];
  return typeof cin?.con === 'string'
    ? (JSON.parse(cin.con) as Record<string, unknown>)
    : undefined;
}
