/**
 * Types for the IEEE 11073-20601 application protocol data units (APDUs) as
 * medward decodes and encodes them with MDER. Field names follow the ASN.1
 * names of IEEE 11073-20601 in camelCase (`obj-handle` is `objHandle`).
 *
 * Integer fields hold the wire value: OID-Type, HANDLE, INT-U16 and BITS-16
 * are numbers 0..0xFFFF, INT-U32, BITS-32 and RelativeTime are numbers
 * 0..0xFFFFFFFF. OCTET STRING and ANY DEFINED BY values the codec does not
 * interpret are `Uint8Array` views into the decoded buffer, so callers must not
 * modify the buffer while they use a decoded APDU.
 */
import type { MderNumber } from './float.js';
import type { AbsoluteTime, BaseOffsetTime } from './time.js';

/** One APDU: the top-level MDER CHOICE. */
export type Apdu = AarqApdu | AareApdu | RlrqApdu | RlreApdu | AbrtApdu | PrstApdu;

/** Association request, sent by an agent. */
export interface AarqApdu {
  kind: 'aarq';
  /** AssociationVersion (BITS-32); 0x80000000 is assoc-version1. */
  assocVersion: number;
  dataProtoList: DataProto[];
}

/** Association response, sent by a manager. */
export interface AareApdu {
  kind: 'aare';
  /** AssociateResult, see `AssociateResult`. */
  result: number;
  selectedDataProto: DataProto;
}

/** Release request; `reason` is a ReleaseRequestReason. */
export interface RlrqApdu {
  kind: 'rlrq';
  reason: number;
}

/** Release response; `reason` is a ReleaseResponseReason. */
export interface RlreApdu {
  kind: 'rlre';
  reason: number;
}

/** Abort; `reason` is an AbortReason. */
export interface AbrtApdu {
  kind: 'abrt';
  reason: number;
}

/** Presentation APDU carrying one DataApdu. */
export interface PrstApdu {
  kind: 'prst';
  data: DataApdu;
}

/** DataProto with the 20601 association information decoded, or any other protocol as bytes. */
export type DataProto =
  | { dataProtoId: 20601; dataProtoInfo: PhdAssociationInformation }
  | { dataProtoId: number; dataProtoInfo: Uint8Array };

export interface PhdAssociationInformation {
  protocolVersion: number;
  encodingRules: number;
  nomenclatureVersion: number;
  functionalUnits: number;
  systemType: number;
  /** EUI-64 of the sender (8 octets for conforming devices). */
  systemId: Uint8Array;
  devConfigId: number;
  dataReqModeCapab: DataReqModeCapab;
  optionList: Ava[];
}

export interface DataReqModeCapab {
  dataReqModeFlags: number;
  dataReqInitAgentCount: number;
  dataReqInitManagerCount: number;
}

/** DataApdu: an invoke id and one remote operation message. */
export interface DataApdu {
  invokeId: number;
  message: DataMessage;
}

export type DataMessage =
  | RoivEventReport
  | RoivGet
  | RoivSet
  | RoivAction
  | RorsEventReport
  | RorsGet
  | RorsSet
  | RorsAction
  | Roer
  | Rorj;

/** Remote operation invoke: event report (EventReportArgumentSimple). */
export interface RoivEventReport {
  kind: 'roiv-event-report' | 'roiv-confirmed-event-report';
  objHandle: number;
  /** RelativeTime in 1/8 ms ticks; 0xFFFFFFFF when the agent has no relative time. */
  eventTime: number;
  eventType: number;
  eventInfo: EventInfo;
}

/** Remote operation invoke: GET (GetArgumentSimple). An empty list requests all attributes. */
export interface RoivGet {
  kind: 'roiv-get';
  objHandle: number;
  attributeIdList: number[];
}

/** Remote operation invoke: SET (SetArgumentSimple). */
export interface RoivSet {
  kind: 'roiv-set' | 'roiv-confirmed-set';
  objHandle: number;
  modificationList: AttributeModEntry[];
}

/** Remote operation invoke: ACTION (ActionArgumentSimple). */
export interface RoivAction {
  kind: 'roiv-action' | 'roiv-confirmed-action';
  objHandle: number;
  actionType: number;
  actionInfoArgs: ActionArgument;
}

/** Remote operation result: confirmed event report (EventReportResultSimple). */
export interface RorsEventReport {
  kind: 'rors-confirmed-event-report';
  objHandle: number;
  currentTime: number;
  eventType: number;
  eventReplyInfo: EventReplyInfo;
}

/** Remote operation result: GET (GetResultSimple). */
export interface RorsGet {
  kind: 'rors-get';
  objHandle: number;
  attributeList: Ava[];
}

/** Remote operation result: confirmed SET (SetResultSimple). */
export interface RorsSet {
  kind: 'rors-confirmed-set';
  objHandle: number;
  attributeList: Ava[];
}

/** Remote operation result: confirmed ACTION (ActionResultSimple). */
export interface RorsAction {
  kind: 'rors-confirmed-action';
  objHandle: number;
  actionType: number;
  actionInfoArgs: ActionResult;
}

/** Remote operation error (ErrorResult); `errorValue` is a RoerErrorValue. */
export interface Roer {
  kind: 'roer';
  errorValue: number;
  parameter: Uint8Array;
}

/** Remote operation reject (RejectResult); `problem` is a RorjProblem. */
export interface Rorj {
  kind: 'rorj';
  problem: number;
}

/** AVA-Type: one attribute id with its value. */
export interface Ava {
  attributeId: number;
  value: AttributeValue;
}

export interface AttributeModEntry {
  /** ModifyOperator: replace (0), add-values (1), remove-values (2), set-to-default (3). */
  modifyOperator: number;
  attribute: Ava;
}

/**
 * Attribute values by their ASN.1 type. The decoder picks the kind from the
 * attribute id (see `attributeValueKind`); ids it does not know stay `raw`.
 */
export type AttributeValue =
  | { kind: 'raw'; bytes: Uint8Array }
  | { kind: 'u16'; value: number }
  | { kind: 'u32'; value: number }
  | { kind: 'relative-time'; value: number }
  | { kind: 'high-res-relative-time'; value: bigint }
  | { kind: 'absolute-time'; value: AbsoluteTime }
  | { kind: 'base-offset-time'; value: BaseOffsetTime }
  | { kind: 'octet-string'; value: Uint8Array }
  | { kind: 'type'; value: TypeValue }
  | { kind: 'type-list'; value: TypeValue[] }
  | { kind: 'u16-list'; value: number[] }
  | { kind: 'float'; value: MderNumber }
  | { kind: 'sfloat'; value: MderNumber }
  | { kind: 'float-list'; value: MderNumber[] }
  | { kind: 'sfloat-list'; value: MderNumber[] }
  | { kind: 'nu-obs-value'; value: NuObsValue }
  | { kind: 'nu-obs-value-list'; value: NuObsValue[] }
  | { kind: 'enum-obs-value'; value: EnumObsValue }
  | { kind: 'attr-val-map'; value: AttrValMapEntry[] }
  | { kind: 'handle-attr-val-map'; value: HandleAttrValMapEntry[] }
  | { kind: 'metric-structure-small'; value: MetricStructureSmall }
  | { kind: 'system-model'; value: SystemModel }
  | { kind: 'production-spec'; value: ProdSpecEntry[] }
  | { kind: 'type-ver-list'; value: TypeVer[] }
  | { kind: 'reg-cert-data-list'; value: RegCertData[] }
  | { kind: 'mds-time-info'; value: MdsTimeInfo }
  | { kind: 'sa-spec'; value: SaSpec }
  | { kind: 'scale-range-spec'; value: ScaleRangeSpec }
  | { kind: 'bat-measure'; value: BatMeasure }
  | { kind: 'pm-segment-entry-map'; value: PmSegmentEntryMap };

export type AttributeValueKind = AttributeValue['kind'];

/** TYPE: a nomenclature partition and a term code within it. */
export interface TypeValue {
  partition: number;
  code: number;
}

export interface AttrValMapEntry {
  attributeId: number;
  attributeLen: number;
}

export interface HandleAttrValMapEntry {
  objHandle: number;
  attrValMap: AttrValMapEntry[];
}

export interface MetricStructureSmall {
  /** ms-struct-simple (0), ms-struct-compound (1), ms-struct-compound-fix (3). */
  msStruct: number;
  msCompNo: number;
}

export interface NuObsValue {
  metricId: number;
  /** MeasurementStatus (BITS-16). */
  state: number;
  unitCode: number;
  value: MderNumber;
}

/** EnumObsValue with its EnumVal CHOICE. */
export interface EnumObsValue {
  metricId: number;
  state: number;
  value: EnumVal;
}

export type EnumVal =
  | { choice: 'enum-obj-id'; value: number }
  | { choice: 'enum-text-string'; value: Uint8Array }
  | { choice: 'enum-bit-str'; value: number }
  | { choice: 'unknown'; tag: number; bytes: Uint8Array };

export interface SystemModel {
  manufacturer: Uint8Array;
  modelNumber: Uint8Array;
}

export interface ProdSpecEntry {
  /** unspecified (0), serial-number (1), part-number (2), hw-revision (3), sw-revision (4), ... */
  specType: number;
  componentId: number;
  prodSpec: Uint8Array;
}

export interface TypeVer {
  type: number;
  version: number;
}

export interface RegCertData {
  authBody: number;
  authBodyStrucType: number;
  authBodyData: Uint8Array;
}

export interface MdsTimeInfo {
  mdsTimeCapState: number;
  timeSyncProtocol: number;
  /** RelativeTime ticks. */
  timeSyncAccuracy: number;
  timeResolutionAbsTime: number;
  timeResolutionRelTime: number;
  timeResolutionHighResTime: number;
}

export interface SaSpec {
  arraySize: number;
  sampleSize: number;
  significantBits: number;
  flags: number;
}

/** ScaleRangeSpec8, ScaleRangeSpec16 or ScaleRangeSpec32, by `scaledBits`. */
export interface ScaleRangeSpec {
  scaledBits: 8 | 16 | 32;
  lowerAbsoluteValue: MderNumber;
  upperAbsoluteValue: MderNumber;
  lowerScaledValue: number;
  upperScaledValue: number;
}

export interface BatMeasure {
  value: MderNumber;
  unit: number;
}

export interface PmSegmentEntryMap {
  segmEntryHeader: number;
  segmEntryElemList: SegmEntryElem[];
}

export interface SegmEntryElem {
  classId: number;
  metricType: TypeValue;
  handle: number;
  attrValMap: AttrValMapEntry[];
}

/** Event information of an event report, decoded by event type. */
export type EventInfo =
  | ConfigReportInfo
  | ScanReportFixedInfo
  | ScanReportVarInfo
  | ScanReportGroupedInfo
  | ScanReportMpFixedInfo
  | ScanReportMpVarInfo
  | ScanReportMpGroupedInfo
  | SegmentDataEventInfo
  | RawInfo;

/**
 * Fields shared by decoded event information. `trailing` keeps the bytes an
 * agent sent after the structure but inside the declared event-info length.
 * The decoder tolerates them with a quirk, and the encoder writes them back.
 */
export interface TrailingBytes {
  trailing?: Uint8Array;
}

export interface RawInfo {
  kind: 'raw';
  bytes: Uint8Array;
}

/** ConfigReport (MDC_NOTI_CONFIG). */
export interface ConfigReportInfo extends TrailingBytes {
  kind: 'config-report';
  configReportId: number;
  configObjList: ConfigObject[];
}

export interface ConfigObject {
  objClass: number;
  objHandle: number;
  attributes: Ava[];
}

export interface ScanReportHeader extends TrailingBytes {
  dataReqId: number;
  scanReportNo: number;
}

export interface ObservationScanFixed {
  objHandle: number;
  /** Attribute values laid out by the object's attribute-value-map. */
  obsValData: Uint8Array;
}

export interface ObservationScan {
  objHandle: number;
  attributes: Ava[];
}

export interface ScanReportFixedInfo extends ScanReportHeader {
  kind: 'scan-fixed';
  obsScanFixed: ObservationScanFixed[];
}

export interface ScanReportVarInfo extends ScanReportHeader {
  kind: 'scan-var';
  obsScanVar: ObservationScan[];
}

export interface ScanReportGroupedInfo extends ScanReportHeader {
  kind: 'scan-grouped';
  /** Each entry contains the values of all handles of the scanner's handle-attr-val-map. */
  obsScanGrouped: Uint8Array[];
}

export interface ScanReportPerFixed {
  personId: number;
  obsScanFixed: ObservationScanFixed[];
}

export interface ScanReportPerVar {
  personId: number;
  obsScanVar: ObservationScan[];
}

export interface ScanReportPerGrouped {
  personId: number;
  obsScanGrouped: Uint8Array;
}

export interface ScanReportMpFixedInfo extends ScanReportHeader {
  kind: 'scan-mp-fixed';
  scanPerFixed: ScanReportPerFixed[];
}

export interface ScanReportMpVarInfo extends ScanReportHeader {
  kind: 'scan-mp-var';
  scanPerVar: ScanReportPerVar[];
}

export interface ScanReportMpGroupedInfo extends ScanReportHeader {
  kind: 'scan-mp-grouped';
  scanPerGrouped: ScanReportPerGrouped[];
}

export interface SegmDataEventDescr {
  segmInstance: number;
  segmEvtEntryIndex: number;
  segmEvtEntryCount: number;
  segmEvtStatus: number;
}

/** SegmentDataEvent (MDC_NOTI_SEGMENT_DATA); entries stay bytes laid out by the PM-segment map. */
export interface SegmentDataEventInfo extends TrailingBytes {
  kind: 'segment-data';
  segmDataEventDescr: SegmDataEventDescr;
  segmDataEventEntries: Uint8Array;
}

/** Reply information of a confirmed event report result. */
export type EventReplyInfo =
  | { kind: 'config-report-rsp'; configReportId: number; configResult: number }
  | { kind: 'segment-data-result'; segmDataEventDescr: SegmDataEventDescr }
  | RawInfo;

/** Arguments of an ACTION invoke, decoded by action type. */
export type ActionArgument =
  | { kind: 'set-time'; dateTime: AbsoluteTime; accuracy: MderNumber }
  | { kind: 'set-base-offset-time'; dateTime: BaseOffsetTime; accuracy: MderNumber }
  | ({ kind: 'data-request' } & DataRequest)
  | { kind: 'segment-selection'; selection: SegmSelection }
  | { kind: 'trig-segm-data-xfer-req'; segInstNo: number }
  | RawInfo;

export interface DataRequest {
  dataReqId: number;
  dataReqMode: number;
  dataReqTime: number;
  dataReqPersonId: number;
  dataReqClass: number;
  dataReqObjHandleList: number[];
}

export type SegmSelection =
  | { choice: 'all-segments'; value: number }
  | { choice: 'segm-id-list'; value: number[] }
  | { choice: 'abs-time-range'; fromTime: AbsoluteTime; toTime: AbsoluteTime }
  | { choice: 'unknown'; tag: number; bytes: Uint8Array };

/** Results of a confirmed ACTION, decoded by action type. */
export type ActionResult =
  | {
      kind: 'data-response';
      relTimeStamp: number;
      dataReqResult: number;
      eventType: number;
      eventInfo: EventInfo;
    }
  | { kind: 'segment-info-list'; segmentInfo: SegmentInfo[] }
  | { kind: 'trig-segm-data-xfer-rsp'; segInstNo: number; trigSegmXferRsp: number }
  | RawInfo;

export interface SegmentInfo {
  segInstNo: number;
  segInfo: Ava[];
}
