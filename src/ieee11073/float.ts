/**
 * FLOAT-Type (32 bit: 8-bit exponent, 24-bit mantissa) and SFLOAT-Type
 * (16 bit: 4-bit exponent, 12-bit mantissa) of IEEE 11073-20601. Both are
 * two's complement integers with the value mantissa * 10^exponent. With
 * exponent 0, the five largest and smallest mantissas are special values.
 *
 * A decoded number keeps mantissa and exponent, so encoding reproduces the
 * bytes, and a decimal string built with string arithmetic only: mantissa 624
 * with exponent -1 is "62.4", and mantissa 200 with exponent -2 is "2.00".
 */
import { encodeError } from './mder-error.js';

export type MderSpecialKind =
  'nan' | 'nres' | 'positive-infinity' | 'negative-infinity' | 'reserved';

/** A FLOAT-Type or SFLOAT-Type value. `value` is the nearest JS number, NaN for NaN, NRes and reserved. */
export type MderNumber =
  | { kind: 'finite'; mantissa: number; exponent: number; decimal: string; value: number }
  | { kind: MderSpecialKind; value: number };

export type MderFiniteNumber = Extract<MderNumber, { kind: 'finite' }>;

function special(kind: MderSpecialKind, value: number): MderNumber {
  return Object.freeze({ kind, value });
}

/** The special values; decoding returns these shared frozen objects. */
export const MderSpecial = {
  nan: special('nan', Number.NaN),
  nres: special('nres', Number.NaN),
  positiveInfinity: special('positive-infinity', Number.POSITIVE_INFINITY),
  negativeInfinity: special('negative-infinity', Number.NEGATIVE_INFINITY),
  reserved: special('reserved', Number.NaN),
} as const;

/** Mantissas that mean a special value when the exponent is 0. */
const floatSpecial = {
  nan: 0x7fffff,
  nres: -0x800000,
  posInf: 0x7ffffe,
  negInf: -0x7ffffe,
  reserved: -0x7fffff,
};
const sfloatSpecial = { nan: 0x7ff, nres: -0x800, posInf: 0x7fe, negInf: -0x7fe, reserved: -0x7ff };
type SpecialMantissas = typeof floatSpecial;

const floatMantissaMin = -0x800000;
const floatMantissaMax = 0x7fffff;
const sfloatMantissaMin = -0x800;
const sfloatMantissaMax = 0x7ff;

/** Decodes a 32-bit FLOAT-Type from its unsigned wire value. */
export function decodeFloat(bits: number): MderNumber {
  const exponent = (bits >> 24) & 0xff;
  const signedExponent = exponent >= 0x80 ? exponent - 0x100 : exponent;
  const raw = bits & 0xffffff;
  const mantissa = raw >= 0x800000 ? raw - 0x1000000 : raw;
  return decodeParts(mantissa, signedExponent, floatSpecial);
}

/** Decodes a 16-bit SFLOAT-Type from its unsigned wire value. */
export function decodeSfloat(bits: number): MderNumber {
  const exponent = (bits >> 12) & 0xf;
  const signedExponent = exponent >= 0x8 ? exponent - 0x10 : exponent;
  const raw = bits & 0xfff;
  const mantissa = raw >= 0x800 ? raw - 0x1000 : raw;
  return decodeParts(mantissa, signedExponent, sfloatSpecial);
}

function decodeParts(mantissa: number, exponent: number, specials: SpecialMantissas): MderNumber {
  if (exponent === 0) {
    const specialValue = specialFor(mantissa, specials);
    if (specialValue !== undefined) {
      return specialValue;
    }
  }
  return finiteNumber(mantissa, exponent);
}

function specialFor(mantissa: number, specials: SpecialMantissas): MderNumber | undefined {
  switch (mantissa) {
    case specials.nan:
      return MderSpecial.nan;
    case specials.nres:
      return MderSpecial.nres;
    case specials.posInf:
      return MderSpecial.positiveInfinity;
    case specials.negInf:
      return MderSpecial.negativeInfinity;
    case specials.reserved:
      return MderSpecial.reserved;
    default:
      return undefined;
  }
}

/** Builds a finite number from mantissa and exponent; does not check the wire range. */
export function finiteNumber(mantissa: number, exponent: number): MderFiniteNumber {
  const decimal = decimalString(mantissa, exponent);
  return {
    kind: 'finite',
    mantissa,
    exponent,
    decimal,
    value: numberValue(mantissa, exponent, decimal),
  };
}

/** Writes mantissa * 10^exponent as a decimal string with exactly -exponent fraction digits. */
export function decimalString(mantissa: number, exponent: number): string {
  const negative = mantissa < 0;
  let digits = String(negative ? -mantissa : mantissa);
  if (exponent > 0 && mantissa !== 0) {
    digits += '0'.repeat(exponent);
  } else if (exponent < 0) {
    const places = -exponent;
    if (digits.length <= places) {
      digits = '0'.repeat(places + 1 - digits.length) + digits;
    }
    const point = digits.length - places;
    digits = `${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  return negative ? `-${digits}` : digits;
}

/**
 * Converts to the nearest double. Powers of ten up to 10^22 are exact doubles,
 * so one multiplication or division rounds correctly; larger exponents parse
 * the decimal string.
 */
function numberValue(mantissa: number, exponent: number, decimal: string): number {
  if (exponent >= 0 && exponent <= 22) {
    return mantissa * 10 ** exponent;
  }
  if (exponent < 0 && exponent >= -22) {
    return mantissa / 10 ** -exponent;
  }
  return Number(decimal);
}

/** Returns the 32-bit wire value of a FLOAT-Type; throws MDER_ENCODE_INVALID when it does not fit. */
export function encodeFloat(value: MderNumber): number {
  if (value.kind !== 'finite') {
    return specialMantissa(value.kind, floatSpecial) & 0xffffff;
  }
  checkFinite(value, floatMantissaMin, floatMantissaMax, -128, 127, floatSpecial, 'FLOAT-Type');
  return (((value.exponent & 0xff) << 24) | (value.mantissa & 0xffffff)) >>> 0;
}

/** Returns the 16-bit wire value of an SFLOAT-Type; throws MDER_ENCODE_INVALID when it does not fit. */
export function encodeSfloat(value: MderNumber): number {
  if (value.kind !== 'finite') {
    return specialMantissa(value.kind, sfloatSpecial) & 0xfff;
  }
  checkFinite(value, sfloatMantissaMin, sfloatMantissaMax, -8, 7, sfloatSpecial, 'SFLOAT-Type');
  return ((value.exponent & 0xf) << 12) | (value.mantissa & 0xfff);
}

function specialMantissa(kind: MderSpecialKind, specials: SpecialMantissas): number {
  switch (kind) {
    case 'nan':
      return specials.nan;
    case 'nres':
      return specials.nres;
    case 'positive-infinity':
      return specials.posInf;
    case 'negative-infinity':
      return specials.negInf;
    case 'reserved':
      return specials.reserved;
  }
}

function checkFinite(
  value: MderFiniteNumber,
  mantissaMin: number,
  mantissaMax: number,
  exponentMin: number,
  exponentMax: number,
  specials: SpecialMantissas,
  typeName: string,
): void {
  const { mantissa, exponent } = value;
  if (!Number.isInteger(mantissa) || mantissa < mantissaMin || mantissa > mantissaMax) {
    throw encodeError(
      `${typeName} mantissa must be an integer in ${mantissaMin}..${mantissaMax}`,
      'mantissa',
      mantissa,
    );
  }
  if (!Number.isInteger(exponent) || exponent < exponentMin || exponent > exponentMax) {
    throw encodeError(
      `${typeName} exponent must be an integer in ${exponentMin}..${exponentMax}`,
      'exponent',
      exponent,
    );
  }
  if (exponent === 0 && specialFor(mantissa, specials) !== undefined) {
    throw encodeError(
      `${typeName} mantissa ${mantissa} with exponent 0 is a special value; use another exponent`,
      'mantissa',
      mantissa,
    );
  }
}

const decimalPattern = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * Parses a decimal string such as "62.4" or "-0.05" into a finite number whose
 * exponent is minus the count of fraction digits, so the string round-trips.
 * Throws MDER_ENCODE_INVALID for other text or values outside the `width` type.
 */
export function mderNumberFromDecimal(text: string, width: 'float' | 'sfloat'): MderFiniteNumber {
  const match = decimalPattern.exec(text);
  if (match === null) {
    throw encodeError(`"${text}" is not a decimal number such as 62.4`, 'decimal');
  }
  const [, sign = '', integer = '', fraction = ''] = match;
  const parsed = Number(`${sign}${integer}${fraction}`);
  // "-0" parses to -0; MDER has a single zero.
  const mantissa = parsed === 0 ? 0 : parsed;
  const result = finiteNumber(mantissa, -fraction.length);
  if (width === 'float') {
    encodeFloat(result);
  } else {
    encodeSfloat(result);
  }
  return result;
}
