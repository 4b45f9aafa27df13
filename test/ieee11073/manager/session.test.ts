import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AbortReason,
  AssociateResult,
  AssociationBits,
  ConfigResult,
  MdcObject,
  RorjProblem,
  createScenario,
  encodeApdu,
  finiteNumber,
  type ConfigObject,
} from '../../../src/ieee11073/index.js';
import {
  ApduClient,
  aarqBytes,
  answerMdsGet,
  associate,
  capturingLogger,
  delay,
  messageOf,
  prstBytes,
  reportBytes,
  startManager,
  type LiveManager,
} from './support.js';

const bpm = createScenario('bpm');

function bpmReport(invokeId: number, eventTime = 0x00490050): Uint8Array {
  const measurement = bpm.measurement(1, new Date('2026-01-02T03:04:05Z'));
  return reportBytes(invokeId, measurement.eventType, measurement.eventInfo, eventTime);
}

describe('ieee11073 manager session', () => {
  let live: LiveManager;
  const captured = capturingLogger();

  before(async () => {
    live = await startManager({
      logger: captured.logger,
      config: { timeouts: { configurationMs: 300, confirmedRequestMs: 300, associationMs: 300 } },
    });
  });

  after(async () => {
    await live.stop();
  });

  test('standard config accepted and reported', async () => {
    const client = await ApduClient.connect(live.port);
    client.send(aarqBytes({ devConfigId: 0x02bc, systemId: new Uint8Array(8).fill(0x01) }));
    const aare = await client.next('aare');
    assert.equal(aare.kind, 'aare');
    assert.equal(aare.result, AssociateResult.accepted);
    assert.equal(aare.selectedDataProto.dataProtoId, 20601);
    await answerMdsGet(client);
    client.send(bpmReport(0x0054));
    const rors = messageOf(await client.next('prst'));
    assert.equal(rors.invokeId, 0x0054);
    assert.equal(rors.message.kind, 'rors-confirmed-event-report');
    assert.equal(rors.message.eventType, MdcObject.MDC_NOTI_SCAN_REPORT_FIXED);
    assert.equal(rors.message.currentTime, 0x00490050);
    const page = await live.manager.listObservations({ deviceSystemId: '0101010101010101' });
    assert.equal(page.observations.length, 2);
    client.send(encodeApdu({ kind: 'rlrq', reason: 0 }));
    const rlre = await client.next('rlre');
    assert.equal(rlre.kind, 'rlre');
    client.close();
  });

  test('acknowledgement follows the commit', async () => {
    const client = await associate(live.port, { systemId: new Uint8Array(8).fill(0x02) });
    client.send(bpmReport(7));
    await client.next('prst');
    // The RORS went out, so the observations must already be readable.
    const page = await live.manager.listObservations({ deviceSystemId: '0202020202020202' });
    assert.equal(page.observations.length, 2);
    client.close();
  });

  test('extended config exchanged then remembered', async () => {
    const systemId = new Uint8Array(8).fill(0x03);
    const thermometer = createScenario('thermometer');
    for (const round of [1, 2]) {
      const client = await ApduClient.connect(live.port);
      client.send(aarqBytes({ devConfigId: 0x4000, systemId }));
      const aare = await client.next('aare');
      assert.equal(aare.kind, 'aare');
      if (round === 1) {
        assert.equal(aare.result, AssociateResult.acceptedUnknownConfig);
        client.send(
          reportBytes(0x1234, MdcObject.MDC_NOTI_CONFIG, {
            kind: 'config-report',
            configReportId: 0x4000,
            configObjList: thermometer.configuration,
          }),
        );
        const response = messageOf(await client.next('prst'));
        assert.equal(response.invokeId, 0x1234);
        const reply =
          response.message.kind === 'rors-confirmed-event-report'
            ? response.message.eventReplyInfo
            : undefined;
        assert.deepEqual(reply, {
          kind: 'config-report-rsp',
          configReportId: 0x4000,
          configResult: ConfigResult.acceptedConfig,
        });
      } else {
        assert.equal(aare.result, AssociateResult.accepted);
      }
      await answerMdsGet(client);
      client.close();
    }
  });

  test('config without unit unsupported', async () => {
    const client = await ApduClient.connect(live.port);
    client.send(aarqBytes({ devConfigId: 0x4001, systemId: new Uint8Array(8).fill(0x04) }));
    await client.next('aare');
    const [object] = createScenario('thermometer').configuration;
    assert.ok(object);
    const withoutUnit: ConfigObject = {
      ...object,
      attributes: object.attributes.filter(
        (ava) => ava.attributeId !== MdcObject.MDC_ATTR_UNIT_CODE,
      ),
    };
    client.send(
      reportBytes(9, MdcObject.MDC_NOTI_CONFIG, {
        kind: 'config-report',
        configReportId: 0x4001,
        configObjList: [withoutUnit],
      }),
    );
    const response = messageOf(await client.next('prst'));
    const reply =
      response.message.kind === 'rors-confirmed-event-report'
        ? response.message.eventReplyInfo
        : undefined;
    assert.equal(
      reply?.kind === 'config-report-rsp' && reply.configResult,
      ConfigResult.unsupportedConfig,
    );
    client.close();
  });

  test('aarq rejections by result', async () => {
    const cases = [
      {
        fields: { encodingRules: AssociationBits.encodingPer },
        result: AssociateResult.rejectedNoCommonParameter,
      },
      {
        fields: { assocVersion: 0x40000000 },
        result: AssociateResult.rejectedUnsupportedAssocVersion,
      },
      { fields: { dataProtoId: 20602 }, result: AssociateResult.rejectedNoCommonProtocol },
      {
        fields: { protocolVersion: 0x08000000 },
        result: AssociateResult.rejectedNoCommonParameter,
      },
      {
        fields: { systemType: AssociationBits.systemTypeManager },
        result: AssociateResult.rejectedPermanent,
      },
    ];
    for (const { fields, result } of cases) {
      const client = await ApduClient.connect(live.port);
      client.send(aarqBytes({ ...fields, systemId: new Uint8Array(8).fill(0x05) }));
      const aare = await client.next('aare');
      assert.equal(aare.kind === 'aare' && aare.result, result, JSON.stringify(fields));
      client.close();
    }
  });

  test('malformed prst rejected with rorj', async () => {
    const client = await associate(live.port, { systemId: new Uint8Array(8).fill(0x06) });
    const before = captured.lines.length;
    // A fixed scan report whose obs-scan-fixed count claims 3 entries but contains 2.
    const bytes = bpmReport(0x0777);
    const broken = new Uint8Array(bytes);
    broken[26] = 0x00;
    broken[27] = 0x03;
    client.send(broken);
    const rorj = messageOf(await client.next('prst'));
    assert.equal(rorj.invokeId, 0x0777);
    assert.equal(rorj.message.kind, 'rorj');
    assert.equal(rorj.message.problem, RorjProblem.badlyStructuredApdu);
    const warnings = captured.lines.slice(before).filter((line) => line.level === 40);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.device, '0606060606060606');
    assert.ok(warnings[0].defect);
    // The association goes on.
    client.send(bpmReport(0x0778));
    const rors = messageOf(await client.next('prst'));
    assert.equal(rors.message.kind, 'rors-confirmed-event-report');
    client.close();
  });

  test('unknown invoke id ignored', async () => {
    const client = await associate(live.port, { systemId: new Uint8Array(8).fill(0x07) });
    const before = captured.lines.length;
    client.send(prstBytes(0x4242, { kind: 'rors-get', objHandle: 0, attributeList: [] }));
    client.send(bpmReport(3));
    const rors = messageOf(await client.next('prst'));
    assert.equal(rors.invokeId, 3);
    const ignored = captured.lines
      .slice(before)
      .filter((line) => line.msg === 'ieee11073 response ignored');
    assert.equal(ignored.length, 1);
    client.close();
  });

  test('prst before association aborted', async () => {
    const client = await ApduClient.connect(live.port);
    client.send(bpmReport(1));
    const abrt = await client.next('abrt');
    assert.equal(abrt.kind === 'abrt' && abrt.reason, AbortReason.undefined);
    assert.ok(await client.waitUntil(() => client.closed));
  });

  test('oversized apdu aborted and closed', async () => {
    const client = await ApduClient.connect(live.port);
    // A header announcing 0xffff bytes, above the default 64512.
    client.send(new Uint8Array([0xe7, 0x00, 0xff, 0xff, 0x00, 0x00]));
    const abrt = await client.next('abrt');
    assert.equal(abrt.kind === 'abrt' && abrt.reason, AbortReason.bufferOverflow);
    assert.ok(await client.waitUntil(() => client.closed));
  });

  test('configuration timeout aborts', async () => {
    const client = await ApduClient.connect(live.port);
    client.send(aarqBytes({ devConfigId: 0x4002, systemId: new Uint8Array(8).fill(0x08) }));
    await client.next('aare');
    const abrt = await client.next('abrt', 2000);
    assert.equal(abrt.kind === 'abrt' && abrt.reason, AbortReason.configurationTimeout);
  });

  test('association timeout closes', async () => {
    const client = await ApduClient.connect(live.port);
    assert.ok(await client.waitUntil(() => client.closed, 2000));
    assert.equal(client.received.length, 0);
  });

  test('unanswered get aborts', async () => {
    const client = await ApduClient.connect(live.port);
    client.send(aarqBytes({ devConfigId: 0x02bc, systemId: new Uint8Array(8).fill(0x09) }));
    await client.next('aare');
    const abrt = await client.next('abrt', 2000);
    assert.equal(abrt.kind === 'abrt' && abrt.reason, AbortReason.responseTimeout);
  });

  test('set time after mds get', async () => {
    const client = await ApduClient.connect(live.port);
    client.send(aarqBytes({ devConfigId: 0x02bc, systemId: new Uint8Array(8).fill(0x0a) }));
    await client.next('aare');
    await answerMdsGet(client, [
      {
        attributeId: MdcObject.MDC_ATTR_MDS_TIME_INFO,
        value: {
          kind: 'mds-time-info',
          value: {
            mdsTimeCapState: 0xc000,
            timeSyncProtocol: 0,
            timeSyncAccuracy: 0,
            timeResolutionAbsTime: 0,
            timeResolutionRelTime: 0,
            timeResolutionHighResTime: 0,
          },
        },
      },
    ]);
    const action = messageOf(await client.next('prst'));
    assert.equal(action.message.kind, 'roiv-confirmed-action');
    assert.equal(action.message.actionType, MdcObject.MDC_ACT_SET_TIME);
    const args = action.message.actionInfoArgs;
    assert.equal(args.kind, 'set-time');
    assert.equal(args.dateTime.century * 100 + args.dateTime.year, new Date().getUTCFullYear());
    client.send(
      prstBytes(action.invokeId, {
        kind: 'rors-confirmed-action',
        objHandle: 0,
        actionType: MdcObject.MDC_ACT_SET_TIME,
        actionInfoArgs: { kind: 'raw', bytes: new Uint8Array(0) },
      }),
    );
    client.send(bpmReport(11));
    const rors = messageOf(await client.next('prst'));
    assert.equal(rors.invokeId, 11);
    client.close();
  });

  test('agent invoke rejected unrecognized', async () => {
    const client = await associate(live.port, { systemId: new Uint8Array(8).fill(0x0b) });
    client.send(prstBytes(5, { kind: 'roiv-get', objHandle: 0, attributeIdList: [] }));
    const rorj = messageOf(await client.next('prst'));
    assert.equal(rorj.invokeId, 5);
    assert.equal(
      rorj.message.kind === 'rorj' && rorj.message.problem,
      RorjProblem.unrecognizedOperation,
    );
    client.close();
  });

  test('abort audited once', async () => {
    const systemId = new Uint8Array(8).fill(0x0c);
    const client = await associate(live.port, { systemId });
    client.send(encodeApdu({ kind: 'abrt', reason: AbortReason.undefined }));
    client.send(encodeApdu({ kind: 'abrt', reason: AbortReason.undefined }));
    await delay(200);
    const records = await live.audit.list({ targetKind: 'device', targetId: '0c0c0c0c0c0c0c0c' });
    assert.deepEqual(
      records.map((record) => record.event),
      ['ieee11073.association.accept', 'ieee11073.association.abort'],
    );
    assert.equal(records[1]?.details.direction, 'received');
    client.close();
  });

  test('committed batch published', async () => {
    const received: unknown[] = [];
    const subscription = await live.bus.subscribe({
      subject: 'ieee11073.observation.committed',
      group: 'session-test',
      handler: (message) => {
        received.push(message.data);
      },
    });
    const client = await associate(live.port, { systemId: new Uint8Array(8).fill(0x0d) });
    client.send(bpmReport(1));
    await client.next('prst');
    await delay(100);
    const observations = received.flatMap(
      (data) =>
        (data as { observations: { deviceSystemId: string; value?: string }[] }).observations,
    );
    const mine = observations.filter(
      (observation) => observation.deviceSystemId === '0d0d0d0d0d0d0d0d',
    );
    assert.equal(mine.length, 2);
    assert.ok(mine.some((observation) => observation.value?.split('/').length === 3));
    await subscription.close();
    client.close();
  });

  test('sfloat special value stored', async () => {
    const client = await associate(live.port, {
      systemId: new Uint8Array(8).fill(0x0e),
      devConfigId: 0x0190,
    });
    // Pulse oximeter standard configuration: SpO2 NaN (0x07ff) and pulse 72.
    client.send(
      reportBytes(4, MdcObject.MDC_NOTI_SCAN_REPORT_FIXED, {
        kind: 'scan-fixed',
        dataReqId: 0xf000,
        scanReportNo: 1,
        obsScanFixed: [
          { objHandle: 1, obsValData: new Uint8Array([0x07, 0xff]) },
          { objHandle: 10, obsValData: new Uint8Array([0x00, 0x48]) },
        ],
      }),
    );
    await client.next('prst');
    const page = await live.manager.listObservations({ deviceSystemId: '0e0e0e0e0e0e0e0e' });
    const spo2 = page.observations.find((observation) => observation.handle === 1);
    assert.deepEqual(spo2?.value, {
      kind: 'numeric',
      decimal: 'nan',
      number: null,
      special: 'nan',
    });
    const pulse = page.observations.find((observation) => observation.handle === 10);
    assert.equal(
      pulse?.value.kind === 'numeric' && pulse.value.decimal,
      finiteNumber(72, 0).decimal,
    );
    assert.equal(pulse?.timestamp.clock, 'none');
    client.close();
  });
});

describe('ieee11073 manager shutdown', () => {
  test('stop releases associations', async () => {
    const live = await startManager();
    try {
      const client = await associate(live.port);
      const stopping = live.manager.stop();
      const rlrq = await client.next('rlrq');
      assert.equal(rlrq.kind, 'rlrq');
      client.send(encodeApdu({ kind: 'rlre', reason: 0 }));
      await stopping;
      assert.ok(await client.waitUntil(() => client.closed));
    } finally {
      await live.stop();
    }
  });

  test('unanswered release aborts', async () => {
    const live = await startManager({ config: { timeouts: { releaseMs: 200 } } });
    try {
      const client = await associate(live.port);
      const stopping = live.manager.stop();
      await client.next('rlrq');
      const abrt = await client.next('abrt', 2000);
      assert.equal(abrt.kind === 'abrt' && abrt.reason, AbortReason.responseTimeout);
      await stopping;
    } finally {
      await live.stop();
    }
  });
});
