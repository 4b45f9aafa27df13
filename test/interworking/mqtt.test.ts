import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test, type TestContext } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { runSimulation } from '../../src/ieee11073/index.js';
import { agentAeId } from '../../src/interworking/index.js';
import { registerAe } from '../onem2m/support.js';
import { requireService, testServices } from '../support/services.js';
import { startInterworking, until, type InterworkingEnv } from './support.js';

type Json = Record<string, unknown>;

const PREFIX = 'b7b7b7b7';
const systemId = `${PREFIX}00000000`;

describe('interworking over MQTT', () => {
  let world: InterworkingEnv | undefined;
  let client: MqttClient | undefined;
  let appId = '';
  const notifications: Json[] = [];

  before(async (t) => {
    if (!(await requireService(t as unknown as TestContext, 'mosquitto'))) {
      return;
    }
    world = await startInterworking({
      cse: { mqtt: { enabled: true, url: testServices.mosquitto.url } },
    });
    appId = await registerAe(world.env, `Cward-mqtt-${randomBytes(4).toString('hex')}`);
    const cse = world.env.config.cseId.slice(1);
    const requestTopic = `/oneM2M/req/${cse}/${appId}/json`;
    const mqttClient = await connectAsync(testServices.mosquitto.url, {
      clientId: `medward-interworking-${randomBytes(4).toString('hex')}`,
    });
    client = mqttClient;
    // The application acknowledges every request the CSE sends to it.
    mqttClient.on('message', (topic, payload) => {
      if (topic !== requestTopic) {
        return;
      }
      const request = JSON.parse(payload.toString('utf8')) as Json;
      notifications.push(request);
      // A response still in flight when the client ends fails with "client
      // disconnecting"; the test has its notification by then, so drop it.
      mqttClient
        .publishAsync(
          `/oneM2M/resp/${cse}/${appId}/json`,
          JSON.stringify({ rsc: 2000, rqi: request.rqi, to: request.fr, fr: appId }),
        )
        .catch(() => undefined);
    });
    await mqttClient.subscribeAsync(requestTopic, { qos: 1 });
  });

  after(async () => {
    await client?.endAsync();
    await world?.dispose();
  });

  const simulate = (port: number) =>
    runSimulation({
      kind: 'scale',
      count: 1,
      ratePerSecond: 20,
      durationMs: 2000,
      reportsPerAgent: 1,
      host: '127.0.0.1',
      port,
      systemIdPrefix: PREFIX,
    });

  test('subscriber receives mqtt notification', async (t) => {
    if (world === undefined) {
      t.skip('Mosquitto is not reachable');
      return;
    }
    const env = world.env;
    const aeAddress = `${env.config.cseName}/${agentAeId(systemId)}`;
    await simulate(world.live.port);
    const container = await until(async () => {
      const response = await env.request({
        op: 2,
        to: aeAddress,
        fr: appId,
        fc: { fu: 1, ty: [3] },
      });
      const uris = ((response.pc as Json | undefined)?.['m2m:uril'] ?? []) as string[];
      return uris.find((uri) => uri.endsWith('/MDC_MASS_BODY_ACTUAL'));
    }, 'body mass container');
    const subscription = await env.request({
      op: 1,
      to: container,
      fr: appId,
      ty: 23,
      pc: {
        'm2m:sub': { nu: [`${testServices.mosquitto.url}/${appId}`], enc: { net: [3] } },
      },
    });
    assert.equal(subscription.rsc, 2001, JSON.stringify(subscription.pc));
    await simulate(world.live.port);
    const notification = await until(
      () =>
        Promise.resolve(
          notifications.find((request) => JSON.stringify(request).includes(systemId)),
        ),
      'MQTT notification',
    );
    assert.equal(notification.op, 5);
    const sgn = (notification.pc as Json)['m2m:sgn'] as Json;
    const cin = ((sgn.nev as Json).rep as Json)['m2m:cin'] as Json;
    const content = JSON.parse(String(cin.con)) as Json;
    assert.equal(content.deviceSystemId, systemId);
    assert.equal((content.type as Json).referenceId, 'MDC_MASS_BODY_ACTUAL');
  });
});
