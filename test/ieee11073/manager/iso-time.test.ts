import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatIsoTime, parseIsoTime } from '../../../src/ieee11073/store/iso-time.js';

/** Times around day, year and range boundaries, before and after 1970. */
const edgeTimes = [
  0,
  -1,
  1,
  86_399_999,
  86_400_000,
  Date.UTC(2024, 1, 29, 23, 59, 59, 999),
  Date.UTC(2026, 11, 31, 23, 59, 59, 999),
  Date.UTC(2027, 0, 1),
  -62_167_219_200_000,
  -62_167_219_200_001,
  253_402_300_799_999,
  253_402_300_800_000,
  Date.UTC(1969, 11, 31, 12, 0, 0, 5),
];

test('iso time formats like toISOString', () => {
  for (const ms of edgeTimes) {
    assert.equal(formatIsoTime(ms), new Date(ms).toISOString(), `ms ${ms}`);
  }
  let seed = 12345;
  for (let index = 0; index < 20000; index += 1) {
    // A linear congruential sequence spread over years 1900 to 2100.
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const ms = Date.UTC(1900, 0, 1) + Math.floor((seed / 2147483648) * 6.3e12);
    assert.equal(formatIsoTime(ms), new Date(ms).toISOString(), `ms ${ms}`);
  }
});

test('iso time rejects invalid times', () => {
  assert.throws(() => formatIsoTime(Number.NaN), RangeError);
  assert.throws(() => formatIsoTime(8.64e15 + 1), RangeError);
  assert.equal(formatIsoTime(1.5), new Date(1.5).toISOString());
});

test('iso time parses like Date.parse', () => {
  const now = Date.UTC(2026, 2, 1, 12, 30, 5, 250);
  const formatted = formatIsoTime(now);
  const texts = [
    formatted,
    formatted.replace('12:30', '23:59'),
    formatted.replace(':05.', ':60.'),
    formatted.replace('12:', '24:'),
    formatted.replace('.250', '.2x0'),
    formatted.replace('Z', '+01:00'),
    formatted.slice(0, 19) + 'Z',
    '2026-03-02T00:00:00.000Z',
    '1970-01-01T00:00:00.000Z',
    'yesterday',
    '',
  ];
  for (const text of texts) {
    assert.deepEqual(parseIsoTime(text), Date.parse(text), `text ${text}`);
  }
  for (const ms of edgeTimes) {
    const text = new Date(ms).toISOString();
    assert.equal(parseIsoTime(formatIsoTime(ms)), ms, `ms ${ms}`);
    assert.equal(parseIsoTime(text), ms, `text ${text}`);
  }
});
