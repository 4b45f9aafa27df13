/**
 * Hand-built APDUs that cover every message, event and action structure of
 * the codec, for round-trip, extraction and fuzz tests. The configuration
 * report `sampleConfigReport` describes the objects the sample scan reports
 * use: numerics 1-3 and an enumeration 4 on the MDS, a periodic scanner 5
 * whose grouped reports carry handles 1 and 2, and a PM-store 6.
 */
import {
  AssociateResult,
  MdcObject as O,
  MdcPartition,
  MdcScada as S,
  MdcDimension as D,
  MderSpecial,
  finiteNumber,
  type Apdu,
  type Ava,
  type AttributeValue,
  type DataMessage,
  type EventInfo,
  type SegmSelection,
} from '../../src/ieee11073/index.js';

const time = {
  century: 20,
  year: 24,
  month: 3,
  day: 5,
  hour: 6,
  minute: 7,
  second: 8,
  secFractions: 45,
};

function ava(attributeId: number, value: AttributeValue): Ava {
  return { attributeId, value };
}

function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

function prst(invokeId: number, message: DataMessage): Apdu {
  return { kind: 'prst', data: { invokeId, message } };
}

function event(
  eventType: number,
  eventInfo: EventInfo,
  objHandle = 0,
  confirmed = true,
): DataMessage {
  return {
    kind: confirmed ? 'roiv-confirmed-event-report' : 'roiv-event-report',
    objHandle,
    eventTime: 0x1234,
    eventType,
    eventInfo,
  };
}

function valueMap(...entries: [number, number][]): AttributeValue {
  return {
    kind: 'attr-val-map',
    value: entries.map(([attributeId, attributeLen]) => ({ attributeId, attributeLen })),
  };
}

const numericObjects = [
  {
    objClass: O.MDC_MOC_VMO_METRIC_NU,
    objHandle: 1,
    attributes: [
      ava(O.MDC_ATTR_ID_TYPE, {
        kind: 'type',
        value: { partition: MdcPartition.scada, code: S.MDC_MASS_BODY_ACTUAL },
      }),
      ava(O.MDC_ATTR_METRIC_SPEC_SMALL, { kind: 'u16', value: 0xf040 }),
      ava(O.MDC_ATTR_UNIT_CODE, { kind: 'u16', value: D.MDC_DIM_KILO_G }),
      ava(
        O.MDC_ATTR_ATTRIBUTE_VAL_MAP,
        valueMap([O.MDC_ATTR_NU_VAL_OBS_SIMP, 4], [O.MDC_ATTR_TIME_STAMP_ABS, 8]),
      ),
    ],
  },
  {
    objClass: O.MDC_MOC_VMO_METRIC_NU,
    objHandle: 2,
    attributes: [
      ava(O.MDC_ATTR_ID_TYPE, {
        kind: 'type',
        value: { partition: MdcPartition.scada, code: S.MDC_PRESS_BLD_NONINV },
      }),
      ava(O.MDC_ATTR_METRIC_STRUCT_SMALL, {
        kind: 'metric-structure-small',
        value: { msStruct: 3, msCompNo: 3 },
      }),
      ava(O.MDC_ATTR_ID_PHYSIO_LIST, {
        kind: 'u16-list',
        value: [
          S.MDC_PRESS_BLD_NONINV_SYS,
          S.MDC_PRESS_BLD_NONINV_DIA,
          S.MDC_PRESS_BLD_NONINV_MEAN,
        ],
      }),
      ava(O.MDC_ATTR_UNIT_CODE, { kind: 'u16', value: D.MDC_DIM_MMHG }),
      ava(O.MDC_ATTR_ATTRIBUTE_VAL_MAP, valueMap([O.MDC_ATTR_NU_CMPD_VAL_OBS_BASIC, 10])),
    ],
  },
  {
    objClass: O.MDC_MOC_VMO_METRIC_NU,
    objHandle: 3,
    attributes: [
      ava(O.MDC_ATTR_ID_TYPE, {
        kind: 'type',
        value: { partition: MdcPartition.scada, code: S.MDC_TEMP_BODY },
      }),
      ava(O.MDC_ATTR_UNIT_CODE, { kind: 'u16', value: D.MDC_DIM_DEGC }),
      ava(O.MDC_ATTR_SUPPLEMENTAL_TYPES, {
        kind: 'type-list',
        value: [{ partition: MdcPartition.scada, code: S.MDC_MODALITY_SPOT }],
      }),
      ava(O.MDC_ATTR_NU_ACCUR_MSMT, { kind: 'float', value: finiteNumber(1, -1) }),
      ava(
        O.MDC_ATTR_ATTRIBUTE_VAL_MAP,
        valueMap([O.MDC_ATTR_NU_VAL_OBS_BASIC, 2], [O.MDC_ATTR_TIME_STAMP_REL, 4]),
      ),
    ],
  },
  {
    objClass: O.MDC_MOC_VMO_METRIC_ENUM,
    objHandle: 4,
    attributes: [
      ava(O.MDC_ATTR_ID_TYPE, {
        kind: 'type',
        value: { partition: MdcPartition.scada, code: S.MDC_PULS_OXIM_DEV_STATUS },
      }),
      ava(O.MDC_ATTR_ENUM_OBS_VAL_PART, { kind: 'u16', value: MdcPartition.scada }),
      ava(O.MDC_ATTR_ATTRIBUTE_VAL_MAP, valueMap([O.MDC_ATTR_ENUM_OBS_VAL_BASIC_BIT_STR, 2])),
    ],
  },
];

const infrastructureObjects = [
  {
    objClass: O.MDC_MOC_SCAN_CFG_PERI,
    objHandle: 5,
    attributes: [
      ava(O.MDC_ATTR_OP_STAT, { kind: 'u16', value: 1 }),
      ava(O.MDC_ATTR_SCAN_HANDLE_LIST, { kind: 'u16-list', value: [1, 3] }),
      ava(O.MDC_ATTR_SCAN_REP_PD, { kind: 'relative-time', value: 8000 }),
      ava(O.MDC_ATTR_SCAN_HANDLE_ATTR_VAL_MAP, {
        kind: 'handle-attr-val-map',
        value: [
          {
            objHandle: 1,
            attrValMap: [{ attributeId: O.MDC_ATTR_NU_VAL_OBS_SIMP, attributeLen: 4 }],
          },
          {
            objHandle: 3,
            attrValMap: [{ attributeId: O.MDC_ATTR_NU_VAL_OBS_BASIC, attributeLen: 2 }],
          },
        ],
      }),
    ],
  },
  {
    objClass: O.MDC_MOC_VMO_PMSTORE,
    objHandle: 6,
    attributes: [
      ava(O.MDC_ATTR_PM_STORE_CAPAB, { kind: 'u16', value: 0x8000 }),
      ava(O.MDC_ATTR_NUM_SEG, { kind: 'u16', value: 1 }),
      ava(O.MDC_ATTR_CLEAR_TIMEOUT, { kind: 'relative-time', value: 0xffffffff }),
      ava(O.MDC_ATTR_PM_SEG_MAP, {
        kind: 'pm-segment-entry-map',
        value: {
          segmEntryHeader: 0x8000,
          segmEntryElemList: [
            {
              classId: O.MDC_MOC_VMO_METRIC_NU,
              metricType: { partition: MdcPartition.scada, code: S.MDC_MASS_BODY_ACTUAL },
              handle: 1,
              attrValMap: [{ attributeId: O.MDC_ATTR_NU_VAL_OBS_SIMP, attributeLen: 4 }],
            },
          ],
        },
      }),
      ava(O.MDC_ATTR_SA_SPECN, {
        kind: 'sa-spec',
        value: { arraySize: 10, sampleSize: 8, significantBits: 8, flags: 0 },
      }),
      ava(O.MDC_ATTR_SCALE_SPECN_I8, {
        kind: 'scale-range-spec',
        value: {
          scaledBits: 8,
          lowerAbsoluteValue: finiteNumber(0, 0),
          upperAbsoluteValue: finiteNumber(255, 0),
          lowerScaledValue: 0,
          upperScaledValue: 255,
        },
      }),
      ava(O.MDC_ATTR_SCALE_SPECN_I32, {
        kind: 'scale-range-spec',
        value: {
          scaledBits: 32,
          lowerAbsoluteValue: MderSpecial.negativeInfinity,
          upperAbsoluteValue: finiteNumber(-5, 3),
          lowerScaledValue: 0,
          upperScaledValue: 0xffffffff,
        },
      }),
      ava(0xf001, { kind: 'raw', bytes: bytes(1, 2, 3) }),
    ],
  },
];

/** Configuration report whose objects the sample scan reports refer to. */
export const sampleConfigReport: EventInfo = {
  kind: 'config-report',
  configReportId: 0x4001,
  configObjList: [...numericObjects, ...infrastructureObjects],
};

const mdsAttributes: Ava[] = [
  ava(O.MDC_ATTR_SYS_TYPE_SPEC_LIST, {
    kind: 'type-ver-list',
    value: [{ type: 4111, version: 1 }],
  }),
  ava(O.MDC_ATTR_ID_MODEL, {
    kind: 'system-model',
    value: { manufacturer: bytes(0x41, 0x42), modelNumber: bytes(0x43, 0) },
  }),
  ava(O.MDC_ATTR_MDS_TIME_INFO, {
    kind: 'mds-time-info',
    value: {
      mdsTimeCapState: 0x8000,
      timeSyncProtocol: 7936,
      timeSyncAccuracy: 0xffffffff,
      timeResolutionAbsTime: 100,
      timeResolutionRelTime: 0,
      timeResolutionHighResTime: 0,
    },
  }),
  ava(O.MDC_ATTR_REG_CERT_DATA_LIST, {
    kind: 'reg-cert-data-list',
    value: [{ authBody: 2, authBodyStrucType: 1, authBodyData: bytes(0, 4, 0, 1, 0x10, 0) }],
  }),
  ava(O.MDC_ATTR_TIME_BATT_REMAIN, {
    kind: 'bat-measure',
    value: { value: finiteNumber(3, 0), unit: D.MDC_DIM_DAY },
  }),
  ava(O.MDC_ATTR_TIME_REL_HI_RES, { kind: 'high-res-relative-time', value: 0xfedcba9876543210n }),
  ava(O.MDC_ATTR_TIME_BO, {
    kind: 'base-offset-time',
    value: { boSeconds: 1700000000, boFraction: 32768, boTimeOffset: -300 },
  }),
  ava(O.MDC_ATTR_METRIC_STORE_CAPAC_CNT, { kind: 'u32', value: 400 }),
  ava(O.MDC_ATTR_ID_LABEL_STRING, { kind: 'octet-string', value: bytes(0x4c) }),
];

const varObservations = [
  {
    objHandle: 1,
    attributes: [
      ava(O.MDC_ATTR_NU_VAL_OBS_SIMP, { kind: 'float', value: finiteNumber(762, -1) }),
      ava(O.MDC_ATTR_TIME_STAMP_ABS, { kind: 'absolute-time', value: time }),
      ava(O.MDC_ATTR_MSMT_STAT, { kind: 'u16', value: 0x0400 }),
    ],
  },
  {
    objHandle: 2,
    attributes: [
      ava(O.MDC_ATTR_NU_CMPD_VAL_OBS_SIMP, {
        kind: 'float-list',
        value: [finiteNumber(120, 0), MderSpecial.nan, finiteNumber(93, 0)],
      }),
      ava(O.MDC_ATTR_TIME_STAMP_REL_HI_RES, { kind: 'high-res-relative-time', value: 123456789n }),
    ],
  },
  {
    objHandle: 3,
    attributes: [
      ava(O.MDC_ATTR_NU_VAL_OBS, {
        kind: 'nu-obs-value',
        value: {
          metricId: S.MDC_TEMP_BODY,
          state: 0,
          unitCode: D.MDC_DIM_FAHR,
          value: finiteNumber(986, -1),
        },
      }),
      ava(O.MDC_ATTR_TIME_STAMP_BO, {
        kind: 'base-offset-time',
        value: { boSeconds: 1, boFraction: 2, boTimeOffset: 60 },
      }),
    ],
  },
  {
    objHandle: 4,
    attributes: [
      ava(O.MDC_ATTR_VAL_ENUM_OBS, {
        kind: 'enum-obs-value',
        value: {
          metricId: S.MDC_PULS_OXIM_DEV_STATUS,
          state: 0,
          value: { choice: 'enum-text-string', value: bytes(0x6f, 0x6b) },
        },
      }),
      ava(O.MDC_ATTR_NU_CMPD_VAL_OBS, {
        kind: 'nu-obs-value-list',
        value: [{ metricId: 1, state: 2, unitCode: 3, value: MderSpecial.nres }],
      }),
    ],
  },
];

/** Numeric (FLOAT) and SFLOAT bytes of the fixed and grouped samples. */
const weight = bytes(0xff, 0x00, 0x02, 0xfa);
const temperature = bytes(0xf1, 0x6f);
const fixedWeight = new Uint8Array([...weight, 0x20, 0x24, 0x03, 0x05, 0x06, 0x07, 0x08, 0x45]);

function scanHeader(): { dataReqId: number; scanReportNo: number } {
  return { dataReqId: 0xf000, scanReportNo: 7 };
}

export const sampleApdus: readonly { name: string; apdu: Apdu }[] = [
  {
    name: 'aare rejected without protocol',
    apdu: {
      kind: 'aare',
      result: AssociateResult.rejectedPermanent,
      selectedDataProto: { dataProtoId: 0, dataProtoInfo: new Uint8Array(0) },
    },
  },
  { name: 'config report', apdu: prst(1, event(O.MDC_NOTI_CONFIG, sampleConfigReport)) },
  {
    name: 'get all attributes',
    apdu: prst(2, {
      kind: 'roiv-get',
      objHandle: 0,
      attributeIdList: [O.MDC_ATTR_TIME_ABS, O.MDC_ATTR_SYS_ID],
    }),
  },
  {
    name: 'get response',
    apdu: prst(2, { kind: 'rors-get', objHandle: 0, attributeList: mdsAttributes }),
  },
  {
    name: 'scan var report',
    apdu: prst(
      3,
      event(
        O.MDC_NOTI_SCAN_REPORT_VAR,
        { kind: 'scan-var', ...scanHeader(), obsScanVar: varObservations },
        0,
        false,
      ),
    ),
  },
  {
    name: 'scan fixed report',
    apdu: prst(
      4,
      event(O.MDC_NOTI_SCAN_REPORT_FIXED, {
        kind: 'scan-fixed',
        ...scanHeader(),
        obsScanFixed: [
          { objHandle: 1, obsValData: fixedWeight },
          { objHandle: 2, obsValData: bytes(0, 3, 0, 6, 0, 0x78, 0, 0x50, 0, 0x64) },
          { objHandle: 3, obsValData: new Uint8Array([...temperature, 0, 0, 0x1f, 0x40]) },
          { objHandle: 4, obsValData: bytes(0x80, 0x01) },
        ],
      }),
    ),
  },
  {
    name: 'buffered grouped report',
    apdu: prst(
      5,
      event(
        O.MDC_NOTI_BUF_SCAN_REPORT_GROUPED,
        {
          kind: 'scan-grouped',
          ...scanHeader(),
          obsScanGrouped: [
            new Uint8Array([...weight, ...temperature]),
            new Uint8Array([...weight, ...temperature]),
          ],
        },
        5,
      ),
    ),
  },
  {
    name: 'multi-person fixed report',
    apdu: prst(
      6,
      event(O.MDC_NOTI_SCAN_REPORT_MP_FIXED, {
        kind: 'scan-mp-fixed',
        ...scanHeader(),
        scanPerFixed: [
          { personId: 1, obsScanFixed: [{ objHandle: 1, obsValData: fixedWeight }] },
          { personId: 2, obsScanFixed: [{ objHandle: 1, obsValData: fixedWeight }] },
        ],
      }),
    ),
  },
  {
    name: 'multi-person var report',
    apdu: prst(
      7,
      event(
        O.MDC_NOTI_UNBUF_SCAN_REPORT_MP_VAR,
        {
          kind: 'scan-mp-var',
          ...scanHeader(),
          scanPerVar: [{ personId: 3, obsScanVar: varObservations.slice(0, 2) }],
        },
        5,
      ),
    ),
  },
  {
    name: 'multi-person grouped report',
    apdu: prst(
      8,
      event(
        O.MDC_NOTI_UNBUF_SCAN_REPORT_MP_GROUPED,
        {
          kind: 'scan-mp-grouped',
          ...scanHeader(),
          scanPerGrouped: [
            { personId: 4, obsScanGrouped: new Uint8Array([...weight, ...temperature]) },
          ],
        },
        5,
      ),
    ),
  },
  {
    name: 'segment data event',
    apdu: prst(
      9,
      event(
        O.MDC_NOTI_SEGMENT_DATA,
        {
          kind: 'segment-data',
          segmDataEventDescr: {
            segmInstance: 0,
            segmEvtEntryIndex: 0,
            segmEvtEntryCount: 1,
            segmEvtStatus: 0xe000,
          },
          segmDataEventEntries: bytes(0x80, 0, 0x20, 0x24, 3, 5, 6, 7, 8, 0, 0xff, 0, 2, 0xfa),
        },
        6,
      ),
    ),
  },
  {
    name: 'segment data result',
    apdu: prst(9, {
      kind: 'rors-confirmed-event-report',
      objHandle: 6,
      currentTime: 0,
      eventType: O.MDC_NOTI_SEGMENT_DATA,
      eventReplyInfo: {
        kind: 'segment-data-result',
        segmDataEventDescr: {
          segmInstance: 0,
          segmEvtEntryIndex: 0,
          segmEvtEntryCount: 1,
          segmEvtStatus: 0xe080,
        },
      },
    }),
  },
  {
    name: 'unknown event type',
    apdu: prst(10, event(0x7777, { kind: 'raw', bytes: bytes(9, 9) }, 0, false)),
  },
  {
    name: 'confirmed set',
    apdu: prst(11, {
      kind: 'roiv-confirmed-set',
      objHandle: 5,
      modificationList: [
        { modifyOperator: 0, attribute: ava(O.MDC_ATTR_OP_STAT, { kind: 'u16', value: 0 }) },
      ],
    }),
  },
  {
    name: 'set result',
    apdu: prst(11, {
      kind: 'rors-confirmed-set',
      objHandle: 5,
      attributeList: [ava(O.MDC_ATTR_OP_STAT, { kind: 'u16', value: 0 })],
    }),
  },
  {
    name: 'unconfirmed set',
    apdu: prst(12, { kind: 'roiv-set', objHandle: 5, modificationList: [] }),
  },
  {
    name: 'set time action',
    apdu: prst(13, {
      kind: 'roiv-confirmed-action',
      objHandle: 0,
      actionType: O.MDC_ACT_SET_TIME,
      actionInfoArgs: { kind: 'set-time', dateTime: time, accuracy: finiteNumber(0, 0) },
    }),
  },
  {
    name: 'set base-offset time action',
    apdu: prst(14, {
      kind: 'roiv-action',
      objHandle: 0,
      actionType: O.MDC_ACT_SET_BO_TIME,
      actionInfoArgs: {
        kind: 'set-base-offset-time',
        dateTime: { boSeconds: 1700000000, boFraction: 0, boTimeOffset: 120 },
        accuracy: finiteNumber(5, -1),
      },
    }),
  },
  {
    name: 'data request action',
    apdu: prst(15, {
      kind: 'roiv-confirmed-action',
      objHandle: 0,
      actionType: O.MDC_ACT_DATA_REQUEST,
      actionInfoArgs: {
        kind: 'data-request',
        dataReqId: 0x0100,
        dataReqMode: 0x8080,
        dataReqTime: 0,
        dataReqPersonId: 0xffff,
        dataReqClass: O.MDC_MOC_VMO_METRIC_NU,
        dataReqObjHandleList: [1, 2],
      },
    }),
  },
  {
    name: 'data response action',
    apdu: prst(15, {
      kind: 'rors-confirmed-action',
      objHandle: 0,
      actionType: O.MDC_ACT_DATA_REQUEST,
      actionInfoArgs: {
        kind: 'data-response',
        relTimeStamp: 0,
        dataReqResult: 0,
        eventType: O.MDC_NOTI_SCAN_REPORT_FIXED,
        eventInfo: {
          kind: 'scan-fixed',
          ...scanHeader(),
          obsScanFixed: [{ objHandle: 1, obsValData: fixedWeight }],
        },
      },
    }),
  },
  ...(
    [
      { choice: 'all-segments', value: 1 },
      { choice: 'segm-id-list', value: [0, 1] },
      { choice: 'abs-time-range', fromTime: time, toTime: time },
      { choice: 'unknown', tag: 4, bytes: bytes(1, 2) },
    ] satisfies SegmSelection[]
  ).map((selection, index) => ({
    name: `segment info action ${selection.choice}`,
    apdu: prst(16 + index, {
      kind: 'roiv-confirmed-action',
      objHandle: 6,
      actionType: index === 0 ? O.MDC_ACT_SEG_CLR : O.MDC_ACT_SEG_GET_INFO,
      actionInfoArgs: { kind: 'segment-selection', selection },
    }),
  })),
  {
    name: 'segment info result',
    apdu: prst(17, {
      kind: 'rors-confirmed-action',
      objHandle: 6,
      actionType: O.MDC_ACT_SEG_GET_INFO,
      actionInfoArgs: {
        kind: 'segment-info-list',
        segmentInfo: [
          { segInstNo: 0, segInfo: [ava(O.MDC_ATTR_SEG_USAGE_CNT, { kind: 'u32', value: 12 })] },
        ],
      },
    }),
  },
  {
    name: 'segment transfer action',
    apdu: prst(20, {
      kind: 'roiv-confirmed-action',
      objHandle: 6,
      actionType: O.MDC_ACT_SEG_TRIG_XFER,
      actionInfoArgs: { kind: 'trig-segm-data-xfer-req', segInstNo: 0 },
    }),
  },
  {
    name: 'segment transfer result',
    apdu: prst(20, {
      kind: 'rors-confirmed-action',
      objHandle: 6,
      actionType: O.MDC_ACT_SEG_TRIG_XFER,
      actionInfoArgs: { kind: 'trig-segm-data-xfer-rsp', segInstNo: 0, trigSegmXferRsp: 0 },
    }),
  },
  {
    name: 'set time result',
    apdu: prst(13, {
      kind: 'rors-confirmed-action',
      objHandle: 0,
      actionType: O.MDC_ACT_SET_TIME,
      actionInfoArgs: { kind: 'raw', bytes: new Uint8Array(0) },
    }),
  },
  {
    name: 'unknown action',
    apdu: prst(21, {
      kind: 'roiv-action',
      objHandle: 0,
      actionType: 0x0c99,
      actionInfoArgs: { kind: 'raw', bytes: bytes(7) },
    }),
  },
  {
    name: 'remote error',
    apdu: prst(22, { kind: 'roer', errorValue: 9, parameter: bytes(0x0c, 0x99) }),
  },
  { name: 'remote reject', apdu: prst(23, { kind: 'rorj', problem: 2 }) },
];
