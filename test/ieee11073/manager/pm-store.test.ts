/**
 * PM-store segment transfer through a live manager over TCP: simulated
 * glucose meters and scales with stored readings, and a raw agent that
 * sends well-formed, malformed and unexpected segment data.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { DialectName } from '../../../src/core/storage/index.js';
import {
  AbortReason,
  AssociateResult,
  MdcObject as O,
  RoerErrorValue,
  SegmEvtStatus,
  TrigSegmXferRsp,
  createScenario,
  encodeApdu,
  encodeSegmentEntries,
  runSimulation,
  type ActionResult,
  type AgentKind,
  type DataMessage,
  type DeviceObservation,
  type ExpectedObservation,
  type RoivAction,
  type SegmDataEventDescr,
  type StoredReading,
} from '../../../src/ieee11073/index.js';
import { requireService } from '../../support/services.js';
import {
  ApduClient,
  aarqBytes,
  answerMdsGet,
  capturingLogger,
  delay,
  messageOf,
  prstBytes,
  reportBytes,
  startManager,
  storedDecimal,
  type ConfigOverrides,
  type LiveManager,
} from './support.js';

const STORED = 12;
const glucose = createScenario('glucose', { storedReadings: STORED });
const pmStore = glucose.pmStore!;
/** Readings with fixed times, so two associations send the same entries. */
const readings = pmStore.readings(new Date('2026-03-04T05:06:00Z'));

/** Asserts that every expected observation is stored with its value, unit and measurement time. */
function assertStored(
  stored: readonly DeviceObservation[],
  expected: readonly ExpectedObservation[],
  context: string,
): void {
  for (const wanted of expected) {
    const measuredAtMs = wanted.measuredAt?.getTime();
    const match = stored.find(
      (observation) =>
        observation.handle === wanted.handle &&
        observation.type === wanted.type &&
        storedDecimal(observation) === wanted.decimal &&
        (measuredAtMs === undefined ||
          Math.abs(Date.parse(observation.timestamp.gatewayTime) - measuredAtMs) < 2000),
    );
    assert.ok(match, `${context}: no stored observation like ${JSON.stringify(wanted)}`);
    assert.equal(match.unit?.code, wanted.unit, context);
    assert.equal(match.timestamp.clock, 'absolute', context);
  }
}

async function listAll(live: LiveManager, systemId: string): Promise<DeviceObservation[]> {
  const page = await live.manager.listObservations({ deviceSystemId: systemId, limit: 1000 });
  return page.observations;
}

/** Associates a raw agent with the glucose PM-store configuration and replies to the MDS GET. */
async function associateAgent(port: number, systemId: Uint8Array): Promise<ApduClient> {
  const client = await ApduClient.connect(port);
  client.send(aarqBytes({ devConfigId: glucose.devConfigId, systemId }));
  const aare = await client.next('aare');
  assert.equal(aare.kind, 'aare');
  if (aare.result === AssociateResult.acceptedUnknownConfig) {
    client.send(
      reportBytes(0x7000, O.MDC_NOTI_CONFIG, {
        kind: 'config-report',
        configReportId: glucose.devConfigId,
        configObjList: glucose.configuration,
      }),
    );
    const response = messageOf(await client.next('prst'));
    assert.equal(response.message.kind, 'rors-confirmed-event-report');
  } else {
    assert.equal(aare.result, AssociateResult.accepted);
  }
  await answerMdsGet(client);
  return client;
}

/** Returns the manager's next confirmed ACTION. */
async function nextAction(
  client: ApduClient,
  timeoutMs?: number,
): Promise<{ invokeId: number; action: RoivAction }> {
  const { invokeId, message } = messageOf(await client.next('prst', timeoutMs));
  assert.equal(message.kind, 'roiv-confirmed-action', `expected an ACTION, got ${message.kind}`);
  return { invokeId, action: message };
}

function actionResultBytes(invokeId: number, action: RoivAction, result: ActionResult): Uint8Array {
  return prstBytes(invokeId, {
    kind: 'rors-confirmed-action',
    objHandle: action.objHandle,
    actionType: action.actionType,
    actionInfoArgs: result,
  });
}

/** Replies to MDC_ACT_SEG_GET_INFO with one segment of `usageCount` entries. */
async function answerSegmentInfo(client: ApduClient, usageCount: number): Promise<void> {
  const { invokeId, action } = await nextAction(client);
  assert.equal(action.objHandle, pmStore.handle);
  assert.equal(action.actionType, O.MDC_ACT_SEG_GET_INFO);
  client.send(
    actionResultBytes(invokeId, action, {
      kind: 'segment-info-list',
      segmentInfo: [
        {
          segInstNo: pmStore.segmentInstance,
          segInfo: [
            {
              attributeId: O.MDC_ATTR_PM_SEG_MAP,
              value: { kind: 'pm-segment-entry-map', value: pmStore.map },
            },
            { attributeId: O.MDC_ATTR_SEG_USAGE_CNT, value: { kind: 'u32', value: usageCount } },
          ],
        },
      ],
    }),
  );
}

/** Waits for MDC_ACT_SEG_TRIG_XFER and sends its successful result, unless `answer` is false. */
async function answerTrigger(
  client: ApduClient,
  answer = true,
): Promise<{ invokeId: number; action: RoivAction }> {
  const request = await nextAction(client);
  assert.equal(request.action.actionType, O.MDC_ACT_SEG_TRIG_XFER);
  assert.deepEqual(request.action.actionInfoArgs, {
    kind: 'trig-segm-data-xfer-req',
    segInstNo: pmStore.segmentInstance,
  });
  if (answer) {
    client.send(triggerResultBytes(request.invokeId, request.action));
  }
  return request;
}

function triggerResultBytes(invokeId: number, action: RoivAction): Uint8Array {
  return actionResultBytes(invokeId, action, {
    kind: 'trig-segm-data-xfer-rsp',
    segInstNo: pmStore.segmentInstance,
    trigSegmXferRsp: TrigSegmXferRsp.successful,
  });
}

function entriesOf(list: readonly StoredReading[]): Uint8Array {
  return encodeSegmentEntries(
    pmStore.map,
    list.map((reading) => reading.entry),
  );
}

function segmentDataBytes(
  invokeId: number,
  descr: Partial<SegmDataEventDescr> &
    Pick<SegmDataEventDescr, 'segmEvtEntryIndex' | 'segmEvtEntryCount'>,
  entries: Uint8Array,
  objHandle = pmStore.handle,
): Uint8Array {
  return prstBytes(invokeId, {
    kind: 'roiv-confirmed-event-report',
    objHandle,
    eventTime: 0x2000,
    eventType: O.MDC_NOTI_SEGMENT_DATA,
    eventInfo: {
      kind: 'segment-data',
      segmDataEventDescr: {
        segmInstance: pmStore.segmentInstance,
        segmEvtStatus: 0,
        ...descr,
      },
      segmDataEventEntries: entries,
    },
  });
}

/** Returns the SegmentDataResult of the event with `invokeId`. */
async function nextSegmentResult(
  client: ApduClient,
  invokeId: number,
): Promise<SegmDataEventDescr> {
  const { invokeId: answered, message } = messageOf(await client.next('prst'));
  assert.equal(answered, invokeId);
  assert.equal(message.kind, 'rors-confirmed-event-report', `expected a RORS, got ${message.kind}`);
  assert.equal(message.eventType, O.MDC_NOTI_SEGMENT_DATA);
  assert.equal(message.objHandle, pmStore.handle);
  assert.equal(message.currentTime, 0x2000);
  assert.equal(message.eventReplyInfo.kind, 'segment-data-result');
  return message.eventReplyInfo.segmDataEventDescr;
}

/** Associates, responds to segment info and trigger, and returns the client ready for segment data. */
async function triggeredAgent(port: number, systemId: Uint8Array): Promise<ApduClient> {
  const client = await associateAgent(port, systemId);
  await answerSegmentInfo(client, STORED);
  await answerTrigger(client);
  return client;
}

const firstAndLast = SegmEvtStatus.firstEntry | SegmEvtStatus.lastEntry;

function hexId(systemId: Uint8Array): string {
  return Buffer.from(systemId).toString('hex');
}

function actionsOf(client: ApduClient): DataMessage[] {
  return client.received
    .filter((apdu) => apdu.kind === 'prst')
    .map((apdu) => messageOf(apdu).message)
    .filter((message) => message.kind === 'roiv-confirmed-action');
}

async function simulateStored(
  live: LiveManager,
  kind: AgentKind,
  systemIdPrefix: string,
): Promise<void> {
  const confirmed = new Map<string, ExpectedObservation[]>();
  const summary = await runSimulation({
    kind,
    storedReadings: 30,
    count: 2,
    ratePerSecond: 20,
    durationMs: 1000,
    reportsPerAgent: 0,
    host: '127.0.0.1',
    port: live.port,
    systemIdPrefix,
    clockSkewMs: 90000,
    onStoredConfirmed: (systemId, expected) => {
      confirmed.set(systemId, [...(confirmed.get(systemId) ?? []), ...expected]);
    },
  });
  assert.equal(summary.sessionsFailed, 0, JSON.stringify(summary.errors));
  assert.equal(summary.storedEntries, 60);
  assert.equal(summary.storedEntriesConfirmed, 60);
  assert.equal(confirmed.size, 2);
  for (const [systemId, expected] of confirmed) {
    assert.equal(expected.length, 30);
    const stored = await listAll(live, systemId);
    assert.equal(stored.length, 30, `${kind} ${systemId}`);
    // The agent's clock ran 90 s ahead; the gateway time is the real measurement time.
    assertStored(stored, expected, `${kind} ${systemId}`);
  }
}

describe('ieee11073 pm-store transfer', () => {
  let live: LiveManager;
  const captured = capturingLogger();

  before(async () => {
    live = await startManager({
      logger: captured.logger,
      config: { timeouts: { confirmedRequestMs: 2000 } },
    });
  });

  after(async () => {
    await live.stop();
  });

  for (const kind of ['glucose', 'scale'] as const) {
    test(`${kind} stored readings stored`, async () => {
      await simulateStored(live, kind, kind === 'glucose' ? '5d010000' : '5d020000');
    });
  }

  test('result follows the commit', async () => {
    const systemId = new Uint8Array(8).fill(0x31);
    const client = await triggeredAgent(live.port, systemId);
    client.send(
      segmentDataBytes(
        0x51,
        { segmEvtEntryIndex: 0, segmEvtEntryCount: STORED, segmEvtStatus: firstAndLast },
        entriesOf(readings),
      ),
    );

    const result = await nextSegmentResult(client, 0x51);
    assert.deepEqual(result, {
      segmInstance: pmStore.segmentInstance,
      segmEvtEntryIndex: 0,
      segmEvtEntryCount: STORED,
      segmEvtStatus: firstAndLast | SegmEvtStatus.managerConfirm,
    });

    // The result went out, so the entries must already be readable.
    const stored = await listAll(live, hexId(systemId));
    assert.equal(stored.length, STORED);
    assertStored(
      stored,
      readings.flatMap((reading) => reading.expected),
      'raw agent',
    );

    client.send(encodeApdu({ kind: 'rlrq', reason: 0 }));
    await client.next('rlre');
    // Segments stay on the device unless pmStore.clearAfterTransfer is on.
    assert.deepEqual(
      actionsOf(client).map(
        (action) => action.kind === 'roiv-confirmed-action' && action.actionType,
      ),
      [O.MDC_ACT_SEG_GET_INFO, O.MDC_ACT_SEG_TRIG_XFER],
    );
    client.close();
  });

  test('entries over several events stored', async () => {
    const systemId = new Uint8Array(8).fill(0x32);
    const client = await triggeredAgent(live.port, systemId);
    const parts = [readings.slice(0, 5), readings.slice(5, 10), readings.slice(10)];
    let index = 0;
    for (const [position, part] of parts.entries()) {
      const status =
        (position === 0 ? SegmEvtStatus.firstEntry : 0) |
        (position === parts.length - 1 ? SegmEvtStatus.lastEntry : 0);
      client.send(
        segmentDataBytes(
          0x60 + position,
          { segmEvtEntryIndex: index, segmEvtEntryCount: part.length, segmEvtStatus: status },
          entriesOf(part),
        ),
      );
      const result = await nextSegmentResult(client, 0x60 + position);
      assert.equal(result.segmEvtEntryIndex, index);
      assert.equal(result.segmEvtStatus, status | SegmEvtStatus.managerConfirm);
      index += part.length;
    }
    assert.equal((await listAll(live, hexId(systemId))).length, STORED);
    client.close();
  });

  test('second association stores no duplicates', async () => {
    const systemId = new Uint8Array(8).fill(0x33);
    for (const round of [1, 2]) {
      const client = await triggeredAgent(live.port, systemId);
      const count = round === 1 ? 8 : STORED;
      client.send(
        segmentDataBytes(
          0x70,
          { segmEvtEntryIndex: 0, segmEvtEntryCount: count, segmEvtStatus: firstAndLast },
          entriesOf(readings.slice(0, count)),
        ),
      );
      const result = await nextSegmentResult(client, 0x70);
      assert.equal(result.segmEvtStatus, firstAndLast | SegmEvtStatus.managerConfirm);
      // Round 2 repeats the 8 entries of round 1 and adds 4 new ones.
      assert.equal((await listAll(live, hexId(systemId))).length, count);
      client.close();
    }
    const ended = captured.lines.filter(
      (line) =>
        line.msg === 'ieee11073 pm-segment transfer ended' && line.device === hexId(systemId),
    );
    assert.deepEqual(
      ended.map((line) => [line.entriesStored, line.entriesSkipped]),
      [
        [8, 0],
        [4, 8],
      ],
    );
  });

  test('truncated entries stored then aborted', async () => {
    const systemId = new Uint8Array(8).fill(0x34);
    const client = await triggeredAgent(live.port, systemId);
    const before = captured.lines.length;
    // Declares 5 entries but carries 3 and a half.
    const entries = entriesOf(readings.slice(0, 4));
    client.send(
      segmentDataBytes(
        0x80,
        { segmEvtEntryIndex: 0, segmEvtEntryCount: 5, segmEvtStatus: SegmEvtStatus.firstEntry },
        entries.subarray(0, entries.byteLength - 5),
      ),
    );
    const result = await nextSegmentResult(client, 0x80);
    assert.equal(result.segmEvtStatus, SegmEvtStatus.firstEntry | SegmEvtStatus.managerAbort);
    assert.equal((await listAll(live, hexId(systemId))).length, 3);
    const warnings = captured.lines.slice(before).filter((line) => line.level === 40);
    const [warning] = warnings;
    assert.equal(warnings.length, 1);
    assert.ok(warning);
    assert.equal(warning.msg, 'ieee11073 segment data malformed');
    assert.equal(warning.device, hexId(systemId));
    assert.match(String(warning.defect), /ENTRIES_TRUNCATED/);
    // The association goes on: a live report is acknowledged.
    const measurement = glucose.measurement(1, new Date());
    client.send(reportBytes(0x81, measurement.eventType, measurement.eventInfo));
    const rors = messageOf(await client.next('prst'));
    assert.equal(rors.invokeId, 0x81);
    assert.equal(rors.message.kind, 'rors-confirmed-event-report');
    client.close();
  });

  test('count below the entries aborts', async () => {
    const systemId = new Uint8Array(8).fill(0x35);
    const client = await triggeredAgent(live.port, systemId);
    client.send(
      segmentDataBytes(
        0x90,
        { segmEvtEntryIndex: 0, segmEvtEntryCount: 2, segmEvtStatus: SegmEvtStatus.firstEntry },
        entriesOf(readings.slice(0, 3)),
      ),
    );
    const result = await nextSegmentResult(client, 0x90);
    assert.equal(result.segmEvtStatus, SegmEvtStatus.firstEntry | SegmEvtStatus.managerAbort);
    assert.equal((await listAll(live, hexId(systemId))).length, 2);
    // The transfer ended, so a further event for the segment is rejected too.
    client.send(
      segmentDataBytes(
        0x91,
        { segmEvtEntryIndex: 2, segmEvtEntryCount: 1 },
        entriesOf(readings.slice(2, 3)),
      ),
    );
    const second = await nextSegmentResult(client, 0x91);
    assert.equal(second.segmEvtStatus, SegmEvtStatus.managerAbort);
    client.close();
  });

  test('malformed entry skipped and confirmed', async () => {
    const systemId = new Uint8Array(8).fill(0x36);
    const client = await triggeredAgent(live.port, systemId);
    const entries = entriesOf(readings.slice(0, 4));
    // The month of entry 1 (10-byte entries): 0xff is no BCD digit pair.
    entries[12] = 0xff;
    client.send(
      segmentDataBytes(
        0xa0,
        { segmEvtEntryIndex: 0, segmEvtEntryCount: 4, segmEvtStatus: firstAndLast },
        entries,
      ),
    );
    const result = await nextSegmentResult(client, 0xa0);
    assert.equal(result.segmEvtStatus, firstAndLast | SegmEvtStatus.managerConfirm);
    const stored = await listAll(live, hexId(systemId));
    assert.equal(stored.length, 3);
    assertStored(
      stored,
      [0, 2, 3].flatMap((index) => readings[index]?.expected ?? []),
      'malformed entry',
    );
    client.close();
  });

  test('unknown segment answered with abort', async () => {
    const systemId = new Uint8Array(8).fill(0x37);
    const client = await associateAgent(live.port, systemId);
    // An empty segment is not triggered.
    await answerSegmentInfo(client, 0);
    const before = captured.lines.length;
    client.send(
      segmentDataBytes(
        0xb0,
        {
          segmInstance: 7,
          segmEvtEntryIndex: 0,
          segmEvtEntryCount: 1,
          segmEvtStatus: firstAndLast,
        },
        entriesOf(readings.slice(0, 1)),
      ),
    );
    const result = await nextSegmentResult(client, 0xb0);
    assert.equal(result.segmInstance, 7);
    assert.equal(result.segmEvtStatus, firstAndLast | SegmEvtStatus.managerAbort);
    const warnings = captured.lines.slice(before).filter((line) => line.level === 40);
    const [warning] = warnings;
    assert.equal(warnings.length, 1);
    assert.ok(warning);
    assert.equal(warning.msg, 'ieee11073 segment data rejected');
    assert.equal(warning.device, hexId(systemId));
    assert.match(String(warning.defect), /not triggered/);
    assert.equal((await listAll(live, hexId(systemId))).length, 0);
    client.close();
  });

  test('segment data from no pm-store gets roer', async () => {
    const systemId = new Uint8Array(8).fill(0x38);
    const client = await associateAgent(live.port, systemId);
    await answerSegmentInfo(client, 0);
    client.send(
      segmentDataBytes(
        0xb1,
        { segmEvtEntryIndex: 0, segmEvtEntryCount: 1, segmEvtStatus: firstAndLast },
        entriesOf(readings.slice(0, 1)),
        1,
      ),
    );
    const { invokeId, message } = messageOf(await client.next('prst'));
    assert.equal(invokeId, 0xb1);
    assert.equal(message.kind, 'roer');
    assert.equal(message.errorValue, RoerErrorValue.noSuchObjectInstance);
    client.close();
  });

  test('segment data without pm-store gets roer', async () => {
    // A blood pressure monitor's standard configuration has no PM-store.
    const client = await ApduClient.connect(live.port);
    client.send(aarqBytes({ devConfigId: 0x02bc, systemId: new Uint8Array(8).fill(0x3a) }));
    const aare = await client.next('aare');
    assert.equal(aare.kind === 'aare' && aare.result, AssociateResult.accepted);
    await answerMdsGet(client);
    client.send(
      segmentDataBytes(
        0xb2,
        { segmEvtEntryIndex: 0, segmEvtEntryCount: 1, segmEvtStatus: firstAndLast },
        entriesOf(readings.slice(0, 1)),
        1,
      ),
    );
    const { invokeId, message } = messageOf(await client.next('prst'));
    assert.equal(invokeId, 0xb2);
    assert.equal(message.kind, 'roer');
    assert.equal(message.errorValue, RoerErrorValue.noSuchObjectInstance);
    client.close();
  });

  test('index gap answered with abort', async () => {
    const systemId = new Uint8Array(8).fill(0x39);
    const client = await triggeredAgent(live.port, systemId);
    client.send(
      segmentDataBytes(
        0xc0,
        { segmEvtEntryIndex: 0, segmEvtEntryCount: 4, segmEvtStatus: SegmEvtStatus.firstEntry },
        entriesOf(readings.slice(0, 4)),
      ),
    );
    const first = await nextSegmentResult(client, 0xc0);
    assert.equal(first.segmEvtStatus, SegmEvtStatus.firstEntry | SegmEvtStatus.managerConfirm);
    client.send(
      segmentDataBytes(
        0xc1,
        { segmEvtEntryIndex: 6, segmEvtEntryCount: 2 },
        entriesOf(readings.slice(6, 8)),
      ),
    );
    const gap = await nextSegmentResult(client, 0xc1);
    assert.equal(gap.segmEvtStatus, SegmEvtStatus.managerAbort);
    assert.equal((await listAll(live, hexId(systemId))).length, 4);
    client.close();
  });

  test('agent abort answered with its status', async () => {
    const systemId = new Uint8Array(8).fill(0x3a);
    const client = await triggeredAgent(live.port, systemId);
    const status = SegmEvtStatus.firstEntry | SegmEvtStatus.agentAbort;
    client.send(
      segmentDataBytes(
        0xd0,
        { segmEvtEntryIndex: 0, segmEvtEntryCount: 0, segmEvtStatus: status },
        new Uint8Array(0),
      ),
    );
    const result = await nextSegmentResult(client, 0xd0);
    assert.equal(result.segmEvtStatus, status);
    assert.equal((await listAll(live, hexId(systemId))).length, 0);
    client.close();
  });

  test('unconfirmed segment data ignored', async () => {
    const systemId = new Uint8Array(8).fill(0x3b);
    const client = await triggeredAgent(live.port, systemId);
    const before = captured.lines.length;
    client.send(
      prstBytes(0xe0, {
        kind: 'roiv-event-report',
        objHandle: pmStore.handle,
        eventTime: 0,
        eventType: O.MDC_NOTI_SEGMENT_DATA,
        eventInfo: {
          kind: 'segment-data',
          segmDataEventDescr: {
            segmInstance: 0,
            segmEvtEntryIndex: 0,
            segmEvtEntryCount: 1,
            segmEvtStatus: firstAndLast,
          },
          segmDataEventEntries: entriesOf(readings.slice(0, 1)),
        },
      }),
    );
    assert.ok(
      await client.waitUntil(() =>
        captured.lines.slice(before).some((line) => line.msg === 'ieee11073 segment data ignored'),
      ),
    );
    assert.equal((await listAll(live, hexId(systemId))).length, 0);
    client.close();
  });
});

describe('ieee11073 pm-store transfer settings', () => {
  async function withManager(
    config: ConfigOverrides,
    run: (live: LiveManager) => Promise<void>,
  ): Promise<void> {
    const live = await startManager({ config });
    try {
      await run(live);
    } finally {
      await live.stop();
    }
  }

  test('failed commit sends no result', async () => {
    await withManager({}, async (live) => {
      const systemId = new Uint8Array(8).fill(0x41);
      const client = await associateAgent(live.port, systemId);
      await answerSegmentInfo(client, STORED);
      const trigger = await answerTrigger(client, false);
      // Without its progress table the commit of the entries fails.
      await sql`DROP TABLE ieee11073_pm_segment_transfer`.execute(live.database.storage.db);
      client.send(triggerResultBytes(trigger.invokeId, trigger.action));
      client.send(
        segmentDataBytes(
          0x42,
          { segmEvtEntryIndex: 0, segmEvtEntryCount: STORED, segmEvtStatus: firstAndLast },
          entriesOf(readings),
        ),
      );
      const abrt = await client.next('abrt');
      assert.equal(abrt.kind === 'abrt' && abrt.reason, AbortReason.undefined);
      const results = client.received.filter(
        (apdu) =>
          apdu.kind === 'prst' && messageOf(apdu).message.kind === 'rors-confirmed-event-report',
      );
      assert.equal(results.length, 1, 'only the configuration report was answered');
      assert.equal((await listAll(live, hexId(systemId))).length, 0);
    });
  });

  test('transfer timeout aborts', async () => {
    await withManager({ pmStore: { transferTimeoutMs: 300 } }, async (live) => {
      const client = await triggeredAgent(live.port, new Uint8Array(8).fill(0x43));
      const abrt = await client.next('abrt', 3000);
      assert.equal(abrt.kind === 'abrt' && abrt.reason, AbortReason.responseTimeout);
    });
  });

  test('segment cleared when configured', async () => {
    await withManager({ pmStore: { clearAfterTransfer: true } }, async (live) => {
      const client = await triggeredAgent(live.port, new Uint8Array(8).fill(0x44));
      client.send(
        segmentDataBytes(
          0x45,
          { segmEvtEntryIndex: 0, segmEvtEntryCount: STORED, segmEvtStatus: firstAndLast },
          entriesOf(readings),
        ),
      );
      await nextSegmentResult(client, 0x45);
      const { action } = await nextAction(client);
      assert.equal(action.objHandle, pmStore.handle);
      assert.equal(action.actionType, O.MDC_ACT_SEG_CLR);
      assert.deepEqual(action.actionInfoArgs, {
        kind: 'segment-selection',
        selection: { choice: 'segm-id-list', value: [pmStore.segmentInstance] },
      });
      client.close();
    });
  });

  test('transfer off reads no pm-store', async () => {
    await withManager({ pmStore: { transfer: false } }, async (live) => {
      const client = await associateAgent(live.port, new Uint8Array(8).fill(0x46));
      const measurement = glucose.measurement(1, new Date());
      client.send(reportBytes(0x47, measurement.eventType, measurement.eventInfo));
      const rors = messageOf(await client.next('prst'));
      assert.equal(rors.invokeId, 0x47);
      await delay(100);
      assert.deepEqual(actionsOf(client), []);
    });
  });
});

describe('ieee11073 pm-store transfer on postgres', () => {
  test('stored readings stored', async (t) => {
    if (!(await requireService(t, 'postgres'))) {
      return;
    }
    const dialect: DialectName = 'postgres';
    const live = await startManager({ dialect });
    try {
      await simulateStored(live, 'glucose', '5d030000');
    } finally {
      await live.stop();
    }
  });
});
