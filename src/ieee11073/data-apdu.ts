/**
 * The message CHOICE of a DataApdu: remote operation invokes (ROIV), results
 * (RORS), errors (ROER) and rejects (RORJ) of the event report, GET, SET and
 * ACTION services.
 */
import {
  readActionArgument,
  readActionResult,
  writeActionArgument,
  writeActionResult,
} from './actions.js';
import type { DataMessage } from './apdu.js';
import { readU16List, writeU16List } from './attribute-values.js';
import {
  readAttributeList,
  readModificationList,
  writeAttributeList,
  writeModificationList,
} from './attributes.js';
import {
  readEventInfo,
  readEventReplyInfo,
  writeEventInfo,
  writeEventReplyInfo,
} from './events.js';
import type { MderReader, MderWriter } from './mder.js';
import { MderErrorCode } from './mder-error.js';

/** CHOICE tags of the DataApdu message. */
export const MessageTag = {
  'roiv-event-report': 0x0100,
  'roiv-confirmed-event-report': 0x0101,
  'roiv-get': 0x0103,
  'roiv-set': 0x0104,
  'roiv-confirmed-set': 0x0105,
  'roiv-action': 0x0106,
  'roiv-confirmed-action': 0x0107,
  'rors-confirmed-event-report': 0x0201,
  'rors-get': 0x0203,
  'rors-confirmed-set': 0x0205,
  'rors-confirmed-action': 0x0207,
  roer: 0x0300,
  rorj: 0x0400,
} as const satisfies Record<DataMessage['kind'], number>;

/** RoerErrorValue of a ROER. */
export const RoerErrorValue = {
  noSuchObjectInstance: 1,
  accessDenied: 2,
  noSuchAction: 9,
  invalidObjectInstance: 17,
  protocolViolation: 23,
  notAllowedByObject: 24,
  actionTimedOut: 25,
  actionAborted: 26,
} as const;

function readEventReport(
  reader: MderReader,
  kind: 'roiv-event-report' | 'roiv-confirmed-event-report',
): DataMessage {
  const objHandle = reader.u16('obj-handle');
  const eventTime = reader.u32('event-time');
  const eventType = reader.u16('event-type');
  const length = reader.u16('event-info');
  return {
    kind,
    objHandle,
    eventTime,
    eventType,
    eventInfo: readEventInfo(reader, eventType, length),
  };
}

function readInvoke(reader: MderReader, tag: number): DataMessage | undefined {
  switch (tag) {
    case MessageTag['roiv-event-report']:
      return readEventReport(reader, 'roiv-event-report');
    case MessageTag['roiv-confirmed-event-report']:
      return readEventReport(reader, 'roiv-confirmed-event-report');
    case MessageTag['roiv-get']: {
      const objHandle = reader.u16('obj-handle');
      return {
        kind: 'roiv-get',
        objHandle,
        attributeIdList: readU16List(reader, 'attribute-id-list'),
      };
    }
    case MessageTag['roiv-set']:
    case MessageTag['roiv-confirmed-set']: {
      const kind = tag === MessageTag['roiv-set'] ? 'roiv-set' : 'roiv-confirmed-set';
      const objHandle = reader.u16('obj-handle');
      return { kind, objHandle, modificationList: readModificationList(reader) };
    }
    case MessageTag['roiv-action']:
    case MessageTag['roiv-confirmed-action']: {
      const kind = tag === MessageTag['roiv-action'] ? 'roiv-action' : 'roiv-confirmed-action';
      const objHandle = reader.u16('obj-handle');
      const actionType = reader.u16('action-type');
      return {
        kind,
        objHandle,
        actionType,
        actionInfoArgs: readActionArgument(reader, actionType),
      };
    }
    default:
      return undefined;
  }
}

function readResponse(reader: MderReader, tag: number): DataMessage | undefined {
  switch (tag) {
    case MessageTag['rors-confirmed-event-report']: {
      const objHandle = reader.u16('obj-handle');
      const currentTime = reader.u32('current-time');
      const eventType = reader.u16('event-type');
      const eventReplyInfo = readEventReplyInfo(reader, eventType);
      return {
        kind: 'rors-confirmed-event-report',
        objHandle,
        currentTime,
        eventType,
        eventReplyInfo,
      };
    }
    case MessageTag['rors-get']:
    case MessageTag['rors-confirmed-set']: {
      const kind = tag === MessageTag['rors-get'] ? 'rors-get' : 'rors-confirmed-set';
      const objHandle = reader.u16('obj-handle');
      return { kind, objHandle, attributeList: readAttributeList(reader) };
    }
    case MessageTag['rors-confirmed-action']: {
      const objHandle = reader.u16('obj-handle');
      const actionType = reader.u16('action-type');
      const actionInfoArgs = readActionResult(reader, actionType);
      return { kind: 'rors-confirmed-action', objHandle, actionType, actionInfoArgs };
    }
    case MessageTag.roer: {
      const errorValue = reader.u16('error-value');
      return { kind: 'roer', errorValue, parameter: reader.octetString('parameter') };
    }
    case MessageTag.rorj:
      return { kind: 'rorj', problem: reader.u16('problem') };
    default:
      return undefined;
  }
}

/** Reads the message CHOICE of a DataApdu; the content must use exactly its declared length. */
export function readDataMessage(reader: MderReader): DataMessage {
  const tagOffset = reader.pos;
  const tag = reader.u16('message');
  const length = reader.u16('message');
  reader.enter(length, 'message');
  const message = readInvoke(reader, tag) ?? readResponse(reader, tag);
  if (message === undefined) {
    throw reader.fail(
      MderErrorCode.UnknownChoice,
      'message',
      `DataApdu message CHOICE 0x${tag.toString(16).padStart(4, '0')} is unknown`,
      tag,
      tagOffset,
    );
  }
  reader.leave('message');
  return message;
}

type MessageWriters = {
  readonly [K in DataMessage['kind']]: (
    writer: MderWriter,
    message: Extract<DataMessage, { kind: K }>,
  ) => void;
};

function writeEventReport(
  writer: MderWriter,
  message: Extract<DataMessage, { kind: 'roiv-event-report' | 'roiv-confirmed-event-report' }>,
): void {
  writer.u16(message.objHandle, 'obj-handle');
  writer.u32(message.eventTime, 'event-time');
  writer.u16(message.eventType, 'event-type');
  writeEventInfo(writer, message.eventType, message.eventInfo);
}

function writeSet(
  writer: MderWriter,
  message: Extract<DataMessage, { kind: 'roiv-set' | 'roiv-confirmed-set' }>,
): void {
  writer.u16(message.objHandle, 'obj-handle');
  writeModificationList(writer, message.modificationList);
}

function writeAction(
  writer: MderWriter,
  message: Extract<DataMessage, { kind: 'roiv-action' | 'roiv-confirmed-action' }>,
): void {
  writer.u16(message.objHandle, 'obj-handle');
  writer.u16(message.actionType, 'action-type');
  writeActionArgument(writer, message.actionType, message.actionInfoArgs);
}

function writeAttributeResult(
  writer: MderWriter,
  message: Extract<DataMessage, { kind: 'rors-get' | 'rors-confirmed-set' }>,
): void {
  writer.u16(message.objHandle, 'obj-handle');
  writeAttributeList(writer, message.attributeList);
}

/** Writer of each message body, the inverse of `readInvoke` and `readResponse`. */
const messageWriters: MessageWriters = {
  'roiv-event-report': writeEventReport,
  'roiv-confirmed-event-report': writeEventReport,
  'roiv-get': (writer, message) => {
    writer.u16(message.objHandle, 'obj-handle');
    writeU16List(writer, message.attributeIdList, 'attribute-id-list');
  },
  'roiv-set': writeSet,
  'roiv-confirmed-set': writeSet,
  'roiv-action': writeAction,
  'roiv-confirmed-action': writeAction,
  'rors-confirmed-event-report': (writer, message) => {
    writer.u16(message.objHandle, 'obj-handle');
    writer.u32(message.currentTime, 'current-time');
    writer.u16(message.eventType, 'event-type');
    writeEventReplyInfo(writer, message.eventType, message.eventReplyInfo);
  },
  'rors-get': writeAttributeResult,
  'rors-confirmed-set': writeAttributeResult,
  'rors-confirmed-action': (writer, message) => {
    writer.u16(message.objHandle, 'obj-handle');
    writer.u16(message.actionType, 'action-type');
    writeActionResult(writer, message.actionType, message.actionInfoArgs);
  },
  roer: (writer, message) => {
    writer.u16(message.errorValue, 'error-value');
    writer.octetString(message.parameter, 'parameter');
  },
  rorj: (writer, message) => {
    writer.u16(message.problem, 'problem');
  },
};

export function writeDataMessage(writer: MderWriter, message: DataMessage): void {
  writer.u16(MessageTag[message.kind], 'message');
  const at = writer.beginLength();
  // The table is keyed by kind, so the writer found for message.kind takes this message.
  const write = messageWriters[message.kind] as (writer: MderWriter, message: DataMessage) => void;
  write(writer, message);
  writer.endLength(at, 'message');
}
