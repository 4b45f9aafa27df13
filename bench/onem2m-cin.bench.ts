// Measures oneM2M contentInstance creations per second over the HTTP binding,
// on SQLite (a temporary file) and on PostgreSQL (a fresh database, skipped
// when nothing listens on 127.0.0.1:5432). Every 201 is sent after the commit
// is on disk.
// The CSE runs in this process and the HTTP client in a child process, so the
// client's CPU time does not count against the CSE's event loop.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Value } from '@sinclair/typebox/value';
import pg from 'pg';
import { AuditTrail } from '../src/core/audit/index.js';
import { silentLogger } from '../src/core/logger.js';
import { createMetricsRegistry } from '../src/core/metrics.js';
import { Storage, migrateToLatest, type DialectName } from '../src/core/storage/index.js';
import { allMigrations } from '../src/migrations.js';
import { Onem2mCse, Onem2mSection, type Onem2mConfig } from '../src/onem2m/index.js';
import { quantile, type Benchmark, type Figure } from './harness.js';

const POSTGRES_URL = process.env.MEDWARD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Upper bounds of one measured run. */
const MAX_REQUESTS = 30000;
const MAX_DURATION_MS = 8000;
const WARMUP_REQUESTS = 500;
const ORIGINATOR = 'CAdmin';

interface Database {
  storage: Storage;
  dispose(): Promise<void>;
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => {
      done(false);
    });
    socket.once('connect', () => {
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
  });
}

async function openDatabase(dialect: DialectName): Promise<Database> {
  const logger = silentLogger();
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'medward-bench-'));
    const storage = new Storage(
      { url: `sqlite:${join(dir, 'medward.db')}`, poolSize: 1, statementTimeoutMs: 5000 },
      logger,
    );
    await storage.start();
    await migrateToLatest(storage, allMigrations, logger);
    return {
      storage,
      async dispose() {
        await storage.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const name = `medward_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const storage = new Storage(
    { url: url.toString(), poolSize: 10, statementTimeoutMs: 5000 },
    logger,
  );
  await storage.start();
  await migrateToLatest(storage, allMigrations, logger);
  return {
    storage,
    async dispose() {
      await storage.stop();
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

function post(
  agent: Agent,
  port: number,
  path: string,
  body: string,
  rqi: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: {
          'X-M2M-Origin': ORIGINATOR,
          'X-M2M-RI': rqi,
          'X-M2M-RVI': '3',
          'Content-Type': 'application/json;ty=4',
          'Content-Length': Buffer.byteLength(body),
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => {
          resolve(response.statusCode ?? 0);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface RunResult {
  rate: number;
  p50: number;
  p99: number;
  count: number;
  failures: number;
  /** CPU time of the client process per request, in milliseconds. */
  clientCpuMs: number;
}

interface ClientJob {
  port: number;
  path: string;
  connections: number;
  total: number;
}

/** Runs `connections` workers that each send one request at a time until the bounds are reached. */
async function measure(job: ClientJob): Promise<RunResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
  const latencies: number[] = [];
  let sent = 0;
  let failures = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const deadline = started + MAX_DURATION_MS;
  const body = JSON.stringify({
    'm2m:cin': { cnf: 'application/json:0', con: '{"hr":72,"spo2":98}' },
  });
  const worker = async (): Promise<void> => {
    while (sent < job.total && performance.now() < deadline) {
      sent += 1;
      const begin = performance.now();
      const status = await post(agent, job.port, job.path, body, `b${sent}`);
      latencies.push(performance.now() - begin);
      if (status !== 201) {
        failures += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: job.connections }, worker));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  agent.destroy();
  return {
    rate: (latencies.length / elapsedMs) * 1000,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    count: latencies.length,
    failures,
    clientCpuMs: (cpu.user + cpu.system) / 1000 / Math.max(1, latencies.length),
  };
}

const CLIENT_FLAG = '--onem2m-cin-client';
/** Time the parent waits for one client run beyond its own duration bound. */
const CLIENT_GRACE_MS = 30000;

/** The HTTP client in a child process; one job at a time. */
class ClientProcess {
  private readonly child = fork(fileURLToPath(import.meta.url), [CLIENT_FLAG], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });

  run(job: ClientJob): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        finish();
        this.child.kill();
        reject(
          new Error(
            `benchmark client gave no result within ${MAX_DURATION_MS + CLIENT_GRACE_MS} ms`,
          ),
        );
      }, MAX_DURATION_MS + CLIENT_GRACE_MS);
      const onMessage = (message: unknown): void => {
        finish();
        const reply = message as { result?: RunResult; error?: string };
        if (reply.result === undefined) {
          reject(new Error(`benchmark client failed: ${reply.error ?? 'no result'}`));
        } else {
          resolve(reply.result);
        }
      };
      const onExit = (code: number | null): void => {
        finish();
        reject(new Error(`benchmark client exited with code ${code ?? 'none'} before its result`));
      };
      const finish = (): void => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      this.child.on('message', onMessage);
      this.child.on('exit', onExit);
      this.child.send(job);
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return;
    }
    const exited = new Promise<void>((resolve) => {
      this.child.once('exit', () => {
        resolve();
      });
    });
    this.child.disconnect();
    await exited;
  }
}

/** Client side: runs each job from the parent and sends back its measured result. */
function serveClientJobs(): void {
  process.on('message', (job: ClientJob) => {
    measure(job).then(
      (result) => process.send?.({ result }),
      (error: unknown) =>
        process.send?.({ error: error instanceof Error ? error.message : String(error) }),
    );
  });
}

if (process.argv.includes(CLIENT_FLAG) && process.send !== undefined) {
  serveClientJobs();
}

async function benchmarkDialect(dialect: DialectName): Promise<Figure[]> {
  const database = await openDatabase(dialect);
  const config = Value.Default(Onem2mSection, {
    cseId: '/id-bench',
    http: { port: 0 },
    mqtt: { enabled: false },
  }) as Onem2mConfig;
  const cse = new Onem2mCse({
    config,
    storage: database.storage,
    audit: new AuditTrail(database.storage, { siteId: 'bench' }),
    logger: silentLogger(),
    registry: createMetricsRegistry({ defaultMetrics: false }),
  });
  await cse.start();
  const figures: Figure[] = [];
  const client = new ClientProcess();
  try {
    const port = cse.httpAddress?.port ?? 0;
    const ae = await cse.handle({
      op: 1,
      to: 'medward',
      fr: ORIGINATOR,
      rqi: 'ae',
      rvi: '3',
      ty: 2,
      pc: { 'm2m:ae': { rn: 'monitor', api: 'Nmedward.bench', rr: false, srv: ['3'] } },
    });
    if (ae.rsc !== 2001) {
      throw new Error(`AE registration failed with ${ae.rsc}`);
    }
    for (const connections of [1, 10]) {
      const rn = `vitals${connections}`;
      // mni of 10000 makes the second half of a long run evict the oldest instance on every create.
      const container = await cse.handle({
        op: 1,
        to: 'medward/monitor',
        fr: ORIGINATOR,
        rqi: rn,
        rvi: '3',
        ty: 3,
        pc: { 'm2m:cnt': { rn, mni: 10000 } },
      });
      if (container.rsc !== 2001) {
        throw new Error(`container creation failed with ${container.rsc}`);
      }
      const path = `/medward/monitor/${rn}`;
      await client.run({ port, path, connections, total: WARMUP_REQUESTS });
      const cpuBefore = process.cpuUsage();
      const result = await client.run({ port, path, connections, total: MAX_REQUESTS });
      const cpu = process.cpuUsage(cpuBefore);
      if (result.failures > 0) {
        throw new Error(`${result.failures} contentInstance creations did not return 201`);
      }
      const label = `${dialect}-${connections}conn`;
      figures.push({
        name: `cin-create-${label}`,
        value: result.rate,
        unit: 'creates/s',
        ...(dialect === 'sqlite' && connections === 10
          ? { target: { comparison: '>=' as const, value: 3000 } }
          : {}),
      });
      figures.push({
        name: `cin-create-${label}-server-cpu`,
        value: (cpu.user + cpu.system) / 1000 / result.count,
        unit: 'ms/create',
      });
      figures.push({
        name: `cin-create-${label}-client-cpu`,
        value: result.clientCpuMs,
        unit: 'ms/create',
      });
      figures.push({ name: `cin-create-${label}-p50`, value: result.p50, unit: 'ms' });
      figures.push({
        name: `cin-create-${label}-p99`,
        value: result.p99,
        unit: 'ms',
        ...(dialect === 'sqlite' && connections === 10
          ? { target: { comparison: '<=' as const, value: 20 } }
          : {}),
      });
    }
  } finally {
    await client.close();
    await cse.stop();
    await database.dispose();
  }
  return figures;
}

export const benchmark: Benchmark = {
  name: 'onem2m-cin',
  description:
    'oneM2M contentInstance CREATE over HTTP/1.1 keep-alive on 127.0.0.1, 1 and 10 concurrent ' +
    `connections, at most ${MAX_REQUESTS} requests or ${MAX_DURATION_MS / 1000} s per run after ` +
    `${WARMUP_REQUESTS} warm-up requests; the HTTP client runs in a child process. SQLite uses ` +
    'WAL; each 201 follows the commit of its transaction and the sync of the log that holds ' +
    'it. server-cpu and client-cpu are the CPU time of each process (all threads) per create.',
  async run(): Promise<Figure[]> {
    // Other processes on a small machine move these figures, as the load average shows.
    const figures: Figure[] = [{ name: 'load-average-1m', value: loadavg()[0] ?? 0, unit: '' }];
    figures.push(...(await benchmarkDialect('sqlite')));
    if (await reachable('127.0.0.1', 5432)) {
      figures.push(...(await benchmarkDialect('postgres')));
    }
    return figures;
  },
};
