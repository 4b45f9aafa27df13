import { randomInt, type KeyObject } from 'node:crypto';
import { isMedwardError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { OnboardingEnvironment } from './onboarding-environment.js';
import {
  ProvisioningRequestFailed,
  SimulatedManufacturer,
  type SimulatedDevice,
} from './simulated-device.js';
import {
  MAX_TAGGED_FLEET_DEVICES,
  signedSimulationList,
  simulatedDeviceOf,
  simulatedDeviceSpecs,
  taggedNaming,
} from './simulated-fleet.js';

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

interface FleetOutcome {
  enrolled: number;
  registered: number;
  durationMs: number;
  enrolmentMs: number[];
  registrationMs: number[];
  errors: Record<string, number>;
}

/**
 * Enrols and registers every device, `concurrency` at a time, and returns
 * counts, latencies and failures by error code. A device that fails is
 * logged and counted; the others continue.
 */
async function onboardFleet(
  devices: readonly SimulatedDevice[],
  concurrency: number,
  logger: Logger,
): Promise<FleetOutcome> {
  const outcome: FleetOutcome = {
    enrolled: 0,
    registered: 0,
    durationMs: 0,
    enrolmentMs: [],
    registrationMs: [],
    errors: {},
  };
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < devices.length) {
      const device = devices[next];
      next += 1;
      if (device === undefined) {
        return;
      }
      try {
        device.prepare();
        const enrolStart = performance.now();
        await device.enroll();
        outcome.enrolmentMs.push(performance.now() - enrolStart);
        outcome.enrolled += 1;
        const registerStart = performance.now();
        await device.register();
        outcome.registrationMs.push(performance.now() - registerStart);
        outcome.registered += 1;
      } catch (error) {
        const code =
          error instanceof ProvisioningRequestFailed
            ? error.errorCode
            : isMedwardError(error)
              ? error.code
              : 'UNEXPECTED';
        outcome.errors[code] = (outcome.errors[code] ?? 0) + 1;
        logger.warn(
          { serialNumber: device.options.serialNumber, code, err: error },
          'simulated device failed to onboard',
        );
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, devices.length)) }, worker),
  );
  outcome.durationMs = performance.now() - started;
  return outcome;
}

function summariseFleet(
  outcome: FleetOutcome,
  devices: number,
  inProduction: number,
  listenerUrl: string,
): OnboardingSimulationSummary {
  return {
    devices,
    enrolled: outcome.enrolled,
    registered: outcome.registered,
    inProduction,
    failed: devices - outcome.registered,
    durationMs: outcome.durationMs,
    devicesPerSecond: (outcome.registered * 1000) / outcome.durationMs,
    enrolmentMs: summarise(outcome.enrolmentMs),
    registrationMs: summarise(outcome.registrationMs),
    errors: outcome.errors,
    listenerUrl,
  };
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
    const outcome = await onboardFleet(
      specs.map((spec, index) => environment.device(spec, index)),
      options.concurrency,
      logger,
    );
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
    return summariseFleet(outcome, specs.length, inProduction, environment.listenerUrl);
  } finally {
    await environment.close();
  }
}

/** A running medward to onboard simulated devices into, and how to reach it. */
export interface RunningMedwardTarget {
  /** Base URL of its provisioning listener, for example https://127.0.0.1:8442. */
  listenerUrl: string;
  /** PEM certificates the devices trust for the listener: medward's issuing CA and its chain. */
  trustedCaPem: string;
  /** Private key of an authority whose public key medward trusts (onboarding.authority.publicKeyFiles). */
  authorityKey: KeyObject;
  /** Imports a signed list (the envelope's JSON text) into the running medward. */
  importList(envelope: string): Promise<void>;
  /** Counts the inventory's devices in state production whose serial number contains `text`. */
  countInProduction(text: string): Promise<number>;
}

/**
 * Entries per list a run imports. A list carries the manufacturer's
 * certificate in every IDevID entry, so 500 entries stay well below the
 * API's default body limit of 1 MiB.
 */
const ENTRIES_PER_LIST = 500;

export interface RunningMedwardSimulationOptions {
  count: number;
  concurrency: number;
  target: RunningMedwardTarget;
  logger?: Logger;
  /** 20-bit tag that names this run's devices and list; random when omitted. */
  fleetTag?: number;
}

/**
 * Onboards `count` simulated devices end to end into a running medward,
 * as the devices of a site would. A new manufacturer issues IDevIDs to
 * half of them; the other half get bootstrap secrets. Lists named
 * simulation-<tag>-<n>, signed with the authority key and imported through
 * `target`, authorise them. Each device then enrols over EST with TLS,
 * registers its fact sheet and is moved to production. The run tag keeps
 * serial numbers and MAC addresses apart from earlier runs.
 */
export async function runOnboardingSimulationAgainst(
  options: RunningMedwardSimulationOptions,
): Promise<OnboardingSimulationSummary & { listIds: string[]; serialPrefix: string }> {
  const logger = options.logger ?? silentLogger();
  if (options.count > MAX_TAGGED_FLEET_DEVICES) {
    throw new RangeError(`a run onboards at most ${MAX_TAGGED_FLEET_DEVICES} devices`);
  }
  const tag = options.fleetTag ?? randomInt(0, 0x100000);
  const naming = taggedNaming(tag);
  const manufacturer = new SimulatedManufacturer('Lumen Pumps GmbH');
  const specs = simulatedDeviceSpecs(manufacturer, options.count, 0, naming);
  const listIds: string[] = [];
  for (let start = 0; start < specs.length; start += ENTRIES_PER_LIST) {
    const listId = `simulation-${naming.tagHex}-${listIds.length + 1}`;
    const entries = specs.slice(start, start + ENTRIES_PER_LIST).map((spec) => spec.entry);
    await options.target.importList(
      signedSimulationList(entries, {
        listId,
        version: 1,
        authorityKey: options.target.authorityKey,
      }),
    );
    listIds.push(listId);
  }
  const outcome = await onboardFleet(
    specs.map((spec) => simulatedDeviceOf(spec, options.target)),
    options.concurrency,
    logger,
  );
  const inProduction = await options.target.countInProduction(naming.serialPrefix);
  return {
    ...summariseFleet(outcome, specs.length, inProduction, options.target.listenerUrl),
    listIds,
    serialPrefix: naming.serialPrefix,
  };
}
