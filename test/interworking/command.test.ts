import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runSimulation, type SimulationSummary } from '../../src/ieee11073/index.js';
import { agentAeId } from '../../src/interworking/index.js';
import { contentOf, startInterworking, until, type InterworkingEnv } from './support.js';

const PREFIX = 'c0c0c0c0';
const systemId = `${PREFIX}00000000`;

describe('interworking oneM2M commands', () => {
  let world: InterworkingEnv;
  let aeAddress = '';
  const abort = new AbortController();
  let simulation: Promise<SimulationSummary>;
  let serial = 0;

  before(async () => {
    world = await startInterworking();
    aeAddress = `${world.env.config.cseName}/${agentAeId(systemId)}`;
    // One agent that stays associated, reporting twice a second, until the tests abort it.
    simulation = runSimulation({
      kind: 'thermometer',
      count: 1,
      ratePerSecond: 2,
      durationMs: 60000,
      host: '127.0.0.1',
      port: world.live.port,
      systemIdPrefix: PREFIX,
      signal: abort.signal,
    });
    await until(async () => {
      // The subscription is the last resource the bridge creates for a device.
      const response = await world.env.request({ op: 2, to: `${aeAddress}/command/interworking` });
      return response.rsc === 2000 ? true : undefined;
    }, 'command subscription');
  });

  after(async () => {
    abort.abort();
    await simulation;
    await world.dispose();
  });

  const sendCommand = async (con: string): Promise<Record<string, unknown>> => {
    serial += 1;
    const created = await world.env.request({
      op: 1,
      to: `${aeAddress}/command`,
      fr: world.app,
      ty: 4,
      pc: { 'm2m:cin': { rn: `cmd-${serial}`, cnf: 'application/json:0', con } },
    });
    assert.equal(created.rsc, 2001);
    const ri = String((created.pc as Record<string, Record<string, unknown>>)['m2m:cin']!.ri);
    return until(
      async () =>
        contentOf(
          await world.env.request({
            op: 2,
            to: `${aeAddress}/command-result/result-${ri}`,
            fr: world.app,
          }),
        ),
      'command result',
    );
  };

  test('set-time reaches the agent', async () => {
    const result = await sendCommand(JSON.stringify({ op: 'set-time' }));
    assert.equal(result.outcome, 'success');
    assert.equal(result.command, 'set-time');
    assert.equal(result.agentResponse, 'rors-confirmed-action');
    const records = await world.live.audit.list();
    assert.ok(records.some((record) => record.event === 'interworking.command.execute'));
  });

  test('unknown command is rejected', async () => {
    const result = await sendCommand(JSON.stringify({ op: 'reboot' }));
    assert.equal(result.outcome, 'rejected');
    assert.match(String(result.reason), /reboot/);
    const records = await world.live.audit.list();
    assert.ok(records.some((record) => record.event === 'interworking.command.reject'));
  });

  test('malformed command is rejected', async () => {
    const result = await sendCommand('not json');
    assert.equal(result.outcome, 'rejected');
    assert.match(String(result.reason), /not JSON/);
  });

  test('released agent is rejected', async () => {
    abort.abort();
    await simulation;
    await until(
      () => Promise.resolve(world.live.manager.associationCount === 0 ? true : undefined),
      'release',
    );
    const result = await sendCommand(JSON.stringify({ op: 'set-time' }));
    assert.equal(result.outcome, 'rejected');
    assert.match(String(result.reason), /no operating association/);
  });

  test('forged notification is rejected', async () => {
    const url = world.interworking.commands!.notificationUrl(systemId);
    const response = await fetch(url, { method: 'POST', body: 'garbage' });
    assert.equal(response.status, 400);
    const records = await world.live.audit.list();
    assert.ok(records.some((record) => record.event === 'interworking.boundary.reject'));
  });
});
