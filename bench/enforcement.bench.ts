/**
 * Network enforcement figures:
 *
 * - RADIUS: Access-Requests (MAB with User-Password and Message-Authenticator)
 *   answered per second by medward's RADIUS server on 127.0.0.1, and their p99
 *   latency. The load client runs in a worker thread on the second core with
 *   4 sockets and up to 32 outstanding identifiers each, for 4 s after a
 *   0.5 s warm-up, and every request carries a fresh Request Authenticator so
 *   none is answered from the retransmission cache.
 * - nftables: time from a quarantine decision to its rule confirmed by the
 *   kernel read-back, through the enforcement service (SQLite state and audit
 *   included), in a network namespace. Needs root, `ip netns` and nft; the
 *   figure is left out with a note otherwise.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Value } from '@sinclair/typebox/value';
import { AuditTrail } from '../src/core/audit/index.js';
import { InProcessBus } from '../src/core/bus/index.js';
import { ActorKind } from '../src/core/context.js';
import { silentLogger } from '../src/core/logger.js';
import { createMetricsRegistry } from '../src/core/metrics.js';
import { EnforcementSection, type EnforcementConfig } from '../src/enforcement/config.js';
import { createCommandRunner } from '../src/enforcement/nftables/command-runner.js';
import { NftablesEnforcementPoint } from '../src/enforcement/nftables/nftables-point.js';
import { RadiusEnforcementPoint } from '../src/enforcement/radius/radius-point.js';
import { SegmentModel } from '../src/enforcement/segments.js';
import { EnforcementService } from '../src/enforcement/service.js';
import type { DeviceEnforcement, EnforcedDevice } from '../src/enforcement/types.js';
import { createTestDatabase } from '../test/support/storage.js';
import { quantile, type Benchmark, type Figure } from './harness.js';

const execFileAsync = promisify(execFile);
const secret = 'bench-secret-1234';
const deviceCount = 1000;
const loadDurationMs = 4000;
const warmupMs = 500;
const quarantineMoves = 40;

function config(): EnforcementConfig {
  return Value.Default(EnforcementSection, {}) as EnforcementConfig;
}

function macOf(index: number): string {
  const hex = index.toString(16).padStart(6, '0');
  return `02:00:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

function deviceOf(index: number): EnforcedDevice {
  const mac = macOf(index);
  return {
    id: `bench-device-${index}`,
    macs: [mac],
    interfaces: [{ mac, kind: 'wired' }],
    productionSegment: 'clinical',
    lifeSustaining: false,
  };
}

// Plain JavaScript, so the worker needs no TypeScript loader.
const loadClientSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { createSocket } = require('node:dgram');
const { createHash, createHmac, randomBytes } = require('node:crypto');
const { port, secret, macs, durationMs, warmupMs, sockets, window } = workerData;
const key = Buffer.from(secret);

function attribute(type, value) {
  return Buffer.concat([Buffer.from([type, value.length + 2]), value]);
}
function request(id, mac) {
  const authenticator = randomBytes(16);
  const user = Buffer.from(mac.replaceAll(':', ''));
  const padded = Buffer.alloc(16);
  user.copy(padded);
  const mask = createHash('md5').update(key).update(authenticator).digest();
  for (let i = 0; i < 16; i += 1) padded[i] ^= mask[i];
  const portType = Buffer.alloc(4);
  portType.writeUInt32BE(15);
  const body = Buffer.concat([
    attribute(1, user),
    attribute(2, padded),
    attribute(31, Buffer.from(mac)),
    attribute(61, portType),
    attribute(80, Buffer.alloc(16)),
  ]);
  const packet = Buffer.concat([Buffer.from([1, id, 0, 0]), authenticator, body]);
  packet.writeUInt16BE(packet.length, 2);
  createHmac('md5', key).update(packet).digest().copy(packet, packet.length - 16);
  return packet;
}

const start = performance.now();
const measureFrom = start + warmupMs;
const end = measureFrom + durationMs;
let answered = 0;
let accepted = 0;
let lost = 0;
const latencies = [];
let macIndex = 0;
let open = sockets;

for (let s = 0; s < sockets; s += 1) {
  const socket = createSocket('udp4');
  const sentAt = new Map();
  const send = (id) => {
    const mac = macs[macIndex++ % macs.length];
    sentAt.set(id, performance.now());
    socket.send(request(id, mac), port, '127.0.0.1');
  };
  socket.on('message', (message) => {
    const now = performance.now();
    const id = message[1];
    const at = sentAt.get(id);
    if (at === undefined) return;
    sentAt.delete(id);
    if (now >= measureFrom && now < end) {
      answered += 1;
      if (message[0] === 2) accepted += 1;
      latencies.push(now - at);
    }
    if (now < end) send(id);
    else if (sentAt.size === 0) finish();
  });
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const [id, at] of sentAt) {
      if (now - at > 1000) {
        sentAt.delete(id);
        lost += 1;
        if (now < end) send(id);
      }
    }
    if (now >= end + 1000) finish();
  }, 250);
  let closed = false;
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(sweep);
    socket.close();
    open -= 1;
    if (open === 0) {
      parentPort.postMessage({ answered, accepted, lost, latencies, seconds: durationMs / 1000 });
    }
  };
  socket.bind(0, '127.0.0.1', () => {
    for (let id = 0; id < window; id += 1) send(id);
  });
}
`;

interface LoadResult {
  answered: number;
  accepted: number;
  lost: number;
  latencies: number[];
  seconds: number;
}

async function radiusFigures(): Promise<Figure[]> {
  const settings = config();
  const database = await createTestDatabase('sqlite');
  const model = new SegmentModel(settings.segments, settings.services);
  const point = new RadiusEnforcementPoint({
    config: {
      ...settings.radius,
      port: 0,
      clients: [{ name: 'bench', address: '127.0.0.1/32', secret, coaPort: 3799, coaMode: 'coa' }],
    },
    model,
    logger: silentLogger(),
    metrics: createMetricsRegistry({ defaultMetrics: false }),
    audit: new AuditTrail(database.storage, { siteId: 'bench' }),
  });
  const devices: DeviceEnforcement[] = Array.from({ length: deviceCount }, (_, index) => ({
    device: deviceOf(index),
    segment: 'production',
    segmentName: 'clinical',
    decisionId: `bench-${index}`,
    reason: 'benchmark',
    cause: { kind: 'decision', id: 'bench' },
    actor: { kind: ActorKind.System, id: 'bench' },
    appliedAt: new Date().toISOString(),
  }));
  await point.start();
  await point.restore({ devices });
  try {
    const worker = new Worker(loadClientSource, {
      eval: true,
      workerData: {
        port: point.server.address.port,
        secret,
        macs: devices.map((item) => item.device.macs[0]),
        durationMs: loadDurationMs,
        warmupMs,
        sockets: 4,
        window: 32,
      },
    });
    const result = await new Promise<LoadResult>((resolve, reject) => {
      worker.once('message', (message: LoadResult) => {
        resolve(message);
      });
      worker.once('error', reject);
    });
    await worker.terminate();
    if (result.accepted !== result.answered) {
      throw new Error(
        `RADIUS benchmark: ${result.answered - result.accepted} responses were not Access-Accept; check the benchmark's devices and secret`,
      );
    }
    return [
      {
        name: 'RADIUS Access-Requests answered',
        value: result.answered / result.seconds,
        unit: 'requests/s',
        target: { comparison: '>=', value: 5000 },
      },
      {
        name: 'RADIUS Access-Request p99 latency',
        value: quantile(result.latencies, 0.99),
        unit: 'ms',
      },
      { name: 'RADIUS requests without answer', value: result.lost, unit: 'requests' },
    ];
  } finally {
    await point.stop();
    await database.dispose();
  }
}

async function netnsAvailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) {
    return 'not root';
  }
  try {
    await execFileAsync('ip', ['netns', 'list']);
    await execFileAsync('nft', ['--version']);
  } catch {
    return '`ip netns` or nft missing';
  }
  return undefined;
}

async function quarantineFigures(): Promise<Figure[]> {
  const missing = await netnsAvailable();
  if (missing !== undefined) {
    process.stdout.write(`  quarantine-in-force figure left out: ${missing}\n`);
    return [];
  }
  const namespace = `mw-bench-${randomBytes(3).toString('hex')}`;
  await execFileAsync('ip', ['netns', 'add', namespace]);
  const settings = config();
  const logger = silentLogger();
  const database = await createTestDatabase('sqlite');
  const bus = new InProcessBus(logger);
  const model = new SegmentModel(settings.segments, settings.services);
  const service = new EnforcementService({
    storage: database.storage,
    audit: new AuditTrail(database.storage, { siteId: 'bench' }),
    bus,
    logger,
    metrics: createMetricsRegistry({ defaultMetrics: false }),
    model,
    points: [
      new NftablesEnforcementPoint({
        config: settings.nftables,
        model,
        logger,
        run: createCommandRunner(['ip', 'netns', 'exec', namespace, 'nft'], 5000),
      }),
    ],
    retry: settings.retry,
  });
  try {
    await bus.start();
    await service.start();
    const actor = { kind: ActorKind.Automation, id: 'bench' } as const;
    for (let index = 0; index < quarantineMoves; index += 1) {
      await service.apply({
        id: `production-${index}`,
        device: deviceOf(index),
        target: 'production',
        reason: 'benchmark baseline',
        cause: { kind: 'decision', id: 'bench' },
        actor,
      });
    }
    const samples: number[] = [];
    for (let index = 0; index < quarantineMoves; index += 1) {
      const startedAt = performance.now();
      await service.apply({
        id: `quarantine-${index}`,
        device: deviceOf(index),
        target: 'quarantine',
        reason: 'benchmark quarantine',
        cause: { kind: 'decision', id: 'bench' },
        actor,
      });
      samples.push(performance.now() - startedAt);
    }
    return [
      {
        name: 'quarantine decision to rule in force, median',
        value: quantile(samples, 0.5),
        unit: 'ms',
      },
      {
        name: 'quarantine decision to rule in force, p99',
        value: quantile(samples, 0.99),
        unit: 'ms',
        target: { comparison: '<=', value: 100 },
      },
    ];
  } finally {
    await service.stop();
    await bus.stop();
    await database.dispose();
    await execFileAsync('ip', ['netns', 'del', namespace]);
  }
}

export const benchmark: Benchmark = {
  name: 'enforcement',
  description:
    'RADIUS Access-Requests per second and p99 latency on 127.0.0.1 (load from a worker thread), ' +
    'and time from a quarantine decision to its nftables rule confirmed in a network namespace.',
  async run(): Promise<Figure[]> {
    return [...(await radiusFigures()), ...(await quarantineFigures())];
  },
};
