import { ErrorKind, MedwardError, invalid } from '../errors.js';

/** Default cap on a message: encoded JSON data plus header names and values. */
export const defaultMaxMessageBytes = 1024 * 1024;

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** RFC 9110 token characters. */
const headerNamePattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/u;
// Header values travel on one line; CR, LF and other control characters could end the header.
// eslint-disable-next-line no-control-regex
const headerValueForbidden = /[\u0000-\u0008\u000a-\u001f\u007f]/u;
const reservedHeaderPrefixes = ['nats-', 'medward-'];

/**
 * Throws `BUS_INVALID_PAYLOAD` unless `value` survives a JSON round trip
 * unchanged: null, booleans, finite numbers, strings, arrays and plain objects
 * of those. Values that JSON.stringify would drop or rewrite silently
 * (undefined, functions, NaN, Date, Map, class instances) are rejected, and so
 * are bigint and cyclic references, which it cannot encode.
 */
export function assertJsonValue(value: unknown, path = '$', ancestors: object[] = []): void {
  // The walk keeps the keys of the current path in a stack and builds the
  // path string only for an error, so a valid value allocates nothing per member.
  checkJsonValue(value, path, [], [...ancestors]);
}

function checkJsonValue(
  value: unknown,
  rootPath: string,
  keys: (string | number)[],
  ancestors: object[],
): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) {
        rejectJsonValue(rootPath, keys, String(value));
      }
      return;
    case 'undefined':
    case 'function':
    case 'symbol':
    case 'bigint':
      rejectJsonValue(rootPath, keys, `a ${typeof value}`);
      return;
    case 'object':
      break;
  }
  if (value === null) {
    return;
  }
  if (ancestors.includes(value)) {
    rejectJsonValue(rootPath, keys, 'a cyclic reference');
  }
  ancestors.push(value);
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index += 1) {
      keys.push(index);
      checkJsonValue(value[index], rootPath, keys, ancestors);
      keys.pop();
    }
  } else {
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      const constructorName = (value as { constructor?: { name?: string } }).constructor?.name;
      rejectJsonValue(rootPath, keys, `an instance of ${constructorName ?? 'a class'}`);
    }
    const record = value as Record<string, unknown>;
    for (const key in record) {
      if (Object.hasOwn(record, key)) {
        keys.push(key);
        checkJsonValue(record[key], rootPath, keys, ancestors);
        keys.pop();
      }
    }
  }
  ancestors.pop();
}

function rejectJsonValue(
  rootPath: string,
  keys: readonly (string | number)[],
  what: string,
): never {
  let path = rootPath;
  for (const key of keys) {
    path += typeof key === 'number' ? `[${key}]` : `.${key}`;
  }
  throw invalid(
    'BUS_INVALID_PAYLOAD',
    `message data at ${path} is ${what}, which is not JSON-serialisable; convert it to a string, number, boolean, null, array or plain object`,
    { path },
  );
}

/** Validates `data` and returns it as UTF-8 JSON. */
export function encodeData(data: unknown): Uint8Array {
  assertJsonValue(data);
  return utf8Encoder.encode(JSON.stringify(data));
}

/** Decodes UTF-8 JSON; throws `BUS_UNDECODABLE_MESSAGE` when the bytes are not valid UTF-8 JSON. */
export function decodeData(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8Decoder.decode(bytes)) as unknown;
  } catch (error) {
    throw new MedwardError(
      ErrorKind.Invalid,
      'BUS_UNDECODABLE_MESSAGE',
      'message data is not valid UTF-8 JSON',
      { cause: error },
    );
  }
}

/** Throws `BUS_INVALID_HEADER` for a header name or value that cannot travel on the bus. */
export function validateHeaders(headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!headerNamePattern.test(name)) {
      throw invalid(
        'BUS_INVALID_HEADER',
        `invalid header name ${JSON.stringify(name)}: use letters, digits and !#$%&'*+-.^_\`|~ only`,
        { header: name },
      );
    }
    const lowerName = name.toLowerCase();
    if (reservedHeaderPrefixes.some((prefix) => lowerName.startsWith(prefix))) {
      throw invalid(
        'BUS_INVALID_HEADER',
        `invalid header name ${JSON.stringify(name)}: the prefixes Nats- and Medward- are reserved for the bus`,
        { header: name },
      );
    }
    if (typeof value !== 'string' || headerValueForbidden.test(value)) {
      throw invalid(
        'BUS_INVALID_HEADER',
        `invalid value for header ${JSON.stringify(name)}: it must be a string without line breaks or control characters`,
        { header: name },
      );
    }
  }
}

/** Returns the size counted against `maxMessageBytes`: data bytes plus header name and value bytes. */
export function messageSizeBytes(data: Uint8Array, headers: Record<string, string>): number {
  let size = data.byteLength;
  for (const [name, value] of Object.entries(headers)) {
    size += utf8Encoder.encode(name).byteLength + utf8Encoder.encode(value).byteLength;
  }
  return size;
}

export function assertMessageSize(
  subject: string,
  sizeBytes: number,
  maxMessageBytes: number,
): void {
  if (sizeBytes > maxMessageBytes) {
    throw new MedwardError(
      ErrorKind.TooLarge,
      'BUS_MESSAGE_TOO_LARGE',
      `message on ${subject} is ${sizeBytes} bytes, above the limit of ${maxMessageBytes} bytes; send a reference to the content instead`,
      { details: { subject, sizeBytes, maxMessageBytes } },
    );
  }
}

/**
 * Encodes and checks a message for publishing. Returns the data bytes; throws
 * `BUS_INVALID_PAYLOAD`, `BUS_INVALID_HEADER` or `BUS_MESSAGE_TOO_LARGE`.
 */
export function encodeMessage(
  subject: string,
  data: unknown,
  headers: Record<string, string>,
  maxMessageBytes: number,
): Uint8Array {
  validateHeaders(headers);
  const bytes = encodeData(data);
  assertMessageSize(subject, messageSizeBytes(bytes, headers), maxMessageBytes);
  return bytes;
}

/** Validates `msgId`; throws `BUS_INVALID_MSG_ID` for an empty or overlong id or one with control characters. */
export function validateMsgId(msgId: string): void {
  if (
    typeof msgId !== 'string' ||
    msgId.length === 0 ||
    msgId.length > 256 ||
    headerValueForbidden.test(msgId)
  ) {
    throw invalid(
      'BUS_INVALID_MSG_ID',
      'invalid msgId: it must be a string of 1 to 256 characters without control characters',
      { msgId },
    );
  }
}
