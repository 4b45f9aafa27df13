import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AssociateResult,
  MdcObject,
  finiteNumber,
  type Ava,
  type BaseOffsetTime,
} from '../../../src/ieee11073/index.js';
import {
  ApduClient,
  aarqBytes,
  answerMdsGet,
  messageOf,
  prstBytes,
  reportBytes,
  startManager,
  type LiveManager,
} from './support.js';

/** How far the scripted agent's base-offset clock is ahead until the manager sets it. */
const SKEW_MS = 90000;

function baseOffsetTime(ms: number): BaseOffsetTime {
  const seconds = Math.floor(ms / 1000);
  return {
    boSeconds: seconds,
    boFraction: Math.floor(((ms - seconds * 1000) * 65536) / 1000),
    boTimeOffset: 60,
  };
}

function timeInfo(capabilities: number): Ava {
  return {
    attributeId: MdcObject.MDC_ATTR_MDS_TIME_INFO,
    value: {
      kind: 'mds-time-info',
      value: {
        mdsTimeCapState: capabilities,
        timeSyncProtocol: 0,
        timeSyncAccuracy: 0xffffffff,
        timeResolutionAbsTime: 0,
        timeResolutionRelTime: 0,
        timeResolutionHighResTime: 0,
      },
    },
  };
}

/** MDS of an agent whose base-offset clock is SKEW_MS ahead, with the given Mds-Time-Info bits. */
function skewedMds(capabilities: number): Ava[] {
  return [
    timeInfo(capabilities),
    {
      attributeId: MdcObject.MDC_ATTR_TIME_BO,
      value: { kind: 'base-offset-time', value: baseOffsetTime(Date.now() + SKEW_MS) },
    },
  ];
}

/** Builds a variable scan report of the pulse oximeter's pulse rate (handle 10), base-offset stamped. */
function pulseReport(invokeId: number, stampMs: number): Uint8Array {
  return reportBytes(invokeId, MdcObject.MDC_NOTI_SCAN_REPORT_VAR, {
    kind: 'scan-var',
    dataReqId: 0xf000,
    scanReportNo: invokeId,
    obsScanVar: [
      {
        objHandle: 10,
        attributes: [
          {
            attributeId: MdcObject.MDC_ATTR_NU_VAL_OBS_BASIC,
            value: { kind: 'sfloat', value: finiteNumber(72, 0) },
          },
          {
            attributeId: MdcObject.MDC_ATTR_TIME_STAMP_BO,
            value: { kind: 'base-offset-time', value: baseOffsetTime(stampMs) },
          },
        ],
      },
    ],
  });
}

function confirmAction(client: ApduClient, invokeId: number, actionType: number): void {
  client.send(
    prstBytes(invokeId, {
      kind: 'rors-confirmed-action',
      objHandle: 0,
      actionType,
      actionInfoArgs: { kind: 'raw', bytes: new Uint8Array(0) },
    }),
  );
}

describe('ieee11073 base-offset clock setting', () => {
  let live: LiveManager;

  before(async () => {
    live = await startManager({ config: { timeouts: { confirmedRequestMs: 1000 } } });
  });

  after(async () => {
    await live.stop();
  });

  /** Associates a pulse oximeter (standard configuration 0x0190) with system id `byte` x 8. */
  async function associatePulseOximeter(byte: number): Promise<ApduClient> {
    const client = await ApduClient.connect(live.port);
    client.send(aarqBytes({ devConfigId: 0x0190, systemId: new Uint8Array(8).fill(byte) }));
    const aare = await client.next('aare');
    assert.equal(aare.kind === 'aare' && aare.result, AssociateResult.accepted);
    return client;
  }

  /** Sends a pulse report stamped `stampMs` and returns the stored observation's gateway time. */
  async function storedPulseTime(
    client: ApduClient,
    systemId: string,
    invokeId: number,
    stampMs: number,
  ): Promise<number> {
    client.send(pulseReport(invokeId, stampMs));
    const rors = messageOf(await client.next('prst'));
    assert.equal(rors.message.kind, 'rors-confirmed-event-report');
    assert.equal(rors.invokeId, invokeId);
    const page = await live.manager.listObservations({ deviceSystemId: systemId });
    const pulse = page.observations.at(-1);
    assert.equal(pulse?.timestamp.clock, 'base-offset');
    return Date.parse(pulse.timestamp.gatewayTime);
  }

  /** Returns `time_set` of the association that delivered the device's last observation. */
  async function storedTimeSet(systemId: string): Promise<number | undefined> {
    const page = await live.manager.listObservations({ deviceSystemId: systemId });
    const last = page.observations.at(-1);
    assert.ok(last);
    const row = await live.manager.repository.getAssociation(last.associationId);
    return row?.time_set;
  }

  test('set-bo-time sent and applied', async () => {
    const systemId = '3131313131313131';
    const client = await associatePulseOximeter(0x31);
    await answerMdsGet(client, skewedMds(0x4000 | 0x0100));
    const action = messageOf(await client.next('prst'));
    assert.equal(action.message.kind, 'roiv-confirmed-action');
    assert.equal(action.message.actionType, MdcObject.MDC_ACT_SET_BO_TIME);
    const args = action.message.actionInfoArgs;
    assert.equal(args.kind, 'set-base-offset-time');
    const sentMs = args.dateTime.boSeconds * 1000 + (args.dateTime.boFraction * 1000) / 65536;
    assert.ok(Math.abs(sentMs - Date.now()) < 5000, `sent ${new Date(sentMs).toISOString()}`);
    assert.equal(args.dateTime.boTimeOffset, 0 - new Date().getTimezoneOffset());
    confirmAction(client, action.invokeId, MdcObject.MDC_ACT_SET_BO_TIME);
    // The agent's clock now reads the gateway's time, so its stamps are taken as they are.
    const stampMs = Date.now();
    const gatewayMs = await storedPulseTime(client, systemId, 1, stampMs);
    assert.ok(Math.abs(gatewayMs - stampMs) < 10, `stored ${new Date(gatewayMs).toISOString()}`);
    assert.equal(await storedTimeSet(systemId), 1);
    client.close();
  });

  test('bo clock without set-clock corrected', async () => {
    const systemId = '3232323232323232';
    const client = await associatePulseOximeter(0x32);
    await answerMdsGet(client, skewedMds(0x0100));
    // No ACTION follows: the next PRST is the report's RORS.
    const stampMs = Date.now() + SKEW_MS;
    const gatewayMs = await storedPulseTime(client, systemId, 2, stampMs);
    // The measured offset moves the stamp back by the skew, give or take the GET's round trip.
    assert.ok(Math.abs(gatewayMs - (stampMs - SKEW_MS)) < 1000);
    assert.equal(await storedTimeSet(systemId), 0);
    client.close();
  });

  test('both clocks get set-bo-time', async () => {
    const client = await associatePulseOximeter(0x33);
    await answerMdsGet(client, [timeInfo(0x8000 | 0x4000 | 0x0100)]);
    const action = messageOf(await client.next('prst'));
    assert.equal(action.message.kind, 'roiv-confirmed-action');
    assert.equal(action.message.actionType, MdcObject.MDC_ACT_SET_BO_TIME);
    client.close();
  });

  test('set-time command uses bo clock', async () => {
    const client = await associatePulseOximeter(0x34);
    await answerMdsGet(client, skewedMds(0x4000 | 0x0100));
    const first = messageOf(await client.next('prst'));
    confirmAction(client, first.invokeId, MdcObject.MDC_ACT_SET_BO_TIME);
    const running = live.manager.runAgentCommand('3434343434343434', { kind: 'set-time' });
    const action = messageOf(await client.next('prst'));
    assert.equal(action.message.kind, 'roiv-confirmed-action');
    assert.equal(action.message.actionType, MdcObject.MDC_ACT_SET_BO_TIME);
    confirmAction(client, action.invokeId, MdcObject.MDC_ACT_SET_BO_TIME);
    const result = await running;
    assert.equal(result.response, 'rors-confirmed-action');
    client.close();
  });

  test('relative-only clock rejects command', async () => {
    const client = await associatePulseOximeter(0x35);
    await answerMdsGet(client, [timeInfo(0x4000 | 0x2000)]);
    await assert.rejects(live.manager.runAgentCommand('3535353535353535', { kind: 'set-time' }), {
      code: 'IEEE11073_AGENT_CAPABILITY_MISSING',
    });
    client.close();
  });
});
