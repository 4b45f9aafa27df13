/**
 * Observations: the measured values of one metric object in a scan report,
 * combined with the type and unit its configuration announced.
 */
import type { AttributeValue, Ava, EnumObsValue, NuObsValue } from './apdu.js';
import type { MderNumber } from './float.js';
import type { Quirk } from './mder.js';
import { mdcCode } from './nomenclature.js';
import { MdcObject as O } from './nomenclature-table.js';
import {
  isValidAbsoluteTime,
  isZeroAbsoluteTime,
  formatAbsoluteTime,
  type AbsoluteTime,
  type BaseOffsetTime,
} from './time.js';

/** A component of a compound numeric; `metricId` is a full MDC code when the configuration names it. */
export interface CompoundComponent {
  metricId?: number;
  value: MderNumber;
  /** MeasurementStatus and unit of NuObsValue components. */
  state?: number;
  unitCode?: number;
}

export type ObservedValue =
  | { kind: 'numeric'; value: MderNumber; metricId?: number; state?: number; unitCode?: number }
  | { kind: 'compound'; components: CompoundComponent[] }
  | { kind: 'enum-oid'; code: number; partition?: number }
  | { kind: 'enum-bits'; bits: number; width: 16 | 32 }
  | { kind: 'enum-text'; text: Uint8Array }
  | { kind: 'enum'; value: EnumObsValue }
  | { kind: 'sample-array'; samples: Uint8Array };

export interface Observation {
  handle: number;
  /** Person id of multi-person scan reports. */
  personId?: number;
  /** Full MDC code of the metric type from the configuration. */
  type?: number;
  /** 16-bit Unit-Code (partition 4) from the configuration. */
  unitCode?: number;
  value?: ObservedValue;
  absoluteTime?: AbsoluteTime;
  /** RelativeTime time stamp in 1/8 ms ticks. */
  relativeTime?: number;
  /** HighResRelativeTime time stamp in microseconds. */
  highResRelativeTime?: bigint;
  baseOffsetTime?: BaseOffsetTime;
  measurementStatus?: number;
  /** Every attribute value the report carried for the object, in report order. */
  attributes: Ava[];
}

/** Type, unit and component ids of a metric object, taken from its configuration. */
export interface MetricDescription {
  objClass: number;
  type?: number;
  /** Partition of the TYPE, used for compound metric ids without MDC_ATTR_METRIC_ID_PART. */
  typePartition?: number;
  unitCode?: number;
  metricIdPartition?: number;
  metricIds?: readonly number[];
  enumPartition?: number;
}

function componentsOf(
  values: readonly MderNumber[],
  metric: MetricDescription | undefined,
): CompoundComponent[] {
  const partition = metric?.metricIdPartition ?? metric?.typePartition;
  return values.map((value, index) => {
    const term = metric?.metricIds?.[index];
    return term === undefined || partition === undefined
      ? { value }
      : { metricId: mdcCode(partition, term), value };
  });
}

function nuComponents(
  values: readonly NuObsValue[],
  metric: MetricDescription | undefined,
): CompoundComponent[] {
  const partition = metric?.metricIdPartition ?? metric?.typePartition ?? 0;
  return values.map((entry) => ({
    metricId: mdcCode(partition, entry.metricId),
    value: entry.value,
    state: entry.state,
    unitCode: entry.unitCode,
  }));
}

type Applier = (
  observation: Observation,
  value: AttributeValue,
  metric: MetricDescription | undefined,
) => void;

function applyNumeric(observation: Observation, value: AttributeValue): void {
  if (value.kind === 'float' || value.kind === 'sfloat') {
    observation.value = { kind: 'numeric', value: value.value };
  }
}

function applyNuObsValue(
  observation: Observation,
  value: AttributeValue,
  metric: MetricDescription | undefined,
): void {
  if (value.kind === 'nu-obs-value') {
    const { metricId, state, unitCode } = value.value;
    const partition = metric?.metricIdPartition ?? metric?.typePartition ?? 0;
    observation.value = {
      kind: 'numeric',
      value: value.value.value,
      metricId: mdcCode(partition, metricId),
      state,
      unitCode,
    };
  }
}

function applyCompound(
  observation: Observation,
  value: AttributeValue,
  metric: MetricDescription | undefined,
): void {
  if (value.kind === 'float-list' || value.kind === 'sfloat-list') {
    observation.value = { kind: 'compound', components: componentsOf(value.value, metric) };
  } else if (value.kind === 'nu-obs-value-list') {
    observation.value = { kind: 'compound', components: nuComponents(value.value, metric) };
  }
}

function applyEnumOid(
  observation: Observation,
  value: AttributeValue,
  metric: MetricDescription | undefined,
): void {
  if (value.kind === 'u16') {
    const partition = metric?.enumPartition;
    observation.value =
      partition === undefined
        ? { kind: 'enum-oid', code: value.value }
        : { kind: 'enum-oid', code: value.value, partition };
  }
}

function applyEnumBits(observation: Observation, value: AttributeValue): void {
  if (value.kind === 'u16' || value.kind === 'u32') {
    observation.value = {
      kind: 'enum-bits',
      bits: value.value,
      width: value.kind === 'u16' ? 16 : 32,
    };
  }
}

function applyEnumText(observation: Observation, value: AttributeValue): void {
  if (value.kind === 'octet-string') {
    observation.value = { kind: 'enum-text', text: value.value };
  }
}

function applyEnum(observation: Observation, value: AttributeValue): void {
  if (value.kind === 'enum-obs-value') {
    observation.value = { kind: 'enum', value: value.value };
  }
}

function applySamples(observation: Observation, value: AttributeValue): void {
  if (value.kind === 'octet-string') {
    observation.value = { kind: 'sample-array', samples: value.value };
  }
}

function applyStatus(observation: Observation, value: AttributeValue): void {
  if (value.kind === 'u16') {
    observation.measurementStatus = value.value;
  }
}

function applyTimeStamp(observation: Observation, value: AttributeValue): void {
  if (value.kind === 'absolute-time') {
    observation.absoluteTime = value.value;
  } else if (value.kind === 'relative-time') {
    observation.relativeTime = value.value;
  } else if (value.kind === 'high-res-relative-time') {
    observation.highResRelativeTime = value.value;
  } else if (value.kind === 'base-offset-time') {
    observation.baseOffsetTime = value.value;
  }
}

/** Setter of the observation field that each observed-value, status or time stamp attribute fills. */
const appliers = new Map<number, Applier>([
  [O.MDC_ATTR_NU_VAL_OBS_SIMP, applyNumeric],
  [O.MDC_ATTR_NU_VAL_OBS_BASIC, applyNumeric],
  [O.MDC_ATTR_NU_VAL_OBS, applyNuObsValue],
  [O.MDC_ATTR_NU_CMPD_VAL_OBS_SIMP, applyCompound],
  [O.MDC_ATTR_NU_CMPD_VAL_OBS_BASIC, applyCompound],
  [O.MDC_ATTR_NU_CMPD_VAL_OBS, applyCompound],
  [O.MDC_ATTR_ENUM_OBS_VAL_SIMP_OID, applyEnumOid],
  [O.MDC_ATTR_ENUM_OBS_VAL_SIMP_BIT_STR, applyEnumBits],
  [O.MDC_ATTR_ENUM_OBS_VAL_BASIC_BIT_STR, applyEnumBits],
  [O.MDC_ATTR_ENUM_OBS_VAL_SIMP_STR, applyEnumText],
  [O.MDC_ATTR_VAL_ENUM_OBS, applyEnum],
  [O.MDC_ATTR_SIMP_SA_OBS_VAL, applySamples],
  [O.MDC_ATTR_MSMT_STAT, applyStatus],
  [O.MDC_ATTR_TIME_STAMP_ABS, applyTimeStamp],
  [O.MDC_ATTR_TIME_STAMP_REL, applyTimeStamp],
  [O.MDC_ATTR_TIME_STAMP_REL_HI_RES, applyTimeStamp],
  [O.MDC_ATTR_TIME_STAMP_BO, applyTimeStamp],
]);

/** Builds the observation of one object and reports zero-filled or impossible time stamps. */
export function buildObservation(
  handle: number,
  metric: MetricDescription | undefined,
  attributes: Ava[],
  quirks: Quirk[],
  personId?: number,
): Observation {
  const observation: Observation = { handle, attributes };
  if (personId !== undefined) {
    observation.personId = personId;
  }
  if (metric?.type !== undefined) {
    observation.type = metric.type;
  }
  if (metric?.unitCode !== undefined) {
    observation.unitCode = metric.unitCode;
  }
  // When several value attributes are present, the last one sets the value.
  for (const { attributeId, value } of attributes) {
    appliers.get(attributeId)?.(observation, value, metric);
  }
  checkTimeStamp(observation, quirks);
  return observation;
}

function checkTimeStamp(observation: Observation, quirks: Quirk[]): void {
  const time = observation.absoluteTime;
  if (time === undefined) {
    return;
  }
  if (isZeroAbsoluteTime(time)) {
    quirks.push({
      code: 'ZERO_TIME_STAMP',
      message: `handle ${observation.handle} carries an all-zero absolute time stamp (clock not set)`,
      handle: observation.handle,
    });
  } else if (!isValidAbsoluteTime(time)) {
    quirks.push({
      code: 'INVALID_TIME_STAMP',
      message: `handle ${observation.handle} carries the impossible time stamp ${formatAbsoluteTime(time)}`,
      handle: observation.handle,
    });
  }
}
