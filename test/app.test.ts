import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { createMedward } from '../src/app.js';
import { runSimulation } from '../src/ieee11073/index.js';
import { verifyAuditChain } from '../src/core/audit/index.js';
import { loadConfig } from '../src/core/config/index.js';
import { createLogger, silentLogger } from '../src/core/logger.js';
import {
  ProvisioningRequestFailed,
  SimulatedManufacturer,
} from '../src/onboarding/simulation/simulated-device.js';
import {
  simulatedDeviceOf,
  simulatedDeviceSpecs,
} from '../src/onboarding/simulation/simulated-fleet.js';
import { buildList } from './onboarding/support.js';

const execFileAsync = promisify(execFile);
const cli = new URL('../bin/medward.mjs', import.meta.url).pathname;

function isolatedConfig(dir: string, overrides: Record<string, unknown> = {}) {
  return loadConfig({
    file: false,
    env: {},
    overrides: {
      dataDir: dir,
      'storage.url': `sqlite:${join(dir, 'medward.db')}`,
      'api.port': 0,
      'mqtt.embedded.port': 0,
      'onem2m.http.port': 0,
      'ieee11073.listen.port': 0,
      'onboarding.provisioning.port': 0,
      ...overrides,
    },
  });
}

/** Runs the medward command in `cwd` with only the given MEDWARD_* variables. */
function runCli(args: string[], cwd: string, env: Record<string, string> = {}) {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('MEDWARD_')),
  );
  return execFileAsync(process.execPath, [cli, ...args], {
    cwd,
    env: { ...inherited, ...env },
    timeout: 60_000,
  });
}

/** Creates an authority key pair with `medward authority keygen` and returns the file paths. */
async function authorityKeys(dir: string): Promise<{ privateKey: string; publicKey: string }> {
  mkdirSync(join(dir, 'authority'));
  const privateKey = join(dir, 'authority', 'key.pem');
  const publicKey = join(dir, 'authority', 'public.pem');
  const { stdout } = await runCli(
    ['authority', 'keygen', '--out', privateKey, '--public-out', publicKey],
    dir,
  );
  assert.match(stdout, /^key id [0-9a-f]{64}$/m);
  return { privateKey, publicKey };
}

/** Starts medward in `dir` with a new authority key in onboarding.authority.publicKeyFiles. */
async function startTrustingNewAuthority(dir: string) {
  const keys = await authorityKeys(dir);
  const medward = createMedward(
    isolatedConfig(dir, { 'onboarding.authority.publicKeyFiles': [keys.publicKey] }),
    silentLogger(),
  );
  await medward.start();
  return { keys, medward };
}

/** Returns whether a TCP connection to 127.0.0.1:port is refused. */
function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code === 'ECONNREFUSED');
    });
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
      MEDWARD_ONBOARDING__PROVISIONING__PORT: '0',
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
    assert.match(output, /"host":"127\.0\.0\.1","port":\d+,"msg":"provisioning listener started"/);
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

test('device onboards through medward start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medward-app-'));
  const { keys, medward } = await startTrustingNewAuthority(dir);
  const listenerPort = medward.onboarding?.provisioningListener.port ?? 0;
  try {
    assert.ok(medward.onboarding !== undefined, 'onboarding runs by default');
    assert.notEqual(listenerPort, 0);
    assert.notEqual(listenerPort, medward.apiPort);

    // The authority lists two devices, one with an IDevID, one with a bootstrap secret.
    const manufacturer = new SimulatedManufacturer('Lumen Pumps GmbH');
    const specs = simulatedDeviceSpecs(manufacturer, 2);
    const list = buildList({ devices: specs.map((spec) => spec.entry) });
    writeFileSync(join(dir, 'list.json'), JSON.stringify(list));
    await runCli(
      [
        'authority',
        'sign',
        '--key',
        keys.privateKey,
        '--in',
        join(dir, 'list.json'),
        '--out',
        join(dir, 'list.signed.json'),
      ],
      dir,
    );
    const imported = await runCli(
      [
        'authority',
        'import',
        '--in',
        join(dir, 'list.signed.json'),
        '--api-url',
        `http://127.0.0.1:${medward.apiPort}`,
      ],
      dir,
      { MEDWARD_TOKEN: medward.bootstrapToken ?? '' },
    );
    assert.match(imported.stdout, /^imported list ward-7 version 1 .*: 2 devices, 0 revocations$/m);
    const importRecords = await medward.audit.list({ event: 'authorisation-list.import' });
    const [importRecord] = importRecords;
    assert.equal(importRecords.length, 1);
    assert.equal(importRecord?.outcome, 'success');
    assert.equal(importRecord.targetId, 'ward-7');

    // Devices trust the issuing CA that medward created in its data directory.
    const listener = {
      listenerUrl: `https://127.0.0.1:${listenerPort}`,
      trustedCaPem: readFileSync(join(dir, 'onboarding', 'ca', 'ca-cert.pem'), 'utf8'),
    };
    for (const spec of specs) {
      const device = simulatedDeviceOf(spec, listener);
      const cacerts = await device.send('/.well-known/est/cacerts', { method: 'GET', headers: {} });
      assert.equal(cacerts.status, 200);

      await device.enroll();
      const enrolled = await medward.inventory.list({ text: spec.serialNumber });
      assert.equal(enrolled.items.length, 1, `${spec.serialNumber} is in the inventory`);
      assert.equal(enrolled.items[0]?.state, 'enrolled');

      const registration = await device.register();
      assert.equal(registration.state, 'production');
      const stored = await medward.inventory.get(registration.deviceId as string);
      assert.equal(stored.state, 'production');
      assert.equal(stored.segment, 'clinical');
      assert.equal(stored.manufacturer, 'Lumen Pumps GmbH');
      assert.deepEqual(stored.macAddresses, spec.entry.macAddresses);
      assert.match(stored.certificateFingerprint ?? '', /^[0-9a-f]{64}$/);

      const enforced = medward.enforcement
        .describe()
        .devices.find((item) => item.deviceId === stored.id);
      assert.equal(enforced?.segmentName, 'clinical');
      assert.equal(enforced.status, 'in-force');

      const trail = await medward.audit.list({ targetId: stored.id, limit: 100 });
      const events = trail.map((record) => record.event);
      for (const event of [
        'device.create',
        'certificate.issue',
        'configuration.issue',
        'enforcement.apply',
      ]) {
        assert.ok(
          events.includes(event),
          `${spec.serialNumber}: no ${event} in ${events.join(', ')}`,
        );
      }
      assert.deepEqual(
        trail
          .filter((record) => record.event === 'device.lifecycle')
          .map((record) => record.details.to),
        ['identity-verified', 'authorised', 'enrolled', 'configured', 'production'],
      );
    }
    assert.equal((await verifyAuditChain(medward.audit)).ok, true);
  } finally {
    await medward.stop();
  }
  try {
    assert.equal(await connectionRefused(listenerPort), true, 'stop closes the listener');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('start without a list warns and runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medward-app-'));
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((line) => line !== ''),
      );
      callback();
    },
  });
  const medward = createMedward(isolatedConfig(dir), createLogger({ level: 'info', destination }));
  await medward.start();
  try {
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const warning = records.find((record) =>
      String(record.msg).startsWith('no authorisation list'),
    );
    assert.ok(warning !== undefined, 'start warns that no list authorises devices');
    assert.equal(warning.level, 40);
    assert.equal(warning.publicKeyFiles, 0);
    const started = records.find((record) => record.msg === 'provisioning listener started');
    assert.equal(started?.host, '127.0.0.1');
    assert.equal(started.port, medward.onboarding?.provisioningListener.port);

    const response = await fetch(
      `http://127.0.0.1:${medward.apiPort}/api/v1/onboarding/authorisation-lists`,
      { headers: { authorization: `Bearer ${medward.bootstrapToken ?? ''}` } },
    );
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { lists: [] });

    const [spec] = simulatedDeviceSpecs(new SimulatedManufacturer('Lumen Pumps GmbH'), 1);
    assert.ok(spec !== undefined);
    const device = simulatedDeviceOf(spec, {
      listenerUrl: `https://127.0.0.1:${medward.onboarding?.provisioningListener.port ?? 0}`,
      trustedCaPem: readFileSync(join(dir, 'onboarding', 'ca', 'ca-cert.pem'), 'utf8'),
    });
    await assert.rejects(
      device.enroll(),
      (error: unknown) =>
        error instanceof ProvisioningRequestFailed && error.errorCode === 'EST_DEVICE_NOT_LISTED',
    );
  } finally {
    await medward.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('onboarding disabled runs no listener', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medward-app-'));
  const medward = createMedward(
    isolatedConfig(dir, { 'onboarding.enabled': false }),
    silentLogger(),
  );
  await medward.start();
  try {
    assert.equal(medward.onboarding, undefined);
    const response = await fetch(`http://127.0.0.1:${medward.apiPort}/api/v1/onboarding/pending`, {
      headers: { authorization: `Bearer ${medward.bootstrapToken ?? ''}` },
    });
    assert.equal(response.status, 404);
  } finally {
    await medward.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('simulate onboarding fills running inventory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medward-app-'));
  const { keys, medward } = await startTrustingNewAuthority(dir);
  try {
    const { stdout } = await runCli(
      [
        'simulate',
        'onboarding',
        '--count',
        '6',
        '--authority-key',
        keys.privateKey,
        '--listener',
        `https://127.0.0.1:${medward.onboarding?.provisioningListener.port ?? 0}`,
        '--api-url',
        `http://127.0.0.1:${medward.apiPort}`,
        '--json',
      ],
      dir,
      // The CA certificate is found in the data directory, as in a default setup.
      { MEDWARD_TOKEN: medward.bootstrapToken ?? '', MEDWARD_DATA_DIR: dir },
    );
    const summary = JSON.parse(stdout) as {
      devices: number;
      inProduction: number;
      failed: number;
      listIds: string[];
      serialPrefix: string;
    };
    assert.equal(summary.devices, 6);
    assert.equal(summary.failed, 0);
    assert.equal(summary.inProduction, 6);
    assert.equal(summary.listIds.length, 1);

    const production = await medward.inventory.list({ state: 'production' });
    assert.equal(production.items.length, 6);
    assert.ok(
      production.items.every((device) => device.serialNumber.startsWith(summary.serialPrefix)),
    );
    const lists = await medward.onboarding?.authorisation.lists();
    assert.deepEqual(
      lists?.map((item) => item.listId),
      summary.listIds,
    );
  } finally {
    await medward.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
