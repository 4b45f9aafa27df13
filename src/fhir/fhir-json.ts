/**
 * FHIR JSON with exact decimals. FHIR decimals keep their precision ("98.0"
 * is not "98"), but a JavaScript number forgets trailing zeros, so resources
 * built here hold every decimal as a `FhirDecimal` with its text, and
 * `serializeFhirJson` writes that text unchanged as a JSON number.
 */

const jsonNumber = /^-?(0|[1-9]\d*)(\.\d+)?$/;

/** A FHIR decimal kept as the exact text of the number, for example "62.4" or "2.00". */
export class FhirDecimal {
  readonly text: string;

  constructor(text: string) {
    if (!jsonNumber.test(text)) {
      throw new TypeError(`"${text}" is not a plain decimal number such as 62.4`);
    }
    this.text = text;
  }

  /** Builds a decimal from a safe integer or a finite number with at most `fractionDigits` digits. */
  static fromNumber(value: number, fractionDigits = 6): FhirDecimal {
    if (!Number.isFinite(value)) {
      throw new TypeError(`${value} is not a finite number`);
    }
    if (Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER) {
      return new FhirDecimal(String(value));
    }
    const fixed = value.toFixed(fractionDigits).replace(/0+$/, '').replace(/\.$/, '');
    return new FhirDecimal(fixed === '-0' ? '0' : fixed);
  }

  /** Lossy fallback for code that serialises with JSON.stringify: the nearest double. */
  toJSON(): number {
    return Number(this.text);
  }
}

/** A JSON value in which numbers may also be exact decimals. */
export type FhirJsonValue =
  | null
  | boolean
  | number
  | string
  | FhirDecimal
  | readonly FhirJsonValue[]
  | { readonly [key: string]: FhirJsonValue | undefined };

/**
 * Serialises like JSON.stringify, with object members in insertion order and
 * undefined members left out, except that a FhirDecimal is written as its
 * exact text. `indent` gives the spaces per level, 0 for compact output.
 */
export function serializeFhirJson(value: unknown, indent = 0): string {
  return write(value, indent, '');
}

function write(value: unknown, indent: number, padding: string): string {
  if (value instanceof FhirDecimal) {
    return value.text;
  }
  if (value === null || typeof value !== 'object') {
    return writeScalar(value);
  }
  const inner = indent > 0 ? padding + ' '.repeat(indent) : '';
  const open = indent > 0 ? `\n${inner}` : '';
  const close = indent > 0 ? `\n${padding}` : '';
  const separator = indent > 0 ? `,\n${inner}` : ',';
  if (Array.isArray(value)) {
    if (value.length === 0) {
      return '[]';
    }
    const items = value.map((item: unknown) =>
      item === undefined ? 'null' : write(item, indent, inner),
    );
    return `[${open}${items.join(separator)}${close}]`;
  }
  const members = Object.entries(value as Record<string, unknown>).filter(
    ([, member]) => member !== undefined,
  );
  if (members.length === 0) {
    return '{}';
  }
  const colon = indent > 0 ? ': ' : ':';
  const parts = members.map(
    ([key, member]) => `${JSON.stringify(key)}${colon}${write(member, indent, inner)}`,
  );
  return `{${open}${parts.join(separator)}${close}}`;
}

function writeScalar(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new TypeError(`cannot serialise the non-finite number ${value} as FHIR JSON`);
  }
  if (typeof value === 'bigint') {
    throw new TypeError('cannot serialise a bigint as FHIR JSON; convert it to a FhirDecimal');
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return JSON.stringify(value);
  }
  return 'null';
}
