import { reservedResourceNames, isUnreservedSegment } from './address.js';
import { onem2mError } from './status.js';
import { parseDuration, parseTimestamp } from './time.js';
import { ResourceType, typeShortNames } from './types.js';

/**
 * Attribute policies of the hosted resource types (TS-0004, the
 * "Attributes of <type>" tables): which attributes a CREATE may carry (`C`),
 * which an UPDATE may change (`U`), which are mandatory at creation (`M`),
 * and the value type of each. Attributes the CSE assigns (ri, ct, cni, ...)
 * are read-only: a request that sets them is rejected with 4000, as is any
 * attribute the type does not have.
 */

type Json = Record<string, unknown>;

/** Validates one attribute value and returns it, normalized where needed. */
type Check = (value: unknown, name: string) => unknown;

interface AttributePolicy {
  check: Check;
  /** C: allowed in CREATE, M: mandatory in CREATE, U: allowed in UPDATE. */
  flags: string;
}

const fail = (name: string, expectation: string, value: unknown): never => {
  throw onem2mError(
    'BAD_REQUEST',
    `attribute ${name} must be ${expectation}, got ${describeValue(value)}`,
  );
};

const MAX_STRING = 4096;

function describeValue(value: unknown): string {
  if (value === undefined) {
    return 'nothing';
  }
  const text = JSON.stringify(value) as string | undefined;
  return text === undefined ? typeof value : text.slice(0, 100);
}
const MAX_LIST = 1000;

export const checks = {
  string: (value: unknown, name: string): string =>
    typeof value === 'string' && value.length <= MAX_STRING
      ? value
      : fail(name, `a string of at most ${MAX_STRING} characters`, value),
  boolean: (value: unknown, name: string): boolean =>
    typeof value === 'boolean' ? value : fail(name, 'true or false', value),
  nonNegativeInteger: (value: unknown, name: string): number =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
      ? value
      : fail(name, 'a non-negative integer', value),
  positiveInteger: (value: unknown, name: string): number =>
    typeof value === 'number' && Number.isSafeInteger(value) && value > 0
      ? value
      : fail(name, 'a positive integer', value),
  timestamp: (value: unknown, name: string): string =>
    typeof value === 'string' && parseTimestamp(value) !== undefined
      ? value
      : fail(name, 'a timestamp like 20250101T120000', value),
  stringList: (value: unknown, name: string): string[] =>
    Array.isArray(value) &&
    value.length <= MAX_LIST &&
    value.every((item) => typeof item === 'string' && item.length > 0 && item.length <= MAX_STRING)
      ? (value as string[])
      : fail(name, `a list of at most ${MAX_LIST} non-empty strings`, value),
  nonEmptyStringList: (value: unknown, name: string): string[] => {
    const list = checks.stringList(value, name);
    return list.length > 0 ? list : fail(name, 'a list with at least one entry', value);
  },
  anything: (value: unknown): unknown => value,
};

const oneOf =
  (allowed: readonly number[]): Check =>
  (value, name) =>
    typeof value === 'number' && allowed.includes(value)
      ? value
      : fail(name, `one of ${allowed.join(', ')}`, value);

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const checkApi: Check = (value, name) => {
  const api = checks.string(value, name);
  // TS-0001: an App-ID starts with R (registered) or N (non-registered).
  if (!/^[RN][A-Za-z0-9._~-]*$/.test(api) || api.length < 2) {
    fail(name, 'an App-ID starting with R or N followed by unreserved characters', value);
  }
  return api;
};

const MAX_CONTENT_TYPE = 256;

const checkContentInfo: Check = (value, name) => {
  const cnf = checks.string(value, name);
  // contentInfo (TS-0004): <type>/<subtype>[:<encoding>[:<content security>]].
  if (cnf.length > MAX_CONTENT_TYPE || !/^[\w.+-]+\/[\w.+-]+(:[0-9]+(:[0-9]+)?)?$/.test(cnf)) {
    fail(name, 'a content info like text/plain:0', value);
  }
  return cnf;
};

const checkAccessControlRules: Check = (value, name) => {
  if (!isObject(value)) {
    return fail(name, 'an object {"acr": [...]}', value);
  }
  for (const key of Object.keys(value)) {
    if (key !== 'acr') {
      fail(`${name}.${key}`, 'absent; only acr is supported', value[key]);
    }
  }
  const rules = value.acr ?? [];
  if (!Array.isArray(rules) || rules.length > MAX_LIST) {
    return fail(`${name}.acr`, `a list of at most ${MAX_LIST} access control rules`, rules);
  }
  rules.forEach((rule: unknown, index) => {
    const at = `${name}.acr[${index}]`;
    if (!isObject(rule)) {
      fail(at, 'an object with acor and acop', rule);
      return;
    }
    for (const key of Object.keys(rule)) {
      if (key !== 'acor' && key !== 'acop') {
        // acco (contexts) and acod (object details) would narrow a grant; ignoring
        // them would widen it, so they are rejected until evaluated.
        fail(`${at}.${key}`, 'absent; only acor and acop are supported', rule[key]);
      }
    }
    checks.nonEmptyStringList(rule.acor, `${at}.acor`);
    const acop = rule.acop;
    if (typeof acop !== 'number' || !Number.isInteger(acop) || acop < 1 || acop > 63) {
      fail(`${at}.acop`, 'an operation bit mask from 1 to 63', acop);
    }
  });
  return { acr: rules as unknown[] };
};

const checkEventCriteria: Check = (value, name) => {
  if (!isObject(value)) {
    return fail(name, 'an object', value);
  }
  const result: Json = {};
  for (const [key, item] of Object.entries(value)) {
    const at = `${name}.${key}`;
    switch (key) {
      case 'net': {
        const list = Array.isArray(item) ? item : fail(at, 'a list of event types 1 to 4', item);
        for (const entry of list) {
          oneOf([1, 2, 3, 4])(entry, at);
        }
        result.net = list;
        break;
      }
      case 'chty': {
        const list = Array.isArray(item) ? item : fail(at, 'a list of resource types', item);
        for (const entry of list) {
          checks.positiveInteger(entry, at);
        }
        result.chty = list;
        break;
      }
      case 'atr':
        result.atr = checks.nonEmptyStringList(item, at);
        break;
      case 'sza':
      case 'szb':
        result[key] = checks.nonNegativeInteger(item, at);
        break;
      case 'cra':
      case 'crb':
        result[key] = checks.timestamp(item, at);
        break;
      default:
        fail(at, 'absent; supported criteria are net, chty, atr, sza, szb, cra, crb', item);
    }
  }
  return result;
};

const checkBatchNotify: Check = (value, name) => {
  if (!isObject(value)) {
    return fail(name, 'an object {"num": n, "dur": "PT5S"}', value);
  }
  const result: Json = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === 'num') {
      result.num = checks.positiveInteger(item, `${name}.num`);
    } else if (key === 'dur') {
      const text = checks.string(item, `${name}.dur`);
      const ms = parseDuration(text);
      if (ms === undefined || ms <= 0) {
        fail(`${name}.dur`, 'a positive xs:duration like PT5S', item);
      }
      result.dur = text;
    } else {
      fail(`${name}.${key}`, 'absent; batchNotify has num and dur', item);
    }
  }
  if (result.num === undefined) {
    fail(`${name}.num`, 'present', undefined);
  }
  return result;
};

const checkResourceName: Check = (value, name) => {
  const rn = checks.string(value, name);
  if (rn.length === 0 || rn.length > 255 || !isUnreservedSegment(rn)) {
    fail(name, 'a name of 1 to 255 unreserved characters (A-Z a-z 0-9 - . _ ~)', value);
  }
  if (reservedResourceNames.has(rn) || rn === '.' || rn === '..') {
    fail(name, 'a name other than the reserved names la, ol, fopt, -, . and ..', value);
  }
  return rn;
};

const creatorRequest: Check = (value, name) =>
  value === null ? null : fail(name, 'null (the CSE fills in the creator)', value);

const common = (withAcpi: boolean): Record<string, AttributePolicy> => ({
  rn: { check: checkResourceName, flags: 'C' },
  et: { check: checks.timestamp, flags: 'CU' },
  lbl: { check: checks.stringList, flags: 'CU' },
  ...(withAcpi ? { acpi: { check: checks.stringList, flags: 'CU' } } : {}),
});

const policies: Readonly<Record<ResourceType, Record<string, AttributePolicy>>> = {
  [ResourceType.CSEBase]: {
    lbl: { check: checks.stringList, flags: 'U' },
    acpi: { check: checks.stringList, flags: 'U' },
  },
  [ResourceType.AE]: {
    ...common(true),
    apn: { check: checks.string, flags: 'CU' },
    api: { check: checkApi, flags: 'CM' },
    poa: { check: checks.stringList, flags: 'CU' },
    nl: { check: checks.string, flags: 'CU' },
    rr: { check: checks.boolean, flags: 'CMU' },
    csz: { check: checks.stringList, flags: 'CU' },
    srv: { check: checks.nonEmptyStringList, flags: 'CMU' },
    or: { check: checks.string, flags: 'CU' },
  },
  [ResourceType.Container]: {
    ...common(true),
    cr: { check: creatorRequest, flags: 'C' },
    mni: { check: checks.nonNegativeInteger, flags: 'CU' },
    mbs: { check: checks.nonNegativeInteger, flags: 'CU' },
    mia: { check: checks.nonNegativeInteger, flags: 'CU' },
    li: { check: checks.string, flags: 'CU' },
    or: { check: checks.string, flags: 'CU' },
    disr: { check: checks.boolean, flags: 'CU' },
  },
  [ResourceType.ContentInstance]: {
    ...common(false),
    et: { check: checks.timestamp, flags: 'C' },
    lbl: { check: checks.stringList, flags: 'C' },
    cr: { check: creatorRequest, flags: 'C' },
    cnf: { check: checkContentInfo, flags: 'C' },
    con: { check: checks.anything, flags: 'CM' },
    or: { check: checks.string, flags: 'C' },
  },
  [ResourceType.Subscription]: {
    ...common(true),
    cr: { check: creatorRequest, flags: 'C' },
    enc: { check: checkEventCriteria, flags: 'CU' },
    exc: { check: checks.positiveInteger, flags: 'CU' },
    nu: { check: checks.nonEmptyStringList, flags: 'CMU' },
    bn: { check: checkBatchNotify, flags: 'CU' },
    nct: { check: oneOf([1, 2, 3]), flags: 'CU' },
    su: { check: checks.string, flags: 'C' },
  },
  [ResourceType.AccessControlPolicy]: {
    ...common(false),
    pv: { check: checkAccessControlRules, flags: 'CMU' },
    pvs: { check: checkAccessControlRules, flags: 'CMU' },
  },
  [ResourceType.Group]: {
    ...common(true),
    cr: { check: creatorRequest, flags: 'C' },
    mt: { check: oneOf([0, 1, 2, 3, 4, 5, 9, 23]), flags: 'C' },
    mnm: { check: checks.positiveInteger, flags: 'CMU' },
    mid: { check: checks.stringList, flags: 'CMU' },
    macp: { check: checks.stringList, flags: 'CU' },
    csy: { check: oneOf([1, 2, 3]), flags: 'C' },
    gn: { check: checks.string, flags: 'CU' },
  },
};

/** Attributes the CSE assigns; requests may not set them. */
const readOnly: Readonly<Record<ResourceType, readonly string[]>> = {
  [ResourceType.CSEBase]: [
    'ri',
    'rn',
    'pi',
    'ty',
    'ct',
    'lt',
    'cst',
    'csi',
    'srt',
    'poa',
    'srv',
    'csz',
    'nl',
    'et',
  ],
  [ResourceType.AE]: ['ri', 'pi', 'ty', 'ct', 'lt', 'aei', 'rn'],
  [ResourceType.Container]: ['ri', 'pi', 'ty', 'ct', 'lt', 'st', 'cni', 'cbs', 'cr', 'rn'],
  [ResourceType.ContentInstance]: ['ri', 'pi', 'ty', 'ct', 'lt', 'st', 'cs', 'cr', 'rn'],
  [ResourceType.Subscription]: ['ri', 'pi', 'ty', 'ct', 'lt', 'cr', 'rn', 'su'],
  [ResourceType.AccessControlPolicy]: ['ri', 'pi', 'ty', 'ct', 'lt', 'rn'],
  [ResourceType.Group]: ['ri', 'pi', 'ty', 'ct', 'lt', 'cnm', 'mtv', 'cr', 'rn', 'mt', 'csy', 'st'],
};

/** The attributes of a resource type's representation that a request may carry at all. */
export function isKnownAttribute(ty: ResourceType, name: string): boolean {
  return name in policies[ty] || readOnly[ty].includes(name);
}

/**
 * Validates the attributes of a CREATE: every attribute known and settable,
 * every mandatory one present, every value of the right type. Returns the
 * checked attributes; `cr: null` stays in as the request for a creator.
 */
export function validateCreate(ty: ResourceType, attributes: Json): Json {
  const policy = policies[ty];
  const shortName = typeShortNames[ty];
  const result: Json = {};
  for (const [name, value] of Object.entries(attributes)) {
    const entry = policy[name];
    if (entry === undefined || !entry.flags.includes('C')) {
      throw onem2mError(
        'BAD_REQUEST',
        readOnly[ty].includes(name) || entry !== undefined
          ? `attribute ${name} of ${shortName} is assigned by the CSE and must not be set in a CREATE`
          : `attribute ${name} is unknown for ${shortName}`,
      );
    }
    if (value === null && name !== 'cr') {
      throw onem2mError(
        'BAD_REQUEST',
        `attribute ${name} of ${shortName} must not be null in a CREATE`,
      );
    }
    result[name] = entry.check(value, name);
  }
  for (const [name, entry] of Object.entries(policy)) {
    if (entry.flags.includes('M') && result[name] === undefined) {
      throw onem2mError('BAD_REQUEST', `mandatory attribute ${name} of ${shortName} is missing`);
    }
  }
  return result;
}

/**
 * Validates the attributes of an UPDATE. `null` deletes an optional
 * attribute; mandatory ones cannot be deleted. Returns the checked changes.
 */
export function validateUpdate(ty: ResourceType, attributes: Json): Json {
  const policy = policies[ty];
  const shortName = typeShortNames[ty];
  const result: Json = {};
  if (Object.keys(attributes).length === 0) {
    throw onem2mError('BAD_REQUEST', `the UPDATE of ${shortName} carries no attribute`);
  }
  for (const [name, value] of Object.entries(attributes)) {
    const entry = policy[name];
    if (entry === undefined || !entry.flags.includes('U')) {
      throw onem2mError(
        'BAD_REQUEST',
        readOnly[ty].includes(name) || entry !== undefined
          ? `attribute ${name} of ${shortName} is read-only and cannot be updated`
          : `attribute ${name} is unknown for ${shortName}`,
      );
    }
    if (value === null) {
      if (entry.flags.includes('M')) {
        throw onem2mError(
          'BAD_REQUEST',
          `mandatory attribute ${name} of ${shortName} cannot be deleted`,
        );
      }
      result[name] = null;
      continue;
    }
    result[name] = entry.check(value, name);
  }
  return result;
}
