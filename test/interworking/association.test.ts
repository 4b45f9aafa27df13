import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { JetStreamBus } from '../../src/core/bus/index.js';
import { silentLogger } from '../../src/core/logger.js';
import {
  ASSOCIATION_SUBJECTS,
  AssociateResult,
  describeAssociation,
  encodeApdu,
  runSimulation,
  type AssociationDescription,
} from '../../src/ieee11073/index.js';
import { agentAeId } from '../../src/interworking/index.js';
import { ObservationSource } from '../../src/interworking/observation-source.js';
import { Onem2mDeviceBridge } from '../../src/interworking/onem2m-bridge.js';
import {
  ApduClient,
  aarqBytes,
  answerMdsGet,
  systemModelAttributes,
} from '../ieee11073/manager/support.js';
import { body, startTestCse } from '../onem2m/support.js';
import { deleteStream, uniqueStreamNames } from '../support/jetstream.js';
import { requireService, testServices } from '../support/services.js';
import { contentOf, startInterworking, until, type InterworkingEnv } from './support.js';

const mdsAttributes = systemModelAttributes('Acme', 'BP-7');

/** Creates a bridge of its own to `cse`, without the manager. */
function bridgeTo(cse: Awaited<ReturnType<typeof startTestCse>>): Onem2mDeviceBridge {
  return new Onem2mDeviceBridge({
    cse: cse.cse,
    cseName: cse.config.cseName,
    adminOriginator: cse.config.adminOriginator,
    applicationOriginators: [],
    commandContainer: 'command',
    logger: silentLogger(),
  });
}

/** Full MDC code of MDC_DEV_SPEC_PROFILE_BP. */
const BP_PROFILE = 8 * 65536 + 4103;

describe('interworking associations to oneM2M', () => {
  let world: InterworkingEnv;
  const systemIdBytes = new Uint8Array([0xa5, 0x50, 0, 0, 0, 0, 0, 1]);
  const systemId = 'a550000000000001';
  let aeAddress = '';
  const published: { subject: string; data: Record<string, unknown> }[] = [];

  before(async () => {
    world = await startInterworking();
    aeAddress = `${world.env.config.cseName}/${agentAeId(systemId)}`;
    await world.live.bus.subscribe({
      subject: ASSOCIATION_SUBJECTS,
      group: 'association-test',
      handler: (message) => {
        published.push({ subject: message.subject, data: message.data as Record<string, unknown> });
      },
    });
  });

  after(async () => {
    await world.dispose();
  });

  async function associateAgent(): Promise<ApduClient> {
    const client = await ApduClient.connect(world.live.port);
    client.send(aarqBytes({ devConfigId: 0x02bc, systemId: systemIdBytes }));
    const aare = await client.next('aare');
    assert.equal(aare.kind === 'aare' && aare.result, AssociateResult.accepted);
    await answerMdsGet(client, mdsAttributes);
    return client;
  }

  async function labelsOf(address: string): Promise<string[] | undefined> {
    const response = await world.env.request({ op: 2, to: address, fr: world.app });
    if (response.rsc !== 2000) {
      return undefined;
    }
    const labels = body(response, 'm2m:ae').lbl;
    return Array.isArray(labels) ? (labels as string[]) : [];
  }

  async function labelled(address: string, expectedLabel: string): Promise<string[]> {
    return until(async () => {
      const labels = await labelsOf(address);
      return labels?.includes(expectedLabel) === true ? labels : undefined;
    }, `label ${expectedLabel}`);
  }

  async function children(address: string, type: number): Promise<string[]> {
    const response = await world.env.request({
      op: 2,
      to: address,
      fr: world.app,
      fc: { fu: 1, ty: [type] },
    });
    const uris = (response.pc as Record<string, unknown> | undefined)?.['m2m:uril'];
    return Array.isArray(uris) ? (uris as string[]) : [];
  }

  /**
   * Publishes the operating event of a new agent `marker` and waits for its
   * AE. The bus delivers a subscription's events in order, so the events
   * published before it have been handled when this returns.
   */
  async function publishMarker(marker: string): Promise<string[]> {
    const description: AssociationDescription = {
      associationId: randomUUID(),
      systemId: marker,
      devConfigId: 0x02bc,
      startedAt: new Date().toISOString(),
      specializations: [],
      mds: null,
    };
    await world.live.bus.publish('ieee11073.association.operating', description);
    return until(
      () => labelsOf(`${world.env.config.cseName}/${agentAeId(marker)}`),
      `AE of ${marker}`,
    );
  }

  function operatingEvents(): AssociationDescription[] {
    return published
      .filter(
        (event) =>
          event.subject === 'ieee11073.association.operating' && event.data.systemId === systemId,
      )
      .map((event) => event.data as unknown as AssociationDescription);
  }

  let firstAssociationId = '';

  test('associated agent becomes an AE', async () => {
    const client = await associateAgent();
    const labels = await labelled(aeAddress, 'ieee11073/associationState/operating');
    assert.ok(labels.includes(`ieee11073/systemId/${systemId}`));
    assert.ok(labels.includes('ieee11073/specialization/blood-pressure-monitor'));
    const idLabel = labels.find((label) => label.startsWith('ieee11073/associationId/'));
    assert.ok(idLabel);
    firstAssociationId = idLabel.slice('ieee11073/associationId/'.length);
    const ae = await world.env.request({ op: 2, to: aeAddress, fr: world.app });
    assert.equal(body(ae, 'm2m:ae').api, 'Nmedward.ieee11073.blood-pressure-monitor');
    const descriptor = contentOf(
      await world.env.request({ op: 2, to: `${aeAddress}/mds/la`, fr: world.app }),
    );
    assert.ok(descriptor);
    assert.equal(descriptor.associationId, firstAssociationId);
    assert.equal(descriptor.specialization, 'blood-pressure-monitor');
    assert.deepEqual(descriptor.specializations, [
      { code: BP_PROFILE, referenceId: 'MDC_DEV_SPEC_PROFILE_BP', version: null },
    ]);
    assert.deepEqual(descriptor.systemModel, { manufacturer: 'Acme', modelNumber: 'BP-7' });
    // Nothing was measured: the AE has only the mds and command containers.
    const containers = await children(aeAddress, 3);
    assert.deepEqual(containers.map((uri) => uri.split('/').at(-1)).sort(), [
      'command',
      'command-result',
      'mds',
    ]);
    client.send(encodeApdu({ kind: 'rlrq', reason: 0 }));
    await client.next('rlre');
    client.close();
  });

  test('released agent labelled ended', async () => {
    const labels = await labelled(aeAddress, 'ieee11073/associationState/ended');
    assert.ok(labels.includes(`ieee11073/associationId/${firstAssociationId}`));
    assert.ok(!labels.includes('ieee11073/associationState/operating'));
  });

  test('reassociation adds a descriptor', async () => {
    const client = await associateAgent();
    const labels = await until(async () => {
      const current = await labelsOf(aeAddress);
      return current?.includes('ieee11073/associationState/operating') === true &&
        !current.includes(`ieee11073/associationId/${firstAssociationId}`)
        ? current
        : undefined;
    }, 'second association label');
    const idLabel = labels.find((label) => label.startsWith('ieee11073/associationId/'));
    const secondAssociationId = idLabel?.slice('ieee11073/associationId/'.length);
    assert.notEqual(secondAssociationId, firstAssociationId);
    const descriptors = await children(`${aeAddress}/mds`, 4);
    assert.equal(descriptors.length, 2);
    const latest = contentOf(
      await world.env.request({ op: 2, to: `${aeAddress}/mds/la`, fr: world.app }),
    );
    assert.equal(latest?.associationId, secondAssociationId);
    client.close();
    await labelled(aeAddress, 'ieee11073/associationState/ended');
  });

  test('repeated and stale events change nothing', async () => {
    const before = await labelsOf(aeAddress);
    const instancesBefore = await children(aeAddress, 4);
    const events = operatingEvents();
    assert.equal(events.length, 2);
    // Without msgId, so the bus delivers the repeats; the older association comes last.
    for (const event of [...events].reverse()) {
      await world.live.bus.publish('ieee11073.association.operating', event);
    }
    await publishMarker('a550000000000002');
    assert.deepEqual(await labelsOf(aeAddress), before);
    assert.equal((await children(aeAddress, 4)).length, instancesBefore.length);
  });

  test('operating after ended stays ended', async () => {
    const other = 'a550000000000003';
    const associationId = randomUUID();
    const startedAt = new Date().toISOString();
    await world.live.bus.publish('ieee11073.association.ended', {
      associationId,
      systemId: other,
      devConfigId: 0x02bc,
      startedAt,
      endedAt: startedAt,
      endReason: 'connection closed',
    });
    const description: AssociationDescription = {
      associationId,
      systemId: other,
      devConfigId: 0x02bc,
      startedAt,
      specializations: [{ code: BP_PROFILE }],
      mds: null,
    };
    await world.live.bus.publish('ieee11073.association.operating', description);
    const address = `${world.env.config.cseName}/${agentAeId(other)}`;
    const labels = await labelled(address, `ieee11073/associationId/${associationId}`);
    assert.ok(labels.includes('ieee11073/associationState/ended'));
    const descriptor = contentOf(
      await world.env.request({ op: 2, to: `${address}/mds/la`, fr: world.app }),
    );
    assert.ok(descriptor);
    assert.equal(descriptor.associationId, associationId);
    assert.deepEqual(descriptor.systemModel, { manufacturer: null, modelNumber: null });
  });

  test('ended without AE creates none', async () => {
    const never = 'a550000000000004';
    const startedAt = new Date().toISOString();
    await world.live.bus.publish('ieee11073.association.ended', {
      associationId: randomUUID(),
      systemId: never,
      devConfigId: 0x4000,
      startedAt,
      endedAt: startedAt,
      endReason: 'connection closed',
    });
    const markerLabels = await publishMarker('a550000000000005');
    assert.ok(markerLabels.includes('ieee11073/specialization/generic'));
    const response = await world.env.request({
      op: 2,
      to: `${world.env.config.cseName}/${agentAeId(never)}`,
    });
    assert.equal(response.rsc, 4004);
  });

  test('invalid event is not applied', async () => {
    const invalid = 'a550000000000006';
    await world.live.bus.publish('ieee11073.association.operating', {
      associationId: randomUUID(),
      systemId: invalid,
      devConfigId: 'not a number',
    });
    await publishMarker('a550000000000007');
    const response = await world.env.request({
      op: 2,
      to: `${world.env.config.cseName}/${agentAeId(invalid)}`,
    });
    assert.equal(response.rsc, 4004);
  });
});

describe('interworking association events without the manager', () => {
  test('ended for unknown agent ignored', async () => {
    const cse = await startTestCse('sqlite');
    try {
      const bridge = bridgeTo(cse);
      const systemId = 'a553000000000001';
      const startedAt = new Date().toISOString();
      await bridge.end({
        associationId: randomUUID(),
        systemId,
        devConfigId: 0x02bc,
        startedAt,
        endedAt: startedAt,
        endReason: 'connection closed',
      });
      const response = await cse.request({
        op: 2,
        to: `${cse.config.cseName}/${agentAeId(systemId)}`,
      });
      assert.equal(response.rsc, 4004);
    } finally {
      await cse.dispose();
    }
  });
});

describe('interworking bridge after a restart', () => {
  test('stale event keeps restored labels', async () => {
    const cse = await startTestCse('sqlite');
    try {
      const systemId = 'a554000000000001';
      const aeAddress = `${cse.config.cseName}/${agentAeId(systemId)}`;
      const labelsOf = async (): Promise<unknown[]> => {
        const labels: unknown = body(await cse.request({ op: 2, to: aeAddress }), 'm2m:ae').lbl;
        assert.ok(Array.isArray(labels));
        return labels as unknown[];
      };
      const description = (id: string, startedAt: string): AssociationDescription => ({
        associationId: id,
        systemId,
        devConfigId: 0x02bc,
        startedAt,
        specializations: [{ code: BP_PROFILE, version: 1 }],
        mds: null,
      });
      const newer = randomUUID();
      await bridgeTo(cse).describe(description(newer, '2026-03-01T10:00:00.000Z'));
      assert.ok((await labelsOf()).includes(`ieee11073/associationId/${newer}`));

      // A second bridge, as after a restart, gets a redelivered event of an older association.
      const restarted = bridgeTo(cse);
      await restarted.describe(description(randomUUID(), '2026-03-01T09:00:00.000Z'));
      const labels = await labelsOf();
      assert.ok(labels.includes(`ieee11073/associationId/${newer}`), 'the newer association stays');
      assert.ok(labels.includes('ieee11073/associationState/operating'));
      assert.ok(labels.includes('ieee11073/associationStartedAt/2026-03-01T10:00:00.000Z'));
      assert.ok(labels.includes('ieee11073/specialization/blood-pressure-monitor'));
    } finally {
      await cse.dispose();
    }
  });
});

describe('interworking association event after observations', () => {
  test('late event labels existing AE', async () => {
    const world = await startInterworking();
    const cse = await startTestCse('sqlite');
    try {
      const prefix = 'a5510000';
      const systemId = `${prefix}00000000`;
      const summary = await runSimulation({
        kind: 'bpm',
        count: 1,
        ratePerSecond: 20,
        durationMs: 2000,
        reportsPerAgent: 1,
        host: '127.0.0.1',
        port: world.live.port,
        systemIdPrefix: prefix,
      });
      assert.equal(summary.sessionsFailed, 0);
      const stored = await world.live.manager.listObservations({ deviceSystemId: systemId });
      const [batch] = await new ObservationSource(world.live.manager.repository).load(
        stored.observations.map((observation) => ({
          id: observation.id,
          deviceSystemId: observation.deviceSystemId,
          type: observation.type,
          time: observation.timestamp.gatewayTime,
        })),
      );
      assert.ok(batch);
      const association = batch.associations.get(stored.observations[0]!.associationId);
      assert.ok(association);
      // A bridge to a second CSE that receives the observations first.
      const bridge = bridgeTo(cse);
      await bridge.write(batch);
      const aeAddress = `${cse.config.cseName}/${agentAeId(systemId)}`;
      const count = async (): Promise<number> => {
        const response = await cse.request({ op: 2, to: aeAddress, fc: { fu: 1, ty: [4] } });
        return ((response.pc as Record<string, unknown[]>)['m2m:uril'] ?? []).length;
      };
      // The descriptor and the blood pressure and pulse rate of the one report.
      assert.equal(await count(), 3);
      const before = body(await cse.request({ op: 2, to: aeAddress }), 'm2m:ae').lbl;
      assert.ok(Array.isArray(before) && !before.some((label) => String(label).includes('State')));
      const description = describeAssociation(association);
      await bridge.describe(description);
      await bridge.describe(description);
      assert.equal(await count(), 3);
      const labelsOf = async (): Promise<unknown> =>
        body(await cse.request({ op: 2, to: aeAddress }), 'm2m:ae').lbl;
      const operating = await labelsOf();
      assert.ok(Array.isArray(operating));
      assert.ok(operating.includes('ieee11073/associationState/operating'));
      assert.ok(operating.includes(`ieee11073/associationId/${association.id}`));
      assert.ok(operating.includes('ieee11073/specialization/blood-pressure-monitor'));
      await bridge.end({
        associationId: association.id,
        systemId,
        devConfigId: association.dev_config_id,
        startedAt: description.startedAt,
        endedAt: new Date(association.ended_at_ms ?? Date.now()).toISOString(),
        endReason: association.end_reason ?? 'released by agent',
      });
      const ended = await labelsOf();
      assert.ok(Array.isArray(ended));
      assert.ok(ended.includes('ieee11073/associationState/ended'));
    } finally {
      await cse.dispose();
      await world.dispose();
    }
  });
});

describe('interworking associations over jetstream', () => {
  test('agent becomes AE over jetstream', async (t) => {
    if (!(await requireService(t, 'nats'))) {
      return;
    }
    const names = uniqueStreamNames();
    const bus = new JetStreamBus({ servers: testServices.nats.url, ...names }, silentLogger());
    await bus.start();
    const world = await startInterworking({ bus });
    try {
      const systemId = 'a552000000000001';
      const aeAddress = `${world.env.config.cseName}/${agentAeId(systemId)}`;
      const client = await ApduClient.connect(world.live.port);
      client.send(aarqBytes({ devConfigId: 0x02bc, systemId: Buffer.from(systemId, 'hex') }));
      const aare = await client.next('aare');
      assert.equal(aare.kind === 'aare' && aare.result, AssociateResult.accepted);
      await answerMdsGet(client, mdsAttributes);
      const labelsWith = (expectedLabel: string): Promise<unknown[]> =>
        until(async () => {
          const response = await world.env.request({ op: 2, to: aeAddress, fr: world.app });
          const labels = response.rsc === 2000 ? body(response, 'm2m:ae').lbl : undefined;
          return Array.isArray(labels) && labels.includes(expectedLabel) ? labels : undefined;
        }, `label ${expectedLabel}`);
      await labelsWith('ieee11073/associationState/operating');
      const descriptor = contentOf(
        await world.env.request({ op: 2, to: `${aeAddress}/mds/la`, fr: world.app }),
      );
      assert.deepEqual(descriptor?.systemModel, { manufacturer: 'Acme', modelNumber: 'BP-7' });
      client.send(encodeApdu({ kind: 'rlrq', reason: 0 }));
      await client.next('rlre');
      client.close();
      const labels = await labelsWith('ieee11073/associationState/ended');
      assert.ok(labels.includes('ieee11073/specialization/blood-pressure-monitor'));
    } finally {
      await world.dispose();
      await bus.stop();
      await deleteStream(names.stream);
    }
  });
});
