/**
 * A simulated IEEE 11073-20601 agent that plays a whole session against a
 * manager over TCP: association, the configuration exchange where the
 * manager does not know the configuration, responses to the manager's MDS GET
 * and Set-Time, measurements as confirmed scan reports, the transfer of its
 * stored readings when its scenario has a PM-store, and release.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import type {
  ActionResult,
  Apdu,
  AttributeValue,
  Ava,
  DataMessage,
  EventInfo,
  RoivAction,
} from '../apdu.js';
import { TrigSegmXferRsp } from '../actions.js';
import {
  AssociateResult,
  AssociationBits,
  DATA_PROTO_ID_20601,
  ReleaseRequestReason,
  ReleaseResponseReason,
} from '../association.js';
import { decodeApdu } from '../decode.js';
import { encodeApdu } from '../encode.js';
import { ConfigResult, SegmEvtStatus } from '../events.js';
import { AbortReason } from '../mder-error.js';
import { MdcInfrastructure, MdcObject as O } from '../nomenclature-table.js';
import { encodeSegmentEntries } from '../pm-segment.js';
import { absoluteTimeFromDate, msToRelativeTime } from '../time.js';
import { ApduFramer } from '../transport/framer.js';
import {
  segmentInfoAttributes,
  type ExpectedObservation,
  type Scenario,
  type ScenarioPmStore,
  type StoredReading,
} from './scenarios.js';

export interface AgentOptions {
  host: string;
  port: number;
  scenario: Scenario;
  /** EUI-64 of the agent, 8 bytes. */
  systemId: Uint8Array;
  /** Confirmed reports per second. */
  ratePerSecond: number;
  /** Reports to send; the session ends after them or after `durationMs`, whichever comes first. */
  reports?: number;
  /** Time to send reports for, from the end of association. */
  durationMs?: number;
  /** How far the agent's clock is ahead of real time until the manager sets it. */
  clockSkewMs?: number;
  /** Confirmed reports sent before the first acknowledgement must arrive; default 1. */
  maxOutstanding?: number;
  /** Time to wait for the AARE, the configuration response, each RORS and the RLRE; default 10,000 ms. */
  responseTimeoutMs?: number;
  /** TLS client options; plain TCP when absent. */
  tls?: ConnectionOptions;
  /** Send RLRQ after the last report; default true. */
  release?: boolean;
  /** Called when a report's RORS arrives. */
  onAck?: (ack: AckRecord) => void;
  /** Called once when association (with configuration) succeeded or failed. */
  onAssociated?: () => void;
  /** Stored readings per SegmentDataEvent; default 25. */
  segmentEntriesPerEvent?: number;
  /** Called when the manager confirmed a SegmentDataEvent, with the observations of its entries. */
  onStoredConfirmed?: (expected: ExpectedObservation[]) => void;
}

export interface AckRecord {
  sequence: number;
  invokeId: number;
  expected: ExpectedObservation[];
  latencyMs: number;
}

export interface AgentResult {
  systemId: string;
  /** AssociateResult of the AARE, when one arrived. */
  associateResult?: number;
  configurationSent: boolean;
  timeSet: boolean;
  reportsSent: number;
  acksReceived: number;
  latenciesMs: number[];
  /** Readings in the agent's PM-store when the session started. */
  storedEntries: number;
  /** Stored readings whose SegmentDataEvent the manager confirmed. */
  storedEntriesConfirmed: number;
  released: boolean;
  /** Reason the session ended early; absent when it completed. */
  error?: string;
}

class SessionEnded extends Error {}

interface Waiter {
  match: (apdu: Apdu) => boolean;
  resolve: (apdu: Apdu) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface OutstandingReport {
  sequence: number;
  sentAtMs: number;
  /** Built only when the agent has an `onAck` callback. */
  expected: ExpectedObservation[] | undefined;
}

/** 20601 MDS handle. */
const MDS_HANDLE = 0;

/** Age of the newest stored reading when the session starts. */
const NEWEST_STORED_READING_AGE_MS = 60000;

export class SimulatedAgent {
  private socket: Socket | undefined;
  private readonly waiters = new Set<Waiter>();
  private readonly outstanding = new Map<number, OutstandingReport>();
  /** Settles the wait of `sendReports` for the next acknowledgement or the end of the session. */
  private ackArrived: (() => void) | undefined;
  /** Checks the age of the oldest outstanding report; one timer per agent, not per report. */
  private responseTimer: NodeJS.Timeout | undefined;
  private nextInvokeId = 0;
  private clockSkewMs: number;
  private readonly startedAtMs = Date.now();
  private ended: string | undefined;
  private resolveEnded: () => void = () => undefined;
  private readonly endedPromise = new Promise<void>((resolve) => {
    this.resolveEnded = resolve;
  });
  private readonly result: AgentResult;
  /** Readings in the PM-store that the manager has not cleared, oldest first. */
  private stored: StoredReading[] = [];
  /** Settles when the transfer of the stored readings ended, however it ended. */
  private storedTransfer: Promise<void> | undefined;
  /** True once the agent sent everything it meant to and begins its own release. */
  private finishing = false;
  private transferTriggered: () => void = () => undefined;
  private readonly triggeredPromise = new Promise<void>((resolve) => {
    this.transferTriggered = resolve;
  });

  constructor(private readonly options: AgentOptions) {
    this.clockSkewMs = options.clockSkewMs ?? 0;
    const pmStore = options.scenario.pmStore;
    if (pmStore !== undefined) {
      const newestMs = Date.now() + this.clockSkewMs - NEWEST_STORED_READING_AGE_MS;
      // Stamped by the agent's clock; the real measurement time lacks the skew.
      this.stored = pmStore.readings(new Date(newestMs)).map((reading) => ({
        entry: reading.entry,
        expected: reading.expected.map((observation) =>
          observation.measuredAt === undefined
            ? observation
            : {
                ...observation,
                measuredAt: new Date(observation.measuredAt.getTime() - this.clockSkewMs),
              },
        ),
      }));
    }
    this.result = {
      systemId: Buffer.from(options.systemId).toString('hex'),
      configurationSent: false,
      timeSet: false,
      reportsSent: 0,
      acksReceived: 0,
      latenciesMs: [],
      storedEntries: this.stored.length,
      storedEntriesConfirmed: 0,
      released: false,
    };
  }

  /** Plays the session and returns what happened; never rejects. */
  async run(): Promise<AgentResult> {
    let notified = false;
    const notify = (): void => {
      if (!notified) {
        notified = true;
        this.options.onAssociated?.();
      }
    };
    try {
      await this.connect();
      const associated = await this.associate();
      notify();
      if (associated) {
        await this.sendReports();
        await this.awaitStoredTransfer();
        this.finishing = true;
        await this.finish();
      }
    } catch (error) {
      this.result.error ??= error instanceof Error ? error.message : String(error);
    } finally {
      notify();
      this.socket?.destroy();
    }
    return this.result;
  }

  /** Ends the session at once, for a caller that stops early. */
  stop(): void {
    this.end('stopped', false);
    this.socket?.destroy();
  }

  private get timeoutMs(): number {
    return this.options.responseTimeoutMs ?? 10000;
  }

  private connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const { host, port, tls } = this.options;
      const socket =
        tls === undefined
          ? connectTcp({ host, port, noDelay: true }, () => {
              resolve();
            })
          : connectTls({ host, port, ...tls }, () => {
              resolve();
            });
      socket.setNoDelay(true);
      const framer = new ApduFramer(65539, {
        apdu: (bytes) => {
          this.receive(bytes);
        },
        oversize: () => {
          this.end('manager sent an oversized APDU');
        },
      });
      socket.on('data', (chunk: Buffer) => {
        framer.push(chunk);
      });
      socket.on('error', (error: Error) => {
        reject(error);
        this.end(`connection failed: ${error.message}`);
      });
      socket.on('close', () => {
        this.end('connection closed by manager');
      });
      this.socket = socket;
    });
  }

  private send(apdu: Apdu): void {
    if (this.ended === undefined) {
      this.socket?.write(encodeApdu(apdu));
    }
  }

  /** Returns the agent's clock: real time plus the skew the manager has not corrected. */
  private agentNow(): Date {
    return new Date(Date.now() + this.clockSkewMs);
  }

  private relativeTime(): number {
    return msToRelativeTime(Date.now() - this.startedAtMs) >>> 0;
  }

  /** Read through a method: the session may end while a report waits. */
  private isRunning(): boolean {
    return this.ended === undefined;
  }

  /** Ends the session; a `failure` is reported as the result's error. */
  private end(reason: string, failure = true): void {
    if (this.ended !== undefined) {
      return;
    }
    this.ended = reason;
    this.resolveEnded();
    if (failure) {
      this.result.error ??= reason;
    }
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new SessionEnded(reason));
    }
    this.waiters.clear();
    this.outstanding.clear();
    clearTimeout(this.responseTimer);
    this.responseTimer = undefined;
    this.notifyAck();
  }

  private notifyAck(): void {
    const ackArrived = this.ackArrived;
    this.ackArrived = undefined;
    ackArrived?.();
  }

  private waitFor(match: (apdu: Apdu) => boolean, what: string): Promise<Apdu> {
    if (this.ended !== undefined) {
      return Promise.reject(new SessionEnded(this.ended));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new SessionEnded(`no ${what} within ${this.timeoutMs} ms`));
        }, this.timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  private receive(bytes: Uint8Array): void {
    let apdu: Apdu;
    try {
      apdu = decodeApdu(bytes).apdu;
    } catch (error) {
      this.send({ kind: 'abrt', reason: AbortReason.undefined });
      this.end(`manager sent a malformed APDU: ${(error as Error).message}`);
      return;
    }
    if (apdu.kind === 'abrt') {
      this.end(`manager aborted with reason ${apdu.reason}`);
      return;
    }
    if (apdu.kind === 'rlrq') {
      this.send({ kind: 'rlre', reason: ReleaseResponseReason.normal });
      this.result.released = true;
      // A manager releases on its own only when it shuts down, so a release
      // before the agent's last report cuts the session short.
      if (this.finishing) {
        this.end('released by manager', false);
      } else {
        this.end(
          `released by manager after ${this.result.reportsSent} reports, before the session finished`,
        );
      }
      return;
    }
    if (apdu.kind === 'prst' && this.answerManager(apdu.data.invokeId, apdu.data.message)) {
      return;
    }
    for (const waiter of this.waiters) {
      if (waiter.match(apdu)) {
        clearTimeout(waiter.timer);
        this.waiters.delete(waiter);
        waiter.resolve(apdu);
        return;
      }
    }
  }

  /** Responds to GET and ACTIONs and takes report acknowledgements; returns false for other messages. */
  private answerManager(invokeId: number, message: DataMessage): boolean {
    switch (message.kind) {
      case 'roiv-get':
        this.send({
          kind: 'prst',
          data: {
            invokeId,
            message: {
              kind: 'rors-get',
              objHandle: MDS_HANDLE,
              attributeList: this.mdsAttributes(),
            },
          },
        });
        return true;
      case 'roiv-confirmed-action':
        this.answerAction(invokeId, message);
        return true;
      case 'rorj':
      case 'roer':
        if (this.outstanding.has(invokeId)) {
          this.end(
            `manager answered report invoke id ${invokeId} with ${message.kind.toUpperCase()}`,
          );
          return true;
        }
        return false;
      case 'rors-confirmed-event-report': {
        const report = this.outstanding.get(invokeId);
        if (report === undefined || message.eventType === O.MDC_NOTI_CONFIG) {
          return false;
        }
        this.outstanding.delete(invokeId);
        const latencyMs = performance.now() - report.sentAtMs;
        this.result.acksReceived += 1;
        this.result.latenciesMs.push(latencyMs);
        this.options.onAck?.({
          sequence: report.sequence,
          invokeId,
          expected: report.expected ?? [],
          latencyMs,
        });
        this.notifyAck();
        return true;
      }
      case 'roiv-event-report':
      case 'roiv-confirmed-event-report':
      case 'roiv-set':
      case 'roiv-confirmed-set':
      case 'roiv-action':
      case 'rors-get':
      case 'rors-confirmed-set':
      case 'rors-confirmed-action':
        return false;
    }
  }

  /**
   * Sends the result of a confirmed ACTION: Set-Time on the MDS, and segment
   * info, transfer trigger and clear on the PM-store. A successful trigger
   * starts the transfer after its result.
   */
  private answerAction(invokeId: number, message: RoivAction): void {
    const args = message.actionInfoArgs;
    const pmStore = this.options.scenario.pmStore;
    let result: ActionResult = { kind: 'raw', bytes: new Uint8Array(0) };
    let transfer = false;
    if (args.kind === 'set-time') {
      this.clockSkewMs = 0;
      this.result.timeSet = true;
    } else if (pmStore !== undefined && message.objHandle === pmStore.handle) {
      if (message.actionType === O.MDC_ACT_SEG_GET_INFO) {
        result = {
          kind: 'segment-info-list',
          segmentInfo: [
            {
              segInstNo: pmStore.segmentInstance,
              segInfo: segmentInfoAttributes(pmStore, this.stored.length),
            },
          ],
        };
      } else if (args.kind === 'trig-segm-data-xfer-req') {
        const response =
          args.segInstNo !== pmStore.segmentInstance
            ? TrigSegmXferRsp.failNoSuchSegment
            : this.stored.length === 0
              ? TrigSegmXferRsp.failSegmEmpty
              : TrigSegmXferRsp.successful;
        result = {
          kind: 'trig-segm-data-xfer-rsp',
          segInstNo: args.segInstNo,
          trigSegmXferRsp: response,
        };
        transfer = response === TrigSegmXferRsp.successful;
      } else if (message.actionType === O.MDC_ACT_SEG_CLR) {
        this.stored = [];
      }
    }
    this.send({
      kind: 'prst',
      data: {
        invokeId,
        message: {
          kind: 'rors-confirmed-action',
          objHandle: message.objHandle,
          actionType: message.actionType,
          actionInfoArgs: result,
        },
      },
    });
    if (transfer && pmStore !== undefined) {
      this.storedTransfer = this.sendStoredReadings(pmStore);
      this.transferTriggered();
    }
  }

  /**
   * Sends the stored readings in SegmentDataEvents and waits for each
   * SegmentDataResult before the next. A result without manager-confirm
   * ends the transfer and counts as the session's error.
   */
  private async sendStoredReadings(pmStore: ScenarioPmStore): Promise<void> {
    const readings = this.stored;
    const perEvent = Math.max(1, Math.floor(this.options.segmentEntriesPerEvent ?? 25));
    for (let index = 0; index < readings.length && this.isRunning(); index += perEvent) {
      const chunk = readings.slice(index, index + perEvent);
      const status =
        (index === 0 ? SegmEvtStatus.firstEntry : 0) |
        (index + perEvent >= readings.length ? SegmEvtStatus.lastEntry : 0);
      const invokeId = this.sendConfirmedEvent(pmStore.handle, O.MDC_NOTI_SEGMENT_DATA, {
        kind: 'segment-data',
        segmDataEventDescr: {
          segmInstance: pmStore.segmentInstance,
          segmEvtEntryIndex: index,
          segmEvtEntryCount: chunk.length,
          segmEvtStatus: status,
        },
        segmDataEventEntries: encodeSegmentEntries(
          pmStore.map,
          chunk.map((reading) => reading.entry),
        ),
      });
      let answer: Apdu;
      try {
        answer = await this.waitFor(
          (apdu) => apdu.kind === 'prst' && apdu.data.invokeId === invokeId,
          'SegmentDataResult',
        );
      } catch (error) {
        this.result.error ??= error instanceof Error ? error.message : String(error);
        return;
      }
      const message = answer.kind === 'prst' ? answer.data.message : undefined;
      const reply =
        message?.kind === 'rors-confirmed-event-report' ? message.eventReplyInfo : undefined;
      if (
        reply?.kind !== 'segment-data-result' ||
        (reply.segmDataEventDescr.segmEvtStatus & SegmEvtStatus.managerConfirm) === 0
      ) {
        this.result.error ??= `manager did not confirm stored entries from index ${index}`;
        return;
      }
      this.result.storedEntriesConfirmed += chunk.length;
      this.options.onStoredConfirmed?.(chunk.flatMap((reading) => reading.expected));
    }
  }

  /**
   * Waits until the manager transferred the stored readings. A manager that
   * does not trigger the transfer within the response timeout leaves them.
   */
  private async awaitStoredTransfer(): Promise<void> {
    if (this.stored.length === 0 && this.storedTransfer === undefined) {
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.triggeredPromise,
      this.endedPromise,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    await this.storedTransfer;
  }

  private mdsAttributes(): Ava[] {
    const attribute = (attributeId: number, value: AttributeValue): Ava => ({ attributeId, value });
    const text = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, 'latin1'));
    return [
      attribute(O.MDC_ATTR_SYS_TYPE_SPEC_LIST, {
        kind: 'type-ver-list',
        value: [{ type: this.options.scenario.profile, version: 1 }],
      }),
      attribute(O.MDC_ATTR_ID_MODEL, {
        kind: 'system-model',
        value: {
          manufacturer: text('medward'),
          modelNumber: text(this.options.scenario.modelNumber),
        },
      }),
      attribute(O.MDC_ATTR_SYS_ID, { kind: 'octet-string', value: this.options.systemId }),
      attribute(O.MDC_ATTR_DEV_CONFIG_ID, {
        kind: 'u16',
        value: this.options.scenario.devConfigId,
      }),
      attribute(O.MDC_ATTR_ID_PROD_SPECN, {
        kind: 'production-spec',
        value: [
          { specType: 1, componentId: 0, prodSpec: text(`SIM${this.result.systemId.slice(-8)}`) },
        ],
      }),
      attribute(O.MDC_ATTR_TIME_ABS, {
        kind: 'absolute-time',
        value: absoluteTimeFromDate(this.agentNow()),
      }),
      attribute(O.MDC_ATTR_TIME_REL, { kind: 'relative-time', value: this.relativeTime() }),
      attribute(O.MDC_ATTR_MDS_TIME_INFO, {
        kind: 'mds-time-info',
        value: {
          // Real-time clock that the manager may set.
          mdsTimeCapState: 0x8000 | 0x4000,
          timeSyncProtocol: MdcInfrastructure.MDC_TIME_SYNC_NONE,
          timeSyncAccuracy: 0xffffffff,
          timeResolutionAbsTime: 100,
          timeResolutionRelTime: 0,
          timeResolutionHighResTime: 0,
        },
      }),
      attribute(O.MDC_ATTR_REG_CERT_DATA_LIST, {
        kind: 'reg-cert-data-list',
        value: [{ authBody: 2, authBodyStrucType: 1, authBodyData: new Uint8Array([0x00, 0x01]) }],
      }),
    ];
  }

  private async associate(): Promise<boolean> {
    const { scenario, systemId } = this.options;
    this.send({
      kind: 'aarq',
      assocVersion: AssociationBits.assocVersion1,
      dataProtoList: [
        {
          dataProtoId: DATA_PROTO_ID_20601,
          dataProtoInfo: {
            protocolVersion: AssociationBits.protocolVersion1,
            encodingRules: AssociationBits.encodingMder,
            nomenclatureVersion: AssociationBits.nomenclatureVersion1,
            functionalUnits: 0,
            systemType: AssociationBits.systemTypeAgent,
            systemId,
            devConfigId: scenario.devConfigId,
            dataReqModeCapab: {
              dataReqModeFlags: 0x0001,
              dataReqInitAgentCount: 1,
              dataReqInitManagerCount: 0,
            },
            optionList: [],
          },
        },
      ],
    });
    const aare = await this.waitFor((apdu) => apdu.kind === 'aare', 'AARE');
    const result = aare.kind === 'aare' ? aare.result : -1;
    this.result.associateResult = result;
    if (result === AssociateResult.accepted) {
      return true;
    }
    if (result !== AssociateResult.acceptedUnknownConfig) {
      this.result.error = `association rejected with result ${result}`;
      return false;
    }
    return this.sendConfiguration();
  }

  /** Sends a confirmed event report of the object `objHandle` and returns its invoke id. */
  private sendConfirmedEvent(objHandle: number, eventType: number, eventInfo: EventInfo): number {
    const invokeId = this.allocateInvokeId();
    this.send({
      kind: 'prst',
      data: {
        invokeId,
        message: {
          kind: 'roiv-confirmed-event-report',
          objHandle,
          eventTime: this.relativeTime(),
          eventType,
          eventInfo,
        },
      },
    });
    return invokeId;
  }

  private async sendConfiguration(): Promise<boolean> {
    const { scenario } = this.options;
    this.result.configurationSent = true;
    const invokeId = this.sendConfirmedEvent(MDS_HANDLE, O.MDC_NOTI_CONFIG, {
      kind: 'config-report',
      configReportId: scenario.devConfigId,
      configObjList: scenario.configuration,
    });
    const response = await this.waitFor(
      (apdu) =>
        apdu.kind === 'prst' &&
        apdu.data.invokeId === invokeId &&
        apdu.data.message.kind === 'rors-confirmed-event-report',
      'configuration response',
    );
    const reply =
      response.kind === 'prst' && response.data.message.kind === 'rors-confirmed-event-report'
        ? response.data.message.eventReplyInfo
        : undefined;
    if (reply?.kind === 'config-report-rsp' && reply.configResult === ConfigResult.acceptedConfig) {
      return true;
    }
    this.result.error = 'configuration not accepted';
    return false;
  }

  private allocateInvokeId(): number {
    const id = this.nextInvokeId;
    this.nextInvokeId = (this.nextInvokeId + 1) & 0xffff;
    return id;
  }

  private async sendReports(): Promise<void> {
    const { ratePerSecond, reports, durationMs } = this.options;
    const intervalMs = 1000 / ratePerSecond;
    const maxOutstanding = this.options.maxOutstanding ?? 1;
    const limit = reports ?? Number.POSITIVE_INFINITY;
    const stopAtMs =
      durationMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + durationMs;
    const startMs = performance.now();
    let sequence = 0;
    while (sequence < limit && this.ended === undefined) {
      const dueMs = startMs + sequence * intervalMs;
      const nowMs = performance.now();
      if (dueMs >= stopAtMs || nowMs >= stopAtMs) {
        break;
      }
      if (dueMs > nowMs) {
        await delay(dueMs - nowMs);
      }
      while (this.outstanding.size >= maxOutstanding && this.isRunning()) {
        await this.nextAck();
      }
      if (!this.isRunning()) {
        break;
      }
      this.sendReport(sequence);
      sequence += 1;
    }
    while (this.outstanding.size > 0 && this.ended === undefined) {
      await this.nextAck();
    }
    // An agent that ran out of due reports stays associated until its duration ends.
    const remainingMs = stopAtMs - performance.now();
    if (sequence < limit && Number.isFinite(remainingMs) && remainingMs > 0) {
      await this.idle(remainingMs);
    }
  }

  /** Waits `ms` or until the session ends, whichever comes first. */
  private async idle(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.endedPromise,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Resolves at the next acknowledgement or when the session ends; the response timer ends it on a timeout. */
  private nextAck(): Promise<void> {
    return new Promise((resolve) => {
      this.ackArrived = resolve;
    });
  }

  /**
   * Ends the session when the oldest outstanding report has waited the
   * response timeout, and otherwise checks again when it would have.
   */
  private armResponseTimer(): void {
    if (this.responseTimer !== undefined) {
      return;
    }
    const oldest = this.outstanding.values().next();
    if (oldest.done === true) {
      return;
    }
    const report = oldest.value;
    const remainingMs = this.timeoutMs - (performance.now() - report.sentAtMs);
    if (remainingMs <= 0) {
      this.end(`no RORS for report ${report.sequence} within ${this.timeoutMs} ms`);
      return;
    }
    this.responseTimer = setTimeout(() => {
      this.responseTimer = undefined;
      this.armResponseTimer();
    }, remainingMs);
  }

  private sendReport(sequence: number): void {
    const invokeId = this.allocateInvokeId();
    const agentNowMs = Date.now() + this.clockSkewMs;
    let expected: ExpectedObservation[] | undefined;
    if (this.options.onAck !== undefined) {
      expected = this.options.scenario
        .measurement(sequence, new Date(agentNowMs))
        .expected.map((observation) =>
          observation.measuredAt === undefined
            ? observation
            : // The real measurement time: the agent's clock minus the skew not yet corrected.
              {
                ...observation,
                measuredAt: new Date(observation.measuredAt.getTime() - this.clockSkewMs),
              },
        );
    }
    this.outstanding.set(invokeId, { sequence, sentAtMs: performance.now(), expected });
    this.result.reportsSent += 1;
    if (this.ended === undefined) {
      this.socket?.write(
        this.options.scenario.encodeReport(invokeId, this.relativeTime(), sequence, agentNowMs),
      );
    }
    this.armResponseTimer();
  }

  private async finish(): Promise<void> {
    if (this.ended !== undefined || this.options.release === false) {
      return;
    }
    this.send({ kind: 'rlrq', reason: ReleaseRequestReason.normal });
    await this.waitFor((apdu) => apdu.kind === 'rlre', 'RLRE');
    this.result.released = true;
    this.end('released', false);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
