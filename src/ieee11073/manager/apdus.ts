/**
 * The APDUs the manager sends, already MDER-encoded.
 */
import type {
  ActionArgument,
  Apdu,
  DataMessage,
  EventReplyInfo,
  SegmDataEventDescr,
} from '../apdu.js';
import { ReleaseRequestReason, ReleaseResponseReason } from '../association.js';
import { encodeApdu } from '../encode.js';
import { finiteNumber } from '../float.js';
import { MdcObject } from '../nomenclature-table.js';
import { absoluteTimeFromDate, type BaseOffsetTime } from '../time.js';

const emptyReply: EventReplyInfo = { kind: 'raw', bytes: new Uint8Array(0) };

function prst(invokeId: number, message: DataMessage): Uint8Array {
  return encodeApdu({ kind: 'prst', data: { invokeId, message } });
}

export function encode(apdu: Apdu): Uint8Array {
  return encodeApdu(apdu);
}

export function abortApdu(reason: number): Uint8Array {
  return encodeApdu({ kind: 'abrt', reason });
}

export function releaseRequestApdu(): Uint8Array {
  return encodeApdu({ kind: 'rlrq', reason: ReleaseRequestReason.normal });
}

export function releaseResponseApdu(): Uint8Array {
  return encodeApdu({ kind: 'rlre', reason: ReleaseResponseReason.normal });
}

function eventReportResult(
  invokeId: number,
  objHandle: number,
  eventTime: number,
  eventType: number,
  reply: EventReplyInfo,
): Uint8Array {
  return prst(invokeId, {
    kind: 'rors-confirmed-event-report',
    objHandle,
    currentTime: eventTime,
    eventType,
    eventReplyInfo: reply,
  });
}

/**
 * A RORS with an empty event-reply-info, which the manager sends for every
 * stored confirmed report. Its fields sit at fixed offsets: PRST header and
 * invoke id, then the DataApdu CHOICE and length, obj-handle, current-time,
 * event-type and the empty reply's length.
 */
const emptyResultTemplate = Buffer.from(eventReportResult(0, 0, 0, 0, emptyReply));
const OBJ_HANDLE_OFFSET = 12;
const CURRENT_TIME_OFFSET = 14;
const EVENT_TYPE_OFFSET = 18;

/**
 * RORS of a confirmed event report: invoke id, object handle and event type
 * echo the report, and current-time echoes its event-time.
 */
export function eventReportResultApdu(
  invokeId: number,
  objHandle: number,
  eventTime: number,
  eventType: number,
  reply: EventReplyInfo = emptyReply,
): Uint8Array {
  if (reply !== emptyReply) {
    return eventReportResult(invokeId, objHandle, eventTime, eventType, reply);
  }
  // Written over a copy of the template, because this runs for every report.
  const bytes = Buffer.allocUnsafe(emptyResultTemplate.byteLength);
  emptyResultTemplate.copy(bytes);
  bytes.writeUInt16BE(invokeId, 6);
  bytes.writeUInt16BE(objHandle, OBJ_HANDLE_OFFSET);
  bytes.writeUInt32BE(eventTime, CURRENT_TIME_OFFSET);
  bytes.writeUInt16BE(eventType, EVENT_TYPE_OFFSET);
  return bytes;
}

/** RORS of a configuration report with the manager's ConfigResult. */
export function configReportResultApdu(
  invokeId: number,
  objHandle: number,
  eventTime: number,
  configReportId: number,
  configResult: number,
): Uint8Array {
  return eventReportResultApdu(invokeId, objHandle, eventTime, MdcObject.MDC_NOTI_CONFIG, {
    kind: 'config-report-rsp',
    configReportId,
    configResult,
  });
}

/**
 * RORS of a SegmentDataEvent: the SegmentDataResult repeats the event's
 * segm-data-event-descr with the manager's segm-evt-status.
 */
export function segmentDataResultApdu(
  invokeId: number,
  objHandle: number,
  eventTime: number,
  descr: SegmDataEventDescr,
): Uint8Array {
  return eventReportResultApdu(invokeId, objHandle, eventTime, MdcObject.MDC_NOTI_SEGMENT_DATA, {
    kind: 'segment-data-result',
    segmDataEventDescr: descr,
  });
}

/** Confirmed ACTION `actionType` on the object `objHandle`. */
export function confirmedActionApdu(
  invokeId: number,
  objHandle: number,
  actionType: number,
  actionInfoArgs: ActionArgument,
): Uint8Array {
  return prst(invokeId, { kind: 'roiv-confirmed-action', objHandle, actionType, actionInfoArgs });
}

export function rejectApdu(invokeId: number, problem: number): Uint8Array {
  return prst(invokeId, { kind: 'rorj', problem });
}

export function errorApdu(invokeId: number, errorValue: number): Uint8Array {
  return prst(invokeId, { kind: 'roer', errorValue, parameter: new Uint8Array(0) });
}

/** GET of every attribute of the MDS (handle 0): an empty attribute-id-list asks for all. */
export function mdsGetApdu(invokeId: number): Uint8Array {
  return prst(invokeId, { kind: 'roiv-get', objHandle: 0, attributeIdList: [] });
}

/** Confirmed ACTION MDC_ACT_SET_TIME with `date` as the agent's new absolute time. */
export function setTimeApdu(invokeId: number, date: Date): Uint8Array {
  return prst(invokeId, {
    kind: 'roiv-confirmed-action',
    objHandle: 0,
    actionType: MdcObject.MDC_ACT_SET_TIME,
    actionInfoArgs: {
      kind: 'set-time',
      dateTime: absoluteTimeFromDate(date),
      // Accuracy of the time sent; 0 claims no known error.
      accuracy: finiteNumber(0, 0),
    },
  });
}

/**
 * Returns `date` as a BaseOffsetTime: its UTC seconds and 1/65536 s fraction,
 * with `offsetMinutes` as the offset of local time from UTC.
 */
export function baseOffsetTimeFromDate(date: Date, offsetMinutes: number): BaseOffsetTime {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return {
    boSeconds: seconds,
    boFraction: Math.floor(((ms - seconds * 1000) * 65536) / 1000),
    boTimeOffset: offsetMinutes,
  };
}

/**
 * Confirmed ACTION MDC_ACT_SET_BO_TIME with `date` as the agent's new
 * base-offset time and `offsetMinutes` as its offset from UTC.
 */
export function setBaseOffsetTimeApdu(
  invokeId: number,
  date: Date,
  offsetMinutes: number,
): Uint8Array {
  return prst(invokeId, {
    kind: 'roiv-confirmed-action',
    objHandle: 0,
    actionType: MdcObject.MDC_ACT_SET_BO_TIME,
    actionInfoArgs: {
      kind: 'set-base-offset-time',
      dateTime: baseOffsetTimeFromDate(date, offsetMinutes),
      // Accuracy of the time sent; 0 claims no known error.
      accuracy: finiteNumber(0, 0),
    },
  });
}
