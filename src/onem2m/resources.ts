import { randomFillSync } from 'node:crypto';
import type { CseIdentity } from './address.js';
import type { ResourceRecord } from './store.js';
import { ResourceType, typeShortNames, supportedReleaseVersions } from './types.js';

/** Child resource types each parent type may hold (TS-0001, "child resources"). */
export const allowedChildTypes: Readonly<Record<ResourceType, readonly ResourceType[]>> = {
  [ResourceType.CSEBase]: [
    ResourceType.AE,
    ResourceType.Container,
    ResourceType.AccessControlPolicy,
    ResourceType.Subscription,
    ResourceType.Group,
  ],
  [ResourceType.AE]: [
    ResourceType.Container,
    ResourceType.AccessControlPolicy,
    ResourceType.Subscription,
    ResourceType.Group,
  ],
  [ResourceType.Container]: [
    ResourceType.Container,
    ResourceType.ContentInstance,
    ResourceType.Subscription,
  ],
  [ResourceType.ContentInstance]: [],
  [ResourceType.Subscription]: [],
  [ResourceType.AccessControlPolicy]: [ResourceType.Subscription],
  [ResourceType.Group]: [ResourceType.Subscription],
};

/** Resource types that carry `acpi`; the others take their parent's policies (TS-0001). */
export const typesWithAcpi: ReadonlySet<ResourceType> = new Set([
  ResourceType.CSEBase,
  ResourceType.AE,
  ResourceType.Container,
  ResourceType.Subscription,
  ResourceType.Group,
]);

/** Internal attribute (never in a representation) marking that `cr` was requested. */
export const CREATOR_SHOWN = '_crShown';

/** Resource types that keep a stateTag (`st`). */
const typesWithStateTag: ReadonlySet<ResourceType> = new Set([
  ResourceType.Container,
  ResourceType.ContentInstance,
]);

const idPrefix: Readonly<Record<ResourceType, string>> = {
  [ResourceType.AccessControlPolicy]: 'acp',
  [ResourceType.AE]: 'ae',
  [ResourceType.Container]: 'cnt',
  [ResourceType.ContentInstance]: 'cin',
  [ResourceType.CSEBase]: 'cb',
  [ResourceType.Group]: 'grp',
  [ResourceType.Subscription]: 'sub',
};

const BASE36_TIME_WIDTH = 9;
const RANDOM_ID_BYTES = 8;

// Random bytes for resource IDs, drawn from the CSPRNG 4 KiB at a time
// because one call per ID costs more than the rest of the ID.
const randomPool = Buffer.alloc(4096);
let randomOffset = randomPool.length;

/**
 * Generates a resource ID: the type prefix, the creation time in base 36 and
 * 64 random bits, for example `cin0lz3k8q2wab4f9x1c7d2e`. The random part
 * keeps concurrent creations apart; the time part keeps generated names in
 * creation order. IDs start with a lowercase letter, so they never collide
 * with AE-IDs, which start with C or S.
 */
export function generateResourceId(ty: ResourceType, epochMs: number): string {
  if (randomOffset + RANDOM_ID_BYTES > randomPool.length) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  const random = randomPool.toString('hex', randomOffset, randomOffset + RANDOM_ID_BYTES);
  randomOffset += RANDOM_ID_BYTES;
  return idPrefix[ty] + epochMs.toString(36).padStart(BASE36_TIME_WIDTH, '0') + random;
}

/** The resource's hierarchical address relative to the CSE (`medward/ae1/cnt1`). */
export function structuredAddress(record: ResourceRecord): string {
  return record.srn;
}

/** The resource's SP-relative unstructured address (`/id-medward/cnt123`). */
export function spRelativeAddress(record: ResourceRecord, identity: CseIdentity): string {
  return `${identity.cseId}/${record.ri}`;
}

/**
 * Builds the JSON representation of a resource (without its root element),
 * merging the columns into the stored attributes.
 */
export function representation(
  record: ResourceRecord,
  identity: CseIdentity,
): Record<string, unknown> {
  const result: Record<string, unknown> = {
    ty: record.ty,
    ri: record.ri,
    rn: record.rn,
  };
  if (record.pi !== null) {
    result.pi = record.pi;
  }
  result.ct = record.ct;
  result.lt = record.lt;
  if (record.et !== null) {
    result.et = record.et;
  }
  // The creator is always recorded for access decisions; it is part of the
  // representation only when the request asked for it with "cr": null.
  if (record.cr !== null && record.attrs[CREATOR_SHOWN] === true) {
    result.cr = record.cr;
  }
  for (const [name, value] of Object.entries(record.attrs)) {
    if (!name.startsWith('_')) {
      result[name] = value;
    }
  }
  if (typesWithStateTag.has(record.ty)) {
    result.st = record.st;
  }
  if (record.ty === ResourceType.Container) {
    result.cni = record.cni;
    result.cbs = record.cbs;
  }
  if (record.ty === ResourceType.ContentInstance) {
    result.cs = record.cs;
  }
  if (record.ty === ResourceType.CSEBase) {
    result.csi = identity.cseId;
    result.cst = 1;
    result.srt = Object.keys(typeShortNames).map(Number);
    result.srv = [...supportedReleaseVersions];
    result.csz = ['application/json'];
  }
  return result;
}

/** `{ "m2m:cnt": { ... } }` for a record. */
export function wrapped(record: ResourceRecord, identity: CseIdentity): Record<string, unknown> {
  return { [typeShortNames[record.ty]]: representation(record, identity) };
}

/** Size in bytes of a contentInstance's `con` as the CSE stores it (UTF-8 text or JSON). */
export function contentSize(con: unknown): number {
  if (typeof con === 'string') {
    return Buffer.byteLength(con);
  }
  // JSON.stringify returns undefined for undefined and functions, despite its declared type.
  const text: unknown = JSON.stringify(con);
  return typeof text === 'string' ? Buffer.byteLength(text) : 0;
}
