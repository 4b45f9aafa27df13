/**
 * oneM2M timestamps (m2m:timestamp): ISO 8601 basic format in UTC,
 * `YYYYMMDDTHHMMSS` with an optional fraction after `,` or `.`. medward
 * writes `YYYYMMDDTHHMMSS,ffffff`, which sorts as text in time order, so
 * stored timestamps compare with plain string comparison.
 */

const TIMESTAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?:[.,](\d{1,9}))?(Z)?$/;

const pad = (value: number, width: number): string => String(value).padStart(width, '0');

// Requests handled within the same millisecond format the same time.
let lastEpochMs = Number.NaN;
let lastTimestamp = '';

export function formatTimestamp(epochMs: number): string {
  if (epochMs !== lastEpochMs) {
    lastTimestamp = formatNewTimestamp(epochMs);
    lastEpochMs = epochMs;
  }
  return lastTimestamp;
}

function formatNewTimestamp(epochMs: number): string {
  const date = new Date(epochMs);
  return (
    pad(date.getUTCFullYear(), 4) +
    pad(date.getUTCMonth() + 1, 2) +
    pad(date.getUTCDate(), 2) +
    'T' +
    pad(date.getUTCHours(), 2) +
    pad(date.getUTCMinutes(), 2) +
    pad(date.getUTCSeconds(), 2) +
    ',' +
    pad(date.getUTCMilliseconds() * 1000, 6)
  );
}

/** Parses a oneM2M timestamp to epoch milliseconds; returns undefined when it is not one. */
export function parseTimestamp(text: string): number | undefined {
  const match = TIMESTAMP.exec(text);
  if (match === null) {
    return undefined;
  }
  const [, year, month, day, hour, minute, second, fraction] = match;
  const ms = Date.UTC(
    Number(year),
    Number(month) - 1,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
    fraction === undefined ? 0 : Math.floor(Number(`0.${fraction}`) * 1000),
  );
  const check = new Date(ms);
  // Date.UTC rolls 20240231 over to March; such a date is not a valid timestamp.
  if (
    check.getUTCFullYear() !== Number(year) ||
    check.getUTCMonth() !== Number(month) - 1 ||
    check.getUTCDate() !== Number(day) ||
    Number(hour) > 23 ||
    Number(minute) > 59 ||
    Number(second) > 59
  ) {
    return undefined;
  }
  return ms;
}

const DURATION =
  /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Parses an xs:duration (`PT5S`, `P1DT2H`) to milliseconds. Years count as 365
 * days and months as 30 days. Returns undefined for anything else, including
 * a bare `P` or `PT`.
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (match === null || text === 'P' || text.endsWith('T')) {
    return undefined;
  }
  const value = (index: number): number => Number(match[index] ?? 0);
  const totalSeconds =
    value(1) * 365 * 86400 +
    value(2) * 30 * 86400 +
    value(3) * 86400 +
    value(4) * 3600 +
    value(5) * 60 +
    value(6);
  return Math.round(totalSeconds * 1000);
}
