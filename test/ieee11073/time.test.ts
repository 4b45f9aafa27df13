import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  absoluteTimeFromDate,
  decodeAbsoluteTime,
  encodeAbsoluteTime,
  formatAbsoluteTime,
  isValidAbsoluteTime,
  isZeroAbsoluteTime,
  msToRelativeTime,
  reactionFor,
  relativeTimeToMs,
  RorjProblem,
  type AbsoluteTime,
} from '../../src/ieee11073/index.js';
import { bytesOf, hexOf } from './support.js';

const bcdField = fc.integer({ min: 0, max: 99 });
// fast-check builds records without a prototype; spreading gives plain objects for deepEqual.
const absoluteTime = fc
  .record<AbsoluteTime>({
    century: bcdField,
    year: bcdField,
    month: bcdField,
    day: bcdField,
    hour: bcdField,
    minute: bcdField,
    second: bcdField,
    secFractions: bcdField,
  })
  .map((time): AbsoluteTime => ({ ...time }));

describe('ieee11073 AbsoluteTime', () => {
  test('BCD bytes decode to fields', () => {
    const time = decodeAbsoluteTime(bytesOf('2007020112100099'));
    assert.deepEqual(time, {
      century: 20,
      year: 7,
      month: 2,
      day: 1,
      hour: 12,
      minute: 10,
      second: 0,
      secFractions: 99,
    });
    assert.equal(formatAbsoluteTime(time), '2007-02-01T12:10:00.99');
    assert.ok(isValidAbsoluteTime(time));
  });

  test('invalid BCD digit names its offset', () => {
    assert.throws(
      () => decodeAbsoluteTime(bytesOf('200702011a100000')),
      (error: unknown) => {
        const details = (error as { code: string; details: Record<string, unknown> }).details;
        assert.equal((error as { code: string }).code, 'MDER_INVALID_BCD');
        assert.equal(details.offset, 4);
        assert.equal(details.value, 0x1a);
        assert.equal(details.field, 'absolute-time.hour');
        assert.deepEqual(reactionFor(error), {
          kind: 'reject',
          problem: RorjProblem.badlyStructuredApdu,
        });
        return true;
      },
    );
  });

  test('high BCD nibble is rejected', () => {
    assert.throws(() => decodeAbsoluteTime(bytesOf('a007020112100000')), {
      code: 'MDER_INVALID_BCD',
    });
  });

  test('short or long input is rejected', () => {
    assert.throws(() => decodeAbsoluteTime(bytesOf('20070201121000')), { code: 'MDER_TRUNCATED' });
    assert.throws(() => decodeAbsoluteTime(bytesOf('200702011210000000')), {
      code: 'MDER_LENGTH_MISMATCH',
    });
  });

  test('zero-filled time is flagged', () => {
    const time = decodeAbsoluteTime(bytesOf('0000000000000000'));
    assert.ok(isZeroAbsoluteTime(time));
    assert.equal(isValidAbsoluteTime(time), false);
    assert.equal(isZeroAbsoluteTime(decodeAbsoluteTime(bytesOf('2007020112100000'))), false);
  });

  test('impossible dates are invalid', () => {
    assert.equal(isValidAbsoluteTime(decodeAbsoluteTime(bytesOf('2007023112100000'))), false);
    assert.equal(isValidAbsoluteTime(decodeAbsoluteTime(bytesOf('2008022912100000'))), true);
    assert.equal(isValidAbsoluteTime(decodeAbsoluteTime(bytesOf('2007130112100000'))), false);
    assert.equal(isValidAbsoluteTime(decodeAbsoluteTime(bytesOf('2007010124000000'))), false);
  });

  test('encoder rejects non-BCD fields', () => {
    const time = decodeAbsoluteTime(bytesOf('2007020112100000'));
    assert.throws(() => encodeAbsoluteTime({ ...time, minute: 100 }), {
      code: 'MDER_ENCODE_INVALID',
    });
    assert.throws(() => encodeAbsoluteTime({ ...time, second: 1.5 }), {
      code: 'MDER_ENCODE_INVALID',
    });
  });

  test('date conversion uses UTC fields', () => {
    const time = absoluteTimeFromDate(new Date('2024-03-05T06:07:08.456Z'));
    assert.equal(hexOf(encodeAbsoluteTime(time)), '2024030506070845');
  });

  test('BCD round trip property', () => {
    fc.assert(
      fc.property(absoluteTime, (time) => {
        assert.deepEqual(decodeAbsoluteTime(encodeAbsoluteTime(time)), time);
      }),
      { numRuns: 5000 },
    );
  });

  test('BCD bytes round trip property', () => {
    const bcdByte = bcdField.map((value) => Math.floor(value / 10) * 16 + (value % 10));
    fc.assert(
      fc.property(fc.array(bcdByte, { minLength: 8, maxLength: 8 }), (bytes) => {
        const input = new Uint8Array(bytes);
        assert.deepEqual(encodeAbsoluteTime(decodeAbsoluteTime(input)), input);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('ieee11073 RelativeTime', () => {
  test('ticks are eighth milliseconds', () => {
    assert.equal(relativeTimeToMs(8), 1);
    assert.equal(relativeTimeToMs(0x00490050), 598026);
    assert.equal(msToRelativeTime(1.5), 12);
  });
});
