/**
 * Device scenarios of the agent simulator: configuration, MDS attributes and
 * measurement reports of a pulse oximeter (10404), blood pressure monitor
 * (10407), thermometer (10408), weighing scale (10415) and glucose meter
 * (10417). Reports follow the layouts of the published example APDUs of
 * these specializations: fixed scan reports with SFLOAT or FLOAT values and
 * absolute time stamps laid out by the attribute-value-map, and variable scan
 * reports carrying the same attributes with their ids. With stored readings,
 * a scenario adds a PM-store with one PM-segment whose entries carry an
 * absolute time and the same values, as glucose meters and scales keep
 * their readings.
 */
import type {
  Ava,
  ConfigObject,
  EventInfo,
  ObservationScan,
  ObservationScanFixed,
  PmSegmentEntryMap,
} from '../apdu.js';
import { standardConfiguration } from '../configurations.js';
import { encodeApdu } from '../encode.js';
import { encodeFloat, encodeSfloat, finiteNumber, type MderFiniteNumber } from '../float.js';
import { mdcCode } from '../nomenclature.js';
import {
  MdcDimension as D,
  MdcInfrastructure as I,
  MdcObject as O,
  MdcPartition,
  MdcScada as S,
} from '../nomenclature-table.js';
import { PmStoreCapab, SegmEntryHeader, type SegmentEntry } from '../pm-segment.js';
import { absoluteTimeFromDate, encodeAbsoluteTime, msToRelativeTime } from '../time.js';
import { FixedReportTemplate, type TemplateValue } from './report-template.js';

export const agentKinds = ['pulseox', 'bpm', 'thermometer', 'scale', 'glucose'] as const;
export type AgentKind = (typeof agentKinds)[number];

/** dev-config-id of the extended configurations the simulator announces. */
export const SIMULATED_EXTENDED_CONFIG_ID = 0x4000;

/** Observation the manager should store for one value of a report. */
export interface ExpectedObservation {
  handle: number;
  /** Full MDC code of the type. */
  type: number;
  /** Full MDC code of the unit. */
  unit: number;
  /** Decimal of a numeric value, or the component decimals of a compound one joined by '/'. */
  decimal: string;
  /** The measurement time the agent stamped, absent for reports without time stamps. */
  measuredAt?: Date;
}

export interface Measurement {
  eventType: number;
  eventInfo: EventInfo;
  expected: ExpectedObservation[];
}

export interface ScenarioOptions {
  /** Announce the objects as an extended configuration (0x4000) instead of the standard one. */
  extended?: boolean;
  /** Scan report layout; default fixed. */
  reportStyle?: 'fixed' | 'variable';
  /**
   * Measurements per report, as when an agent uploads stored readings; default 1.
   * Time-stamped readings of one report lie 1 s apart, the last at the report time.
   */
  measurementsPerReport?: number;
  /**
   * Readings the agent keeps in a PM-store for the manager to transfer;
   * default 0, which leaves the PM-store out. A PM-store makes the
   * configuration an extended one, because the standard ones have none.
   */
  storedReadings?: number;
}

/** One reading of a PM-segment: its entry and the observations the manager should store. */
export interface StoredReading {
  entry: Pick<SegmentEntry, 'times' | 'elements'>;
  expected: ExpectedObservation[];
}

/** The PM-store of a scenario with stored readings. */
export interface ScenarioPmStore {
  handle: number;
  /** Instance number of its single PM-segment. */
  segmentInstance: number;
  map: PmSegmentEntryMap;
  /** Returns the stored readings, oldest first, 60 s apart, the last measured at `lastMeasuredAt`. */
  readings(lastMeasuredAt: Date): StoredReading[];
}

export interface Scenario {
  kind: AgentKind;
  /** Device specialization, for example '10404'. */
  specialization: string;
  devConfigId: number;
  /** Objects sent in a configuration report when the manager does not know `devConfigId`. */
  configuration: ConfigObject[];
  reportStyle: 'fixed' | 'variable';
  /** MDC_DEV_SPEC_PROFILE_* term (partition 8). */
  profile: number;
  modelNumber: string;
  /** True when the reports carry absolute time stamps. */
  timeStamped: boolean;
  measurementsPerReport: number;
  /** The PM-store, when the scenario has stored readings. */
  pmStore?: ScenarioPmStore;
  /** Builds report number `sequence`, its last reading measured at `measuredAt` on the agent's clock. */
  measurement(sequence: number, measuredAt: Date): Measurement;
  /**
   * Returns the confirmed event report APDU of `measurement(sequence, new
   * Date(measuredAtMs))` with this invoke id and event-time, byte for byte as
   * `encodeApdu` writes it. Fixed scan reports are written over a template,
   * without building the APDU objects, because load tests send thousands a
   * second.
   */
  encodeReport(invokeId: number, eventTime: number, sequence: number, measuredAtMs: number): Buffer;
}

const scada = (term: number): number => mdcCode(MdcPartition.scada, term);
const dimension = (term: number): number => mdcCode(MdcPartition.dimension, term);

/** One value of a metric object of a scenario. */
interface ValueSpec {
  handle: number;
  type: number;
  unit: number;
  /** Values of reading `sequence`, for the encoding the configuration's attribute-value-map gives. */
  values(sequence: number, encoding: ValueEncoding): MderFiniteNumber[];
}

/** Encoding of a value: SFLOAT, FLOAT, or an SFLOAT list (compound). */
type ValueEncoding = 'sfloat' | 'float' | 'sfloat-list';

/** Layout of one object's fixed values in the configuration. */
interface ValueLayout {
  encoding: ValueEncoding;
  timeStamped: boolean;
}

interface KindSpec {
  specialization: string;
  standardConfigId: number;
  profile: number;
  modelNumber: string;
  values: ValueSpec[];
  /** Objects of the extended configuration; the standard objects when absent. */
  extendedObjects?: () => ConfigObject[];
  defaultExtended: boolean;
  defaultReportStyle: 'fixed' | 'variable';
}

function ava(attributeId: number, value: Ava['value']): Ava {
  return { attributeId, value };
}

/** Returns the thermometer object of the published extended 10408 configuration: FLOAT value and absolute time. */
function thermometerObjects(): ConfigObject[] {
  return [
    {
      objClass: O.MDC_MOC_VMO_METRIC_NU,
      objHandle: 1,
      attributes: [
        ava(O.MDC_ATTR_ID_TYPE, {
          kind: 'type',
          value: { partition: MdcPartition.scada, code: S.MDC_TEMP_BODY },
        }),
        ava(O.MDC_ATTR_METRIC_SPEC_SMALL, { kind: 'u16', value: 0xf040 }),
        ava(O.MDC_ATTR_UNIT_CODE, { kind: 'u16', value: D.MDC_DIM_DEGC }),
        ava(O.MDC_ATTR_ATTRIBUTE_VAL_MAP, {
          kind: 'attr-val-map',
          value: [
            { attributeId: O.MDC_ATTR_NU_VAL_OBS_SIMP, attributeLen: 4 },
            { attributeId: O.MDC_ATTR_TIME_STAMP_ABS, attributeLen: 8 },
          ],
        }),
      ],
    },
  ];
}

const kinds: Readonly<Record<AgentKind, KindSpec>> = {
  pulseox: {
    specialization: '10404',
    standardConfigId: 0x0190,
    profile: I.MDC_DEV_SPEC_PROFILE_PULS_OXIM,
    modelNumber: 'SimOx 400',
    defaultExtended: false,
    defaultReportStyle: 'fixed',
    values: [
      {
        handle: 1,
        type: scada(S.MDC_PULS_OXIM_SAT_O2),
        unit: dimension(D.MDC_DIM_PERCENT),
        values: (n) => [finiteNumber(90 + (n % 10), 0)],
      },
      {
        handle: 10,
        type: scada(S.MDC_PULS_OXIM_PULS_RATE),
        unit: dimension(D.MDC_DIM_BEAT_PER_MIN),
        values: (n) => [finiteNumber(60 + (n % 40), 0)],
      },
    ],
  },
  bpm: {
    specialization: '10407',
    standardConfigId: 0x02bc,
    profile: I.MDC_DEV_SPEC_PROFILE_BP,
    modelNumber: 'SimBP 700',
    defaultExtended: false,
    defaultReportStyle: 'fixed',
    values: [
      {
        handle: 1,
        type: scada(S.MDC_PRESS_BLD_NONINV),
        unit: dimension(D.MDC_DIM_MMHG),
        values: (n) => {
          const systolic = 110 + (n % 30);
          const diastolic = 70 + (n % 15);
          const mean = Math.round((systolic + 2 * diastolic) / 3);
          return [finiteNumber(systolic, 0), finiteNumber(diastolic, 0), finiteNumber(mean, 0)];
        },
      },
      {
        handle: 2,
        type: scada(S.MDC_PULS_RATE_NON_INV),
        unit: dimension(D.MDC_DIM_BEAT_PER_MIN),
        values: (n) => [finiteNumber(600 + (n % 300), -1)],
      },
    ],
  },
  thermometer: {
    specialization: '10408',
    standardConfigId: 0x0320,
    profile: I.MDC_DEV_SPEC_PROFILE_TEMP,
    modelNumber: 'SimTherm 800',
    defaultExtended: true,
    defaultReportStyle: 'fixed',
    extendedObjects: thermometerObjects,
    values: [
      {
        handle: 1,
        type: scada(S.MDC_TEMP_BODY),
        unit: dimension(D.MDC_DIM_DEGC),
        // FLOAT: three decimals, 36.000 to 40.999 Cel, distinct for 5,000 readings in a row.
        values: (n, encoding) =>
          encoding === 'float'
            ? [finiteNumber(36000 + (n % 5000), -3)]
            : [finiteNumber(350 + (n % 60), -1)],
      },
    ],
  },
  scale: {
    specialization: '10415',
    standardConfigId: 0x05dc,
    profile: I.MDC_DEV_SPEC_PROFILE_SCALE,
    modelNumber: 'SimScale 1500',
    defaultExtended: false,
    defaultReportStyle: 'fixed',
    values: [
      {
        handle: 1,
        type: scada(S.MDC_MASS_BODY_ACTUAL),
        unit: dimension(D.MDC_DIM_KILO_G),
        values: (n) => [finiteNumber(600 + (n % 400), -1)],
      },
    ],
  },
  glucose: {
    specialization: '10417',
    standardConfigId: 0x06a4,
    profile: I.MDC_DEV_SPEC_PROFILE_GLUCOSE,
    modelNumber: 'SimGluco 1700',
    defaultExtended: false,
    defaultReportStyle: 'variable',
    values: [
      {
        handle: 1,
        type: scada(S.MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD),
        unit: dimension(D.MDC_DIM_MILLI_G_PER_DL),
        values: (n) => [finiteNumber(700 + (n % 800), -1)],
      },
    ],
  },
};

function valueAttributeId(encoding: ValueEncoding): number {
  switch (encoding) {
    case 'sfloat':
      return O.MDC_ATTR_NU_VAL_OBS_BASIC;
    case 'float':
      return O.MDC_ATTR_NU_VAL_OBS_SIMP;
    case 'sfloat-list':
      return O.MDC_ATTR_NU_CMPD_VAL_OBS_BASIC;
  }
}

function valueAttribute(encoding: ValueEncoding, numbers: MderFiniteNumber[]): Ava {
  const attributeId = valueAttributeId(encoding);
  switch (encoding) {
    case 'sfloat':
      return ava(attributeId, { kind: 'sfloat', value: numbers[0] ?? finiteNumber(0, 0) });
    case 'float':
      return ava(attributeId, { kind: 'float', value: numbers[0] ?? finiteNumber(0, 0) });
    case 'sfloat-list':
      return ava(attributeId, { kind: 'sfloat-list', value: numbers });
  }
}

/** MDER bytes of one fixed value, in the layout of the attribute-value-maps above. */
function fixedValueBytes(encoding: ValueEncoding, numbers: MderFiniteNumber[]): number[] {
  const bytes: number[] = [];
  const u16 = (value: number): void => {
    bytes.push((value >> 8) & 0xff, value & 0xff);
  };
  switch (encoding) {
    case 'sfloat':
      u16(encodeSfloat(numbers[0] ?? finiteNumber(0, 0)));
      break;
    case 'float': {
      const bits = encodeFloat(numbers[0] ?? finiteNumber(0, 0));
      u16(bits >>> 16);
      u16(bits & 0xffff);
      break;
    }
    case 'sfloat-list':
      u16(numbers.length);
      u16(numbers.length * 2);
      for (const number of numbers) {
        u16(encodeSfloat(number));
      }
      break;
  }
  return bytes;
}

/** Reads an object's value encoding and time stamp from its attribute-value-map. */
function layoutOf(objects: readonly ConfigObject[], handle: number): ValueLayout {
  const object = objects.find((candidate) => candidate.objHandle === handle);
  const map = object?.attributes.find((ava) => ava.attributeId === O.MDC_ATTR_ATTRIBUTE_VAL_MAP);
  const entries = map?.value.kind === 'attr-val-map' ? map.value.value : [];
  const ids = entries.map((entry) => entry.attributeId);
  const encoding: ValueEncoding = ids.includes(O.MDC_ATTR_NU_CMPD_VAL_OBS_BASIC)
    ? 'sfloat-list'
    : ids.includes(O.MDC_ATTR_NU_VAL_OBS_SIMP)
      ? 'float'
      : 'sfloat';
  return { encoding, timeStamped: ids.includes(O.MDC_ATTR_TIME_STAMP_ABS) };
}

/** Handle of the PM-store of scenarios with stored readings. */
const PM_STORE_HANDLE = 100;
/** Time between two stored readings. */
const STORED_READING_INTERVAL_MS = 60000;
/** Transfer-Timeout the simulated PM-segment announces. */
const SEGMENT_TRANSFER_TIMEOUT_MS = 30000;

function pmStoreObject(capacity: number): ConfigObject {
  return {
    objClass: O.MDC_MOC_VMO_PMSTORE,
    objHandle: PM_STORE_HANDLE,
    attributes: [
      ava(O.MDC_ATTR_PM_STORE_CAPAB, { kind: 'u16', value: PmStoreCapab.clearSegmByListSup }),
      // Store-Sample-Algorithm nos (0): no sampling, every reading is kept.
      ava(O.MDC_ATTR_METRIC_STORE_SAMPLE_ALG, { kind: 'u16', value: 0 }),
      ava(O.MDC_ATTR_METRIC_STORE_CAPAC_CNT, { kind: 'u32', value: capacity }),
      ava(O.MDC_ATTR_NUM_SEG, { kind: 'u16', value: 1 }),
      ava(O.MDC_ATTR_CLEAR_TIMEOUT, {
        kind: 'relative-time',
        value: msToRelativeTime(SEGMENT_TRANSFER_TIMEOUT_MS),
      }),
    ],
  };
}

/** Builds a PM-store whose entries carry an absolute time and each value of the scenario's objects. */
function buildPmStore(
  spec: KindSpec,
  layouts: readonly ValueLayout[],
  count: number,
): ScenarioPmStore {
  const encodingOf = (index: number): ValueEncoding => layouts[index]?.encoding ?? 'sfloat';
  const map: PmSegmentEntryMap = {
    segmEntryHeader: SegmEntryHeader.absoluteTime,
    segmEntryElemList: spec.values.map((value, index) => {
      const encoding = encodingOf(index);
      return {
        classId: O.MDC_MOC_VMO_METRIC_NU,
        metricType: { partition: MdcPartition.scada, code: value.type % 65536 },
        handle: value.handle,
        attrValMap: [
          {
            attributeId: valueAttributeId(encoding),
            attributeLen: fixedValueBytes(encoding, value.values(0, encoding)).length,
          },
        ],
      };
    }),
  };
  const readings = (lastMeasuredAt: Date): StoredReading[] => {
    const list: StoredReading[] = [];
    for (let reading = 0; reading < count; reading += 1) {
      const measuredAtMs =
        lastMeasuredAt.getTime() - (count - 1 - reading) * STORED_READING_INTERVAL_MS;
      const time = absoluteTimeFromDate(new Date(measuredAtMs));
      // AbsoluteTime has hundredths of a second; the expected time drops the rest.
      const stamped = new Date(Math.floor(measuredAtMs / 10) * 10);
      const expected: ExpectedObservation[] = [];
      const elements = spec.values.map((value, index) => {
        const encoding = encodingOf(index);
        const numbers = value.values(reading, encoding);
        expected.push({
          handle: value.handle,
          type: value.type,
          unit: value.unit,
          decimal: numbers.map((number) => number.decimal).join('/'),
          measuredAt: stamped,
        });
        const element = map.segmEntryElemList[index];
        return {
          handle: value.handle,
          classId: element?.classId ?? O.MDC_MOC_VMO_METRIC_NU,
          metricType: element?.metricType ?? { partition: MdcPartition.scada, code: 0 },
          attributes: [valueAttribute(encoding, numbers)],
        };
      });
      list.push({ entry: { times: { absoluteTime: time }, elements }, expected });
    }
    return list;
  };
  return { handle: PM_STORE_HANDLE, segmentInstance: 0, map, readings };
}

/** Returns the attributes of the scenario's PM-segment, as MDC_ACT_SEG_GET_INFO returns them. */
export function segmentInfoAttributes(pmStore: ScenarioPmStore, usageCount: number): Ava[] {
  return [
    ava(O.MDC_ATTR_ID_INSTNO, { kind: 'u16', value: pmStore.segmentInstance }),
    ava(O.MDC_ATTR_PM_SEG_MAP, { kind: 'pm-segment-entry-map', value: pmStore.map }),
    ava(O.MDC_ATTR_SEG_USAGE_CNT, { kind: 'u32', value: usageCount }),
    ava(O.MDC_ATTR_TRANSFER_TIMEOUT, {
      kind: 'relative-time',
      value: msToRelativeTime(SEGMENT_TRANSFER_TIMEOUT_MS),
    }),
  ];
}

function buildScenario(kind: AgentKind, options: ScenarioOptions): Scenario {
  const spec = kinds[kind];
  const storedReadings = Math.max(0, Math.floor(options.storedReadings ?? 0));
  const extended = options.extended ?? spec.defaultExtended;
  const standard = standardConfiguration(spec.standardConfigId);
  const objects = extended
    ? (spec.extendedObjects?.() ?? [...(standard?.objects ?? [])])
    : [...(standard?.objects ?? [])];
  const reportStyle = options.reportStyle ?? spec.defaultReportStyle;
  const perReport = Math.max(1, Math.floor(options.measurementsPerReport ?? 1));
  const layouts = spec.values.map((value) => layoutOf(objects, value.handle));
  const pmStore = storedReadings > 0 ? buildPmStore(spec, layouts, storedReadings) : undefined;
  const configuration =
    pmStore === undefined ? objects : [...objects, pmStoreObject(Math.max(100, storedReadings))];
  const measurement = (sequence: number, measuredAt: Date): Measurement => {
    const expected: ExpectedObservation[] = [];
    const fixed: ObservationScanFixed[] = [];
    const variable: ObservationScan[] = [];
    for (let reading = 0; reading < perReport; reading += 1) {
      const readingAt = new Date(measuredAt.getTime() - (perReport - 1 - reading) * 1000);
      const time = absoluteTimeFromDate(readingAt);
      // AbsoluteTime has hundredths of a second; the expected time drops the rest.
      const stamped = new Date(Math.floor(readingAt.getTime() / 10) * 10);
      spec.values.forEach((value, index) => {
        const layout = layouts[index] ?? { encoding: 'sfloat', timeStamped: false };
        const numbers = value.values(sequence * perReport + reading, layout.encoding);
        const observation: ExpectedObservation = {
          handle: value.handle,
          type: value.type,
          unit: value.unit,
          decimal: numbers.map((number) => number.decimal).join('/'),
        };
        if (layout.timeStamped) {
          observation.measuredAt = stamped;
        }
        expected.push(observation);
        const bytes = fixedValueBytes(layout.encoding, numbers);
        const attributes = [valueAttribute(layout.encoding, numbers)];
        if (layout.timeStamped) {
          bytes.push(...encodeAbsoluteTime(time));
          attributes.push(ava(O.MDC_ATTR_TIME_STAMP_ABS, { kind: 'absolute-time', value: time }));
        }
        fixed.push({ objHandle: value.handle, obsValData: new Uint8Array(bytes) });
        variable.push({ objHandle: value.handle, attributes });
      });
    }
    const header = { dataReqId: 0xf000, scanReportNo: sequence & 0xffff };
    return reportStyle === 'fixed'
      ? {
          eventType: O.MDC_NOTI_SCAN_REPORT_FIXED,
          eventInfo: { kind: 'scan-fixed', ...header, obsScanFixed: fixed },
          expected,
        }
      : {
          eventType: O.MDC_NOTI_SCAN_REPORT_VAR,
          eventInfo: { kind: 'scan-var', ...header, obsScanVar: variable },
          expected,
        };
  };
  const encodeWhole = (
    invokeId: number,
    eventTime: number,
    sequence: number,
    measuredAtMs: number,
  ): Buffer => {
    const { eventType, eventInfo } = measurement(sequence, new Date(measuredAtMs));
    const bytes = encodeApdu({
      kind: 'prst',
      data: {
        invokeId,
        message: {
          kind: 'roiv-confirmed-event-report',
          objHandle: 0,
          eventTime,
          eventType,
          eventInfo,
        },
      },
    });
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
  let template: FixedReportTemplate | undefined;
  const templateValues: TemplateValue[] = [];
  for (let reading = 0; reading < perReport; reading += 1) {
    spec.values.forEach((value, index) => {
      const layout = layouts[index] ?? { encoding: 'sfloat', timeStamped: false };
      templateValues.push({
        readingAgeMs: (perReport - 1 - reading) * 1000,
        timeStamped: layout.timeStamped,
        write: (target, offset, sequence) =>
          writeFixedValue(
            target,
            offset,
            layout.encoding,
            value.values(sequence * perReport + reading, layout.encoding),
          ),
      });
    });
  }
  return {
    kind,
    specialization: spec.specialization,
    devConfigId:
      extended || pmStore !== undefined ? SIMULATED_EXTENDED_CONFIG_ID : spec.standardConfigId,
    configuration,
    reportStyle,
    profile: spec.profile,
    modelNumber: spec.modelNumber,
    timeStamped: layouts.some((layout) => layout.timeStamped),
    measurementsPerReport: perReport,
    ...(pmStore === undefined ? {} : { pmStore }),
    measurement,
    encodeReport(invokeId, eventTime, sequence, measuredAtMs) {
      if (reportStyle !== 'fixed') {
        return encodeWhole(invokeId, eventTime, sequence, measuredAtMs);
      }
      // Invoke id, event-time and scan report number that the template finds again by value.
      template ??= new FixedReportTemplate(
        encodeWhole(0x1234, 0x01020304, 0xabcd, measuredAtMs),
        templateValues,
      );
      return template.encode(invokeId, eventTime, sequence, measuredAtMs);
    },
  };
}

/** Writes the bytes `fixedValueBytes` returns into `target` at `offset`; returns the offset after them. */
function writeFixedValue(
  target: Buffer,
  offset: number,
  encoding: ValueEncoding,
  numbers: MderFiniteNumber[],
): number {
  const zero = finiteNumber(0, 0);
  switch (encoding) {
    case 'sfloat':
      return target.writeUInt16BE(encodeSfloat(numbers[0] ?? zero), offset);
    case 'float':
      return target.writeUInt32BE(encodeFloat(numbers[0] ?? zero), offset);
    case 'sfloat-list': {
      let next = target.writeUInt16BE(numbers.length, offset);
      next = target.writeUInt16BE(numbers.length * 2, next);
      for (const number of numbers) {
        next = target.writeUInt16BE(encodeSfloat(number), next);
      }
      return next;
    }
  }
}

/** Returns the scenario of a device kind. */
export function createScenario(kind: AgentKind, options: ScenarioOptions = {}): Scenario {
  return buildScenario(kind, options);
}

export function isAgentKind(value: string): value is AgentKind {
  return (agentKinds as readonly string[]).includes(value);
}
