import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  agentKinds,
  runSimulation,
  type AgentKind,
  type ExpectedObservation,
} from '../../../src/ieee11073/index.js';
import { startManager, storedDecimal, type LiveManager } from './support.js';

describe('ieee11073 simulated specializations', () => {
  let live: LiveManager;
  let prefix = 0x10;

  before(async () => {
    live = await startManager();
  });

  after(async () => {
    await live.stop();
  });

  async function playSession(kind: AgentKind, extended: boolean): Promise<void> {
    prefix += 1;
    const systemIdPrefix = `5e${prefix.toString(16).padStart(2, '0')}0000`;
    const acked = new Map<string, ExpectedObservation[]>();
    const summary = await runSimulation({
      kind,
      extended,
      count: 2,
      ratePerSecond: 50,
      durationMs: 2000,
      reportsPerAgent: 4,
      host: '127.0.0.1',
      port: live.port,
      systemIdPrefix,
      clockSkewMs: 90000,
      onAck: (systemId, ack) => {
        acked.set(systemId, [...(acked.get(systemId) ?? []), ...ack.expected]);
      },
    });
    assert.equal(summary.sessionsFailed, 0, JSON.stringify(summary.errors));
    assert.equal(summary.acksReceived, 8);
    for (const [systemId, expected] of acked) {
      const page = await live.manager.listObservations({ deviceSystemId: systemId, limit: 1000 });
      assert.equal(page.observations.length, expected.length, `${kind} ${systemId}`);
      for (const wanted of expected) {
        const match = page.observations.find(
          (observation) =>
            observation.handle === wanted.handle &&
            observation.type === wanted.type &&
            storedDecimal(observation) === wanted.decimal,
        );
        assert.ok(match, `${kind}: no stored observation like ${JSON.stringify(wanted)}`);
        assert.equal(match.unit?.code, wanted.unit);
        assert.ok(match.unit.ucum, `${kind}: unit ${wanted.unit} has no UCUM code`);
        if (wanted.measuredAt !== undefined) {
          // The agent's clock ran 90 s ahead until the manager set it; either
          // way the gateway time is the real measurement time.
          const gatewayMs = Date.parse(match.timestamp.gatewayTime);
          assert.ok(
            Math.abs(gatewayMs - wanted.measuredAt.getTime()) < 2000,
            `${kind}: gateway time ${match.timestamp.gatewayTime} vs ${wanted.measuredAt.toISOString()}`,
          );
          assert.equal(match.timestamp.clock, 'absolute');
        }
      }
    }
  }

  for (const kind of agentKinds) {
    test(`${kind} standard session stored`, async () => {
      await playSession(kind, false);
    });
    test(`${kind} extended session stored`, async () => {
      await playSession(kind, true);
    });
  }

  test('glucose variable reports stored', async () => {
    const summary = await runSimulation({
      kind: 'glucose',
      reportStyle: 'variable',
      measurementsPerReport: 3,
      count: 1,
      ratePerSecond: 20,
      durationMs: 1000,
      reportsPerAgent: 2,
      host: '127.0.0.1',
      port: live.port,
      systemIdPrefix: '5eff0000',
    });
    assert.equal(summary.acksReceived, 2);
    const page = await live.manager.listObservations({ deviceSystemId: '5eff000000000000' });
    assert.equal(page.observations.length, 6);
  });
});
