/**
 * Arguments and results of the ACTION service (ANY DEFINED BY action-type):
 * set time, data request, and the PM-store segment actions.
 */
import type { ActionArgument, ActionResult, SegmSelection, SegmentInfo } from './apdu.js';
import { readFloat, readU16List, writeFloat, writeU16List } from './attribute-values.js';
import { readAttributeList, writeAttributeList } from './attributes.js';
import { readEventInfo, writeEventInfo } from './events.js';
import type { MderReader, MderWriter } from './mder.js';
import { encodeError } from './mder-error.js';
import { MdcObject as O } from './nomenclature-table.js';
import {
  readAbsoluteTime,
  readBaseOffsetTime,
  writeAbsoluteTime,
  writeBaseOffsetTime,
} from './time.js';

/** TrigSegmXferRsp: the agent's response to MDC_ACT_SEG_TRIG_XFER. */
export const TrigSegmXferRsp = {
  successful: 0,
  failNoSuchSegment: 1,
  failSegmTryLater: 2,
  failSegmEmpty: 3,
  failOther: 512,
} as const;

/** SegmSelection CHOICE tags. */
const SegmSelectionTag = { allSegments: 1, segmIdList: 2, absTimeRange: 3 } as const;

function readSegmSelection(reader: MderReader): SegmSelection {
  const field = 'segm-selection';
  const tag = reader.u16(field);
  const length = reader.u16(field);
  reader.enter(length, field);
  let selection: SegmSelection;
  if (tag === SegmSelectionTag.allSegments) {
    selection = { choice: 'all-segments', value: reader.u16(field) };
  } else if (tag === SegmSelectionTag.segmIdList) {
    selection = { choice: 'segm-id-list', value: readU16List(reader, 'segm-id-list') };
  } else if (tag === SegmSelectionTag.absTimeRange) {
    const fromTime = readAbsoluteTime(reader);
    selection = { choice: 'abs-time-range', fromTime, toTime: readAbsoluteTime(reader) };
  } else {
    selection = { choice: 'unknown', tag, bytes: reader.take(reader.remaining, field) };
  }
  reader.leave(field);
  return selection;
}

function writeSegmSelection(writer: MderWriter, selection: SegmSelection): void {
  const field = 'segm-selection';
  const tag =
    selection.choice === 'all-segments'
      ? SegmSelectionTag.allSegments
      : selection.choice === 'segm-id-list'
        ? SegmSelectionTag.segmIdList
        : selection.choice === 'abs-time-range'
          ? SegmSelectionTag.absTimeRange
          : selection.tag;
  writer.u16(tag, field);
  const at = writer.beginLength();
  switch (selection.choice) {
    case 'all-segments':
      writer.u16(selection.value, field);
      break;
    case 'segm-id-list':
      writeU16List(writer, selection.value, 'segm-id-list');
      break;
    case 'abs-time-range':
      writeAbsoluteTime(writer, selection.fromTime);
      writeAbsoluteTime(writer, selection.toTime);
      break;
    case 'unknown':
      writer.bytes(selection.bytes);
      break;
  }
  writer.endLength(at, field);
}

function readDataRequest(reader: MderReader): ActionArgument {
  const field = 'data-request';
  return {
    kind: 'data-request',
    dataReqId: reader.u16(field),
    dataReqMode: reader.u16(field),
    dataReqTime: reader.u32(field),
    dataReqPersonId: reader.u16(field),
    dataReqClass: reader.u16(field),
    dataReqObjHandleList: readU16List(reader, 'data-req-obj-handle-list'),
  };
}

function readTypedArgument(reader: MderReader, actionType: number): ActionArgument {
  switch (actionType) {
    case O.MDC_ACT_SET_TIME: {
      const dateTime = readAbsoluteTime(reader);
      return { kind: 'set-time', dateTime, accuracy: readFloat(reader, 'accuracy') };
    }
    case O.MDC_ACT_SET_BO_TIME: {
      const dateTime = readBaseOffsetTime(reader);
      return { kind: 'set-base-offset-time', dateTime, accuracy: readFloat(reader, 'accuracy') };
    }
    case O.MDC_ACT_DATA_REQUEST:
      return readDataRequest(reader);
    case O.MDC_ACT_SEG_GET_INFO:
    case O.MDC_ACT_SEG_CLR:
      return { kind: 'segment-selection', selection: readSegmSelection(reader) };
    case O.MDC_ACT_SEG_TRIG_XFER:
      return { kind: 'trig-segm-data-xfer-req', segInstNo: reader.u16('seg-inst-no') };
    default:
      return { kind: 'raw', bytes: reader.take(reader.remaining, 'action-info-args') };
  }
}

/** Reads the length-prefixed action-info-args of an ACTION invoke. */
export function readActionArgument(reader: MderReader, actionType: number): ActionArgument {
  const field = 'action-info-args';
  const length = reader.u16(field);
  reader.enter(length, field);
  const argument = readTypedArgument(reader, actionType);
  reader.leave(field);
  return argument;
}

function readSegmentInfoList(reader: MderReader): SegmentInfo[] {
  const field = 'segment-info-list';
  const count = reader.beginList(6, field);
  const list: SegmentInfo[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    const segInstNo = reader.u16('seg-inst-no');
    list.push({ segInstNo, segInfo: readAttributeList(reader) });
  }
  reader.leave(field);
  return list;
}

function readTypedResult(reader: MderReader, actionType: number): ActionResult {
  switch (actionType) {
    case O.MDC_ACT_DATA_REQUEST: {
      const relTimeStamp = reader.u32('rel-time-stamp');
      const dataReqResult = reader.u16('data-req-result');
      const eventType = reader.u16('event-type');
      const length = reader.u16('event-info');
      const eventInfo = readEventInfo(reader, eventType, length);
      return { kind: 'data-response', relTimeStamp, dataReqResult, eventType, eventInfo };
    }
    case O.MDC_ACT_SEG_GET_INFO:
      return { kind: 'segment-info-list', segmentInfo: readSegmentInfoList(reader) };
    case O.MDC_ACT_SEG_TRIG_XFER: {
      const segInstNo = reader.u16('seg-inst-no');
      return {
        kind: 'trig-segm-data-xfer-rsp',
        segInstNo,
        trigSegmXferRsp: reader.u16('trig-segm-xfer-rsp'),
      };
    }
    default:
      return { kind: 'raw', bytes: reader.take(reader.remaining, 'action-info-args') };
  }
}

/** Reads the length-prefixed action-info-args of a confirmed ACTION result. */
export function readActionResult(reader: MderReader, actionType: number): ActionResult {
  const field = 'action-info-args';
  const length = reader.u16(field);
  reader.enter(length, field);
  const result = readTypedResult(reader, actionType);
  reader.leave(field);
  return result;
}

const argumentKindByAction = new Map<number, ActionArgument['kind']>([
  [O.MDC_ACT_SET_TIME, 'set-time'],
  [O.MDC_ACT_SET_BO_TIME, 'set-base-offset-time'],
  [O.MDC_ACT_DATA_REQUEST, 'data-request'],
  [O.MDC_ACT_SEG_GET_INFO, 'segment-selection'],
  [O.MDC_ACT_SEG_CLR, 'segment-selection'],
  [O.MDC_ACT_SEG_TRIG_XFER, 'trig-segm-data-xfer-req'],
]);

const resultKindByAction = new Map<number, ActionResult['kind']>([
  [O.MDC_ACT_DATA_REQUEST, 'data-response'],
  [O.MDC_ACT_SEG_GET_INFO, 'segment-info-list'],
  [O.MDC_ACT_SEG_TRIG_XFER, 'trig-segm-data-xfer-rsp'],
]);

function checkActionKind(actionType: number, kind: string, expected: string): void {
  if (kind !== 'raw' && kind !== expected) {
    throw encodeError(
      `action ${actionType} takes ${expected} action-info-args, not ${kind}`,
      'action-info-args',
      actionType,
    );
  }
}

function writeTypedArgument(writer: MderWriter, argument: ActionArgument): void {
  switch (argument.kind) {
    case 'set-time':
      writeAbsoluteTime(writer, argument.dateTime);
      writeFloat(writer, argument.accuracy, 'accuracy');
      return;
    case 'set-base-offset-time':
      writeBaseOffsetTime(writer, argument.dateTime);
      writeFloat(writer, argument.accuracy, 'accuracy');
      return;
    case 'data-request':
      writer.u16(argument.dataReqId, 'data-req-id');
      writer.u16(argument.dataReqMode, 'data-req-mode');
      writer.u32(argument.dataReqTime, 'data-req-time');
      writer.u16(argument.dataReqPersonId, 'data-req-person-id');
      writer.u16(argument.dataReqClass, 'data-req-class');
      writeU16List(writer, argument.dataReqObjHandleList, 'data-req-obj-handle-list');
      return;
    case 'segment-selection':
      writeSegmSelection(writer, argument.selection);
      return;
    case 'trig-segm-data-xfer-req':
      writer.u16(argument.segInstNo, 'seg-inst-no');
      return;
    case 'raw':
      writer.bytes(argument.bytes);
      return;
  }
}

export function writeActionArgument(
  writer: MderWriter,
  actionType: number,
  argument: ActionArgument,
): void {
  checkActionKind(actionType, argument.kind, argumentKindByAction.get(actionType) ?? 'raw');
  const at = writer.beginLength();
  writeTypedArgument(writer, argument);
  writer.endLength(at, 'action-info-args');
}

function writeTypedResult(writer: MderWriter, result: ActionResult): void {
  switch (result.kind) {
    case 'data-response':
      writer.u32(result.relTimeStamp, 'rel-time-stamp');
      writer.u16(result.dataReqResult, 'data-req-result');
      writer.u16(result.eventType, 'event-type');
      writeEventInfo(writer, result.eventType, result.eventInfo);
      return;
    case 'segment-info-list': {
      const at = writer.beginList(result.segmentInfo.length, 'segment-info-list');
      for (const entry of result.segmentInfo) {
        writer.u16(entry.segInstNo, 'seg-inst-no');
        writeAttributeList(writer, entry.segInfo);
      }
      writer.endLength(at, 'segment-info-list');
      return;
    }
    case 'trig-segm-data-xfer-rsp':
      writer.u16(result.segInstNo, 'seg-inst-no');
      writer.u16(result.trigSegmXferRsp, 'trig-segm-xfer-rsp');
      return;
    case 'raw':
      writer.bytes(result.bytes);
      return;
  }
}

export function writeActionResult(
  writer: MderWriter,
  actionType: number,
  result: ActionResult,
): void {
  checkActionKind(actionType, result.kind, resultKindByAction.get(actionType) ?? 'raw');
  const at = writer.beginLength();
  writeTypedResult(writer, result);
  writer.endLength(at, 'action-info-args');
}
