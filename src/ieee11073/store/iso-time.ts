/**
 * ISO 8601 UTC time stamps ("2026-03-01T12:30:05.250Z") of the observation
 * hot path. `Date#toISOString` costs about 0.6 µs and `Date.parse` about
 * 0.2 µs on Node.js 20, and the manager formats three and parses four for a
 * report of two observations, so both reuse the date of the last time stamp.
 */

const MS_PER_DAY = 86_400_000;

/** The last day seen: its first millisecond and its "YYYY-MM-DDT" prefix. */
let cachedDayStartMs = Number.NaN;
let cachedDayPrefix = '';
/** The last second formatted: its first millisecond and its "YYYY-MM-DDTHH:MM:SS" prefix. */
let cachedSecondStartMs = Number.NaN;
let cachedSecondPrefix = '';

const twoDigits: string[] = Array.from({ length: 100 }, (_, value) =>
  String(value).padStart(2, '0'),
);
/** ".000Z" to ".999Z", so a time stamp is one concatenation of two cached strings. */
const millisecondSuffixes: string[] = Array.from(
  { length: 1000 },
  (_, value) => `.${String(value).padStart(3, '0')}Z`,
);

/** First and last millisecond that `toISOString` writes with a four-digit year (0000 to 9999). */
const MIN_FAST_MS = -62_167_219_200_000;
const MAX_FAST_MS = 253_402_300_799_999;

function dayPrefixOf(dayStartMs: number): string {
  if (dayStartMs !== cachedDayStartMs) {
    cachedDayStartMs = dayStartMs;
    cachedDayPrefix = new Date(dayStartMs).toISOString().slice(0, 11);
  }
  return cachedDayPrefix;
}

/** Returns what `new Date(ms).toISOString()` returns; throws RangeError the same way for invalid times. */
export function formatIsoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < MIN_FAST_MS || ms > MAX_FAST_MS) {
    return new Date(ms).toISOString();
  }
  const milliseconds = ((ms % 1000) + 1000) % 1000;
  const secondStartMs = ms - milliseconds;
  if (secondStartMs !== cachedSecondStartMs) {
    const timeOfDayMs = ((secondStartMs % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY;
    const seconds = timeOfDayMs / 1000;
    const hours = twoDigits[Math.floor(seconds / 3600)] ?? '';
    const minutes = twoDigits[Math.floor(seconds / 60) % 60] ?? '';
    cachedSecondPrefix = `${dayPrefixOf(secondStartMs - timeOfDayMs)}${hours}:${minutes}:${twoDigits[seconds % 60] ?? ''}`;
    cachedSecondStartMs = secondStartMs;
  }
  return cachedSecondPrefix + (millisecondSuffixes[milliseconds] ?? '');
}

function digitsAt(text: string, start: number, count: number): number {
  let value = 0;
  for (let index = start; index < start + count; index += 1) {
    const digit = text.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) {
      return Number.NaN;
    }
    value = value * 10 + digit;
  }
  return value;
}

/**
 * Returns what `Date.parse(text)` returns. Text in the exact form that
 * `formatIsoTime` writes, on the day it formatted last, is read without
 * `Date.parse`.
 */
export function parseIsoTime(text: string): number {
  if (
    text.length !== 24 ||
    cachedDayPrefix === '' ||
    !text.startsWith(cachedDayPrefix) ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 46 ||
    text.charCodeAt(23) !== 90
  ) {
    return Date.parse(text);
  }
  const hours = digitsAt(text, 11, 2);
  const minutes = digitsAt(text, 14, 2);
  const seconds = digitsAt(text, 17, 2);
  const milliseconds = digitsAt(text, 20, 3);
  // NaN, from a character that is no digit, fails every comparison.
  if (!(hours <= 23 && minutes <= 59 && seconds <= 59 && milliseconds >= 0)) {
    return Date.parse(text);
  }
  return cachedDayStartMs + ((hours * 60 + minutes) * 60 + seconds) * 1000 + milliseconds;
}
