import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  MderSpecial,
  decimalString,
  decodeFloat,
  decodeSfloat,
  encodeFloat,
  encodeSfloat,
  finiteNumber,
  mderNumberFromDecimal,
  type MderNumber,
} from '../../src/ieee11073/index.js';

const floatSpecialMantissas = new Set([0x7fffff, -0x800000, 0x7ffffe, -0x7ffffe, -0x7fffff]);
const sfloatSpecialMantissas = new Set([0x7ff, -0x800, 0x7fe, -0x7fe, -0x7ff]);

const finiteFloat = fc
  .record({
    mantissa: fc.integer({ min: -0x800000, max: 0x7fffff }),
    exponent: fc.integer({ min: -128, max: 127 }),
  })
  .filter(({ mantissa, exponent }) => exponent !== 0 || !floatSpecialMantissas.has(mantissa));

const finiteSfloat = fc
  .record({
    mantissa: fc.integer({ min: -0x800, max: 0x7ff }),
    exponent: fc.integer({ min: -8, max: 7 }),
  })
  .filter(({ mantissa, exponent }) => exponent !== 0 || !sfloatSpecialMantissas.has(mantissa));

const specialValue = fc.constantFrom<MderNumber>(
  MderSpecial.nan,
  MderSpecial.nres,
  MderSpecial.positiveInfinity,
  MderSpecial.negativeInfinity,
  MderSpecial.reserved,
);

describe('ieee11073 FLOAT-Type', () => {
  test('decimal string keeps precision', () => {
    assert.equal(decimalString(624, -1), '62.4');
    assert.equal(decimalString(200, -2), '2.00');
    assert.equal(decimalString(5, -3), '0.005');
    assert.equal(decimalString(-5, -1), '-0.5');
    assert.equal(decimalString(0, -1), '0.0');
    assert.equal(decimalString(0, 3), '0');
    assert.equal(decimalString(1695, 3), '1695000');
    assert.equal(decimalString(-1234, 0), '-1234');
  });

  test('number value avoids binary rounding', () => {
    assert.equal(finiteNumber(624, -1).value, 62.4);
    assert.equal(finiteNumber(1, -1).value, 0.1);
    assert.equal(finiteNumber(3, -30).value, 3e-30);
    assert.equal(finiteNumber(7, 100).value, 7e100);
  });

  test('special values keep their number', () => {
    assert.ok(Number.isNaN(decodeFloat(0x007fffff).value));
    assert.equal(decodeFloat(0x007ffffe).value, Number.POSITIVE_INFINITY);
    assert.equal(decodeFloat(0x00800002).value, Number.NEGATIVE_INFINITY);
    assert.equal(decodeSfloat(0x0800).kind, 'nres');
  });

  test('special mantissa with exponent is finite', () => {
    const value = decodeFloat(0x017fffff);
    assert.equal(value.kind, 'finite');
    assert.equal(value.decimal, '83886070');
  });

  test('decimal parser keeps fraction digits', () => {
    const value = mderNumberFromDecimal('6.40', 'sfloat');
    assert.equal(value.mantissa, 640);
    assert.equal(value.exponent, -2);
    assert.equal(value.decimal, '6.40');
    assert.equal(encodeSfloat(value), 0xe000 | 640);
    assert.equal(mderNumberFromDecimal('-0', 'float').mantissa, 0);
  });

  test('decimal parser rejects bad input', () => {
    assert.throws(() => mderNumberFromDecimal('1e5', 'float'), { code: 'MDER_ENCODE_INVALID' });
    assert.throws(() => mderNumberFromDecimal('4096', 'sfloat'), { code: 'MDER_ENCODE_INVALID' });
    assert.throws(() => mderNumberFromDecimal('2047', 'sfloat'), { code: 'MDER_ENCODE_INVALID' });
    assert.throws(() => mderNumberFromDecimal('0.000000001', 'sfloat'), {
      code: 'MDER_ENCODE_INVALID',
    });
  });

  test('encoder rejects out-of-range parts', () => {
    assert.throws(() => encodeFloat(finiteNumber(0x800000, 1)), { code: 'MDER_ENCODE_INVALID' });
    assert.throws(() => encodeFloat(finiteNumber(1, 128)), { code: 'MDER_ENCODE_INVALID' });
    assert.throws(() => encodeSfloat(finiteNumber(1, -9)), { code: 'MDER_ENCODE_INVALID' });
    assert.throws(() => encodeSfloat(finiteNumber(0x7ff, 0)), { code: 'MDER_ENCODE_INVALID' });
    assert.throws(() => encodeFloat(finiteNumber(1.5, 0)), { code: 'MDER_ENCODE_INVALID' });
  });

  test('FLOAT round trip property', () => {
    fc.assert(
      fc.property(finiteFloat, ({ mantissa, exponent }) => {
        const value = finiteNumber(mantissa, exponent);
        const decoded = decodeFloat(encodeFloat(value));
        assert.deepEqual(decoded, value);
        assert.equal(Number(value.decimal), decoded.value);
      }),
      { numRuns: 2000 },
    );
  });

  test('SFLOAT round trip property', () => {
    fc.assert(
      fc.property(finiteSfloat, ({ mantissa, exponent }) => {
        const value = finiteNumber(mantissa, exponent);
        assert.deepEqual(decodeSfloat(encodeSfloat(value)), value);
      }),
      { numRuns: 2000 },
    );
  });

  test('special round trip property', () => {
    fc.assert(
      fc.property(specialValue, (value) => {
        assert.equal(decodeFloat(encodeFloat(value)), value);
        assert.equal(decodeSfloat(encodeSfloat(value)), value);
      }),
    );
  });

  test('wire bits round trip property', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffff }),
        (long, short) => {
          assert.equal(encodeFloat(decodeFloat(long)), long);
          assert.equal(encodeSfloat(decodeSfloat(short)), short);
        },
      ),
      { numRuns: 5000 },
    );
  });

  test('decimal text round trip property', () => {
    fc.assert(
      fc.property(
        finiteFloat.filter(({ exponent }) => exponent <= 0),
        ({ mantissa, exponent }) => {
          const text = decimalString(mantissa, exponent);
          const parsed = mderNumberFromDecimal(text, 'float');
          assert.equal(parsed.decimal, text);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
