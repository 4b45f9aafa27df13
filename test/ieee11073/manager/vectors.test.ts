/**
 * Every agent-to-manager APDU of the public example fixture, played through a
 * live manager session over TCP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AbortReason,
  AssociateResult,
  ConfigResult,
  type DeviceObservation,
} from '../../../src/ieee11073/index.js';
import { bytesOf, fixture, vectorById } from '../support.js';
import {
  ApduClient,
  aarqBytes,
  answerMdsGet,
  delay,
  messageOf,
  startManager,
  type LiveManager,
} from './support.js';

/** Fixture ids of APDUs a manager sends; everything else is played as agent input. */
const managerToAgent = new Set([
  'aare-accepted-unknown-config',
  'config-response-accepted',
  'scan-fixed-response',
  'get-mds-request',
]);

/** Vectors this suite plays, checked against the fixture so a new vector is not skipped silently. */
const played = new Set<string>();

function vectorBytes(id: string): Uint8Array {
  played.add(id);
  return bytesOf(vectorById(id).hex);
}

function withInvokeId(bytes: Uint8Array, invokeId: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[6] = invokeId >> 8;
  copy[7] = invokeId & 0xff;
  return copy;
}

interface ExpectedObservation {
  handle: number;
  value?: string;
  unit?: string;
  time?: string;
  components?: { type: number; value: string }[];
}

function expectedObservations(id: string): ExpectedObservation[] {
  const expected = vectorById(id).expected.observations;
  assert.ok(Array.isArray(expected), `vector ${id} lists no observations`);
  return expected as ExpectedObservation[];
}

function checkStored(stored: DeviceObservation[], id: string): void {
  const expected = expectedObservations(id);
  assert.equal(stored.length, expected.length, `stored observations of ${id}`);
  for (const wanted of expected) {
    const match = stored.find(
      (observation) =>
        observation.handle === wanted.handle &&
        (wanted.time === undefined || observation.timestamp.deviceTime === wanted.time) &&
        (wanted.value === undefined ||
          (observation.value.kind === 'numeric' && observation.value.decimal === wanted.value)),
    );
    assert.ok(match, `${id}: no stored observation like ${JSON.stringify(wanted)}`);
    if (wanted.unit !== undefined) {
      assert.equal(match.unit?.ucum, wanted.unit);
    }
    if (wanted.components !== undefined) {
      assert.equal(match.value.kind, 'compound');
      assert.deepEqual(
        match.value.components.map((component) => ({
          type: component.code,
          value: component.decimal,
        })),
        wanted.components,
      );
    }
  }
}

describe('ieee11073 manager fixture vectors', () => {
  let live: LiveManager;

  before(async () => {
    live = await startManager();
  });

  after(async () => {
    await live.stop();
  });

  /** Associates, sends the configuration where needed, responds to the GET and plays one scan report. */
  async function playReport(options: {
    aarq: Uint8Array;
    config?: string;
    mdsResponse?: string;
    report: string;
    systemId: string;
  }): Promise<void> {
    const client = await ApduClient.connect(live.port);
    client.send(options.aarq);
    const aare = await client.next('aare');
    assert.equal(aare.kind, 'aare');
    if (options.config !== undefined) {
      assert.equal(aare.result, AssociateResult.acceptedUnknownConfig);
      const config = vectorBytes(options.config);
      client.send(config);
      const response = messageOf(await client.next('prst'));
      assert.equal(response.invokeId, (config[6] ?? 0) * 256 + (config[7] ?? 0));
      const reply =
        response.message.kind === 'rors-confirmed-event-report'
          ? response.message.eventReplyInfo
          : undefined;
      assert.equal(
        reply?.kind === 'config-report-rsp' && reply.configResult,
        ConfigResult.acceptedConfig,
      );
    } else {
      assert.equal(aare.result, AssociateResult.accepted);
    }
    if (options.mdsResponse === undefined) {
      await answerMdsGet(client);
    } else {
      const get = messageOf(await client.next('prst'));
      assert.equal(get.message.kind, 'roiv-get');
      client.send(withInvokeId(vectorBytes(options.mdsResponse), get.invokeId));
    }
    const report = vectorBytes(options.report);
    client.send(report);
    const rors = messageOf(await client.next('prst'));
    assert.equal(rors.invokeId, (report[6] ?? 0) * 256 + (report[7] ?? 0));
    assert.equal(rors.message.kind, 'rors-confirmed-event-report');
    const page = await live.manager.listObservations({ deviceSystemId: options.systemId });
    checkStored(page.observations, options.report);
    client.send(vectorBytes('rlrq-normal'));
    const rlre = await client.next('rlre');
    assert.equal(rlre.kind, 'rlre');
    client.close();
  }

  test('annex scale with mds response', async () => {
    await playReport({
      aarq: vectorBytes('aarq-annex-ext-config'),
      config: 'config-scale-bodyfat-ext',
      mdsResponse: 'get-mds-response',
      report: 'scan-fixed-scale-bodyfat',
      systemId: '8877665544332211',
    });
    const page = await live.manager.listObservations({ deviceSystemId: '8877665544332211' });
    const weight = page.observations.find((observation) => observation.handle === 1);
    // The MDS clock read 2007-02-01T12:05 at the GET, so the 12:10 measurement
    // is 5 minutes after the GET on the gateway clock.
    assert.equal(weight?.timestamp.offsetApplied, true);
    const received = Date.parse(weight.receivedAt);
    const gateway = Date.parse(weight.timestamp.gatewayTime);
    assert.ok(
      Math.abs(gateway - received - 5 * 60000) < 5000,
      `gateway time ${weight.timestamp.gatewayTime}`,
    );
  });

  test('pulse oximeter extended config', async () => {
    await playReport({
      aarq: aarqBytes({ devConfigId: 0x4000, systemId: bytesOf('0404040404040404') }),
      config: 'config-pulseox-ext',
      report: 'scan-fixed-pulseox',
      systemId: '0404040404040404',
    });
  });

  test('blood pressure standard config', async () => {
    await playReport({
      aarq: aarqBytes({ devConfigId: 0x02bc, systemId: bytesOf('0707070707070707') }),
      report: 'scan-fixed-bpm-std-config',
      systemId: '0707070707070707',
    });
  });

  test('scale with four entries', async () => {
    await playReport({
      aarq: aarqBytes({ devConfigId: 0x4000, systemId: bytesOf('1515151515151515') }),
      config: 'config-scale-ext-bmi',
      report: 'scan-fixed-scale-4-entries',
      systemId: '1515151515151515',
    });
  });

  test('glucose standard config', async () => {
    await playReport({
      aarq: vectorBytes('aarq-glucose-std-config'),
      report: 'scan-fixed-glucose',
      systemId: '1122334455667788',
    });
  });

  test('thermometer config accepted', async () => {
    const client = await ApduClient.connect(live.port);
    client.send(aarqBytes({ devConfigId: 0x4000, systemId: bytesOf('0808080808080808') }));
    await client.next('aare');
    client.send(vectorBytes('config-thermometer-ext'));
    const response = messageOf(await client.next('prst'));
    const reply =
      response.message.kind === 'rors-confirmed-event-report'
        ? response.message.eventReplyInfo
        : undefined;
    assert.equal(
      reply?.kind === 'config-report-rsp' && reply.configResult,
      ConfigResult.acceptedConfig,
    );
    client.close();
  });

  test('agent abort recorded', async () => {
    const client = await ApduClient.connect(live.port);
    client.send(aarqBytes({ devConfigId: 0x02bc, systemId: bytesOf('abababababababab') }));
    await client.next('aare');
    await answerMdsGet(client);
    client.send(vectorBytes('abrt-config-timeout'));
    await delay(150);
    const records = await live.audit.list({
      event: 'ieee11073.association.abort',
      targetId: 'abababababababab',
    });
    assert.equal(records.length, 1);
    assert.equal(records[0]?.details.abortReason, AbortReason.configurationTimeout);
    client.close();
  });

  test('malformed vectors get a reaction', async () => {
    for (const vector of fixture.malformed) {
      const client = await ApduClient.connect(live.port);
      client.send(aarqBytes({ devConfigId: 0x4000, systemId: bytesOf('0909090909090909') }));
      const aare = await client.next('aare');
      assert.equal(aare.kind, 'aare');
      if (aare.result === AssociateResult.acceptedUnknownConfig) {
        client.send(vectorBytes('config-pulseox-ext'));
        await client.next('prst');
      }
      await answerMdsGet(client);
      played.add(vector.id);
      const bytes = bytesOf(vector.hex);
      client.send(bytes);
      // A stream transport waits for the bytes an APDU header announces; zeros
      // complete a short vector so the decoder meets its inner defect.
      const announced = 4 + ((bytes[2] ?? 0) << 8) + (bytes[3] ?? 0);
      if (announced > bytes.byteLength) {
        client.send(new Uint8Array(announced - bytes.byteLength));
      }
      const reacted = await client.waitUntil(
        () =>
          client.closed ||
          client.received.some(
            (apdu) =>
              apdu.kind === 'abrt' ||
              (apdu.kind === 'prst' &&
                (apdu.data.message.kind === 'rorj' || apdu.data.message.kind === 'roer')),
          ),
      );
      assert.ok(reacted, `no reaction to ${vector.id}`);
      client.close();
    }
  });

  test('rlre ends manager release', async () => {
    const second = await startManager();
    try {
      const client = await ApduClient.connect(second.port);
      client.send(aarqBytes({ devConfigId: 0x02bc }));
      await client.next('aare');
      await answerMdsGet(client);
      const stopping = second.manager.stop();
      await client.next('rlrq');
      client.send(vectorBytes('rlre-normal'));
      await stopping;
      assert.ok(!client.received.some((apdu) => apdu.kind === 'abrt'));
    } finally {
      await second.stop();
    }
  });

  test('every agent vector played', () => {
    const agentVectors = fixture.vectors
      .map((vector) => vector.id)
      .filter((id) => !managerToAgent.has(id));
    assert.deepEqual(
      agentVectors.filter((id) => !played.has(id)),
      [],
    );
    assert.ok(fixture.malformed.every((vector) => played.has(vector.id)));
  });
});
