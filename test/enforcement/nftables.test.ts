import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { silentLogger } from '../../src/core/logger.js';
import { createCommandRunner } from '../../src/enforcement/nftables/command-runner.js';
import { NftablesEnforcementPoint } from '../../src/enforcement/nftables/nftables-point.js';
import { SegmentModel } from '../../src/enforcement/segments.js';
import type { EnforcementConfig } from '../../src/enforcement/config.js';
import { runEnforcerContract } from './contract.js';
import {
  createGatewayNamespace,
  createTopology,
  requireNetns,
  sh,
  topology,
  type Topology,
} from './netns.js';
import {
  enforcementConfig,
  makeDecision,
  makeDevice,
  nurse,
  startService,
  type ServiceHarness,
} from './support.js';

function makePoint(config: EnforcementConfig, namespace: string): NftablesEnforcementPoint {
  return new NftablesEnforcementPoint({
    config: config.nftables,
    model: new SegmentModel(config.segments, config.services),
    logger: silentLogger(),
    run: createCommandRunner(['ip', 'netns', 'exec', namespace, 'nft'], 5000),
  });
}

runEnforcerContract('nftables', async (t) => {
  if (!(await requireNetns(t))) {
    return undefined;
  }
  const namespace = await createGatewayNamespace();
  const config = enforcementConfig({
    retry: { maxAttempts: 2, initialBackoffMs: 5, maxBackoffMs: 10 },
  });
  let point = makePoint(config, namespace.name);
  let harness: ServiceHarness;
  try {
    harness = await startService([point], { config });
  } catch (error) {
    await namespace.destroy();
    throw error;
  }
  return {
    harness: () => harness,
    observe: (mac) => point.segmentOfMac(mac),
    async restart() {
      await harness.service.stop();
      await harness.bus.stop();
      await sh('ip', [
        'netns',
        'exec',
        namespace.name,
        'nft',
        'delete',
        'table',
        'inet',
        'medward',
      ]);
      point = makePoint(config, namespace.name);
      harness = await startService([point], { config, database: harness.database });
    },
    async cleanup() {
      await harness.dispose();
      await namespace.destroy();
    },
  };
});

const deviceMac = '02:00:00:c0:ff:ee';
const probes = [
  { protocol: 'udp', port: 53 },
  { protocol: 'tcp', port: 53 },
  { protocol: 'udp', port: 123 },
  { protocol: 'tcp', port: 8443 },
  { protocol: 'tcp', port: 8081 },
  { protocol: 'tcp', port: 443 },
  { protocol: 'udp', port: 5000 },
  { protocol: 'tcp', port: 22 },
] as const;

function expectFlows(
  t: TestContext,
  phase: string,
  actual: Record<string, 'open' | 'blocked'>,
  open: readonly string[],
): void {
  t.diagnostic(
    `${phase}: ${Object.entries(actual)
      .map(([flow, verdict]) => `${flow}=${verdict}`)
      .join(' ')}`,
  );
  for (const { protocol, port } of probes) {
    const key = `${protocol}/${port}`;
    assert.equal(actual[key], open.includes(key) ? 'open' : 'blocked', `${phase}: ${key}`);
  }
}

describe('nftables in network namespaces', () => {
  let net: Topology | undefined;
  let harness: ServiceHarness | undefined;
  let skip: string | undefined;
  let point: NftablesEnforcementPoint | undefined;

  before(async (t) => {
    const context = {
      ...t,
      skip: (message?: string) => (skip = message ?? 'skipped'),
    } as unknown as TestContext;
    if (!(await requireNetns(context))) {
      return;
    }
    net = await createTopology(deviceMac);
    await net.exec(
      net.gateway,
      ['nft', '-f', '-'],
      'table inet neighbour {\n chain keep {\n counter\n }\n}\n',
    );
    await net.startServer([53, 8443, 8081, 443, 22], [53, 123, 5000]);
    const config = enforcementConfig({
      services: {
        dns: [topology.serverAddress],
        ntp: [topology.serverAddress],
        provisioning: { address: topology.serverAddress, port: 8443 },
        remediation: { address: topology.serverAddress, port: 8081 },
      },
      retry: { maxAttempts: 2, initialBackoffMs: 5, maxBackoffMs: 10 },
    });
    point = makePoint(config, net.gateway);
    harness = await startService([point], { config });
  });

  after(async () => {
    await harness?.dispose();
    await net?.destroy();
  });

  test('flows follow segment moves', async (t) => {
    if (net === undefined || harness === undefined) {
      t.skip(skip);
      return;
    }
    const device = makeDevice({
      id: 'infusion-pump-7',
      macs: [deviceMac],
      interfaces: [{ mac: deviceMac, kind: 'wired' }],
      profile: {
        allowedFlows: [
          {
            direction: 'from-device',
            protocol: 'tcp',
            peer: topology.serverAddress,
            ports: { first: 443, last: 443 },
          },
          {
            direction: 'from-device',
            protocol: 'udp',
            peer: `${topology.serverAddress}/32`,
            ports: { first: 5000, last: 5000 },
          },
        ],
      },
    });
    const all = probes.map(({ protocol, port }) => `${protocol}/${port}`);

    expectFlows(t, 'unmanaged', await net.probe(probes), all);

    const provisioning = makeDecision(device, 'provisioning');
    assert.equal((await harness.service.apply(provisioning)).status, 'in-force');
    expectFlows(t, 'provisioning', await net.probe(probes), [
      'udp/53',
      'tcp/53',
      'udp/123',
      'tcp/8443',
    ]);

    const production = makeDecision(device, 'production', {
      actor: nurse,
      supersedes: provisioning.id,
    });
    assert.equal((await harness.service.apply(production)).status, 'in-force');
    expectFlows(t, 'production', await net.probe(probes), ['tcp/443', 'udp/5000']);
    const before = await net.exec(net.gateway, ['nft', 'list', 'table', 'inet', 'medward']);

    const startedAt = performance.now();
    assert.equal(
      (await harness.service.apply(makeDecision(device, 'quarantine'))).status,
      'in-force',
    );
    const elapsedMs = performance.now() - startedAt;
    t.diagnostic(`quarantine decision to confirmed rule: ${elapsedMs.toFixed(1)} ms`);
    expectFlows(t, 'quarantine', await net.probe(probes), ['tcp/8081']);
    const afterMove = await net.exec(net.gateway, ['nft', 'list', 'table', 'inet', 'medward']);
    for (const [label, text] of [
      ['before', before],
      ['after', afterMove],
    ] as const) {
      t.diagnostic(`table ${label} the move:`);
      for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
        t.diagnostic(line);
      }
    }

    await harness.service.apply(makeDecision(device, 'isolation'));
    expectFlows(t, 'isolation', await net.probe(probes), []);

    await harness.service.remove(device.id);
    expectFlows(t, 'removed', await net.probe(probes), all);
  });

  test('other tables left alone', async (t) => {
    if (net === undefined || harness === undefined || point === undefined) {
      t.skip(skip);
      return;
    }
    const neighbour = await net.exec(net.gateway, ['nft', 'list', 'table', 'inet', 'neighbour']);
    await point.restore({ devices: [] });
    assert.equal(
      await net.exec(net.gateway, ['nft', 'list', 'table', 'inet', 'neighbour']),
      neighbour,
    );
    const tables = await net.exec(net.gateway, ['nft', 'list', 'tables']);
    assert.match(tables, /table inet neighbour/);
    assert.match(tables, /table inet medward/);
  });

  test('missing table fails, not done', async (t) => {
    if (net === undefined || harness === undefined) {
      t.skip(skip);
      return;
    }
    await net.exec(net.gateway, ['nft', 'delete', 'table', 'inet', 'medward']);
    const device = makeDevice({ id: 'monitor-3', macs: ['02:00:00:c0:ff:01'], interfaces: [] });
    await assert.rejects(
      harness.service.apply(makeDecision(device, 'quarantine')),
      /could not be put in force/,
    );
    assert.equal(
      harness.service.describe().devices.find((d) => d.deviceId === 'monitor-3')?.status,
      'failed',
    );
    await harness.service.restore({ devices: [] });
  });
});
