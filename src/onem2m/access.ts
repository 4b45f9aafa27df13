import type { CseIdentity } from './address.js';
import type { ResourceRecord } from './store.js';
import { typesWithAcpi } from './resources.js';
import { AccessControlOperation, Operation, ResourceType } from './types.js';

/**
 * Access decisions by accessControlPolicy (TS-0001 and
 * TS-0003): an `acr` rule grants the operations in its `acop` bit
 * mask to the originators its `acor` list matches.
 */

/** The `acop` bit of a request's operation; a RETRIEVE with fu=1 is a DISCOVERY. */
export function operationBit(op: Operation, discovery: boolean): AccessControlOperation {
  switch (op) {
    case Operation.Create:
      return AccessControlOperation.Create;
    case Operation.Retrieve:
      return discovery ? AccessControlOperation.Discovery : AccessControlOperation.Retrieve;
    case Operation.Update:
      return AccessControlOperation.Update;
    case Operation.Delete:
      return AccessControlOperation.Delete;
    case Operation.Notify:
      return AccessControlOperation.Notify;
  }
}

/** Reduces `/cseId/Cxyz` to `Cxyz`, so SP-relative and CSE-relative AE-IDs compare equal. */
export function normalizeOriginator(originator: string, identity: CseIdentity): string {
  const prefix = `${identity.cseId}/`;
  return originator.startsWith(prefix) ? originator.slice(prefix.length) : originator;
}

const patternCache = new Map<string, RegExp>();
const PATTERN_CACHE_LIMIT = 1000;

/**
 * Matches an `acor` entry against an originator: `all` matches everyone, `*`
 * matches any run of characters (`C*`, `Cward-*`), anything else must be
 * equal after normalization.
 */
export function originatorMatches(
  pattern: string,
  originator: string,
  identity: CseIdentity,
): boolean {
  if (pattern === 'all') {
    return true;
  }
  const normalizedPattern = normalizeOriginator(pattern, identity);
  const normalizedOriginator = normalizeOriginator(originator, identity);
  if (!normalizedPattern.includes('*')) {
    return normalizedPattern === normalizedOriginator;
  }
  let regex = patternCache.get(normalizedPattern);
  if (regex === undefined) {
    const source = normalizedPattern
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    regex = new RegExp(`^${source}$`, 's');
    if (patternCache.size >= PATTERN_CACHE_LIMIT) {
      patternCache.clear();
    }
    patternCache.set(normalizedPattern, regex);
  }
  return regex.test(normalizedOriginator);
}

interface AccessControlRule {
  acor: string[];
  acop: number;
}

function rulesOf(value: unknown): AccessControlRule[] {
  if (typeof value !== 'object' || value === null) {
    return [];
  }
  const acr = (value as { acr?: unknown }).acr;
  return Array.isArray(acr) ? (acr as AccessControlRule[]) : [];
}

/** Whether any rule of `privileges` (a pv or pvs value) grants `bit` to `originator`. */
export function privilegesGrant(
  privileges: unknown,
  originator: string,
  bit: AccessControlOperation,
  identity: CseIdentity,
): boolean {
  return rulesOf(privileges).some(
    (rule) =>
      (rule.acop & bit) !== 0 &&
      rule.acor.some((pattern) => originatorMatches(pattern, originator, identity)),
  );
}

/**
 * The IDs of the policies that govern `target`: its own `acpi`, or, when it
 * has none, the nearest ancestor's (`chain` runs from the CSEBase down to the
 * target's parent). Returns an empty list when no resource on the way has any.
 */
export function governingPolicyIds(
  target: ResourceRecord,
  chain: readonly ResourceRecord[],
): string[] {
  const path = [...chain, target];
  for (let index = path.length - 1; index >= 0; index -= 1) {
    const record = path[index];
    if (record === undefined || !typesWithAcpi.has(record.ty)) {
      continue;
    }
    const acpi = record.attrs.acpi;
    if (Array.isArray(acpi) && acpi.length > 0) {
      return acpi.filter((id): id is string => typeof id === 'string');
    }
  }
  return [];
}

/**
 * Whether the originator created `target` or one of its ancestors below the
 * CSEBase (an AE counts as created by its AE-ID). Creators hold every
 * privilege on what they created and on everything below it.
 */
export function isCreatorOnPath(
  target: ResourceRecord,
  chain: readonly ResourceRecord[],
  originator: string,
  identity: CseIdentity,
): boolean {
  const normalized = normalizeOriginator(originator, identity);
  for (const record of [...chain, target]) {
    if (record.ty === ResourceType.CSEBase || record.ty === ResourceType.AccessControlPolicy) {
      continue;
    }
    if (record.cr !== null && normalizeOriginator(record.cr, identity) === normalized) {
      return true;
    }
    if (record.ty === ResourceType.AE && record.attrs.aei === normalized) {
      return true;
    }
  }
  return false;
}
