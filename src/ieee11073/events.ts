/**
 * Event information of event reports (ANY DEFINED BY event-type): the
 * configuration report, the scan reports of the MDS and of scanners, and the
 * PM-store segment data event, with the replies a manager returns for them.
 */
import type {
  ConfigObject,
  ConfigReportInfo,
  EventInfo,
  EventReplyInfo,
  ObservationScan,
  ObservationScanFixed,
  ScanReportHeader,
  ScanReportPerFixed,
  ScanReportPerGrouped,
  ScanReportPerVar,
  SegmDataEventDescr,
} from './apdu.js';
import { readAttributeList, writeAttributeList } from './attributes.js';
import type { MderReader, MderWriter } from './mder.js';
import { encodeError } from './mder-error.js';
import { MdcObject as O } from './nomenclature-table.js';

/** ConfigResult of a configuration report response. */
export const ConfigResult = {
  acceptedConfig: 0,
  unsupportedConfig: 1,
  standardConfigUnknown: 2,
} as const;

/**
 * SegmEvtStatus bits of a SegmentDataEvent and its SegmentDataResult (BITS-16,
 * bit 0 the most significant), as the open-source manager Antidote defines
 * them. The agent sets first-entry and last-entry (both when one event
 * carries the whole segment) and agent-abort. The manager's result sets
 * manager-confirm for an event it stored, whose absence makes the agent send
 * the event again, or manager-abort to stop the transfer. The result of an
 * agent-abort repeats the status the agent sent.
 */
export const SegmEvtStatus = {
  firstEntry: 0x8000,
  lastEntry: 0x4000,
  agentAbort: 0x0800,
  managerConfirm: 0x0080,
  managerAbort: 0x0008,
} as const;

export type EventInfoKind = EventInfo['kind'];

const kindByEventType = new Map<number, EventInfoKind>([
  [O.MDC_NOTI_CONFIG, 'config-report'],
  [O.MDC_NOTI_SCAN_REPORT_FIXED, 'scan-fixed'],
  [O.MDC_NOTI_UNBUF_SCAN_REPORT_FIXED, 'scan-fixed'],
  [O.MDC_NOTI_BUF_SCAN_REPORT_FIXED, 'scan-fixed'],
  [O.MDC_NOTI_SCAN_REPORT_VAR, 'scan-var'],
  [O.MDC_NOTI_UNBUF_SCAN_REPORT_VAR, 'scan-var'],
  [O.MDC_NOTI_BUF_SCAN_REPORT_VAR, 'scan-var'],
  [O.MDC_NOTI_UNBUF_SCAN_REPORT_GROUPED, 'scan-grouped'],
  [O.MDC_NOTI_BUF_SCAN_REPORT_GROUPED, 'scan-grouped'],
  [O.MDC_NOTI_SCAN_REPORT_MP_FIXED, 'scan-mp-fixed'],
  [O.MDC_NOTI_UNBUF_SCAN_REPORT_MP_FIXED, 'scan-mp-fixed'],
  [O.MDC_NOTI_BUF_SCAN_REPORT_MP_FIXED, 'scan-mp-fixed'],
  [O.MDC_NOTI_SCAN_REPORT_MP_VAR, 'scan-mp-var'],
  [O.MDC_NOTI_UNBUF_SCAN_REPORT_MP_VAR, 'scan-mp-var'],
  [O.MDC_NOTI_BUF_SCAN_REPORT_MP_VAR, 'scan-mp-var'],
  [O.MDC_NOTI_UNBUF_SCAN_REPORT_MP_GROUPED, 'scan-mp-grouped'],
  [O.MDC_NOTI_BUF_SCAN_REPORT_MP_GROUPED, 'scan-mp-grouped'],
  [O.MDC_NOTI_SEGMENT_DATA, 'segment-data'],
]);

/** Returns how the codec decodes the event information of an event type; 'raw' when it keeps bytes. */
export function eventInfoKind(eventType: number): EventInfoKind {
  return kindByEventType.get(eventType) ?? 'raw';
}

function readConfigObjectList(reader: MderReader): ConfigObject[] {
  const field = 'config-obj-list';
  const count = reader.beginList(8, field);
  const list: ConfigObject[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    const objClass = reader.u16('obj-class');
    const objHandle = reader.u16('obj-handle');
    list.push({ objClass, objHandle, attributes: readAttributeList(reader) });
  }
  reader.leave(field);
  return list;
}

function readConfigReport(reader: MderReader): ConfigReportInfo {
  const configReportId = reader.u16('config-report-id');
  return { kind: 'config-report', configReportId, configObjList: readConfigObjectList(reader) };
}

export function readObservationScanFixedList(reader: MderReader): ObservationScanFixed[] {
  const field = 'obs-scan-fixed';
  const count = reader.beginList(4, field);
  const list: ObservationScanFixed[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    const objHandle = reader.u16(field);
    list.push({ objHandle, obsValData: reader.octetString('obs-val-data') });
  }
  reader.leave(field);
  return list;
}

function readObservationScanList(reader: MderReader): ObservationScan[] {
  const field = 'obs-scan-var';
  const count = reader.beginList(6, field);
  const list: ObservationScan[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    const objHandle = reader.u16(field);
    list.push({ objHandle, attributes: readAttributeList(reader) });
  }
  reader.leave(field);
  return list;
}

function readGroupedList(reader: MderReader): Uint8Array[] {
  const field = 'obs-scan-grouped';
  const count = reader.beginList(2, field);
  const list: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    list.push(reader.octetString(field));
  }
  reader.leave(field);
  return list;
}

function readPerFixedList(reader: MderReader): ScanReportPerFixed[] {
  const field = 'scan-per-fixed';
  const count = reader.beginList(6, field);
  const list: ScanReportPerFixed[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    const personId = reader.u16('person-id');
    list.push({ personId, obsScanFixed: readObservationScanFixedList(reader) });
  }
  reader.leave(field);
  return list;
}

function readPerVarList(reader: MderReader): ScanReportPerVar[] {
  const field = 'scan-per-var';
  const count = reader.beginList(6, field);
  const list: ScanReportPerVar[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    const personId = reader.u16('person-id');
    list.push({ personId, obsScanVar: readObservationScanList(reader) });
  }
  reader.leave(field);
  return list;
}

function readPerGroupedList(reader: MderReader): ScanReportPerGrouped[] {
  const field = 'scan-per-grouped';
  const count = reader.beginList(4, field);
  const list: ScanReportPerGrouped[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    const personId = reader.u16('person-id');
    list.push({ personId, obsScanGrouped: reader.octetString('obs-scan-grouped') });
  }
  reader.leave(field);
  return list;
}

export function readSegmDataEventDescr(reader: MderReader): SegmDataEventDescr {
  const field = 'segm-data-event-descr';
  return {
    segmInstance: reader.u16(field),
    segmEvtEntryIndex: reader.u32(field),
    segmEvtEntryCount: reader.u32(field),
    segmEvtStatus: reader.u16(field),
  };
}

type TypedEventInfo = Exclude<EventInfo, { kind: 'raw' }>;

function readTypedInfo(reader: MderReader, kind: Exclude<EventInfoKind, 'raw'>): TypedEventInfo {
  if (kind === 'config-report') {
    return readConfigReport(reader);
  }
  if (kind === 'segment-data') {
    const segmDataEventDescr = readSegmDataEventDescr(reader);
    const segmDataEventEntries = reader.octetString('segm-data-event-entries');
    return { kind, segmDataEventDescr, segmDataEventEntries };
  }
  const dataReqId = reader.u16('data-req-id');
  const scanReportNo = reader.u16('scan-report-no');
  switch (kind) {
    case 'scan-fixed':
      return { kind, dataReqId, scanReportNo, obsScanFixed: readObservationScanFixedList(reader) };
    case 'scan-var':
      return { kind, dataReqId, scanReportNo, obsScanVar: readObservationScanList(reader) };
    case 'scan-grouped':
      return { kind, dataReqId, scanReportNo, obsScanGrouped: readGroupedList(reader) };
    case 'scan-mp-fixed':
      return { kind, dataReqId, scanReportNo, scanPerFixed: readPerFixedList(reader) };
    case 'scan-mp-var':
      return { kind, dataReqId, scanReportNo, scanPerVar: readPerVarList(reader) };
    case 'scan-mp-grouped':
      return { kind, dataReqId, scanReportNo, scanPerGrouped: readPerGroupedList(reader) };
  }
}

/**
 * Reads event information of `length` bytes. Bytes after a complete structure
 * are a known agent quirk: they are kept in `trailing` and reported.
 */
export function readEventInfo(reader: MderReader, eventType: number, length: number): EventInfo {
  const kind = eventInfoKind(eventType);
  if (kind === 'raw') {
    return { kind, bytes: reader.take(length, 'event-info') };
  }
  reader.enter(length, 'event-info');
  const info = readTypedInfo(reader, kind);
  const trailing = reader.leaveTolerant();
  if (trailing !== undefined) {
    info.trailing = trailing;
    reader.addQuirk({
      code: 'EVENT_INFO_TRAILING_BYTES',
      message: `event report ${eventType} carries ${trailing.byteLength} bytes after its event information`,
      bytes: trailing.byteLength,
    });
  }
  return info;
}

export function readEventReplyInfo(reader: MderReader, eventType: number): EventReplyInfo {
  const field = 'event-reply-info';
  const length = reader.u16(field);
  if (eventType === O.MDC_NOTI_CONFIG) {
    reader.enter(length, field);
    const configReportId = reader.u16('config-report-id');
    const configResult = reader.u16('config-result');
    reader.leave(field);
    return { kind: 'config-report-rsp', configReportId, configResult };
  }
  if (eventType === O.MDC_NOTI_SEGMENT_DATA) {
    reader.enter(length, field);
    const segmDataEventDescr = readSegmDataEventDescr(reader);
    reader.leave(field);
    return { kind: 'segment-data-result', segmDataEventDescr };
  }
  return { kind: 'raw', bytes: reader.take(length, field) };
}

function writeFixedList(writer: MderWriter, list: readonly ObservationScanFixed[]): void {
  const at = writer.beginList(list.length, 'obs-scan-fixed');
  for (const entry of list) {
    writer.u16(entry.objHandle, 'obj-handle');
    writer.octetString(entry.obsValData, 'obs-val-data');
  }
  writer.endLength(at, 'obs-scan-fixed');
}

function writeScanList(writer: MderWriter, list: readonly ObservationScan[]): void {
  const at = writer.beginList(list.length, 'obs-scan-var');
  for (const entry of list) {
    writer.u16(entry.objHandle, 'obj-handle');
    writeAttributeList(writer, entry.attributes);
  }
  writer.endLength(at, 'obs-scan-var');
}

function writeConfigObjectList(writer: MderWriter, list: readonly ConfigObject[]): void {
  const at = writer.beginList(list.length, 'config-obj-list');
  for (const object of list) {
    writer.u16(object.objClass, 'obj-class');
    writer.u16(object.objHandle, 'obj-handle');
    writeAttributeList(writer, object.attributes);
  }
  writer.endLength(at, 'config-obj-list');
}

export function writeSegmDataEventDescr(writer: MderWriter, descr: SegmDataEventDescr): void {
  const field = 'segm-data-event-descr';
  writer.u16(descr.segmInstance, field);
  writer.u32(descr.segmEvtEntryIndex, field);
  writer.u32(descr.segmEvtEntryCount, field);
  writer.u16(descr.segmEvtStatus, field);
}

function writeScanPerFixed(writer: MderWriter, list: readonly ScanReportPerFixed[]): void {
  const at = writer.beginList(list.length, 'scan-per-fixed');
  for (const entry of list) {
    writer.u16(entry.personId, 'person-id');
    writeFixedList(writer, entry.obsScanFixed);
  }
  writer.endLength(at, 'scan-per-fixed');
}

function writeScanPerVar(writer: MderWriter, list: readonly ScanReportPerVar[]): void {
  const at = writer.beginList(list.length, 'scan-per-var');
  for (const entry of list) {
    writer.u16(entry.personId, 'person-id');
    writeScanList(writer, entry.obsScanVar);
  }
  writer.endLength(at, 'scan-per-var');
}

function writeScanPerGrouped(writer: MderWriter, list: readonly ScanReportPerGrouped[]): void {
  const at = writer.beginList(list.length, 'scan-per-grouped');
  for (const entry of list) {
    writer.u16(entry.personId, 'person-id');
    writer.octetString(entry.obsScanGrouped, 'obs-scan-grouped');
  }
  writer.endLength(at, 'scan-per-grouped');
}

function writeGroupedList(writer: MderWriter, list: readonly Uint8Array[]): void {
  const at = writer.beginList(list.length, 'obs-scan-grouped');
  for (const entry of list) {
    writer.octetString(entry, 'obs-scan-grouped');
  }
  writer.endLength(at, 'obs-scan-grouped');
}

function writeScanHeader(writer: MderWriter, info: ScanReportHeader): void {
  writer.u16(info.dataReqId, 'data-req-id');
  writer.u16(info.scanReportNo, 'scan-report-no');
}

function writeTypedBody(writer: MderWriter, info: TypedEventInfo): void {
  switch (info.kind) {
    case 'config-report':
      writer.u16(info.configReportId, 'config-report-id');
      writeConfigObjectList(writer, info.configObjList);
      return;
    case 'segment-data':
      writeSegmDataEventDescr(writer, info.segmDataEventDescr);
      writer.octetString(info.segmDataEventEntries, 'segm-data-event-entries');
      return;
    case 'scan-fixed':
      writeScanHeader(writer, info);
      writeFixedList(writer, info.obsScanFixed);
      return;
    case 'scan-var':
      writeScanHeader(writer, info);
      writeScanList(writer, info.obsScanVar);
      return;
    case 'scan-grouped':
      writeScanHeader(writer, info);
      writeGroupedList(writer, info.obsScanGrouped);
      return;
    case 'scan-mp-fixed':
      writeScanHeader(writer, info);
      writeScanPerFixed(writer, info.scanPerFixed);
      return;
    case 'scan-mp-var':
      writeScanHeader(writer, info);
      writeScanPerVar(writer, info.scanPerVar);
      return;
    case 'scan-mp-grouped':
      writeScanHeader(writer, info);
      writeScanPerGrouped(writer, info.scanPerGrouped);
      return;
  }
}

function writeTypedInfo(writer: MderWriter, info: TypedEventInfo): void {
  writeTypedBody(writer, info);
  if (info.trailing !== undefined) {
    writer.bytes(info.trailing);
  }
}

/** Writes the event-info length and content; typed information must match the event type. */
export function writeEventInfo(writer: MderWriter, eventType: number, info: EventInfo): void {
  const at = writer.beginLength();
  if (info.kind === 'raw') {
    writer.bytes(info.bytes);
  } else {
    const expected = eventInfoKind(eventType);
    if (info.kind !== expected) {
      throw encodeError(
        `event type ${eventType} carries ${expected} event information, not ${info.kind}`,
        'event-info',
        eventType,
      );
    }
    writeTypedInfo(writer, info);
  }
  writer.endLength(at, 'event-info');
}

export function writeEventReplyInfo(
  writer: MderWriter,
  eventType: number,
  info: EventReplyInfo,
): void {
  const expected =
    eventType === O.MDC_NOTI_CONFIG
      ? 'config-report-rsp'
      : eventType === O.MDC_NOTI_SEGMENT_DATA
        ? 'segment-data-result'
        : 'raw';
  if (info.kind !== 'raw' && info.kind !== expected) {
    throw encodeError(
      `event type ${eventType} takes a ${expected} reply, not ${info.kind}`,
      'event-reply-info',
      eventType,
    );
  }
  const at = writer.beginLength();
  if (info.kind === 'config-report-rsp') {
    writer.u16(info.configReportId, 'config-report-id');
    writer.u16(info.configResult, 'config-result');
  } else if (info.kind === 'segment-data-result') {
    writeSegmDataEventDescr(writer, info.segmDataEventDescr);
  } else {
    writer.bytes(info.bytes);
  }
  writer.endLength(at, 'event-reply-info');
}
