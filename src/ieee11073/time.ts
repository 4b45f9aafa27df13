/**
 * Time types of IEEE 11073-20601:
 * - AbsoluteTime: eight BCD bytes (century, year, month, day, hour, minute,
 *   second, hundredths of a second), local time of the agent without a zone.
 * - BaseOffsetTime: seconds since 1970-01-01T00:00:00Z, a fraction in
 *   1/65536 s and the local offset from UTC in minutes.
 * - RelativeTime: unsigned 32-bit count of 1/8 ms ticks (125 us).
 * - HighResRelativeTime: unsigned 64-bit count of microseconds.
 */
import { MderReader, MderWriter } from './mder.js';
import { MderErrorCode, encodeError } from './mder-error.js';

export interface AbsoluteTime {
  century: number;
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Hundredths of a second. */
  secFractions: number;
}

export interface BaseOffsetTime {
  boSeconds: number;
  /** Fraction of a second in 1/65536 s. */
  boFraction: number;
  /** Offset of local time from UTC in minutes. */
  boTimeOffset: number;
}

export const ABSOLUTE_TIME_BYTES = 8;
export const BASE_OFFSET_TIME_BYTES = 8;
/** RelativeTime ticks per millisecond. */
export const RELATIVE_TIME_TICKS_PER_MS = 8;

/** Reads one BCD byte; throws MDER_INVALID_BCD with the byte offset when a nibble is above 9. */
function readBcd(reader: MderReader, field: string): number {
  const offset = reader.pos;
  const byte = reader.u8(field);
  const high = byte >> 4;
  const low = byte & 0x0f;
  if (high > 9 || low > 9) {
    throw reader.fail(
      MderErrorCode.InvalidBcd,
      field,
      `byte 0x${byte.toString(16).padStart(2, '0')} is not a BCD digit pair`,
      byte,
      offset,
    );
  }
  return high * 10 + low;
}

export function readAbsoluteTime(reader: MderReader): AbsoluteTime {
  return {
    century: readBcd(reader, 'absolute-time.century'),
    year: readBcd(reader, 'absolute-time.year'),
    month: readBcd(reader, 'absolute-time.month'),
    day: readBcd(reader, 'absolute-time.day'),
    hour: readBcd(reader, 'absolute-time.hour'),
    minute: readBcd(reader, 'absolute-time.minute'),
    second: readBcd(reader, 'absolute-time.second'),
    secFractions: readBcd(reader, 'absolute-time.sec-fractions'),
  };
}

function writeBcd(writer: MderWriter, value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 99) {
    throw encodeError(`${field} must be an integer in 0..99 to fit two BCD digits`, field, value);
  }
  writer.u8(Math.floor(value / 10) * 16 + (value % 10), field);
}

export function writeAbsoluteTime(writer: MderWriter, time: AbsoluteTime): void {
  writeBcd(writer, time.century, 'absolute-time.century');
  writeBcd(writer, time.year, 'absolute-time.year');
  writeBcd(writer, time.month, 'absolute-time.month');
  writeBcd(writer, time.day, 'absolute-time.day');
  writeBcd(writer, time.hour, 'absolute-time.hour');
  writeBcd(writer, time.minute, 'absolute-time.minute');
  writeBcd(writer, time.second, 'absolute-time.second');
  writeBcd(writer, time.secFractions, 'absolute-time.sec-fractions');
}

/** Decodes the 8 BCD bytes of an AbsoluteTime; throws MDER_TRUNCATED, MDER_LENGTH_MISMATCH or MDER_INVALID_BCD. */
export function decodeAbsoluteTime(bytes: Uint8Array): AbsoluteTime {
  const reader = new MderReader(bytes);
  const time = readAbsoluteTime(reader);
  if (reader.remaining > 0) {
    throw reader.fail(
      MderErrorCode.LengthMismatch,
      'absolute-time',
      `${reader.remaining} bytes follow the AbsoluteTime`,
      reader.remaining,
    );
  }
  return time;
}

/** Returns the 8 BCD bytes of an AbsoluteTime; throws MDER_ENCODE_INVALID for fields outside 0..99. */
export function encodeAbsoluteTime(time: AbsoluteTime): Uint8Array {
  const writer = new MderWriter();
  writeAbsoluteTime(writer, time);
  return writer.finish();
}

/** True for the all-zero AbsoluteTime that agents send when their clock is not set. */
export function isZeroAbsoluteTime(time: AbsoluteTime): boolean {
  return (
    time.century === 0 &&
    time.year === 0 &&
    time.month === 0 &&
    time.day === 0 &&
    time.hour === 0 &&
    time.minute === 0 &&
    time.second === 0 &&
    time.secFractions === 0
  );
}

/** Days of each month of a common year, January first. */
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** True when month, day and time of day are in range (days checked against the month length). */
export function isValidAbsoluteTime(time: AbsoluteTime): boolean {
  if (time.month < 1 || time.month > 12 || time.day < 1) {
    return false;
  }
  const year = time.century * 100 + time.year;
  const leapYear = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const februaryDays = leapYear ? 29 : 28;
  const daysInMonth = time.month === 2 ? februaryDays : (DAYS_IN_MONTH[time.month - 1] ?? 31);
  return time.day <= daysInMonth && time.hour <= 23 && time.minute <= 59 && time.second <= 59;
}

/** Formats as "2007-02-01T12:10:00.00" (local time of the agent, no zone). */
export function formatAbsoluteTime(time: AbsoluteTime): string {
  const two = (value: number): string => String(value).padStart(2, '0');
  const date = `${two(time.century)}${two(time.year)}-${two(time.month)}-${two(time.day)}`;
  return `${date}T${two(time.hour)}:${two(time.minute)}:${two(time.second)}.${two(time.secFractions)}`;
}

/** Builds an AbsoluteTime from the UTC fields of `date`, rounding milliseconds down to hundredths. */
export function absoluteTimeFromDate(date: Date): AbsoluteTime {
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) {
    throw encodeError(`year ${year} does not fit AbsoluteTime`, 'absolute-time.year', year);
  }
  return {
    century: Math.floor(year / 100),
    year: year % 100,
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
    second: date.getUTCSeconds(),
    secFractions: Math.floor(date.getUTCMilliseconds() / 10),
  };
}

export function readBaseOffsetTime(reader: MderReader): BaseOffsetTime {
  return {
    boSeconds: reader.u32('base-offset-time.bo-seconds'),
    boFraction: reader.u16('base-offset-time.bo-fraction'),
    boTimeOffset: reader.i16('base-offset-time.bo-time-offset'),
  };
}

export function writeBaseOffsetTime(writer: MderWriter, time: BaseOffsetTime): void {
  writer.u32(time.boSeconds, 'base-offset-time.bo-seconds');
  writer.u16(time.boFraction, 'base-offset-time.bo-fraction');
  writer.i16(time.boTimeOffset, 'base-offset-time.bo-time-offset');
}

/** Converts RelativeTime ticks (1/8 ms) to milliseconds. */
export function relativeTimeToMs(ticks: number): number {
  return ticks / RELATIVE_TIME_TICKS_PER_MS;
}

/** Converts milliseconds to RelativeTime ticks, rounding down. */
export function msToRelativeTime(ms: number): number {
  return Math.floor(ms * RELATIVE_TIME_TICKS_PER_MS);
}
