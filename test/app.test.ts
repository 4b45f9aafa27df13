import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createMedward } from '../src/app.js';
import { runSimulation } from '../src/ieee11073/index.js';
import { loadConfig } from '../src/core/config/index.js';
import { silentLogger } from '../src/core/logger.js';

const execFileAsync = promisify(execFile);
const cli = new URL('../bin/medward.mjs', import.meta.url).pathname;

function isolatedConfig(dir: string) {
  return loadConfig({
    env: {},
    overrides: {
      dataDir: dir,
      'storage.url': `sqlite:${join(dir, 'medward.db')}`,
      'api.port': 0,
      'mqtt.embedded.port': 0,
      'onem2m.http.port': 0,
      'ieee11073.listen.port': 0,
    },
  });
}

test('medward serves the API and CLI reads it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medward-app-'));
  const medward = createMedward(isolatedConfig(dir), silentLogger());
  await medward.start();
  try {
    const token = medward.bootstrapToken;
    assert.ok(token !== undefined, 'first start creates an admin token');
    const base = `http://127.0.0.1:${medward.apiPort}`;
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 200);

    const created = await fetch(`${base}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        manufacturer: 'Acme',
        model: 'OxiPro 2',
        serialNumber: 'OX-1001',
        lifeSustaining: false,
        criticality: 'moderate',
      }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const device = (await created.json()) as { id: string };

    const { stdout } = await execFileAsync(process.execPath, [cli, '--json', 'devices', 'list'], {
      env: { ...process.env, MEDWARD_STORAGE__URL: `sqlite:${join(dir, 'medward.db')}` },
    });
    const listed = JSON.parse(stdout) as { items: { id: string; serialNumber: string }[] };
    assert.deepEqual(
      listed.items.map((item) => item.id),
      [device.id],
    );
    assert.equal(listed.items[0]!.serialNumber, 'OX-1001');
  } finally {
    await medward.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('second start creates no new token', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medward-app-'));
  try {
    const first = createMedward(isolatedConfig(dir), silentLogger());
    await first.start();
    assert.ok(first.bootstrapToken !== undefined);
    await first.stop();
    const second = createMedward(isolatedConfig(dir), silentLogger());
    await second.start();
    assert.equal(second.bootstrapToken, undefined);
    await second.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM stops medward cleanly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medward-app-'));
  const child = spawn(process.execPath, [cli, 'start'], {
    cwd: dir,
    env: {
      ...process.env,
      MEDWARD_API__PORT: '0',
      MEDWARD_MQTT__EMBEDDED__PORT: '0',
      MEDWARD_ONEM2M__HTTP__PORT: '0',
      MEDWARD_IEEE11073__LISTEN__PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`medward did not start: ${output}`));
      }, 30000);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('api listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    assert.match(output, /shown only this once/);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('simulated agent reaches the observations API', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medward-app-'));
  const medward = createMedward(isolatedConfig(dir), silentLogger());
  await medward.start();
  try {
    const manager = medward.ieee11073;
    assert.ok(manager !== undefined, 'the 11073 manager runs by default');
    const summary = await runSimulation({
      kind: 'bpm',
      count: 1,
      ratePerSecond: 20,
      durationMs: 2000,
      reportsPerAgent: 3,
      host: '127.0.0.1',
      port: manager.port,
      systemIdPrefix: 'a0b1c2d3',
    });
    assert.equal(summary.agents, 1);
    const base = `http://127.0.0.1:${medward.apiPort}`;
    const headers = { authorization: `Bearer ${medward.bootstrapToken ?? ''}` };
    const devices = await fetch(`${base}/api/v1/observations?device=a0b1c2d300000000&limit=5`, {
      headers,
    });
    const page = (await devices.json()) as { observations: { type?: unknown }[] };
    assert.equal(devices.status, 200, JSON.stringify(page));
    assert.ok(page.observations.length > 0, 'stored observations are listed');
  } finally {
    await medward.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
