/**
 * Agent time stamps on the gateway's timeline, following the coincident time
 * stamp rules of the PHD guide (1.1.0):
 *
 * - No time stamp: the measurement takes the time the gateway received it.
 * - A time stamp and a reading of the agent's current clock of the same kind
 *   (the coincident time stamp): the time stamp moves by the difference
 *   between the gateway's and the agent's clock at the reading. The agent's
 *   time is kept instead when the agent reports an external synchronisation
 *   that the gateway lacks. Relative clocks are always mapped through the reading.
 * - A time stamp without such a reading (a time fault): the coincident time
 *   stamp carries no agent time, and the measurement has no effective time
 *   unless the agent reports a synchronised wall clock.
 */
import { FhirDecimal } from './fhir-json.js';
import { mderBitSet, PhdCode } from './codes.js';
import type { PhdAgentTime, PhdClockReading, PhdDeviceInput } from './input.js';

export interface AbsoluteTimeFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  hundredths: number;
}

const absolutePattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{2})$/;

/** Parses "2007-02-01T12:10:00.00"; returns undefined for impossible dates such as the all-zero clock. */
export function parseAbsoluteTime(text: string): AbsoluteTimeFields | undefined {
  const match = absolutePattern.exec(text);
  if (match === null) {
    return undefined;
  }
  const [year, month, day, hour, minute, second, hundredths] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) {
    return undefined;
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  return { year, month, day, hour, minute, second, hundredths };
}

/** Milliseconds since 1970 of a wall-clock time read as if it were UTC. */
function wallClockMs(fields: AbsoluteTimeFields): number {
  const ms = Date.UTC(
    fields.year,
    fields.month - 1,
    fields.day,
    fields.hour,
    fields.minute,
    fields.second,
    fields.hundredths * 10,
  );
  // Date.UTC maps years 0-99 to 1900-1999.
  return new Date(ms).setUTCFullYear(fields.year);
}

function baseOffsetMs(time: Extract<PhdAgentTime, { kind: 'base-offset' }>): number {
  return time.seconds * 1000 + Math.floor((time.fraction * 1000) / 65536);
}

/**
 * Writes the agent's own time stamp as the guide's Observation.identifier
 * part: an absolute time as HL7 DTM digits (20070201121000.00), a
 * base-offset time as seconds.fraction.offset with a signed offset
 * (3563536440.4884.-300), relative and high-resolution times as their tick
 * counts.
 */
export function identifierTimestamp(time: PhdAgentTime): string {
  switch (time.kind) {
    case 'absolute':
      return time.value.replace(/[-:T]/g, '');
    case 'base-offset': {
      const sign = time.offsetMinutes < 0 ? '-' : '+';
      return `${time.seconds}.${time.fraction}.${sign}${Math.abs(time.offsetMinutes)}`;
    }
    case 'relative':
      return String(time.ticks);
    case 'high-res-relative':
      return time.microseconds;
  }
}

function offsetText(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const absolute = Math.abs(offsetMinutes);
  const hours = String(Math.floor(absolute / 60)).padStart(2, '0');
  const minutes = String(absolute % 60).padStart(2, '0');
  return `${sign}${hours}:${minutes}`;
}

/** Writes an instant as a FHIR dateTime in the local time of `offsetMinutes`. */
export function dateTimeWithOffset(ms: number, offsetMinutes: number): string {
  const local = new Date(ms + offsetMinutes * 60000).toISOString();
  return `${local.slice(0, 23)}${offsetText(offsetMinutes)}`;
}

function absoluteDateTime(fields: AbsoluteTimeFields, offsetMinutes: number): string {
  const two = (value: number): string => String(value).padStart(2, '0');
  const date = `${String(fields.year).padStart(4, '0')}-${two(fields.month)}-${two(fields.day)}`;
  const time = `${two(fields.hour)}:${two(fields.minute)}:${two(fields.second)}.${two(fields.hundredths)}`;
  return `${date}T${time}${offsetText(offsetMinutes)}`;
}

export type ClockKind = PhdAgentTime['kind'];

/** Coincident time stamp code of each kind of agent clock. */
export const clockCode: Readonly<Record<ClockKind, number>> = {
  absolute: PhdCode.absoluteClock,
  'base-offset': PhdCode.baseOffsetClock,
  relative: PhdCode.relativeClock,
  'high-res-relative': PhdCode.highResRelativeClock,
};

/** MDS-Time-Info state bit that is set while the clock of this kind is externally synchronised. */
const syncedStateBit: Readonly<Record<ClockKind, number>> = {
  absolute: 8,
  relative: 9,
  'high-res-relative': 10,
  'base-offset': 13,
};

/** Returns whether the agent reports its clock of this kind as externally synchronised. */
export function agentClockSynchronized(
  kind: ClockKind,
  timeInfo: PhdDeviceInput['timeInfo'],
): boolean {
  if (timeInfo === undefined) {
    return false;
  }
  const protocol = 8 * 65536 + timeInfo.syncProtocol;
  return (
    protocol !== PhdCode.timeSyncNone && mderBitSet(timeInfo.capabilities, syncedStateBit[kind], 16)
  );
}

/** The coincident time stamp of an observation with an agent time stamp. */
export interface CoincidentTime {
  /** Same key for every observation that shares this reading (or time fault). */
  key: string;
  deviceSystemId: string;
  clock: ClockKind;
  /** The gateway's time at the reading; absent when the agent's clock is the better one. */
  gatewayTime?: string;
  /** The agent's clock at the reading; absent for a time fault. */
  agentValue?: { kind: 'dateTime'; value: string } | { kind: 'microseconds'; value: FhirDecimal };
}

export interface Timing {
  effectiveDateTime?: string;
  coincident?: CoincidentTime;
}

export interface TimingInput {
  deviceSystemId: string;
  agentTime?: PhdAgentTime;
  gatewayReceivedAt: string;
  gatewayUtcOffsetMinutes?: number;
  agentClock?: PhdClockReading;
}

export interface TimingContext {
  device: PhdDeviceInput | undefined;
  /** Whether the gateway's own clock is synchronised to UTC (its time-sync protocol is not none). */
  gatewaySynchronized: boolean;
}

function isoInstant(ms: number): string | undefined {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Signed difference of two 32-bit tick counts, so a counter that wrapped once still subtracts right. */
function tickDifference(later: number, earlier: number): number {
  let difference = later - earlier;
  if (difference > 2 ** 31) {
    difference -= 2 ** 32;
  } else if (difference < -(2 ** 31)) {
    difference += 2 ** 32;
  }
  return difference;
}

/** Computes an observation's effective time and coincident time stamp. */
export function resolveTiming(input: TimingInput, context: TimingContext): Timing {
  const agentTime = input.agentTime;
  if (agentTime === undefined) {
    return { effectiveDateTime: new Date(input.gatewayReceivedAt).toISOString() };
  }
  const offsetMinutes = input.gatewayUtcOffsetMinutes ?? 0;
  const agentSynchronized = agentClockSynchronized(agentTime.kind, context.device?.timeInfo);
  const reading = usableReading(agentTime, input.agentClock);
  if (reading === undefined) {
    return timeFault(input, agentTime, agentSynchronized, offsetMinutes);
  }
  const gatewayMs = Date.parse(reading.gatewayTime);
  const keepAgentTime =
    agentSynchronized && !context.gatewaySynchronized && agentTime.kind !== 'relative';
  const coincident: CoincidentTime = {
    key: `reading:${input.deviceSystemId}:${reading.gatewayTime}:${identifierTimestamp(reading.agentTime)}`,
    deviceSystemId: input.deviceSystemId,
    clock: agentTime.kind,
    ...(keepAgentTime ? {} : { gatewayTime: new Date(gatewayMs).toISOString() }),
    agentValue: agentClockValue(reading.agentTime, offsetMinutes),
  };
  const effectiveMs = correctedTime(agentTime, reading.agentTime, gatewayMs, {
    keepAgentTime,
    offsetMinutes,
  });
  const effectiveDateTime = effectiveMs === undefined ? undefined : isoInstant(effectiveMs);
  return effectiveDateTime === undefined ? { coincident } : { effectiveDateTime, coincident };
}

/** Returns the clock reading when it is of the time stamp's kind and readable. */
function usableReading(
  agentTime: PhdAgentTime,
  reading: PhdClockReading | undefined,
): PhdClockReading | undefined {
  if (reading === undefined || reading.agentTime.kind !== agentTime.kind) {
    return undefined;
  }
  if (
    reading.agentTime.kind === 'absolute' &&
    parseAbsoluteTime(reading.agentTime.value) === undefined
  ) {
    return undefined;
  }
  return reading;
}

function timeFault(
  input: TimingInput,
  agentTime: PhdAgentTime,
  agentSynchronized: boolean,
  offsetMinutes: number,
): Timing {
  const receivedAt = new Date(input.gatewayReceivedAt).toISOString();
  const coincident: CoincidentTime = {
    key: `fault:${input.deviceSystemId}:${receivedAt}`,
    deviceSystemId: input.deviceSystemId,
    clock: agentTime.kind,
    gatewayTime: receivedAt,
  };
  if (!agentSynchronized) {
    return { coincident };
  }
  let ms: number | undefined;
  if (agentTime.kind === 'absolute') {
    const fields = parseAbsoluteTime(agentTime.value);
    ms = fields === undefined ? undefined : wallClockMs(fields) - offsetMinutes * 60000;
  } else if (agentTime.kind === 'base-offset') {
    ms = baseOffsetMs(agentTime);
  }
  const effectiveDateTime = ms === undefined ? undefined : isoInstant(ms);
  return effectiveDateTime === undefined ? { coincident } : { effectiveDateTime, coincident };
}

function agentClockValue(
  clock: PhdAgentTime,
  offsetMinutes: number,
): NonNullable<CoincidentTime['agentValue']> {
  switch (clock.kind) {
    case 'absolute': {
      const fields = parseAbsoluteTime(clock.value);
      if (fields === undefined) {
        throw new RangeError(`agent clock ${clock.value} is not a valid absolute time`);
      }
      return { kind: 'dateTime', value: absoluteDateTime(fields, offsetMinutes) };
    }
    case 'base-offset':
      return {
        kind: 'dateTime',
        value: dateTimeWithOffset(baseOffsetMs(clock), clock.offsetMinutes),
      };
    case 'relative':
      return { kind: 'microseconds', value: new FhirDecimal(String(clock.ticks * 125)) };
    case 'high-res-relative':
      return { kind: 'microseconds', value: new FhirDecimal(clock.microseconds) };
  }
}

/** Computes the measurement's instant on the gateway's timeline; undefined when it has none. */
function correctedTime(
  stamp: PhdAgentTime,
  clock: PhdAgentTime,
  gatewayMs: number,
  options: { keepAgentTime: boolean; offsetMinutes: number },
): number | undefined {
  if (stamp.kind === 'absolute' && clock.kind === 'absolute') {
    const stampFields = parseAbsoluteTime(stamp.value);
    const clockFields = parseAbsoluteTime(clock.value);
    if (stampFields === undefined || clockFields === undefined) {
      return undefined;
    }
    const stampMs = wallClockMs(stampFields);
    return options.keepAgentTime
      ? stampMs - options.offsetMinutes * 60000
      : gatewayMs + (stampMs - wallClockMs(clockFields));
  }
  if (stamp.kind === 'base-offset' && clock.kind === 'base-offset') {
    const stampMs = baseOffsetMs(stamp);
    return options.keepAgentTime ? stampMs : gatewayMs + (stampMs - baseOffsetMs(clock));
  }
  if (stamp.kind === 'relative' && clock.kind === 'relative') {
    return gatewayMs + tickDifference(stamp.ticks, clock.ticks) / 8;
  }
  if (stamp.kind === 'high-res-relative' && clock.kind === 'high-res-relative') {
    const differenceUs = BigInt(stamp.microseconds) - BigInt(clock.microseconds);
    return gatewayMs + Number(differenceUs) / 1000;
  }
  return undefined;
}
