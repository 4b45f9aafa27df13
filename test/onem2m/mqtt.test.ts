import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test, type TestContext } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { requireService, testServices } from '../support/services.js';
import { startTestCse, type TestCse } from './support.js';

type Json = Record<string, unknown>;

describe('MQTT binding', () => {
  let env: TestCse | undefined;
  let client: MqttClient | undefined;
  let cse = '';
  const inbox: { topic: string; message: Json | string }[] = [];

  before(async (t) => {
    if (!(await requireService(t as unknown as TestContext, 'mosquitto'))) {
      return;
    }
    env = await startTestCse('sqlite', {
      mqtt: { enabled: true, url: testServices.mosquitto.url },
    });
    cse = env.config.cseId.slice(1);
    client = await connectAsync(testServices.mosquitto.url, {
      clientId: `medward-test-${randomBytes(4).toString('hex')}`,
    });
    client.on('message', (topic, payload) => {
      const text = payload.toString('utf8');
      let message: Json | string = text;
      try {
        message = JSON.parse(text) as Json;
      } catch {
        // kept as text
      }
      inbox.push({ topic, message });
    });
    await client.subscribeAsync(
      [`/oneM2M/resp/+/${cse}/json`, `/oneM2M/reg_resp/+/${cse}/json`, `/oneM2M/req/${cse}/+/json`],
      {
        qos: 1,
      },
    );
  });

  after(async () => {
    await client?.endAsync();
    await env?.dispose();
  });

  const waitFor = async (
    predicate: (entry: { topic: string; message: Json | string }) => boolean,
    timeoutMs = 5000,
  ) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = inbox.find(predicate);
      if (found !== undefined) {
        return found;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `no matching MQTT message; inbox: ${JSON.stringify(inbox.map((entry) => entry.topic))}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const send = async (topic: string, payload: Json | string) => {
    await client!.publishAsync(
      topic,
      typeof payload === 'string' ? payload : JSON.stringify(payload),
      { qos: 1 },
    );
  };

  test('registration and retrieve over MQTT', async (t) => {
    if (env === undefined) {
      t.skip('Mosquitto is not reachable');
      return;
    }
    await send(`/oneM2M/reg_req/Cmqtt-ae/${cse}/json`, {
      op: 1,
      to: env.config.cseName,
      fr: 'Cmqtt-ae',
      rqi: 'mq-1',
      rvi: '3',
      ty: 2,
      pc: {
        'm2m:ae': { api: 'Nmqtt', rr: true, srv: ['3'], poa: [testServices.mosquitto.url] },
      },
    });
    const registered = await waitFor((entry) => (entry.message as Json).rqi === 'mq-1');
    assert.equal(registered.topic, `/oneM2M/reg_resp/Cmqtt-ae/${cse}/json`);
    assert.equal((registered.message as Json).rsc, 2001);
    await send(`/oneM2M/req/Cmqtt-ae/${cse}/json`, {
      op: 2,
      to: 'medward/Cmqtt-ae',
      fr: 'Cmqtt-ae',
      rqi: 'mq-2',
      rvi: '3',
    });
    const read = await waitFor((entry) => (entry.message as Json).rqi === 'mq-2');
    assert.equal(read.topic, `/oneM2M/resp/Cmqtt-ae/${cse}/json`);
    const response = read.message as { rsc: number; pc: { 'm2m:ae': { aei: string } } };
    assert.equal(response.rsc, 2000);
    assert.equal(response.pc['m2m:ae'].aei, 'Cmqtt-ae');
  });

  test('invalid primitive with rqi gets 4000', async (t) => {
    if (env === undefined) {
      t.skip('Mosquitto is not reachable');
      return;
    }
    await send(`/oneM2M/req/Cbad/${cse}/json`, { rqi: 'mq-bad', op: 'create', to: 5 });
    const answer = await waitFor((entry) => (entry.message as Json).rqi === 'mq-bad');
    assert.equal((answer.message as Json).rsc, 4000);
    assert.match(JSON.stringify(answer.message), /m2m:dbg/);
  });

  test('invalid json is dropped and counted', async (t) => {
    if (env === undefined) {
      t.skip('Mosquitto is not reachable');
      return;
    }
    const before = inbox.length;
    await send(`/oneM2M/req/Cbad/${cse}/json`, '{"rqi": "never"');
    await send(`/oneM2M/req/Cbad/${cse}/xml`, '<rqp/>');
    const deadline = Date.now() + 3000;
    let metrics = '';
    while (Date.now() < deadline) {
      metrics = await env.registry.getSingleMetricAsString('medward_onem2m_mqtt_dropped_total');
      if (/reason="json"\} 1/.test(metrics) && /reason="serialization"\} 1/.test(metrics)) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.match(metrics, /reason="json"\} 1/);
    assert.match(metrics, /reason="serialization"\} 1/);
    assert.equal(
      inbox.slice(before).filter((entry) => JSON.stringify(entry.message).includes('never')).length,
      0,
    );
  });

  test('notification to an AE over MQTT', async (t) => {
    if (env === undefined) {
      t.skip('Mosquitto is not reachable');
      return;
    }
    await send(`/oneM2M/req/Cmqtt-ae/${cse}/json`, {
      op: 1,
      to: 'medward/Cmqtt-ae',
      fr: 'Cmqtt-ae',
      rqi: 'mq-3',
      rvi: '3',
      ty: 3,
      pc: { 'm2m:cnt': { rn: 'box' } },
    });
    assert.equal(
      ((await waitFor((entry) => (entry.message as Json).rqi === 'mq-3')).message as Json).rsc,
      2001,
    );
    // The AE acknowledges every request the CSE sends to it.
    client!.on('message', (topic, payload) => {
      if (topic === `/oneM2M/req/${cse}/Cmqtt-ae/json`) {
        const request = JSON.parse(payload.toString('utf8')) as Json;
        // A response still in flight when the client ends is of no interest.
        client!
          .publishAsync(
            `/oneM2M/resp/${cse}/Cmqtt-ae/json`,
            JSON.stringify({ rsc: 2000, rqi: request.rqi, to: request.fr, fr: 'Cmqtt-ae' }),
          )
          .catch(() => undefined);
      }
    });
    await send(`/oneM2M/req/Cmqtt-ae/${cse}/json`, {
      op: 1,
      to: 'medward/Cmqtt-ae/box',
      fr: 'Cmqtt-ae',
      rqi: 'mq-4',
      rvi: '3',
      ty: 23,
      pc: { 'm2m:sub': { nu: [`${testServices.mosquitto.url}/Cmqtt-ae`], enc: { net: [3] } } },
    });
    const subscribed = await waitFor((entry) => (entry.message as Json).rqi === 'mq-4');
    assert.equal((subscribed.message as Json).rsc, 2001, JSON.stringify(subscribed.message));
    const verification = await waitFor(
      (entry) =>
        entry.topic === `/oneM2M/req/${cse}/Cmqtt-ae/json` &&
        JSON.stringify(entry.message).includes('"vrq":true'),
    );
    assert.equal((verification.message as Json).op, 5);
    assert.equal((verification.message as Json).fr, env.config.cseId);
    await send(`/oneM2M/req/Cmqtt-ae/${cse}/json`, {
      op: 1,
      to: 'medward/Cmqtt-ae/box',
      fr: 'Cmqtt-ae',
      rqi: 'mq-5',
      rvi: '3',
      ty: 4,
      pc: { 'm2m:cin': { con: 'over mqtt' } },
    });
    const notification = await waitFor(
      (entry) =>
        entry.topic === `/oneM2M/req/${cse}/Cmqtt-ae/json` &&
        JSON.stringify(entry.message).includes('over mqtt'),
    );
    const pc = (notification.message as { pc: { 'm2m:sgn': { nev: { net: number } } } }).pc;
    assert.equal(pc['m2m:sgn'].nev.net, 3);
  });
});
