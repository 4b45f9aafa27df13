// Measures the end-to-end latency of the IEEE 11073 to oneM2M interworking.
// Each figure starts when a simulated thermometer sends a confirmed
// measurement report over TCP on 127.0.0.1. It ends when the CSE has created
// the observation's contentInstance, or when a subscribed application's
// node:http listener on 127.0.0.1 has received the notification. Manager, bus
// (in-process), interworking and CSE run in this process on one SQLite file.
// One agent sends its reports one after another, so the n-th acknowledged
// report is matched with the n-th contentInstance and notification. The
// acknowledgement figures show the manager's own share: it acknowledges a
// report after its group commit, which waits up to groupCommit.maxDelayMs
// (20 ms by default) and runs before the observation is published.
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../src/core/logger.js';
import { runSimulation } from '../src/ieee11073/index.js';
import { InterworkingComponent, agentAeId } from '../src/interworking/index.js';
import type { RequestPrimitive } from '../src/onem2m/index.js';
import { startManager } from '../test/ieee11073/manager/support.js';
import { NotificationReceiver, registerAe, startTestCse } from '../test/onem2m/support.js';
import { quantile, type Benchmark, type Figure } from './harness.js';

const REPORTS = 200;
const REPORTS_PER_SECOND = 20;
const PREFIX = 'be0c0c0c';
const TARGET_P99_MS = 50;

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function measure(): Promise<Figure[]> {
  const live = await startManager();
  const env = await startTestCse('sqlite');
  const receiver = new NotificationReceiver();
  const url = await receiver.start();
  const app = await registerAe(env, 'Cward-bench', { poa: [url] });
  const instanceTimes: number[] = [];
  const notificationTimes: number[] = [];
  const systemId = `${PREFIX}00000000`;
  const container = `${env.config.cseName}/${agentAeId(systemId)}/MDC_TEMP_BODY`;
  const interworking = new InterworkingComponent({
    config: {
      enabled: true,
      applicationOriginators: ['Cward-*'],
      commandContainer: 'command',
      commandNotificationPort: 0,
      fhirExport: false,
    },
    bus: live.bus,
    audit: live.audit,
    logger: silentLogger(),
    repository: live.manager.repository,
    cse: {
      // Records when each observation's contentInstance is created.
      handle: async (request: RequestPrimitive) => {
        const response = await env.cse.handle(request);
        if (request.ty === 4 && response.rsc === 2001 && request.to === container) {
          instanceTimes.push(performance.now());
        }
        return response;
      },
    },
    cseName: env.config.cseName,
    adminOriginator: env.config.adminOriginator,
  });
  await interworking.start();

  try {
    // A first report creates the AE and its containers; the application then subscribes.
    await runSimulation({
      kind: 'thermometer',
      count: 1,
      ratePerSecond: REPORTS_PER_SECOND,
      durationMs: 5000,
      reportsPerAgent: 1,
      host: '127.0.0.1',
      port: live.port,
      systemIdPrefix: PREFIX,
    });
    await waitUntil(() => instanceTimes.length >= 1, 10000);
    const subscription = await env.request({
      op: 1,
      to: container,
      fr: app,
      ty: 23,
      pc: { 'm2m:sub': { rn: 'bench', nu: [app], enc: { net: [3] } } },
    });
    if (subscription.rsc !== 2001) {
      throw new Error(`subscription failed with rsc ${subscription.rsc}`);
    }
    instanceTimes.length = 0;
    const received = receiver.received.length;
    const originalPush = receiver.received.push.bind(receiver.received);
    receiver.received.push = (...items) => {
      for (let index = 0; index < items.length; index += 1) {
        notificationTimes.push(performance.now());
      }
      return originalPush(...items);
    };
    const sentTimes: (number | undefined)[] = [];
    const ackLatencies: number[] = [];
    await runSimulation({
      kind: 'thermometer',
      count: 1,
      ratePerSecond: REPORTS_PER_SECOND,
      durationMs: (REPORTS / REPORTS_PER_SECOND) * 1000 + 5000,
      reportsPerAgent: REPORTS,
      host: '127.0.0.1',
      port: live.port,
      systemIdPrefix: PREFIX,
      onAck: (_systemId, ack) => {
        sentTimes[ack.sequence] = performance.now() - ack.latencyMs;
        ackLatencies.push(ack.latencyMs);
      },
    });

    const sent = sentTimes.filter((time): time is number => time !== undefined);
    await waitUntil(() => receiver.received.length - received >= sent.length, 20000);
    const toInstance = sent.map((time, index) => (instanceTimes[index] ?? Number.NaN) - time);
    const toNotification = sent.map(
      (time, index) => (notificationTimes[index] ?? Number.NaN) - time,
    );
    const target = { comparison: '<=' as const, value: TARGET_P99_MS };
    return [
      { name: 'reports', value: sent.length, unit: 'reports' },
      { name: 'report to acknowledgement p50', value: quantile(ackLatencies, 0.5), unit: 'ms' },
      { name: 'report to acknowledgement p99', value: quantile(ackLatencies, 0.99), unit: 'ms' },
      { name: 'report to contentInstance p50', value: quantile(toInstance, 0.5), unit: 'ms' },
      {
        name: 'report to contentInstance p99',
        value: quantile(toInstance, 0.99),
        unit: 'ms',
        target,
      },
      { name: 'report to notification p50', value: quantile(toNotification, 0.5), unit: 'ms' },
      {
        name: 'report to notification p99',
        value: quantile(toNotification, 0.99),
        unit: 'ms',
        target,
      },
    ];
  } finally {
    await interworking.stop();
    await live.stop();
    await env.dispose();
    await receiver.stop();
  }
}

export const benchmark: Benchmark = {
  name: 'interworking',
  description:
    'IEEE 11073 measurement report to oneM2M contentInstance and to an HTTP subscriber notification (one simulated thermometer, 20 reports/s, SQLite, in-process bus)',
  run: measure,
};
