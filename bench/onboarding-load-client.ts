// Worker thread of the onboarding benchmark: plays the simulated devices, so
// their TLS handshakes, key generation and CSR signing run on a core other
// than medward's. Started by bench/onboarding.bench.ts through tsx's register().
import { parentPort, workerData } from 'node:worker_threads';
import { threadCpuMs } from './harness.js';
import {
  ProvisioningRequestFailed,
  SimulatedDevice,
  type SimulatedDeviceOptions,
} from '../src/onboarding/simulation/simulated-device.js';

export interface LoadClientData {
  phase: 'enrol' | 'onboard';
  devices: SimulatedDeviceOptions[];
  concurrency: number;
}

export interface LoadClientResult {
  durationMs: number;
  /** CPU time of this worker thread over the measured phase; undefined outside Linux. */
  cpuMs: number | undefined;
  latenciesMs: number[];
  completed: number;
  errors: Record<string, number>;
}

const data = workerData as LoadClientData;
const port = parentPort;

async function run(): Promise<void> {
  if (port === null) {
    return;
  }
  const devices = data.devices.map((options) => new SimulatedDevice(options));
  if (data.phase === 'enrol') {
    // Key pairs and CSRs are made before the clock starts: enrolment measures the exchange.
    for (const device of devices) {
      device.prepare();
    }
  }
  port.postMessage({ kind: 'ready' });
  await new Promise<void>((resolve) => {
    port.once('message', () => {
      resolve();
    });
  });
  const latenciesMs: number[] = [];
  const errors: Record<string, number> = {};
  let completed = 0;
  let next = 0;
  const profiling = process.env.MEDWARD_PROFILE_CLIENT === '1' ? await startProfile() : undefined;
  const started = performance.now();
  const cpuBefore = threadCpuMs();
  const worker = async (): Promise<void> => {
    while (next < devices.length) {
      const device = devices[next];
      next += 1;
      if (device === undefined) {
        return;
      }
      const begin = performance.now();
      try {
        await device.enroll();
        if (data.phase === 'onboard') {
          const result = await device.register();
          if (result.state !== 'production') {
            throw new Error(`device ended in ${String(result.state)}`);
          }
        }
        latenciesMs.push(performance.now() - begin);
        completed += 1;
      } catch (error) {
        const code =
          error instanceof ProvisioningRequestFailed
            ? error.errorCode
            : (error as Error).message.slice(0, 80);
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: data.concurrency }, worker));
  const durationMs = performance.now() - started;
  const cpuAfter = threadCpuMs();
  await profiling?.();
  const result: LoadClientResult = {
    durationMs,
    cpuMs: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore,
    latenciesMs,
    completed,
    errors,
  };
  port.postMessage({ kind: 'result', result });
}

/** Profiles the worker when MEDWARD_PROFILE_CLIENT=1; the returned function writes /tmp/medward-client.cpuprofile. */
async function startProfile(): Promise<() => Promise<void>> {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync('/tmp/medward-client.cpuprofile', JSON.stringify(profile));
  };
}

void run();
