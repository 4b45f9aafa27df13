// End-to-end benchmark of the IEEE 11073-20601 manager: simulated agents in a
// child process stream confirmed reports over TCP on 127.0.0.1 to a manager
// in this process, which commits them to a temporary SQLite file.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AuditTrail } from '../src/core/audit/index.js';
import { InProcessBus } from '../src/core/bus/index.js';
import { silentLogger } from '../src/core/logger.js';
import { createMetricsRegistry, type Registry } from '../src/core/metrics.js';
import { Storage, migrateToLatest } from '../src/core/storage/index.js';
import {
  Ieee11073Manager,
  Ieee11073Section,
  type Ieee11073Config,
} from '../src/ieee11073/index.js';
import type { SimulationSummary } from '../src/ieee11073/index.js';
import { allMigrations } from '../src/migrations.js';
import type { Benchmark, Figure } from './harness.js';
import { Value } from '@sinclair/typebox/value';

const AGENTS = Number(process.env.MEDWARD_BENCH_AGENTS ?? 1000);
/**
 * Stored readings per confirmed report. A blood pressure monitor sends one
 * reading per scan report when it reports a fresh measurement. A reading is 2
 * observations (the compound systolic/diastolic/mean and the pulse rate), so
 * the default load is 2 observations per report, within the 1 to 3 that real
 * monitors and scales send. MEDWARD_BENCH_READINGS=5 gives a stored-data
 * upload of 10 observations per report.
 */
const READINGS_PER_REPORT = Number(process.env.MEDWARD_BENCH_READINGS ?? 1);
/**
 * Reports per second per agent. The default offers 1000 agents x 11 reports/s
 * x 2 observations = 22,000 observations/s, far more reports per device than
 * a real monitor sends, to load the manager 10 % above its throughput target
 * with real-sized reports. Offering exactly the target would make the
 * committed rate fall on either side of it by chance.
 */
const RATE = Number(process.env.MEDWARD_BENCH_RATE ?? 22000 / AGENTS / (2 * READINGS_PER_REPORT));
const DURATION_MS = Number(process.env.MEDWARD_BENCH_DURATION_MS ?? 20000);
/** Settling time between the last association and the throughput window. */
const WINDOW_MARGIN_MS = 2000;
/** Length of the throughput window. */
const WINDOW_MS = Math.max(1000, DURATION_MS - 3 * WINDOW_MARGIN_MS - 4000);

const COMMIT_SECONDS = 'medward_ieee11073_commit_duration_seconds';
const ACK_SECONDS = 'medward_ieee11073_report_ack_seconds';

const simulatorScript = new URL('../scripts/ieee11073-simulate.ts', import.meta.url).pathname;

/**
 * Extra Node.js options for the agent process, split on spaces, such as
 * `--cpu-prof --cpu-prof-dir=/tmp/agents` to profile the load generator
 * (Node.js does not accept --cpu-prof in NODE_OPTIONS).
 */
const AGENT_NODE_OPTIONS = (process.env.MEDWARD_BENCH_AGENT_NODE_OPTIONS ?? '')
  .split(' ')
  .filter((option) => option !== '');

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

function memoryInUse(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Agents {
  summary: Promise<SimulationSummary>;
  /** CPU time the agent process used so far, in ms; undefined where /proc is missing. */
  cpuMs(): number | undefined;
  kill(): void;
}

/**
 * Returns the user plus system CPU time of a process in ms from
 * /proc/<pid>/stat (Linux), whose times are in USER_HZ ticks, 100 a second
 * on Linux. Returns undefined on other systems or when the process is gone.
 */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) {
    return undefined;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Starts the simulator in a child process; its summary arrives when it exits. */
function startAgents(
  port: number,
  kind: 'bpm' | 'pulseox',
  readings: number,
  rate: number,
  durationMs: number,
): Agents {
  const child = spawn(
    process.execPath,
    [
      ...AGENT_NODE_OPTIONS,
      '--import',
      'tsx',
      simulatorScript,
      'agents',
      '--kind',
      kind,
      '--measurements-per-report',
      String(readings),
      '--count',
      String(AGENTS),
      '--rate',
      String(rate),
      '--duration-ms',
      String(durationMs),
      '--port',
      String(port),
      '--json',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const summary = new Promise<SimulationSummary>((resolve, reject) => {
    child.on('close', () => {
      try {
        resolve(JSON.parse(output) as SimulationSummary);
      } catch {
        reject(new Error(`simulator printed no summary: ${output.slice(0, 500)}`));
      }
    });
  });
  return {
    summary,
    cpuMs: () => processCpuMs(child.pid),
    kill: () => {
      child.kill('SIGKILL');
    },
  };
}

function committedObservations(registry: Registry): Promise<number> {
  return (
    registry
      .getSingleMetric('medward_ieee11073_observations_committed_total')
      ?.get()
      .then((metric) => metric.values[0]?.value ?? 0) ?? Promise.resolve(0)
  );
}

interface BucketCounts {
  /** Upper bound in seconds of each bucket, ascending, ending with +Inf. */
  bounds: number[];
  /** Cumulative count of each bucket. */
  counts: number[];
}

async function bucketCounts(registry: Registry, name: string): Promise<BucketCounts> {
  const metric = await registry.getSingleMetric(name)?.get();
  const buckets = (metric?.values ?? []).filter((value) => value.labels.le !== undefined);
  return {
    bounds: buckets.map((value) => Number(value.labels.le)),
    counts: buckets.map((value) => value.value),
  };
}

/**
 * Returns the upper bound in ms of the histogram bucket that contains quantile
 * `q` of the samples counted between `start` and `end`.
 */
function quantileBoundMs(start: BucketCounts, end: BucketCounts, q: number): number {
  const counts = end.counts.map((count, index) => count - (start.counts[index] ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  const index = counts.findIndex((count) => count >= q * total);
  return (end.bounds[index] ?? Number.NaN) * 1000;
}

/** Returns the sum and count of a histogram, to compute its mean over a window. */
async function histogramTotals(
  registry: Registry,
  name: string,
): Promise<{ sum: number; count: number }> {
  const metric = await registry.getSingleMetric(name)?.get();
  const values = metric?.values ?? [];
  const sum =
    values.find((value) => (value as { metricName?: string }).metricName === `${name}_sum`)
      ?.value ?? 0;
  const count =
    values.find((value) => (value as { metricName?: string }).metricName === `${name}_count`)
      ?.value ?? 0;
  return { sum, count };
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      return false;
    }
    await delay(100);
  }
  return true;
}

/** Size of a file in MiB; 0 when it does not exist. */
function fileMiB(path: string): number {
  try {
    return statSync(path).size / (1024 * 1024);
  } catch {
    return 0;
  }
}

async function measureThroughput(
  manager: Ieee11073Manager,
  registry: Registry,
  walPath: string,
): Promise<Figure[]> {
  const agents = startAgents(manager.port, 'bpm', READINGS_PER_REPORT, RATE, DURATION_MS);
  // Each agent reports for DURATION_MS from its own association, so the
  // window starts once all are associated and ends before the first release.
  const associated = await waitFor(() => manager.associationCount >= AGENTS, 60000);
  await delay(WINDOW_MARGIN_MS);
  const startCount = await committedObservations(registry);
  const startAcks = await bucketCounts(registry, ACK_SECONDS);
  const startCommits = await histogramTotals(registry, COMMIT_SECONDS);
  const startCommitBuckets = await bucketCounts(registry, COMMIT_SECONDS);
  const startMs = performance.now();
  const startCpu = process.cpuUsage();
  const startAgentCpuMs = agents.cpuMs();
  await delay(WINDOW_MS);
  // Covers every thread of this process: the manager, its writer threads and the garbage collector.
  const managerCpu = process.cpuUsage(startCpu);
  const endAgentCpuMs = agents.cpuMs();
  const loadAverage = loadavg()[0] ?? Number.NaN;
  const endCount = await committedObservations(registry);
  const endAcks = await bucketCounts(registry, ACK_SECONDS);
  const endCommits = await histogramTotals(registry, COMMIT_SECONDS);
  const endCommitBuckets = await bucketCounts(registry, COMMIT_SECONDS);
  // The log starts over once it is wholly copied but keeps its size on disk,
  // so its size shows the longest it grew during the run.
  const walMiB = fileMiB(walPath);
  const commits = endCommits.count - startCommits.count;
  const windowSeconds = (performance.now() - startMs) / 1000;
  const summary = await agents.summary;
  if (!associated) {
    throw new Error(
      `only ${manager.associationCount} of ${AGENTS} agents associated within 60 s; ` +
        `agent errors: ${JSON.stringify(summary.errors)}`,
    );
  }
  const committed = endCount - startCount;
  const agentCpuUs =
    startAgentCpuMs === undefined || endAgentCpuMs === undefined
      ? Number.NaN
      : (endAgentCpuMs - startAgentCpuMs) * 1000;
  return [
    {
      name: `committed observations per second (${AGENTS} agents, ${RATE} reports/s of ${READINGS_PER_REPORT * 2} observations each)`,
      value: committed / windowSeconds,
      unit: 'observations/s',
      target: { comparison: '>=', value: 20000 },
    },
    { name: 'report-to-ack latency p50', value: summary.latencyMs.p50, unit: 'ms' },
    {
      name: 'report-to-ack latency p99',
      value: summary.latencyMs.p99,
      unit: 'ms',
      target: { comparison: '<=', value: 50 },
    },
    {
      name: 'manager receive-to-ack p99 in the window (histogram bucket bound)',
      value: quantileBoundMs(startAcks, endAcks, 0.99),
      unit: 'ms',
    },
    {
      name: 'mean commit duration in the window',
      value: ((endCommits.sum - startCommits.sum) / Math.max(1, commits)) * 1000,
      unit: 'ms',
    },
    {
      name: 'commit duration p99 in the window (histogram bucket bound)',
      value: quantileBoundMs(startCommitBuckets, endCommitBuckets, 0.99),
      unit: 'ms',
    },
    {
      name: 'mean observations per commit in the window',
      value: committed / Math.max(1, commits),
      unit: 'observations',
    },
    {
      name: 'manager CPU time per committed observation in the window (all threads)',
      value: (managerCpu.user + managerCpu.system) / Math.max(1, committed),
      unit: 'µs',
    },
    {
      name: 'agent process CPU time per committed observation in the window',
      value: agentCpuUs / Math.max(1, committed),
      unit: 'µs',
    },
    {
      name: 'largest size of the write-ahead log during the run',
      value: walMiB,
      unit: 'MiB',
    },
    {
      name: 'machine load average (1 min) at the end of the window',
      value: loadAverage,
      unit: 'runnable tasks',
    },
    { name: 'acknowledged reports', value: summary.acksReceived, unit: 'reports' },
    {
      name: 'failed agent sessions',
      value: summary.sessionsFailed,
      unit: 'sessions',
      target: { comparison: '<=', value: 0 },
    },
  ];
}

async function measureMemory(manager: Ieee11073Manager): Promise<Figure[]> {
  collectGarbage();
  const before = memoryInUse();
  // One report per agent, then the agents stay associated and idle.
  const agents = startAgents(manager.port, 'pulseox', 1, 0.001, 60000);
  // The agents are killed below, so they print no summary.
  agents.summary.catch(() => undefined);
  const associated = await waitFor(() => manager.associationCount >= AGENTS, 30000);
  await delay(1000);
  collectGarbage();
  const after = memoryInUse();
  const count = manager.associationCount;
  agents.kill();
  await waitFor(() => manager.connectionCount === 0, 10000);
  if (!associated) {
    throw new Error(`only ${count} of ${AGENTS} agents associated within 30 s`);
  }
  return [
    {
      name: `memory per associated idle agent (${count} agents, heap and buffers)`,
      value: (after - before) / count / 1024,
      unit: 'KiB',
      target: { comparison: '<=', value: 50 },
    },
  ];
}

export const benchmark: Benchmark = {
  name: 'ieee11073-manager',
  description:
    'IEEE 11073-20601 manager end to end: simulated blood pressure monitors sending ' +
    `readings (${READINGS_PER_REPORT * 2} observations per confirmed report) from a child process ` +
    'over TCP on 127.0.0.1, group commit into a temporary SQLite file (WAL, synchronous=FULL) ' +
    'from a worker thread; latency is measured by the agents from sending a report to its RORS ' +
    'over the whole run, association included. CPU times cover the throughput window, and the ' +
    'load average shows how busy the machine was, because other processes share its cores. ' +
    'Memory: idle associated pulse oximeters; the in-process bus keeps no messages for late ' +
    'subscribers here, because its default buffer (at most 16 MiB) does not grow with the agents.',
  async run(): Promise<Figure[]> {
    const dir = mkdtempSync(join(tmpdir(), 'medward-bench-ieee11073-'));
    const logger = silentLogger();
    const storage = new Storage(
      { url: `sqlite:${join(dir, 'medward.db')}`, poolSize: 1, statementTimeoutMs: 15000 },
      logger,
    );
    const registry = createMetricsRegistry({ defaultMetrics: false });
    // The bus keeps no messages for groups that subscribe later. With its
    // default it keeps up to 16 MiB whatever the number of agents, which the
    // memory figure would otherwise count as memory per agent.
    const bus = new InProcessBus(logger, { maxRetainedMessages: 0 });
    let manager: Ieee11073Manager | undefined;
    try {
      await storage.start();
      await migrateToLatest(storage, allMigrations, logger);
      await bus.start();
      const config: Ieee11073Config = {
        ...(Value.Default(Ieee11073Section, {}) as Ieee11073Config),
        enabled: true,
        listen: { host: '127.0.0.1', port: 0 },
      };
      manager = new Ieee11073Manager({
        config,
        storage,
        bus,
        audit: new AuditTrail(storage, { siteId: 'bench' }),
        logger,
        metrics: registry,
      });
      await manager.start();
      const throughput = await measureThroughput(manager, registry, join(dir, 'medward.db-wal'));
      const memory = await measureMemory(manager);
      return [...throughput, ...memory];
    } finally {
      await manager?.stop();
      await bus.stop();
      await storage.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
