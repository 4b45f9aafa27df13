import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import type { SimulationSummary } from '../../src/ieee11073/index.js';
import { startManager } from '../ieee11073/manager/support.js';

const script = new URL('../../scripts/ieee11073-simulate.ts', import.meta.url).pathname;
const run = promisify(execFile);

test('simulate agents prints summary', async () => {
  const live = await startManager();
  try {
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        script,
        'agents',
        '--kind',
        'glucose',
        '--count',
        '3',
        '--rate',
        '20',
        '--duration-ms',
        '500',
        '--port',
        String(live.port),
        '--json',
      ],
      { timeout: 30000 },
    );
    const summary = JSON.parse(stdout) as SimulationSummary;
    assert.equal(summary.kind, 'glucose');
    assert.equal(summary.agents, 3);
    assert.equal(summary.sessionsFailed, 0);
    assert.ok(summary.reportsSent >= 3);
    assert.equal(summary.acksReceived, summary.reportsSent);
    assert.ok(summary.latencyMs.p99 >= summary.latencyMs.p50);
  } finally {
    await live.stop();
  }
});

test('simulate agents transfers stored readings', async () => {
  const live = await startManager();
  try {
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        script,
        'agents',
        '--kind',
        'scale',
        '--count',
        '2',
        '--stored',
        '40',
        '--duration-ms',
        '300',
        '--port',
        String(live.port),
        '--json',
      ],
      { timeout: 30000 },
    );
    const summary = JSON.parse(stdout) as SimulationSummary;
    assert.equal(summary.sessionsFailed, 0);
    assert.equal(summary.storedEntries, 80);
    assert.equal(summary.storedEntriesConfirmed, 80);
  } finally {
    await live.stop();
  }
});

test('simulate agents rejects bad stored count', async () => {
  await assert.rejects(
    run(process.execPath, ['--import', 'tsx', script, 'agents', '--stored', '-1'], {
      timeout: 30000,
    }),
    (error: Error & { stderr?: string }) => {
      assert.match(error.stderr ?? '', /stored must be an integer from 0 to 100000/);
      return true;
    },
  );
});

test('simulate agents rejects bad rate', async () => {
  await assert.rejects(
    run(process.execPath, ['--import', 'tsx', script, 'agents', '--rate', '0'], { timeout: 30000 }),
    (error: Error & { stderr?: string }) => {
      assert.match(error.stderr ?? '', /rate must be a number above 0/);
      return true;
    },
  );
});
