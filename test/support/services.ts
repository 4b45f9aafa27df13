import { connect } from 'node:net';
import type { TestContext } from 'node:test';

/**
 * External services the tests use, on this machine only. Override the
 * addresses with MEDWARD_TEST_PG_URL, MEDWARD_TEST_NATS_URL and
 * MEDWARD_TEST_MQTT_URL.
 */
export const testServices = {
  postgres: {
    name: 'PostgreSQL',
    url: process.env.MEDWARD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    host: '127.0.0.1',
    port: 5432,
  },
  nats: {
    name: 'NATS JetStream',
    url: process.env.MEDWARD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222',
    host: '127.0.0.1',
    port: 4222,
  },
  mosquitto: {
    name: 'Mosquitto',
    url: process.env.MEDWARD_TEST_MQTT_URL ?? 'mqtt://127.0.0.1:1883',
    host: '127.0.0.1',
    port: 1883,
  },
} as const;

export type TestServiceName = keyof typeof testServices;

function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => { done(false); });
    socket.once('connect', () => { done(true); });
    socket.once('error', () => { done(false); });
  });
}

/**
 * Returns whether the service answers. When it does not, the test is skipped
 * with a message naming the service, except under CI=true, where a missing
 * service is a failure.
 */
export async function requireService(t: TestContext, name: TestServiceName): Promise<boolean> {
  const service = testServices[name];
  if (await canConnect(service.host, service.port)) {
    return true;
  }
  const message = `${service.name} is not reachable at ${service.host}:${service.port}`;
  if (process.env.CI === 'true') {
    throw new Error(`${message}; CI requires it (.ci/run starts it)`);
  }
  t.skip(`${message}; start it to run this test`);
  return false;
}
