import { invalid } from '../../core/errors.js';
import { parseCidr } from '../address.js';

/**
 * A Manufacturer Usage Description (RFC 8520): the `ietf-mud:mud` container
 * and the access lists of `ietf-access-control-list:acls` (RFC 8519) that its
 * policies name. The parser accepts only the members those modules define
 * (plus `ietf-acldns` names of RFC 8520 §8.1) and rejects anything else, so a
 * misspelt match can never widen a device's allow-list unnoticed.
 */
export interface MudFile {
  mudVersion: 1;
  mudUrl: string;
  lastUpdate: string;
  mudSignature?: string;
  cacheValidityHours: number;
  isSupported: boolean;
  systeminfo?: string;
  mfgName?: string;
  modelName?: string;
  fromDeviceAcls: string[];
  toDeviceAcls: string[];
  acls: Map<string, MudAcl>;
}

export type MudAclType = 'ipv4-acl-type' | 'ipv6-acl-type';

export interface MudAcl {
  name: string;
  type: MudAclType;
  aces: MudAce[];
}

export interface MudPortMatch {
  first: number;
  last: number;
}

export interface MudAce {
  name: string;
  /** 6 (TCP), 17 (UDP), 1 (ICMP), 58 (ICMPv6), or absent for any protocol. */
  protocol?: number;
  sourceNetwork?: string;
  destinationNetwork?: string;
  sourceDnsName?: string;
  destinationDnsName?: string;
  sourcePort?: MudPortMatch;
  destinationPort?: MudPortMatch;
  /** `ietf-mud:direction-initiated` of a TCP match. */
  directionInitiated?: 'from-device' | 'to-device';
  /** Names of `ietf-mud:mud` matches (controller, local-networks, ...), which need site knowledge. */
  mudMatches: string[];
  forwarding: 'accept' | 'drop' | 'reject';
}

type Json = Record<string, unknown>;

function fail(path: string, message: string): never {
  throw invalid('MUD_FILE_INVALID', `MUD file ${path} ${message}`, { path });
}

function object(
  value: unknown,
  path: string,
  allowed: readonly string[],
  required: readonly string[] = [],
): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(path, 'must be an object');
  }
  const record = value as Json;
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) {
      fail(`${path}.${key}`, 'is not a member medward knows from RFC 8520 or RFC 8519; remove it');
    }
  }
  for (const key of required) {
    if (record[key] === undefined) {
      fail(`${path}.${key}`, 'is missing');
    }
  }
  return record;
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) {
    fail(path, 'must be an array');
  }
  return value;
}

function string(value: unknown, path: string, maxLength = 1024): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    fail(path, `must be a string of 1 to ${maxLength} characters`);
  }
  return value;
}

function optionalString(value: unknown, path: string, maxLength = 1024): string | undefined {
  return value === undefined ? undefined : string(value, path, maxLength);
}

function integer(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(path, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Reads a YANG `[null]` empty-leaf value. */
function emptyLeaf(value: unknown, path: string): void {
  if (!Array.isArray(value) || value.length !== 1 || value[0] !== null) {
    fail(path, 'must be [null]');
  }
}

function stripModule(value: string, module: string): string {
  return value.startsWith(`${module}:`) ? value.slice(module.length + 1) : value;
}

function https(value: unknown, path: string): string {
  const text = string(value, path, 2048);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    fail(path, 'is not a URL');
  }
  if (url.protocol !== 'https:') {
    fail(path, 'must be an https URL (RFC 8520 §2.1)');
  }
  return text;
}

function policyAcls(value: unknown, path: string): string[] {
  if (value === undefined) {
    return [];
  }
  const policy = object(value, path, ['access-lists'], ['access-lists']);
  const lists = object(
    policy['access-lists'],
    `${path}.access-lists`,
    ['access-list'],
    ['access-list'],
  );
  return array(lists['access-list'], `${path}.access-lists.access-list`).map((entry, index) => {
    const item = object(entry, `${path}.access-lists.access-list[${index}]`, ['name'], ['name']);
    return string(item.name, `${path}.access-lists.access-list[${index}].name`, 64);
  });
}

function portMatch(value: unknown, path: string): MudPortMatch {
  const match = object(value, path, ['operator', 'port', 'lower-port', 'upper-port']);
  if (match['lower-port'] !== undefined || match['upper-port'] !== undefined) {
    if (match.operator !== undefined || match.port !== undefined) {
      fail(path, 'mixes a range with an operator');
    }
    const first = integer(match['lower-port'], `${path}.lower-port`, 0, 65535);
    const last = integer(match['upper-port'], `${path}.upper-port`, 0, 65535);
    if (first > last) {
      fail(path, 'has lower-port above upper-port');
    }
    return { first, last };
  }
  const port = integer(match.port, `${path}.port`, 0, 65535);
  const operator =
    match.operator === undefined ? 'eq' : string(match.operator, `${path}.operator`, 8);
  switch (operator) {
    case 'eq':
      return { first: port, last: port };
    case 'lte':
      return { first: 0, last: port };
    case 'gte':
      return { first: port, last: 65535 };
    default:
      // `neq` would need two ranges; medward does not widen an allow-list to cover it.
      return fail(`${path}.operator`, `${operator} is not supported; use eq, lte, gte or a range`);
  }
}

function parseAce(value: unknown, path: string, type: MudAclType): MudAce {
  const ace = object(value, path, ['name', 'matches', 'actions'], ['name', 'matches', 'actions']);
  const result: MudAce = {
    name: string(ace.name, `${path}.name`, 64),
    mudMatches: [],
    forwarding: 'drop',
  };
  const actions = object(ace.actions, `${path}.actions`, ['forwarding', 'logging'], ['forwarding']);
  const forwarding = stripModule(
    string(actions.forwarding, `${path}.actions.forwarding`, 64),
    'ietf-access-control-list',
  );
  if (forwarding !== 'accept' && forwarding !== 'drop' && forwarding !== 'reject') {
    fail(`${path}.actions.forwarding`, 'must be accept, drop or reject');
  }
  result.forwarding = forwarding;
  const matches = object(ace.matches, `${path}.matches`, [
    'ipv4',
    'ipv6',
    'tcp',
    'udp',
    'icmp',
    'ietf-mud:mud',
  ]);
  const family = type === 'ipv4-acl-type' ? 'ipv4' : 'ipv6';
  const other = family === 'ipv4' ? 'ipv6' : 'ipv4';
  if (matches[other] !== undefined) {
    fail(`${path}.matches.${other}`, `does not belong in an ${type} list`);
  }
  if (matches[family] !== undefined) {
    const network = family === 'ipv4' ? 'ipv4-network' : 'ipv6-network';
    const ip = object(matches[family], `${path}.matches.${family}`, [
      'protocol',
      'dscp',
      'ttl',
      `source-${network}`,
      `destination-${network}`,
      'ietf-acldns:src-dnsname',
      'ietf-acldns:dst-dnsname',
    ]);
    if (ip.dscp !== undefined || ip.ttl !== undefined) {
      fail(`${path}.matches.${family}`, 'uses dscp or ttl, which medward cannot enforce');
    }
    if (ip.protocol !== undefined) {
      result.protocol = integer(ip.protocol, `${path}.matches.${family}.protocol`, 0, 255);
    }
    for (const [key, field] of [
      [`source-${network}`, 'sourceNetwork'],
      [`destination-${network}`, 'destinationNetwork'],
    ] as const) {
      if (ip[key] !== undefined) {
        const text = string(ip[key], `${path}.matches.${family}.${key}`, 64);
        const cidr = parseCidr(text);
        if (cidr === undefined || cidr.family !== (family === 'ipv4' ? 4 : 6)) {
          fail(`${path}.matches.${family}.${key}`, `is not an ${family} prefix`);
        }
        result[field] = text;
      }
    }
    result.sourceDnsName = optionalString(
      ip['ietf-acldns:src-dnsname'],
      `${path}.matches.${family}.src-dnsname`,
      253,
    );
    result.destinationDnsName = optionalString(
      ip['ietf-acldns:dst-dnsname'],
      `${path}.matches.${family}.dst-dnsname`,
      253,
    );
  }
  const transports = (['tcp', 'udp'] as const).filter((name) => matches[name] !== undefined);
  if (transports.length > 1) {
    fail(`${path}.matches`, 'has both tcp and udp');
  }
  for (const name of transports) {
    const transport = object(matches[name], `${path}.matches.${name}`, [
      'source-port',
      'destination-port',
      ...(name === 'tcp' ? ['ietf-mud:direction-initiated', 'flags'] : []),
    ]);
    const protocolNumber = name === 'tcp' ? 6 : 17;
    if (result.protocol !== undefined && result.protocol !== protocolNumber) {
      fail(`${path}.matches`, `names protocol ${result.protocol} and a ${name} match`);
    }
    result.protocol = protocolNumber;
    if (transport.flags !== undefined) {
      fail(
        `${path}.matches.tcp.flags`,
        'is not supported; medward matches connections, not TCP flags',
      );
    }
    if (transport['source-port'] !== undefined) {
      result.sourcePort = portMatch(
        transport['source-port'],
        `${path}.matches.${name}.source-port`,
      );
    }
    if (transport['destination-port'] !== undefined) {
      result.destinationPort = portMatch(
        transport['destination-port'],
        `${path}.matches.${name}.destination-port`,
      );
    }
    const initiated = transport['ietf-mud:direction-initiated'];
    if (initiated !== undefined) {
      if (initiated !== 'from-device' && initiated !== 'to-device') {
        fail(
          `${path}.matches.tcp.ietf-mud:direction-initiated`,
          'must be from-device or to-device',
        );
      }
      result.directionInitiated = initiated;
    }
  }
  if (matches.icmp !== undefined) {
    object(matches.icmp, `${path}.matches.icmp`, ['type', 'code']);
    result.protocol ??= family === 'ipv4' ? 1 : 58;
  }
  if (matches['ietf-mud:mud'] !== undefined) {
    const mud = object(matches['ietf-mud:mud'], `${path}.matches.ietf-mud:mud`, [
      'manufacturer',
      'same-manufacturer',
      'model',
      'local-networks',
      'controller',
      'my-controller',
    ]);
    for (const [key, entry] of Object.entries(mud)) {
      if (key === 'same-manufacturer' || key === 'local-networks' || key === 'my-controller') {
        emptyLeaf(entry, `${path}.matches.ietf-mud:mud.${key}`);
      } else {
        string(entry, `${path}.matches.ietf-mud:mud.${key}`, 2048);
      }
      result.mudMatches.push(key);
    }
  }
  return result;
}

function parseAcl(value: unknown, path: string): MudAcl {
  const acl = object(value, path, ['name', 'type', 'aces'], ['name', 'aces']);
  const name = string(acl.name, `${path}.name`, 64);
  const typeText =
    acl.type === undefined
      ? 'ipv4-acl-type'
      : stripModule(string(acl.type, `${path}.type`, 64), 'ietf-access-control-list');
  if (typeText !== 'ipv4-acl-type' && typeText !== 'ipv6-acl-type') {
    fail(`${path}.type`, `${typeText} is not supported; use ipv4-acl-type or ipv6-acl-type`);
  }
  const aces = object(acl.aces, `${path}.aces`, ['ace'], ['ace']);
  return {
    name,
    type: typeText,
    aces: array(aces.ace, `${path}.aces.ace`).map((ace, index) =>
      parseAce(ace, `${path}.aces.ace[${index}]`, typeText),
    ),
  };
}

/**
 * Parses a MUD file's bytes. Rejects invalid UTF-8 or JSON, unknown members,
 * a policy naming a missing access list, and files above `maxBytes`.
 */
export function parseMudFile(bytes: Uint8Array, maxBytes: number): MudFile {
  if (bytes.length > maxBytes) {
    throw invalid(
      'MUD_FILE_TOO_LARGE',
      `MUD file of ${bytes.length} octets exceeds ${maxBytes}; raise enforcement.mud.maxFileBytes if it is genuine`,
      {
        bytes: bytes.length,
      },
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw invalid('MUD_FILE_INVALID', `MUD file is not UTF-8 JSON: ${(error as Error).message}`);
  }
  const root = object(
    document,
    '(root)',
    ['ietf-mud:mud', 'ietf-access-control-list:acls'],
    ['ietf-mud:mud'],
  );
  const mud = object(
    root['ietf-mud:mud'],
    'ietf-mud:mud',
    [
      'mud-version',
      'mud-url',
      'last-update',
      'mud-signature',
      'cache-validity',
      'is-supported',
      'systeminfo',
      'mfg-name',
      'model-name',
      'firmware-rev',
      'software-rev',
      'documentation',
      'extensions',
      'from-device-policy',
      'to-device-policy',
    ],
    ['mud-version', 'mud-url', 'last-update', 'is-supported'],
  );
  if (mud['mud-version'] !== 1) {
    fail('ietf-mud:mud.mud-version', 'must be 1');
  }
  const lastUpdate = string(mud['last-update'], 'ietf-mud:mud.last-update', 64);
  if (Number.isNaN(Date.parse(lastUpdate))) {
    fail('ietf-mud:mud.last-update', 'is not a date-and-time');
  }
  if (typeof mud['is-supported'] !== 'boolean') {
    fail('ietf-mud:mud.is-supported', 'must be true or false');
  }
  if (mud.extensions !== undefined) {
    array(mud.extensions, 'ietf-mud:mud.extensions').forEach((entry, index) =>
      string(entry, `ietf-mud:mud.extensions[${index}]`, 64),
    );
  }
  const acls = new Map<string, MudAcl>();
  if (root['ietf-access-control-list:acls'] !== undefined) {
    const container = object(
      root['ietf-access-control-list:acls'],
      'ietf-access-control-list:acls',
      ['acl'],
      ['acl'],
    );
    array(container.acl, 'ietf-access-control-list:acls.acl').forEach((entry, index) => {
      const acl = parseAcl(entry, `ietf-access-control-list:acls.acl[${index}]`);
      if (acls.has(acl.name)) {
        fail(`ietf-access-control-list:acls.acl[${index}].name`, `repeats ${acl.name}`);
      }
      acls.set(acl.name, acl);
    });
  }
  const fromDeviceAcls = policyAcls(mud['from-device-policy'], 'ietf-mud:mud.from-device-policy');
  const toDeviceAcls = policyAcls(mud['to-device-policy'], 'ietf-mud:mud.to-device-policy');
  for (const name of [...fromDeviceAcls, ...toDeviceAcls]) {
    if (!acls.has(name)) {
      fail(
        'ietf-mud:mud',
        `names access list ${name}, which ietf-access-control-list:acls does not define`,
      );
    }
  }
  const result: MudFile = {
    mudVersion: 1,
    mudUrl: https(mud['mud-url'], 'ietf-mud:mud.mud-url'),
    lastUpdate,
    cacheValidityHours:
      mud['cache-validity'] === undefined
        ? 48
        : integer(mud['cache-validity'], 'ietf-mud:mud.cache-validity', 1, 168),
    isSupported: mud['is-supported'],
    fromDeviceAcls,
    toDeviceAcls,
    acls,
  };
  if (mud['mud-signature'] !== undefined) {
    result.mudSignature = https(mud['mud-signature'], 'ietf-mud:mud.mud-signature');
  }
  for (const [key, field] of [
    ['systeminfo', 'systeminfo'],
    ['mfg-name', 'mfgName'],
    ['model-name', 'modelName'],
  ] as const) {
    const text = optionalString(mud[key], `ietf-mud:mud.${key}`, 255);
    if (text !== undefined) {
      result[field] = text;
    }
  }
  for (const key of ['firmware-rev', 'software-rev', 'documentation'] as const) {
    optionalString(mud[key], `ietf-mud:mud.${key}`, 2048);
  }
  return result;
}
