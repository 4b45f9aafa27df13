import { isMedwardError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { OnboardingEnvironment } from './onboarding-environment.js';
import { ProvisioningRequestFailed } from './simulated-device.js';

export interface OnboardingSimulationOptions {
  /** Simulated devices, alternating IDevID and bootstrap-secret birth identities. */
  count: number;
  /** Devices onboarding at the same time. */
  concurrency: number;
  /** Provisioning listener port on 127.0.0.1; 0 picks a free one. */
  port?: number;
  /** Keeps the database and CA here; a temporary directory, removed afterwards, when omitted. */
  dataDir?: string;
  /** Storage URL; SQLite in the data directory when omitted. */
  storageUrl?: string;
  logger?: Logger;
}

export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
}

export interface OnboardingSimulationSummary {
  devices: number;
  enrolled: number;
  registered: number;
  /** Devices the inventory shows in state production after the run. */
  inProduction: number;
  failed: number;
  durationMs: number;
  devicesPerSecond: number;
  enrolmentMs: LatencySummary;
  registrationMs: LatencySummary;
  /** Failures by error code. */
  errors: Record<string, number>;
  listenerUrl: string;
}

/** Nearest-rank quantile of `samples` (q from 0 to 1); 0 for no samples. */
function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) {
    return 0;
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

function summarise(samples: readonly number[]): LatencySummary {
  return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), max: quantile(samples, 1) };
}

/**
 * Onboards `count` simulated devices end to end against a medward
 * onboarding deployment in this process. It signs and imports an
 * authorisation list naming the devices. Each device then enrols over EST
 * (TLS to the provisioning listener on 127.0.0.1), registers its fact sheet
 * and is moved to its production segment. Returns counts, latencies and
 * failures by error code.
 */
export async function runOnboardingSimulation(
  options: OnboardingSimulationOptions,
): Promise<OnboardingSimulationSummary> {
  const logger = options.logger ?? silentLogger();
  const environment = await OnboardingEnvironment.create({
    logger,
    port: options.port ?? 0,
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(options.storageUrl === undefined ? {} : { storageUrl: options.storageUrl }),
  });
  try {
    await environment.start();
    const specs = environment.deviceSpecs(options.count);
    await environment.authorise(specs);
    const enrolmentMs: number[] = [];
    const registrationMs: number[] = [];
    const errors: Record<string, number> = {};
    let enrolled = 0;
    let registered = 0;
    let next = 0;
    const started = performance.now();
    const worker = async (): Promise<void> => {
      while (next < specs.length) {
        const index = next;
        next += 1;
        const spec = specs[index];
        if (spec === undefined) {
          return;
        }
        const device = environment.device(spec, index);
        try {
          device.prepare();
          const enrolStart = performance.now();
          await device.enroll();
          enrolmentMs.push(performance.now() - enrolStart);
          enrolled += 1;
          const registerStart = performance.now();
          await device.register();
          registrationMs.push(performance.now() - registerStart);
          registered += 1;
        } catch (error) {
          const code =
            error instanceof ProvisioningRequestFailed
              ? error.errorCode
              : isMedwardError(error)
                ? error.code
                : 'UNEXPECTED';
          errors[code] = (errors[code] ?? 0) + 1;
          logger.warn(
            { serialNumber: spec.serialNumber, code, err: error },
            'simulated device failed to onboard',
          );
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.max(1, Math.min(options.concurrency, specs.length)) }, worker),
    );
    const durationMs = performance.now() - started;
    let inProduction = 0;
    let cursor: string | undefined;
    do {
      const page = await environment.inventory.list({
        state: 'production',
        limit: 500,
        ...(cursor === undefined ? {} : { cursor }),
      });
      inProduction += page.items.length;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return {
      devices: specs.length,
      enrolled,
      registered,
      inProduction,
      failed: specs.length - registered,
      durationMs,
      devicesPerSecond: (registered * 1000) / durationMs,
      enrolmentMs: summarise(enrolmentMs),
      registrationMs: summarise(registrationMs),
      errors,
      listenerUrl: environment.listenerUrl,
    };
  } finally {
    await environment.close();
  }
}
