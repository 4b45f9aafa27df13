/**
 * Device onboarding figures, against an onboarding deployment in this
 * process (SQLite in a temporary directory on disk, the in-process bus, the
 * in-memory enforcement point) with the provisioning listener on 127.0.0.1:
 *
 * - enrolments per second: full EST simpleenroll round trips from 32
 *   concurrent clients, over 1,200 devices after a warm-up of 100. Each is a
 *   new mutual TLS connection with an IDevID chain or bootstrap secret check,
 *   CSR verification, certificate issue, and lifecycle transitions and audit
 *   records committed. Half the devices use an IDevID, half a bootstrap
 *   secret. Key pairs, CSRs and client TLS contexts are made before the
 *   clock starts;
 * - time to onboard 1,000 devices end to end: key generation, enrolment,
 *   registration with a CycloneDX SBOM, configuration, and the move to the
 *   production segment, 32 devices at a time, until every one is production.
 *
 * The simulated devices run in a worker thread, so the client side uses the
 * second core. Besides the rates, each phase reports the CPU time per
 * operation of medward's thread, of the load client's thread and of the
 * whole process, which other work on the machine disturbs far less than
 * the rates.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { OnboardingEnvironment } from '../src/onboarding/simulation/onboarding-environment.js';
import type { LoadClientData, LoadClientResult } from './onboarding-load-client.js';
import { quantile, threadCpuMs, type Benchmark, type Figure } from './harness.js';

const CONCURRENCY = 32;
const WARMUP_DEVICES = 100;
const MEASURED_ENROLMENTS = 1200;
const ONBOARDED_DEVICES = 1000;

const sbom = JSON.parse(
  readFileSync(
    new URL('../test/onboarding/fixtures/cyclonedx-1.5-infusion-pump.json', import.meta.url),
    'utf8',
  ),
) as unknown;

/** Starts the load client worker with tsx's loader, so it can import medward's TypeScript. */
function startClient(data: LoadClientData): Worker {
  const require = createRequire(import.meta.url);
  const tsxApi = new URL(`file://${require.resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')}`).href;
  const client = new URL('./onboarding-load-client.ts', import.meta.url).href;
  return new Worker(
    `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(client)}); });`,
    { eval: true, workerData: data },
  );
}

/** A load phase's result with the CPU this process spent meanwhile. */
interface PhaseResult extends LoadClientResult {
  /** CPU time of the main thread, which runs medward, over the phase. */
  serverCpuMs: number | undefined;
  /** CPU time of every thread of the process (medward, client, garbage collector, thread pool). */
  processCpuMs: number;
}

/** Runs one load phase: waits for the worker to prepare, starts it, and returns its result. */
function runClient(data: LoadClientData): Promise<PhaseResult> {
  const worker = startClient(data);
  let serverCpuBefore: number | undefined;
  let processCpuBefore = process.cpuUsage();
  return new Promise<PhaseResult>((resolve, reject) => {
    worker.on('message', (message: { kind: string; result?: LoadClientResult }) => {
      if (message.kind === 'ready') {
        serverCpuBefore = threadCpuMs();
        processCpuBefore = process.cpuUsage();
        worker.postMessage('go');
      } else if (message.result !== undefined) {
        const serverCpuAfter = threadCpuMs();
        const processCpu = process.cpuUsage(processCpuBefore);
        resolve({
          ...message.result,
          serverCpuMs:
            serverCpuBefore === undefined || serverCpuAfter === undefined
              ? undefined
              : serverCpuAfter - serverCpuBefore,
          processCpuMs: (processCpu.user + processCpu.system) / 1000,
        });
        void worker.terminate();
      }
    });
    worker.on('error', reject);
    // Without this, a worker that ends before reporting would leave the promise
    // pending, and the run would end without a result or an error.
    worker.on('exit', (code) => {
      reject(new Error(`load client worker exited with code ${code} before reporting`));
    });
  });
}

/** CPU figures per operation, for comparing runs on a machine that other work shares. */
function cpuFigures(result: PhaseResult, operation: string): Figure[] {
  const perOperation = (ms: number): number => ms / result.completed;
  return [
    ...(result.serverCpuMs === undefined
      ? []
      : [
          {
            name: `medward main thread CPU per ${operation}`,
            value: perOperation(result.serverCpuMs),
            unit: 'ms',
          },
        ]),
    ...(result.cpuMs === undefined
      ? []
      : [
          {
            name: `load client thread CPU per ${operation}`,
            value: perOperation(result.cpuMs),
            unit: 'ms',
          },
        ]),
    {
      name: `process CPU per ${operation} (all threads)`,
      value: perOperation(result.processCpuMs),
      unit: 'ms',
    },
  ];
}

function assertComplete(result: PhaseResult, expected: number, phase: string): void {
  if (result.completed !== expected) {
    throw new Error(
      `${phase}: ${result.completed} of ${expected} devices succeeded; errors ${JSON.stringify(result.errors)}`,
    );
  }
}

async function measureEnrolments(): Promise<Figure[]> {
  const environment = await OnboardingEnvironment.create();
  try {
    await environment.start();
    const specs = environment.deviceSpecs(WARMUP_DEVICES + MEASURED_ENROLMENTS);
    await environment.authorise(specs);
    const options = specs.map((spec, index) => environment.device(spec, index).options);
    const warmup = await runClient({
      phase: 'enrol',
      devices: options.slice(0, WARMUP_DEVICES),
      concurrency: CONCURRENCY,
    });
    assertComplete(warmup, WARMUP_DEVICES, 'warm-up');
    const measured = await runClient({
      phase: 'enrol',
      devices: options.slice(WARMUP_DEVICES),
      concurrency: CONCURRENCY,
    });
    assertComplete(measured, MEASURED_ENROLMENTS, 'enrolment');
    return [
      {
        name: 'EST enrolments per second (TLS, CSR check, issue, audit)',
        value: (measured.completed * 1000) / measured.durationMs,
        unit: 'enrolments/s',
        target: { comparison: '>=', value: 300 },
      },
      { name: 'enrolment latency p50', value: quantile(measured.latenciesMs, 0.5), unit: 'ms' },
      { name: 'enrolment latency p99', value: quantile(measured.latenciesMs, 0.99), unit: 'ms' },
      ...cpuFigures(measured, 'enrolment'),
    ];
  } finally {
    await environment.close();
  }
}

async function measureOnboarding(): Promise<Figure[]> {
  const environment = await OnboardingEnvironment.create();
  try {
    await environment.start();
    const specs = environment.deviceSpecs(ONBOARDED_DEVICES);
    await environment.authorise(specs);
    const options = specs.map((spec, index) => environment.device(spec, index, sbom).options);
    const result = await runClient({
      phase: 'onboard',
      devices: options,
      concurrency: CONCURRENCY,
    });
    assertComplete(result, ONBOARDED_DEVICES, 'onboarding');
    const production = await environment.inventory.list({ state: 'production', limit: 1 });
    if (production.items.length === 0) {
      throw new Error('no device reached production');
    }
    return [
      {
        name: 'time to onboard 1,000 devices end to end',
        value: result.durationMs / 1000,
        unit: 's',
        target: { comparison: '<=', value: 30 },
      },
      {
        name: 'onboarding latency per device p99',
        value: quantile(result.latenciesMs, 0.99),
        unit: 'ms',
      },
      ...cpuFigures(result, 'onboarded device'),
    ];
  } finally {
    await environment.close();
  }
}

export const benchmark: Benchmark = {
  name: 'onboarding',
  description:
    'EST enrolments per second over mutual TLS to the provisioning listener on 127.0.0.1 (32 concurrent clients ' +
    'in a worker thread, 1,200 enrolments after 100 warm-up, SQLite on disk, audit included), and the time to ' +
    'onboard 1,000 simulated devices end to end (enrolment, registration with SBOM, move to production). ' +
    'CPU figures are per operation: medward main thread, load client thread, and all threads of the process; ' +
    'load-average-1m shows how much other work shared the machine.',
  async run(): Promise<Figure[]> {
    // Other work on the machine slows the rates; the CPU figures are steadier.
    const load = { name: 'load-average-1m at start', value: loadavg()[0] ?? 0, unit: '' };
    return [load, ...(await measureEnrolments()), ...(await measureOnboarding())];
  },
};
