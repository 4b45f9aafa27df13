import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parsePhdExportPayload } from '../../src/fhir/input.js';
import { runSimulation } from '../../src/ieee11073/index.js';
import { agentAeId } from '../../src/interworking/index.js';
import { assertValidR4 } from '../fhir/validate.js';
import { body } from '../onem2m/support.js';
import { contentOf, startInterworking, until, type InterworkingEnv } from './support.js';

const PREFIX = 'a1b2c3d4';
const systemId = `${PREFIX}00000000`;

describe('interworking 11073 to oneM2M', () => {
  let world: InterworkingEnv;
  let aeAddress = '';

  before(async () => {
    world = await startInterworking();
    aeAddress = `${world.env.config.cseName}/${agentAeId(systemId)}`;
  });

  after(async () => {
    await world.dispose();
  });

  const simulate = () =>
    runSimulation({
      kind: 'bpm',
      count: 1,
      ratePerSecond: 20,
      durationMs: 2000,
      reportsPerAgent: 1,
      host: '127.0.0.1',
      port: world.live.port,
      systemIdPrefix: PREFIX,
    });

  test('agent becomes an AE', async () => {
    const summary = await simulate();
    assert.equal(summary.sessionsFailed, 0);
    const discovered = await until(async () => {
      const response = await world.env.request({
        op: 2,
        to: aeAddress,
        fr: world.app,
        fc: { fu: 1, ty: [4] },
      });
      const uris = (response.pc as Record<string, unknown> | undefined)?.['m2m:uril'];
      // The mds descriptor, the blood pressure and the pulse rate of the one report.
      return Array.isArray(uris) && uris.length >= 3 ? (uris as string[]) : undefined;
    }, 'discovered contentInstances');
    assert.equal(discovered.length, 3);
    const ae = await world.env.request({ op: 2, to: aeAddress, fr: world.app });
    assert.equal(ae.rsc, 2000);
    assert.equal(body(ae, 'm2m:ae').aei, agentAeId(systemId));
    assert.match(String(body(ae, 'm2m:ae').api), /^Nmedward\.ieee11073\./);
  });

  test('observation content is complete', async () => {
    const latest = await world.env.request({
      op: 2,
      to: `${aeAddress}/MDC_PRESS_BLD_NONINV/la`,
      fr: world.app,
    });
    assert.equal(latest.rsc, 2000);
    assert.equal(body(latest, 'm2m:cin').cnf, 'application/json:0');
    const content = contentOf(latest)!;
    assert.equal(content.deviceSystemId, systemId);
    assert.equal(typeof content.gatewayTime, 'string');
    const type = content.type as Record<string, unknown>;
    assert.equal(type.referenceId, 'MDC_PRESS_BLD_NONINV');
    const unit = content.unit as Record<string, unknown>;
    assert.equal(unit.ucum, 'mm[Hg]');
    assert.equal(typeof unit.mdc, 'number');
    assert.ok('agentTime' in content);
    assert.ok('measurementStatus' in content);
  });

  test('mds descriptor is written', async () => {
    const mds = contentOf(
      await world.env.request({ op: 2, to: `${aeAddress}/mds/la`, fr: world.app }),
    );
    assert.ok(mds);
    assert.equal(mds.systemId, systemId);
    assert.ok(Array.isArray(mds.productionSpecification));
    assert.notEqual(mds.timeInfo, null);
  });

  test('redelivery writes nothing twice', async () => {
    const count = async () => {
      const response = await world.env.request({
        op: 2,
        to: aeAddress,
        fr: world.app,
        fc: { fu: 1, ty: [4] },
      });
      const uris = (response.pc as Record<string, unknown[]>)['m2m:uril'] ?? [];
      return uris.length;
    };
    const before = await count();
    const stored = await world.live.manager.listObservations({ deviceSystemId: systemId });
    const event = {
      observations: stored.observations.map((observation) => ({
        id: observation.id,
        deviceSystemId: observation.deviceSystemId,
        type: observation.type,
        time: observation.timestamp.gatewayTime,
      })),
    };
    const fhirBefore = world.fhirPayloads.length;
    await world.live.bus.publish('ieee11073.observation.committed', event);
    await until(
      () => Promise.resolve(world.fhirPayloads.length > fhirBefore ? true : undefined),
      'redelivered event handled',
    );
    assert.equal(await count(), before);
  });

  test('fhir payloads are valid', () => {
    assert.ok(world.fhirPayloads.length > 0);
    for (const payload of world.fhirPayloads) {
      const parsed = parsePhdExportPayload(payload);
      assert.equal(parsed.device.systemId, systemId);
    }
  });

  test('fhir bundle holds observations', async () => {
    const bundle = await world.fhir.buildBundleFor({ deviceSystemId: systemId });
    const types = bundle.entry.map((entry) => entry.resource.resourceType);
    assert.ok(types.includes('Observation'));
    assert.ok(types.includes('Device'));
  });

  test('fhir device names its specialization', async () => {
    const bundle = await world.fhir.buildBundleFor({ deviceSystemId: systemId });
    const device = bundle.entry
      .map((entry) => entry.resource)
      .find(
        (resource) =>
          resource.resourceType === 'Device' &&
          resource.meta.profile.some((profile) => profile.endsWith('/PhdDevice')),
      );
    assert.ok(device?.resourceType === 'Device');
    // The simulator's System-Type-Spec-List: MDC_DEV_SPEC_PROFILE_BP, version 1.
    assert.deepEqual(device.specialization, [
      {
        systemType: {
          coding: [
            {
              system: 'urn:iso:std:iso:11073:10101',
              code: '528391',
              display: 'MDC_DEV_SPEC_PROFILE_BP',
            },
          ],
          text: 'MDC_DEV_SPEC_PROFILE_BP',
        },
        version: '1',
      },
    ]);
    assertValidR4(device);
  });

  test('ae labelled with specialization', async () => {
    const ae = await world.env.request({ op: 2, to: aeAddress, fr: world.app });
    const labels = body(ae, 'm2m:ae').lbl;
    assert.ok(Array.isArray(labels));
    assert.ok(labels.includes('ieee11073/specialization/blood-pressure-monitor'));
    const descriptor = contentOf(
      await world.env.request({ op: 2, to: `${aeAddress}/mds/la`, fr: world.app }),
    );
    assert.ok(descriptor);
    assert.deepEqual(descriptor.specializations, [
      { code: 528391, referenceId: 'MDC_DEV_SPEC_PROFILE_BP', version: 1 },
    ]);
  });

  test('stranger cannot read device', async () => {
    const response = await world.env.request({ op: 2, to: aeAddress, fr: 'Cstranger' });
    assert.equal(response.rsc, 4103);
  });

  test('subscriber receives http notification', async () => {
    const subscription = await world.env.request({
      op: 1,
      to: `${aeAddress}/MDC_PRESS_BLD_NONINV`,
      fr: world.app,
      ty: 23,
      pc: { 'm2m:sub': { rn: 'ward', nu: [world.app], enc: { net: [3] } } },
    });
    assert.equal(subscription.rsc, 2001);
    const before = world.receiver.received.length;
    await simulate();
    await world.receiver.waitFor(before + 1, 10000);
    const notification = world.receiver.received.at(-1)!.body['m2m:sgn'] as Record<string, unknown>;
    const representation = (notification.nev as Record<string, unknown>).rep as Record<
      string,
      Record<string, unknown>
    >;
    const content = JSON.parse(String(representation['m2m:cin']!.con)) as Record<string, unknown>;
    assert.equal(content.deviceSystemId, systemId);
  });
});
