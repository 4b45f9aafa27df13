import { createHook } from 'node:async_hooks';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import mqtt from 'mqtt';
import { silentLogger } from '../../../src/core/logger.js';
import { EmbeddedBroker } from '../../../src/core/mqtt/index.js';

test('embedded broker relays a message', async () => {
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0 }, silentLogger());
  await broker.start();
  try {
    const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    const received = new Promise<string>((resolve) => {
      client.on('message', (_topic, payload) => {
        resolve(payload.toString());
      });
    });
    await client.subscribeAsync('medward/test', { qos: 1 });
    await client.publishAsync('medward/test', 'hello', { qos: 1 });
    assert.equal(await received, 'hello');
    await client.endAsync();
  } finally {
    await broker.stop();
  }
});

test('embedded broker reports a taken port', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const address = blocker.address();
  assert.ok(typeof address === 'object' && address !== null);
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: address.port }, silentLogger());
  try {
    await assert.rejects(broker.start(), { code: 'MQTT_LISTEN_FAILED' });
  } finally {
    await broker.stop();
    blocker.close();
  }
});

test('embedded broker stop closes clients', async () => {
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0 }, silentLogger());
  await broker.start();
  const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
  const closed = new Promise<void>((resolve) =>
    client.once('close', () => {
      resolve();
    }),
  );
  await broker.stop();
  await closed;
  assert.equal(client.connected, false);
  await client.endAsync(true);
});

test('embedded broker holds no timers until start', () => {
  let timersCreated = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'Timeout') {
        timersCreated += 1;
      }
    },
  }).enable();
  // A process whose start fails before the broker starts must still be able to exit.
  try {
    new EmbeddedBroker({ host: '127.0.0.1', port: 0 }, silentLogger());
  } finally {
    hook.disable();
  }
  assert.equal(timersCreated, 0);
});
