/**
 * Nothing acknowledged is lost: a manager process is killed with SIGKILL while
 * agents stream confirmed reports, restarted on the same SQLite file, and
 * every observation whose report was acknowledged must be stored.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { silentLogger } from '../../../src/core/logger.js';
import { Storage } from '../../../src/core/storage/index.js';
import { Ieee11073Repository, runSimulation } from '../../../src/ieee11073/index.js';

const script = new URL('../fixtures/manager-process.ts', import.meta.url).pathname;

interface ManagerProcess {
  child: ChildProcess;
  port: number;
}

function startManagerProcess(file: string): Promise<ManagerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('manager process printed no port within 20 s'));
    }, 20000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`manager process exited with code ${String(code)} before listening`));
    });
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ child, port: (JSON.parse(line) as { port: number }).port });
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => {
      resolve();
    });
  });
}

test('acknowledged reports survive sigkill', { timeout: 90000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medward-durability-'));
  const file = join(dir, 'medward.db');
  let second: ManagerProcess | undefined;
  try {
    const first = await startManagerProcess(file);
    const acknowledged = new Map<string, Set<string>>();
    let acks = 0;
    let killed = false;
    const simulation = runSimulation({
      kind: 'thermometer',
      count: 8,
      ratePerSecond: 100,
      durationMs: 20000,
      host: '127.0.0.1',
      port: first.port,
      systemIdPrefix: 'd0d0d0d0',
      onAck: (systemId, ack) => {
        const decimals = acknowledged.get(systemId) ?? new Set<string>();
        for (const observation of ack.expected) {
          decimals.add(observation.decimal);
        }
        acknowledged.set(systemId, decimals);
        acks += 1;
        if (acks >= 300 && !killed) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      },
    });
    const summary = await simulation;
    assert.ok(killed, `only ${acks} reports acknowledged before the simulation ended`);
    await exited(first.child);
    assert.ok(summary.acksReceived >= 300);

    second = await startManagerProcess(file);
    const storage = new Storage(
      { url: `sqlite:${file}`, poolSize: 1, statementTimeoutMs: 5000 },
      silentLogger(),
    );
    await storage.start();
    try {
      const repository = new Ieee11073Repository(storage);
      let checked = 0;
      for (const [systemId, decimals] of acknowledged) {
        const stored = new Set<string>();
        let cursor: string | undefined;
        do {
          const page = await repository.listObservations({
            deviceSystemId: systemId,
            limit: 1000,
            ...(cursor === undefined ? {} : { cursor }),
          });
          for (const observation of page.observations) {
            if (observation.value.kind === 'numeric') {
              stored.add(observation.value.decimal);
            }
          }
          cursor = page.nextCursor;
        } while (cursor !== undefined);
        const missing = [...decimals].filter((decimal) => !stored.has(decimal));
        assert.deepEqual(missing, [], `device ${systemId} lost acknowledged observations`);
        checked += decimals.size;
      }
      assert.ok(checked >= 300);
    } finally {
      await storage.stop();
    }
  } finally {
    if (second !== undefined) {
      second.child.kill('SIGTERM');
      await exited(second.child);
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
