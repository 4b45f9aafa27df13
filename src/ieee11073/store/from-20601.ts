/**
 * Maps the observations the 20601 codec extracts from scan reports onto
 * medward's observation model, and gives each a gateway UTC time from the
 * device clock offsets measured for its association.
 */
import { randomFillSync } from 'node:crypto';
import type { EnumObsValue } from '../apdu.js';
import { octetStringText } from '../attributes.js';
import type { MderNumber } from '../float.js';
import { mdcCode, referenceIdOf, typeCode, ucumForUnitCode } from '../nomenclature.js';
import { MdcObject, MdcPartition } from '../nomenclature-table.js';
import type {
  CompoundComponent as CodecComponent,
  Observation as CodecObservation,
  ObservedValue,
} from '../observations.js';
import type { Configuration } from '../scan-report.js';
import {
  isValidAbsoluteTime,
  relativeTimeToMs,
  type AbsoluteTime,
  type BaseOffsetTime,
} from '../time.js';
import type {
  CompoundComponent,
  DecimalValue,
  Observation,
  ObservationTimestamp,
  ObservationValue,
  Unit,
} from './model.js';
import { formatIsoTime } from './iso-time.js';

const idEntropy = Buffer.alloc(16 * 256);
let idEntropyOffset = idEntropy.length;
/** ASCII of the UUID being written, turned into a string in one step. */
const idText = Buffer.alloc(36);
/** ASCII codes of the high and low hex digit of each byte value. */
const highHexDigits = new Uint8Array(256);
const lowHexDigits = new Uint8Array(256);
for (let value = 0; value < 256; value += 1) {
  const digits = value.toString(16).padStart(2, '0');
  highHexDigits[value] = digits.charCodeAt(0);
  lowHexDigits[value] = digits.charCodeAt(1);
}
/** Offsets in the UUID text of the hex digits of bytes 0 to 15. */
const idDigitOffsets = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
idText.fill('-'.charCodeAt(0));

/**
 * Returns a UUID version 7: 48 bits of Unix time in ms, then random bits.
 * Time-ordered ids keep inserts into the primary key index near its end,
 * where random UUIDs would touch a random page of the index for every row.
 */
export function timeOrderedUuid(nowMs: number = Date.now()): string {
  if (idEntropyOffset >= idEntropy.length) {
    randomFillSync(idEntropy);
    idEntropyOffset = 0;
  }
  const start = idEntropyOffset;
  idEntropyOffset += 16;
  idEntropy.writeUIntBE(nowMs, start, 6);
  idEntropy[start + 6] = ((idEntropy[start + 6] ?? 0) & 0x0f) | 0x70;
  idEntropy[start + 8] = ((idEntropy[start + 8] ?? 0) & 0x3f) | 0x80;
  for (let index = 0; index < 16; index += 1) {
    const value = idEntropy[start + index] ?? 0;
    const offset = idDigitOffsets[index] ?? 0;
    idText[offset] = highHexDigits[value] ?? 0;
    idText[offset + 1] = lowHexDigits[value] ?? 0;
  }
  return idText.toString('latin1', 0, 36);
}

/** RelativeTime value of an agent that keeps no relative time. */
export const NO_RELATIVE_TIME = 0xffffffff;

/**
 * What the gateway knows about one association's device clocks. Offsets are
 * device time minus gateway time; epochs are the gateway UTC at which a
 * relative clock read 0. Absent fields were not measured.
 */
export interface ClockReference {
  /** Absolute time of the device, read as if it were UTC, minus gateway UTC, in ms. */
  absoluteOffsetMs?: number;
  /** Base-offset time of the device minus gateway UTC, in ms. */
  baseOffsetOffsetMs?: number;
  /** Gateway UTC in ms at which the device's RelativeTime was 0. */
  relativeEpochMs?: number;
  /** Gateway UTC in ms at which the device's HighResRelativeTime was 0. */
  highResEpochMs?: number;
}

export interface MappingInput {
  observations: readonly CodecObservation[];
  configuration: Configuration;
  deviceSystemId: string;
  associationId: string;
  clock: ClockReference;
  receivedAtMs: number;
  /** event-time of the report (RelativeTime), NO_RELATIVE_TIME when the agent has none. */
  eventTime: number;
}

export interface MappingResult {
  observations: Observation[];
  /** Codec observations dropped because they carried no value or no type. */
  skipped: number;
}

/** Milliseconds since the epoch of an AbsoluteTime read as UTC. */
export function absoluteTimeToUtcMs(time: AbsoluteTime): number {
  const fullYear = time.century * 100 + time.year;
  const milliseconds = time.secFractions * 10;
  if (fullYear >= 100) {
    // Date.UTC reads years 0 to 99 as 1900 to 1999, so only later years take this path.
    return Date.UTC(
      fullYear,
      time.month - 1,
      time.day,
      time.hour,
      time.minute,
      time.second,
      milliseconds,
    );
  }
  const date = new Date(0);
  date.setUTCFullYear(fullYear, time.month - 1, time.day);
  date.setUTCHours(time.hour, time.minute, time.second, milliseconds);
  return date.getTime();
}

/** Milliseconds since the epoch of a BaseOffsetTime (its UTC instant). */
export function baseOffsetTimeToUtcMs(time: BaseOffsetTime): number {
  return time.boSeconds * 1000 + Math.floor((time.boFraction * 1000) / 65536);
}

function twoDigits(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}

/**
 * Formats an AbsoluteTime as `formatAbsoluteTime` of the codec does
 * ("2007-02-01T12:10:00.00"), without its per-call helper closure, because
 * this runs for every stored observation.
 */
function formatDeviceTime(time: AbsoluteTime): string {
  return (
    `${twoDigits(time.century)}${twoDigits(time.year)}-${twoDigits(time.month)}-${twoDigits(time.day)}` +
    `T${twoDigits(time.hour)}:${twoDigits(time.minute)}:${twoDigits(time.second)}.${twoDigits(time.secFractions)}`
  );
}

function formatBaseOffsetTime(time: BaseOffsetTime): string {
  const local = new Date(baseOffsetTimeToUtcMs(time) + time.boTimeOffset * 60000);
  const sign = time.boTimeOffset < 0 ? '-' : '+';
  const minutes = Math.abs(time.boTimeOffset);
  const offset = `${sign}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
  return `${local.toISOString().slice(0, 23)}${offset}`;
}

function timestampOf(
  observation: CodecObservation,
  clock: ClockReference,
  receivedAtMs: number,
  eventTime: number,
): ObservationTimestamp {
  const absolute = observation.absoluteTime;
  if (absolute !== undefined && isValidAbsoluteTime(absolute)) {
    const deviceMs = absoluteTimeToUtcMs(absolute);
    const offset = clock.absoluteOffsetMs;
    return {
      clock: 'absolute',
      deviceTime: formatDeviceTime(absolute),
      gatewayTime: formatIsoTime(deviceMs - (offset ?? 0)),
      offsetApplied: offset !== undefined,
    };
  }
  const baseOffset = observation.baseOffsetTime;
  if (baseOffset !== undefined) {
    const offset = clock.baseOffsetOffsetMs;
    return {
      clock: 'base-offset',
      deviceTime: formatBaseOffsetTime(baseOffset),
      gatewayTime: formatIsoTime(baseOffsetTimeToUtcMs(baseOffset) - (offset ?? 0)),
      offsetApplied: offset !== undefined,
    };
  }
  if (observation.relativeTime !== undefined) {
    const ticks = observation.relativeTime;
    // Without a measured epoch, the report's own event-time anchors the clock:
    // the report left the device at event-time and arrived at receivedAtMs.
    const epoch =
      clock.relativeEpochMs ??
      (eventTime === NO_RELATIVE_TIME ? undefined : receivedAtMs - relativeTimeToMs(eventTime));
    return {
      clock: 'relative',
      deviceTime: String(ticks),
      gatewayTime: formatIsoTime(
        epoch === undefined ? receivedAtMs : epoch + relativeTimeToMs(ticks),
      ),
      offsetApplied: epoch !== undefined,
    };
  }
  if (observation.highResRelativeTime !== undefined) {
    const micros = observation.highResRelativeTime;
    const epoch = clock.highResEpochMs;
    return {
      clock: 'relative',
      deviceTime: `${micros.toString()}us`,
      gatewayTime: formatIsoTime(
        epoch === undefined ? receivedAtMs : epoch + Number(micros / 1000n),
      ),
      offsetApplied: epoch !== undefined,
    };
  }
  return { clock: 'none', gatewayTime: formatIsoTime(receivedAtMs), offsetApplied: false };
}

export function decimalValueOf(number: MderNumber): DecimalValue {
  if (number.kind === 'finite') {
    return { decimal: number.decimal, number: number.value };
  }
  return { decimal: number.kind, number: null, special: number.kind };
}

/**
 * Units by the Unit-Code an agent sent. Observations share these objects, so
 * they are frozen. Agents choose the codes, so the table stops growing at
 * `MAX_CACHED_UNITS` and further codes get a unit object per observation.
 */
const unitsByCode = new Map<number, Unit>();
const MAX_CACHED_UNITS = 4096;

function unitOf(unitCode: number | undefined): Unit | undefined {
  if (unitCode === undefined) {
    return undefined;
  }
  let unit = unitsByCode.get(unitCode);
  if (unit === undefined) {
    const code = unitCode <= 0xffff ? mdcCode(MdcPartition.dimension, unitCode) : unitCode;
    const ucum = ucumForUnitCode(unitCode);
    unit = Object.freeze(ucum === undefined ? { code } : { code, ucum });
    if (unitsByCode.size < MAX_CACHED_UNITS) {
      unitsByCode.set(unitCode, unit);
    }
  }
  return unit;
}

function componentOf(component: CodecComponent): CompoundComponent {
  const mapped: CompoundComponent = decimalValueOf(component.value);
  if (component.metricId !== undefined) {
    mapped.code = component.metricId;
  }
  const unit = unitOf(component.unitCode);
  if (unit !== undefined) {
    mapped.unit = unit;
  }
  if (component.state !== undefined) {
    mapped.measurementStatus = component.state;
  }
  return mapped;
}

function enumValueOf(value: EnumObsValue, partition: number): ObservationValue | undefined {
  switch (value.value.choice) {
    case 'enum-obj-id':
      return { kind: 'enumeration', code: mdcCode(partition, value.value.value) };
    case 'enum-text-string':
      return { kind: 'enumeration', text: octetStringText(value.value.value) };
    case 'enum-bit-str':
      return { kind: 'enumeration', bits: value.value.value, bitsWidth: 32 };
    case 'unknown':
      return undefined;
  }
}

/** Partition of an enumerated OID without MDC_ATTR_ENUM_OBS_VAL_PART: the type's own. */
function typePartition(type: number | undefined): number {
  return type === undefined ? MdcPartition.scada : Math.floor(type / 65536);
}

function valueOf(value: ObservedValue, type: number | undefined): ObservationValue | undefined {
  switch (value.kind) {
    case 'numeric':
      return { kind: 'numeric', ...decimalValueOf(value.value) };
    case 'compound':
      return { kind: 'compound', components: value.components.map(componentOf) };
    case 'enum-oid':
      return {
        kind: 'enumeration',
        code: mdcCode(value.partition ?? typePartition(type), value.code),
      };
    case 'enum-bits':
      return { kind: 'enumeration', bits: value.bits, bitsWidth: value.width };
    case 'enum-text':
      return { kind: 'enumeration', text: octetStringText(value.text) };
    case 'enum':
      return enumValueOf(value.value, typePartition(type));
    case 'sample-array':
      return {
        kind: 'sample-array',
        samplesBase64: Buffer.from(value.samples).toString('base64'),
      };
  }
}

const supplementalCache = new WeakMap<Configuration, Map<number, number[]>>();

/** Returns the supplemental types (full codes) per handle of a configuration. */
function supplementalTypesOf(configuration: Configuration): Map<number, number[]> {
  let byHandle = supplementalCache.get(configuration);
  if (byHandle === undefined) {
    byHandle = new Map();
    for (const object of configuration.objects) {
      for (const { attributeId, value } of object.attributes) {
        if (attributeId === MdcObject.MDC_ATTR_SUPPLEMENTAL_TYPES && value.kind === 'type-list') {
          byHandle.set(object.objHandle, value.value.map(typeCode));
        }
      }
    }
    supplementalCache.set(configuration, byHandle);
  }
  return byHandle;
}

/**
 * Maps codec observations to model observations. A numeric value that carries
 * its own metric id, unit and status (NuObsValue) takes precedence over the
 * configuration's unit, and supplies the type when the configuration has none.
 */
export function observationsFrom20601(input: MappingInput): MappingResult {
  const supplemental = supplementalTypesOf(input.configuration);
  const receivedAt = formatIsoTime(input.receivedAtMs);
  const observations: Observation[] = [];
  let skipped = 0;
  for (const source of input.observations) {
    const codecValue = source.value;
    const type = source.type ?? (codecValue?.kind === 'numeric' ? codecValue.metricId : undefined);
    const value = codecValue === undefined ? undefined : valueOf(codecValue, type);
    if (value === undefined || type === undefined) {
      skipped += 1;
      continue;
    }
    const observation: Observation = {
      id: timeOrderedUuid(input.receivedAtMs),
      deviceSystemId: input.deviceSystemId,
      associationId: input.associationId,
      handle: source.handle,
      type,
      value,
      timestamp: timestampOf(source, input.clock, input.receivedAtMs, input.eventTime),
      receivedAt,
    };
    const referenceId = referenceIdOf(type);
    if (referenceId !== undefined) {
      observation.typeReferenceId = referenceId;
    }
    if (source.personId !== undefined) {
      observation.personId = source.personId;
    }
    const unit = unitOf(
      codecValue?.kind === 'numeric' ? (codecValue.unitCode ?? source.unitCode) : source.unitCode,
    );
    if (unit !== undefined) {
      observation.unit = unit;
    }
    const status =
      source.measurementStatus ?? (codecValue?.kind === 'numeric' ? codecValue.state : undefined);
    if (status !== undefined) {
      observation.measurementStatus = status;
    }
    const types = supplemental.get(source.handle);
    if (types !== undefined) {
      observation.supplementalTypes = types;
    }
    observations.push(observation);
  }
  return { observations, skipped };
}
