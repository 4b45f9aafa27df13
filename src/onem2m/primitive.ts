import { onem2mError } from './status.js';
import { parseTimestamp } from './time.js';
import {
  supportedReleaseVersions,
  type FilterCriteria,
  type Operation,
  type RequestPrimitive,
} from './types.js';

/**
 * Parsing of request primitives from untrusted JSON (TS-0004, with short
 * names). Every binding ends here: the MQTT binding with
 * the decoded message, the HTTP binding with the object it built from headers
 * and query, and in-process callers with their own object.
 */

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Primitive parameters that are accepted and carry no meaning for this CSE. */
const ignoredParameters = new Set(['ec', 'da', 'gid', 'oet', 'rp', 'vsi', 'sqi', 'cty']);

const knownParameters = new Set([
  'op',
  'to',
  'fr',
  'rqi',
  'rvi',
  'ty',
  'pc',
  'rcn',
  'fc',
  'drt',
  'ot',
  'rqet',
  'rset',
  'rt',
  ...ignoredParameters,
]);

const MAX_ID_LENGTH = 4096;

function integerField(source: Json, key: string, min: number, max: number): number | undefined {
  const value = source[key];
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw onem2mError(
      'BAD_REQUEST',
      `${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function stringField(source: Json, key: string, maxLength = MAX_ID_LENGTH): string | undefined {
  const value = source[key];
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'string' || value.length > maxLength) {
    throw onem2mError(
      'BAD_REQUEST',
      `${key} must be a string of at most ${maxLength} characters, got ${typeof value}`,
    );
  }
  return value;
}

function timestampField(source: Json, key: string): string | undefined {
  const value = stringField(source, key, 64);
  if (value !== undefined && parseTimestamp(value) === undefined) {
    throw onem2mError(
      'BAD_REQUEST',
      `${key} must be a timestamp like 20250101T120000, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Returns the request identifier of a message that failed to parse, when it has one. */
export function recoverRequestId(value: unknown): string | undefined {
  const primitive = isObject(value) && isObject(value['m2m:rqp']) ? value['m2m:rqp'] : value;
  if (!isObject(primitive)) {
    return undefined;
  }
  const rqi = primitive.rqi;
  return typeof rqi === 'string' && rqi.length > 0 && rqi.length <= MAX_ID_LENGTH ? rqi : undefined;
}

const filterIntegers: Readonly<Record<string, [number, number]>> = {
  fu: [1, 3],
  sts: [0, Number.MAX_SAFE_INTEGER],
  stb: [0, Number.MAX_SAFE_INTEGER],
  sza: [0, Number.MAX_SAFE_INTEGER],
  szb: [0, Number.MAX_SAFE_INTEGER],
  lim: [0, Number.MAX_SAFE_INTEGER],
  lvl: [1, 1000],
  ofst: [0, Number.MAX_SAFE_INTEGER],
  fo: [1, 2],
};

const filterTimestamps = ['cra', 'crb', 'ms', 'us', 'exa', 'exb'] as const;

const MAX_FILTER_VALUES = 100;

/** Parses m2m:filterCriteria; unsupported criteria are rejected, never silently ignored. */
export function parseFilterCriteria(value: unknown): FilterCriteria {
  if (!isObject(value)) {
    throw onem2mError('BAD_REQUEST', 'fc (filter criteria) must be an object');
  }
  const criteria: FilterCriteria = {};
  for (const [key, raw] of Object.entries(value)) {
    const range = filterIntegers[key];
    if (range !== undefined) {
      const parsed = integerField(value, key, range[0], range[1]);
      if (parsed !== undefined) {
        (criteria as Record<string, unknown>)[key] = parsed;
      }
      continue;
    }
    if ((filterTimestamps as readonly string[]).includes(key)) {
      (criteria as Record<string, unknown>)[key] = timestampField(value, key);
      continue;
    }
    if (key === 'ty') {
      const list = Array.isArray(raw) ? raw : [raw];
      if (
        list.length === 0 ||
        list.length > MAX_FILTER_VALUES ||
        !list.every((item) => typeof item === 'number' && Number.isInteger(item))
      ) {
        throw onem2mError('BAD_REQUEST', 'fc.ty must be a resource type number or a list of them');
      }
      criteria.ty = list as number[];
      continue;
    }
    if (key === 'lbl') {
      const list = Array.isArray(raw) ? raw : [raw];
      if (
        list.length === 0 ||
        list.length > MAX_FILTER_VALUES ||
        !list.every((item) => typeof item === 'string' && item.length > 0 && item.length <= 1024)
      ) {
        throw onem2mError(
          'BAD_REQUEST',
          'fc.lbl must be a label or a list of non-empty labels of at most 1024 characters',
        );
      }
      criteria.lbl = list as string[];
      continue;
    }
    throw onem2mError(
      'BAD_REQUEST',
      `filter criterion ${JSON.stringify(key)} is unknown or not supported; supported: fu ty lbl cra crb ms us exa exb sts stb sza szb lim lvl ofst fo`,
    );
  }
  return criteria;
}

/**
 * Validates a request primitive. Throws a `ONEM2M_*` error naming the
 * offending parameter; the caller answers it with `recoverRequestId`.
 */
export function parseRequestPrimitive(value: unknown): RequestPrimitive {
  const primitive = isObject(value) && isObject(value['m2m:rqp']) ? value['m2m:rqp'] : value;
  if (!isObject(primitive)) {
    throw onem2mError('BAD_REQUEST', 'the request primitive must be a JSON object');
  }
  for (const key of Object.keys(primitive)) {
    if (!knownParameters.has(key)) {
      throw onem2mError('BAD_REQUEST', `request parameter ${JSON.stringify(key)} is unknown`);
    }
  }
  const rqi = stringField(primitive, 'rqi');
  if (rqi === undefined || rqi.length === 0) {
    throw onem2mError('BAD_REQUEST', 'the request identifier (rqi) is missing');
  }
  const op = integerField(primitive, 'op', 1, 5);
  if (op === undefined) {
    throw onem2mError('BAD_REQUEST', 'the operation (op) is missing; use 1 to 5');
  }
  const to = stringField(primitive, 'to');
  if (to === undefined || to.length === 0) {
    throw onem2mError('BAD_REQUEST', 'the target (to) is missing');
  }
  const fr = stringField(primitive, 'fr', 1024) ?? '';
  const rvi = stringField(primitive, 'rvi', 8);
  if (rvi !== undefined && !(supportedReleaseVersions as readonly string[]).includes(rvi)) {
    throw onem2mError(
      'RELEASE_VERSION_NOT_SUPPORTED',
      `release version ${JSON.stringify(rvi)} is not supported; use one of ${supportedReleaseVersions.join(', ')}`,
    );
  }
  const request: RequestPrimitive = { op: op as Operation, to, fr, rqi };
  if (rvi !== undefined) {
    request.rvi = rvi;
  }
  const ty = integerField(primitive, 'ty', 0, 1000000);
  if (ty !== undefined) {
    request.ty = ty;
  }
  if (primitive.pc !== undefined) {
    if (!isObject(primitive.pc)) {
      throw onem2mError('BAD_REQUEST', 'the content (pc) must be a JSON object');
    }
    request.pc = primitive.pc;
  }
  const rcn = integerField(primitive, 'rcn', 0, 12);
  if (rcn !== undefined) {
    request.rcn = rcn;
  }
  if (primitive.fc !== undefined) {
    request.fc = parseFilterCriteria(primitive.fc);
  }
  const drt = integerField(primitive, 'drt', 1, 2);
  if (drt !== undefined) {
    request.drt = drt;
  }
  const ot = timestampField(primitive, 'ot');
  if (ot !== undefined) {
    request.ot = ot;
  }
  const rqet = timestampField(primitive, 'rqet');
  if (rqet !== undefined) {
    request.rqet = rqet;
  }
  const rset = timestampField(primitive, 'rset');
  if (rset !== undefined) {
    request.rset = rset;
  }
  if (primitive.rt !== undefined) {
    if (!isObject(primitive.rt)) {
      throw onem2mError('BAD_REQUEST', 'rt (response type) must be an object with rtv');
    }
    const rtv = integerField(primitive.rt, 'rtv', 1, 4);
    if (rtv !== undefined) {
      request.rt = rtv;
    }
  }
  return request;
}

/** Parses a message body of a binding: bytes of JSON text to an unknown value. */
export function parseJsonBody(body: Uint8Array | string, maxBytes: number): unknown {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  if (size > maxBytes) {
    throw onem2mError('BAD_REQUEST', `content of ${size} bytes exceeds the limit of ${maxBytes}`);
  }
  const text =
    typeof body === 'string'
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw onem2mError(
      'BAD_REQUEST',
      `content is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
