/**
 * PM-store segment transfer of one association. Once the agent operates, the
 * manager reads the segment info of each PM-store in the agent's
 * configuration (MDC_ACT_SEG_GET_INFO). Then it triggers the transfer of each
 * segment that contains entries (MDC_ACT_SEG_TRIG_XFER), one at a time, and
 * stores the entries of the agent's SegmentDataEvents (MDC_NOTI_SEGMENT_DATA)
 * as observations. Each event's SegmentDataResult goes out only after its
 * observations are committed.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../core/logger.js';
import type {
  ActionArgument,
  ConfigObject,
  DataMessage,
  PmSegmentEntryMap,
  RoivEventReport,
  SegmDataEventDescr,
  SegmentDataEventInfo,
  SegmentInfo,
} from '../apdu.js';
import { TrigSegmXferRsp } from '../actions.js';
import { findAttribute } from '../attributes.js';
import type { Ieee11073Config } from '../config.js';
import { RoerErrorValue } from '../data-apdu.js';
import { SegmEvtStatus } from '../events.js';
import { AbortReason } from '../mder-error.js';
import { MdcObject as O } from '../nomenclature-table.js';
import {
  PmStoreCapab,
  decodeSegmentEntries,
  segmentEntryLayout,
  segmentEntryObservations,
  type SegmentEntryDefect,
} from '../pm-segment.js';
import type { Configuration } from '../scan-report.js';
import { observationsFrom20601, type ClockReference } from '../store/from-20601.js';
import type { CommitWork, GroupCommitter } from '../store/group-commit.js';
import type { Ieee11073Repository } from '../store/repository.js';
import type { PmSegmentTransferTable } from '../store/tables.js';
import { relativeTimeToMs } from '../time.js';
import * as apdus from './apdus.js';
import type { ManagerMetrics } from './metrics.js';

/** Session operations that a PM-store transfer uses. */
export interface PmStoreSession {
  /** Fields that name the device in every log line. */
  ids(): Record<string, unknown>;
  /**
   * Sends a confirmed ACTION and resolves with the agent's RORS. Rejects like
   * `InvokeTracker.start`: on a timeout, a ROER or RORJ, or the end of the
   * association.
   */
  action(
    objHandle: number,
    actionType: number,
    args: ActionArgument,
    timeoutMs: number,
  ): Promise<DataMessage>;
  send(bytes: Uint8Array): void;
  /** Sends ROER for an invoke and logs the defect once. */
  replyError(invokeId: number, errorValue: number, defect: string): void;
  /** Reacts to a failed request as the session does to its own: ABRT after a timeout. */
  requestFailed(request: string, error: unknown): void;
  /** Sends ABRT and ends the association. */
  abort(reason: number, cause: string): void;
}

/** The manager services a PM-store transfer uses. */
export interface PmStoreServices {
  config: Ieee11073Config;
  logger: Logger;
  metrics: ManagerMetrics;
  committer: GroupCommitter;
  repository: Ieee11073Repository;
}

/** The association whose PM-stores are read. */
export interface PmStoreAssociation {
  id: string;
  systemId: string;
  configuration: Configuration;
}

/** Outcome of a segment transfer. */
type SegmentOutcome =
  'complete' | 'aborted-by-agent' | 'aborted-by-manager' | 'timed-out' | 'association-ended';

/** A segment's attributes from the segment info that the transfer uses. */
interface SegmentDescription {
  instance: number;
  map: PmSegmentEntryMap | undefined;
  usageCount: number | undefined;
  personId: number | undefined;
  transferTimeoutMs: number | undefined;
}

/** A segment whose transfer was triggered. */
interface SegmentTransfer {
  pmStore: ConfigObject;
  instance: number;
  map: PmSegmentEntryMap;
  entryBytes: number;
  personId: number | undefined;
  /** segm-evt-entry-index the next event must carry. */
  nextIndex: number;
  /** False once the last entry, an abort or a defect ended the events of the transfer. */
  receiving: boolean;
  /** The device's progress record from earlier associations. */
  earlier: PmSegmentTransferTable | undefined;
  /** SHA-256 (hex) of entry 0 of this transfer, once its event arrived. */
  firstEntrySha256: string | undefined;
  /** Entries stored in this transfer. */
  stored: number;
  /** Entries skipped because an earlier association stored them. */
  skipped: number;
  /** True while no entry of the transfer was malformed, so the segment may be cleared. */
  clean: boolean;
  /** The commits of received events, chained so their results go out in order. */
  queue: Promise<void>;
  timer: NodeJS.Timeout | undefined;
  outcome: SegmentOutcome | undefined;
  finish: (outcome: SegmentOutcome) => void;
  finished: Promise<SegmentOutcome>;
}

/** PM-store (handle) and segment instance of a transfer, as a map key. */
function segmentKey(pmStore: number, instance: number): string {
  return `${pmStore}/${instance}`;
}

/** Returns true when a configuration has a PM-store, whose segments a transfer reads. */
export function hasPmStore(configuration: Configuration): boolean {
  return configuration.objects.some((object) => object.objClass === O.MDC_MOC_VMO_PMSTORE);
}

/** Person id that stands for an unknown person. */
const UNKNOWN_PERSON_ID = 0xffff;

function describeSegment(info: SegmentInfo, pmStore: ConfigObject): SegmentDescription {
  const attributes = info.segInfo;
  const map =
    findAttribute(attributes, O.MDC_ATTR_PM_SEG_MAP) ??
    findAttribute(pmStore.attributes, O.MDC_ATTR_PM_SEG_MAP);
  const usage = findAttribute(attributes, O.MDC_ATTR_SEG_USAGE_CNT);
  const person = findAttribute(attributes, O.MDC_ATTR_PM_SEG_PERSON_ID);
  const timeout = findAttribute(attributes, O.MDC_ATTR_TRANSFER_TIMEOUT);
  return {
    instance: info.segInstNo,
    map: map?.kind === 'pm-segment-entry-map' ? map.value : undefined,
    usageCount: usage?.kind === 'u32' ? usage.value : undefined,
    personId:
      person?.kind === 'u16' && person.value !== UNKNOWN_PERSON_ID ? person.value : undefined,
    transferTimeoutMs:
      timeout?.kind === 'relative-time' ? relativeTimeToMs(timeout.value) : undefined,
  };
}

function describeDefects(defects: readonly SegmentEntryDefect[]): string {
  return defects
    .map((defect) =>
      defect.index === undefined
        ? `${defect.code}: ${defect.message}`
        : `${defect.code} at entry ${defect.index}: ${defect.message}`,
    )
    .join('; ');
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export class PmStoreTransfer {
  private readonly transfers = new Map<string, SegmentTransfer>();
  private readonly pmStores: ConfigObject[];
  /** Clock offsets for the entries' time stamps, set by `start`. */
  private clock: ClockReference = {};
  private ended = false;

  constructor(
    private readonly association: PmStoreAssociation,
    private readonly session: PmStoreSession,
    private readonly services: PmStoreServices,
  ) {
    this.pmStores = association.configuration.objects.filter(
      (object) => object.objClass === O.MDC_MOC_VMO_PMSTORE,
    );
  }

  private get log(): Logger {
    return this.services.logger;
  }

  private get settings(): Ieee11073Config['pmStore'] {
    return this.services.config.pmStore;
  }

  /**
   * Transfers every segment with entries, one after the other, when the
   * configuration has PM-stores and `pmStore.transfer` is on. `clock` converts
   * the entries' time stamps: the offsets the MDS GET measured before the
   * manager set the agent's clock, because the agent stamped its stored
   * entries with the clock it had then.
   */
  start(clock: ClockReference): void {
    this.clock = clock;
    if (!this.settings.transfer || this.pmStores.length === 0 || this.ended) {
      return;
    }
    this.run().catch((error: unknown) => {
      this.log.error({ ...this.session.ids(), err: error }, 'ieee11073 pm-store transfer failed');
    });
  }

  /** Ends every transfer, for an association that ended. */
  stop(): void {
    this.ended = true;
    for (const transfer of this.transfers.values()) {
      this.finish(transfer, 'association-ended');
    }
  }

  private async run(): Promise<void> {
    for (const pmStore of this.pmStores) {
      const segments = await this.readSegmentInfo(pmStore);
      if (segments === undefined) {
        return;
      }
      for (const info of segments) {
        if (this.ended) {
          return;
        }
        const proceed = await this.transferSegment(pmStore, describeSegment(info, pmStore));
        if (!proceed) {
          return;
        }
      }
    }
  }

  /** Returns the segment info of a PM-store, or undefined when the association cannot go on. */
  private async readSegmentInfo(pmStore: ConfigObject): Promise<SegmentInfo[] | undefined> {
    let response: DataMessage;
    try {
      response = await this.session.action(
        pmStore.objHandle,
        O.MDC_ACT_SEG_GET_INFO,
        { kind: 'segment-selection', selection: { choice: 'all-segments', value: 0 } },
        this.services.config.timeouts.confirmedRequestMs,
      );
    } catch (error) {
      this.session.requestFailed('pm-store segment info', error);
      return this.ended ? undefined : [];
    }
    if (
      response.kind !== 'rors-confirmed-action' ||
      response.actionInfoArgs.kind !== 'segment-info-list'
    ) {
      this.log.warn(
        { ...this.session.ids(), pmStore: pmStore.objHandle, response: response.kind },
        'ieee11073 pm-store segment info unusable',
      );
      return [];
    }
    return response.actionInfoArgs.segmentInfo;
  }

  /** Logs why a segment is not transferred. */
  private skipSegment(pmStore: ConfigObject, instance: number, reason: string): void {
    this.log.info(
      { ...this.session.ids(), pmStore: pmStore.objHandle, segment: instance, reason },
      'ieee11073 pm-segment not transferred',
    );
  }

  /**
   * Triggers the transfer of one segment and waits until it ended. Returns
   * false when the association cannot go on with further segments.
   */
  private async transferSegment(
    pmStore: ConfigObject,
    segment: SegmentDescription,
  ): Promise<boolean> {
    const instance = segment.instance;
    if (segment.usageCount === 0) {
      this.skipSegment(pmStore, instance, 'segment contains no entries');
      return true;
    }
    if (segment.map === undefined) {
      this.skipSegment(pmStore, instance, 'segment info has no PM-Segment-Entry-Map');
      return true;
    }
    const located = segmentEntryLayout(segment.map);
    if ('problem' in located) {
      this.skipSegment(pmStore, instance, located.problem);
      return true;
    }
    let earlier: PmSegmentTransferTable | undefined;
    try {
      earlier = await this.services.repository.loadSegmentTransfer(
        this.association.systemId,
        pmStore.objHandle,
        instance,
      );
    } catch (error) {
      this.log.error(
        { ...this.session.ids(), pmStore: pmStore.objHandle, segment: instance, err: error },
        'ieee11073 pm-segment progress not readable; segment not transferred',
      );
      return true;
    }
    if (this.ended) {
      return false;
    }
    const transfer = this.open(pmStore, segment, segment.map, located.layout.entryBytes, earlier);
    // Armed before the trigger goes out: the segment's events may be read
    // before the trigger's result reaches this function.
    this.transfers.set(segmentKey(pmStore.objHandle, instance), transfer);
    this.armTimer(transfer, segment.transferTimeoutMs);
    let response: DataMessage;
    try {
      response = await this.session.action(
        pmStore.objHandle,
        O.MDC_ACT_SEG_TRIG_XFER,
        { kind: 'trig-segm-data-xfer-req', segInstNo: instance },
        this.services.config.timeouts.confirmedRequestMs,
      );
    } catch (error) {
      this.finish(transfer, 'aborted-by-manager');
      this.session.requestFailed('pm-segment transfer trigger', error);
      return !this.ended;
    }
    const result =
      response.kind === 'rors-confirmed-action' &&
      response.actionInfoArgs.kind === 'trig-segm-data-xfer-rsp'
        ? response.actionInfoArgs.trigSegmXferRsp
        : undefined;
    if (result !== TrigSegmXferRsp.successful) {
      this.finish(transfer, 'aborted-by-manager');
      this.skipSegment(
        pmStore,
        instance,
        result === undefined
          ? `agent answered the trigger with ${response.kind}`
          : `agent answered the trigger with trig-segm-xfer-rsp ${result}`,
      );
      return true;
    }
    const outcome = await transfer.finished;
    this.log.info(
      {
        ...this.session.ids(),
        pmStore: pmStore.objHandle,
        segment: instance,
        outcome,
        entriesStored: transfer.stored,
        entriesSkipped: transfer.skipped,
      },
      'ieee11073 pm-segment transfer ended',
    );
    if (outcome === 'complete' && transfer.clean && this.settings.clearAfterTransfer) {
      await this.clear(pmStore, instance);
    }
    return !this.ended;
  }

  private open(
    pmStore: ConfigObject,
    segment: SegmentDescription,
    map: PmSegmentEntryMap,
    entryBytes: number,
    earlier: PmSegmentTransferTable | undefined,
  ): SegmentTransfer {
    let finish: (outcome: SegmentOutcome) => void = () => undefined;
    const finished = new Promise<SegmentOutcome>((resolve) => {
      finish = resolve;
    });
    return {
      pmStore,
      instance: segment.instance,
      map,
      entryBytes,
      personId: segment.personId,
      nextIndex: 0,
      receiving: true,
      earlier,
      firstEntrySha256: undefined,
      stored: 0,
      skipped: 0,
      clean: true,
      queue: Promise.resolve(),
      timer: undefined,
      outcome: undefined,
      finish,
      finished,
    };
  }

  /**
   * Aborts the association when the segment's last entry has not arrived
   * within `pmStore.transferTimeoutMs`, or within the segment's own
   * Transfer-Timeout when that is longer, up to `pmStore.maxTransferTimeoutMs`.
   * NOTE: the agent's Transfer-Timeout is read as RelativeTime, as medward's
   * codec types it. It can only lengthen the configured time, so an agent
   * that means another unit cannot make the manager give up early.
   */
  private armTimer(transfer: SegmentTransfer, segmentTimeoutMs: number | undefined): void {
    const timeoutMs = Math.min(
      Math.max(this.settings.transferTimeoutMs, segmentTimeoutMs ?? 0),
      this.settings.maxTransferTimeoutMs,
    );
    transfer.timer = setTimeout(() => {
      transfer.timer = undefined;
      if (!transfer.receiving || this.ended) {
        return;
      }
      this.log.warn(
        {
          ...this.session.ids(),
          pmStore: transfer.pmStore.objHandle,
          segment: transfer.instance,
          timeoutMs,
          nextIndex: transfer.nextIndex,
        },
        'ieee11073 pm-segment transfer timed out; association aborted',
      );
      this.finish(transfer, 'timed-out');
      this.session.abort(AbortReason.responseTimeout, 'pm-segment transfer timed out');
    }, timeoutMs);
  }

  /** Ends the events of a transfer: no further event is accepted for it. */
  private stopReceiving(transfer: SegmentTransfer): void {
    transfer.receiving = false;
    clearTimeout(transfer.timer);
    transfer.timer = undefined;
  }

  private finish(transfer: SegmentTransfer, outcome: SegmentOutcome): void {
    this.stopReceiving(transfer);
    if (transfer.outcome !== undefined) {
      return;
    }
    transfer.outcome = outcome;
    const key = segmentKey(transfer.pmStore.objHandle, transfer.instance);
    if (this.transfers.get(key) === transfer) {
      this.transfers.delete(key);
    }
    transfer.finish(outcome);
  }

  /**
   * Handles a SegmentDataEvent. Returns the promise of its commit and
   * result, which rejects when the commit failed. Returns undefined when the
   * event got its reply (or was ignored) at once.
   */
  onSegmentData(
    invokeId: number,
    report: RoivEventReport,
    info: SegmentDataEventInfo,
    confirmed: boolean,
  ): Promise<void> | undefined {
    const descr = info.segmDataEventDescr;
    const ids = {
      ...this.session.ids(),
      pmStore: report.objHandle,
      segment: descr.segmInstance,
      entryIndex: descr.segmEvtEntryIndex,
      entryCount: descr.segmEvtEntryCount,
    };
    if (!confirmed) {
      this.log.warn(
        {
          ...ids,
          defect: 'segment data event is unconfirmed; IEEE 11073-20601 sends it confirmed',
        },
        'ieee11073 segment data ignored',
      );
      return undefined;
    }
    if (!this.pmStores.some((object) => object.objHandle === report.objHandle)) {
      this.session.replyError(
        invokeId,
        RoerErrorValue.noSuchObjectInstance,
        `segment data event from handle ${report.objHandle}, which is no PM-store of the configuration`,
      );
      return undefined;
    }
    const transfer = this.transfers.get(segmentKey(report.objHandle, descr.segmInstance));
    if (transfer?.receiving !== true) {
      this.rejectEvent(
        invokeId,
        report,
        descr,
        ids,
        'segment is unknown or its transfer was not triggered',
      );
      return undefined;
    }
    if ((descr.segmEvtStatus & SegmEvtStatus.agentAbort) !== 0) {
      return this.onAgentAbort(transfer, invokeId, report, descr, ids);
    }
    if (descr.segmEvtEntryIndex !== transfer.nextIndex) {
      this.stopReceiving(transfer);
      transfer.clean = false;
      const defect = `segm-evt-entry-index ${descr.segmEvtEntryIndex} where ${transfer.nextIndex} was expected`;
      // Results of earlier events go out first, then the transfer ends.
      const rejected = transfer.queue.then(() => {
        this.rejectEvent(invokeId, report, descr, ids, defect);
        this.finish(transfer, 'aborted-by-manager');
      });
      transfer.queue = rejected;
      return rejected;
    }
    return this.storeEvent(transfer, invokeId, report, info, ids);
  }

  /** Replies manager-abort to an event and logs one warning with the defect. */
  private rejectEvent(
    invokeId: number,
    report: RoivEventReport,
    descr: SegmDataEventDescr,
    ids: Record<string, unknown>,
    defect: string,
  ): void {
    this.services.metrics.protocolErrors.inc({ reaction: 'manager-abort' });
    this.log.warn({ ...ids, defect, reaction: 'manager-abort' }, 'ieee11073 segment data rejected');
    this.reply(invokeId, report, descr, SegmEvtStatus.managerAbort);
  }

  private reply(
    invokeId: number,
    report: RoivEventReport,
    descr: SegmDataEventDescr,
    managerBits: number,
  ): void {
    if (this.ended) {
      return;
    }
    const agentBits =
      descr.segmEvtStatus & ~(SegmEvtStatus.managerConfirm | SegmEvtStatus.managerAbort);
    this.session.send(
      apdus.segmentDataResultApdu(invokeId, report.objHandle, report.eventTime, {
        ...descr,
        segmEvtStatus: agentBits | managerBits,
      }),
    );
  }

  private onAgentAbort(
    transfer: SegmentTransfer,
    invokeId: number,
    report: RoivEventReport,
    descr: SegmDataEventDescr,
    ids: Record<string, unknown>,
  ): Promise<void> {
    this.stopReceiving(transfer);
    this.log.warn(ids, 'ieee11073 pm-segment transfer aborted by agent');
    const answered = transfer.queue.then(() => {
      // The result of an agent-abort repeats the agent's status.
      this.reply(invokeId, report, descr, 0);
      this.finish(transfer, 'aborted-by-agent');
    });
    transfer.queue = answered;
    return answered;
  }

  /**
   * Decodes an event's entries, commits their observations with the segment's
   * progress record, then sends the result: manager-confirm, or
   * manager-abort when the event's entries do not fit the declared count.
   */
  private storeEvent(
    transfer: SegmentTransfer,
    invokeId: number,
    report: RoivEventReport,
    info: SegmentDataEventInfo,
    ids: Record<string, unknown>,
  ): Promise<void> {
    const receivedAtMs = Date.now();
    const descr = info.segmDataEventDescr;
    const decoded = decodeSegmentEntries(transfer.map, descr, info.segmDataEventEntries);
    const eventDefects = decoded.defects.filter((defect) => defect.index === undefined);
    const malformed = decoded.defects.length - eventDefects.length;
    transfer.nextIndex += descr.segmEvtEntryCount;
    const last = (descr.segmEvtStatus & SegmEvtStatus.lastEntry) !== 0 || eventDefects.length > 0;
    if (last) {
      this.stopReceiving(transfer);
    }
    if (decoded.defects.length > 0) {
      transfer.clean = false;
      if (eventDefects.length > 0) {
        this.services.metrics.protocolErrors.inc({ reaction: 'manager-abort' });
      }
      this.log.warn(
        {
          ...ids,
          defect: describeDefects(decoded.defects),
          entriesDecoded: decoded.entries.length,
          reaction: eventDefects.length > 0 ? 'manager-abort' : 'manager-confirm',
        },
        'ieee11073 segment data malformed',
      );
    }
    if (
      descr.segmEvtEntryIndex === 0 &&
      info.segmDataEventEntries.byteLength >= transfer.entryBytes
    ) {
      transfer.firstEntrySha256 = sha256Hex(
        info.segmDataEventEntries.subarray(0, transfer.entryBytes),
      );
    }
    const earlier = transfer.earlier;
    const storedBefore =
      earlier !== undefined && earlier.first_entry_sha256 === transfer.firstEntrySha256
        ? earlier.entries_stored
        : 0;
    const fresh = decoded.entries.filter((entry) => entry.index >= storedBefore);
    // NOTE: entries without time stamps, as periodic segments may send them,
    // get the time of receipt. Their times are not derived from the
    // segment's start time and sample period.
    const extracted = segmentEntryObservations(
      this.association.configuration,
      fresh,
      transfer.personId,
    );
    if (extracted.quirks.length > 0) {
      this.services.metrics.quirks.inc(extracted.quirks.length);
      this.log.debug(
        { ...ids, quirks: extracted.quirks },
        'ieee11073 segment data quirks tolerated',
      );
    }
    const { observations } = observationsFrom20601({
      observations: extracted.observations,
      configuration: this.association.configuration,
      deviceSystemId: this.association.systemId,
      associationId: this.association.id,
      clock: this.clock,
      receivedAtMs,
      eventTime: report.eventTime,
    });
    const work: CommitWork = { observations };
    const firstEntrySha256 = transfer.firstEntrySha256;
    if (firstEntrySha256 !== undefined) {
      const row: PmSegmentTransferTable = {
        system_id: this.association.systemId,
        pm_store_handle: transfer.pmStore.objHandle,
        segment_instance: transfer.instance,
        first_entry_sha256: firstEntrySha256,
        entries_stored: Math.max(
          storedBefore,
          descr.segmEvtEntryIndex + decoded.entries.length + malformed,
        ),
        updated_at_ms: receivedAtMs,
      };
      work.operation = (transaction) =>
        this.services.repository.saveSegmentTransfer(transaction, row);
    }
    const managerBits =
      eventDefects.length > 0 ? SegmEvtStatus.managerAbort : SegmEvtStatus.managerConfirm;
    const stored = transfer.queue.then(async () => {
      await this.services.committer.submit(work);
      transfer.stored += fresh.length;
      transfer.skipped += decoded.entries.length - fresh.length;
      this.reply(invokeId, report, descr, managerBits);
      if (last) {
        this.finish(transfer, eventDefects.length > 0 ? 'aborted-by-manager' : 'complete');
      }
    });
    // A failed commit aborts the association, which ends the transfer.
    transfer.queue = stored.catch(() => undefined);
    return stored;
  }

  /** Clears a transferred segment when the agent supports clearing by segment list. */
  private async clear(pmStore: ConfigObject, instance: number): Promise<void> {
    const capabilities = findAttribute(pmStore.attributes, O.MDC_ATTR_PM_STORE_CAPAB);
    if (
      capabilities?.kind !== 'u16' ||
      (capabilities.value & PmStoreCapab.clearSegmByListSup) === 0
    ) {
      this.log.info(
        { ...this.session.ids(), pmStore: pmStore.objHandle, segment: instance },
        'ieee11073 pm-segment kept; agent does not clear segments by list',
      );
      return;
    }
    const clearTimeout = findAttribute(pmStore.attributes, O.MDC_ATTR_CLEAR_TIMEOUT);
    const timeoutMs = Math.min(
      Math.max(
        this.services.config.timeouts.confirmedRequestMs,
        clearTimeout?.kind === 'relative-time' ? relativeTimeToMs(clearTimeout.value) : 0,
      ),
      this.settings.maxTransferTimeoutMs,
    );
    try {
      await this.session.action(
        pmStore.objHandle,
        O.MDC_ACT_SEG_CLR,
        { kind: 'segment-selection', selection: { choice: 'segm-id-list', value: [instance] } },
        timeoutMs,
      );
      this.log.info(
        { ...this.session.ids(), pmStore: pmStore.objHandle, segment: instance },
        'ieee11073 pm-segment cleared',
      );
    } catch (error) {
      this.session.requestFailed('pm-segment clear', error);
    }
  }
}
