import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSimulation } from '../../../src/ieee11073/index.js';
import { delay, startManager } from './support.js';

test('shutdown cuts simulated sessions short', { timeout: 60000 }, async () => {
  const live = await startManager();
  try {
    const simulation = runSimulation({
      kind: 'bpm',
      count: 3,
      ratePerSecond: 2,
      durationMs: 20000,
      host: '127.0.0.1',
      port: live.port,
    });
    // Long enough for each agent to associate and send a few reports.
    await delay(1500);
    await live.manager.stop();
    const summary = await simulation;
    assert.equal(summary.sessionsCompleted, 0);
    assert.equal(summary.sessionsFailed, 3);
    const reasons = Object.keys(summary.errors);
    assert.deepEqual(reasons, ['released by manager after N reports, before the session finished']);
  } finally {
    await live.stop();
  }
});
