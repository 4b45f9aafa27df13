import { randomBytes } from 'node:crypto';
import { normalizeOriginator } from './access.js';
import { validateCreate } from './attributes.js';
import type { RequestContext, ResolvedTarget } from './context.js';
import { parseTargetAddress, VirtualResourceName } from './address.js';
import { rejection, type CseCore, type OperationResult } from './cse.js';
import { fanOut, resolveMembers } from './group.js';
import {
  allowedChildTypes,
  contentSize,
  CREATOR_SHOWN,
  generateResourceId,
  representation,
  wrapped,
} from './resources.js';
import { onem2mError, ResponseStatusCode } from './status.js';
import type { Executor, ResourceRecord } from './store.js';
import { formatTimestamp, parseTimestamp } from './time.js';
import {
  AccessControlOperation,
  ResourceType,
  ResultContent,
  isResourceType,
  typeShortNames,
} from './types.js';

type Json = Record<string, unknown>;

const createResultContents: readonly number[] = [
  ResultContent.Nothing,
  ResultContent.Attributes,
  ResultContent.HierarchicalAddress,
  ResultContent.HierarchicalAddressAndAttributes,
  ResultContent.ModifiedAttributes,
];

/** A resource ready to insert, with the work its type needs in the same transaction. */
interface PreparedCreate {
  record: ResourceRecord;
  parentRi: string;
  /** Runs inside the write transaction after the insert. */
  commit?: (trx: Executor) => Promise<void>;
  /** Runs inside the write transaction instead of the plain insert. */
  insert?: (trx: Executor) => Promise<void>;
  /** For a contentInstance: its container, whose counters and limits the insert keeps. */
  instanceOf?: InstanceContainer;
  /** Runs after the commit. */
  after?: () => void;
}

/** The container of a new contentInstance, with its `mni` and `mbs` limits. */
interface InstanceContainer {
  record: ResourceRecord;
  mni: number | undefined;
  mbs: number | undefined;
}

type TypedPreparation = Omit<PreparedCreate, 'parentRi'>;

/** Reads the single `{ "m2m:xyz": {...} }` element of a CREATE or UPDATE content. */
export function contentAttributes(pc: Json | undefined, ty: ResourceType, operation: string): Json {
  const shortName = typeShortNames[ty];
  if (pc === undefined) {
    throw onem2mError(
      'BAD_REQUEST',
      `${operation} carries no content; send {"${shortName}": {...}}`,
    );
  }
  const keys = Object.keys(pc);
  if (keys.length !== 1 || keys[0] !== shortName) {
    throw onem2mError(
      'BAD_REQUEST',
      `${operation} content must have the single root element ${shortName}, got ${keys.slice(0, 5).join(', ') || 'none'}`,
    );
  }
  const attributes = pc[shortName];
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    throw onem2mError('BAD_REQUEST', `${shortName} must be a JSON object of attributes`);
  }
  return attributes as Json;
}

/** Whether an address goes through a fanOutPoint, decided from its text alone. */
function addressesFanOutPoint(core: CseCore, to: string): boolean {
  if (core.isKnownCreateTarget(to)) {
    return false;
  }
  const address = parseTargetAddress(to, core.identity);
  return address.kind === 'structured'
    ? address.segments.includes(VirtualResourceName.FanOutPoint)
    : address.rest[0] === VirtualResourceName.FanOutPoint;
}

/**
 * Handles a CREATE (TS-0004). Lookups,
 * checks and the insert run in one write transaction, so on SQLite the whole
 * request joins a group commit. A subscription is the exception: its
 * verification requests go out before its transaction starts.
 */
export async function createResource(
  core: CseCore,
  context: RequestContext,
): Promise<OperationResult> {
  const request = context.request;
  const rcn = request.rcn ?? ResultContent.Attributes;
  if (!createResultContents.includes(rcn)) {
    throw onem2mError(
      'BAD_REQUEST',
      `result content rcn=${rcn} is not allowed for CREATE; use 0, 1, 2, 3 or 9`,
    );
  }
  if (!context.fannedOut && addressesFanOutPoint(core, request.to)) {
    return fanOut(core, context, await core.resolve(core.store.db, request.to, context.now));
  }
  if (request.ty === undefined) {
    throw onem2mError('BAD_REQUEST', 'CREATE needs the resource type (ty)');
  }
  const ty = request.ty;
  if (!isResourceType(ty)) {
    throw onem2mError(
      'BAD_REQUEST',
      `resource type ${ty} is not supported; this CSE creates 1 (acp), 2 (ae), 3 (cnt), 4 (cin), 9 (grp), 23 (sub)`,
    );
  }
  if (ty === ResourceType.CSEBase) {
    throw onem2mError('OPERATION_NOT_ALLOWED', 'a CSEBase cannot be created by a request');
  }
  const attributes = contentAttributes(request.pc, ty, 'CREATE');
  let prepared: PreparedCreate;
  if (ty === ResourceType.Subscription) {
    prepared = await prepareCreate(core, context, core.store.db, ty, attributes);
    await core.store.write((trx) => commitCreate(core, trx, prepared, context.now));
  } else {
    // A contentInstance CREATE commits with its sync off the event loop; its
    // response waits for the sync like every other write's. On PostgreSQL the
    // creations under one address share transactions (see WriteOptions).
    const instance = ty === ResourceType.ContentInstance;
    prepared = await core.store.write(
      async (trx) => {
        const inTransaction = await prepareCreate(core, context, trx, ty, attributes);
        await commitCreate(core, trx, inTransaction, context.now);
        return inTransaction;
      },
      instance ? { backgroundSync: true, batchKey: request.to } : {},
    );
  }
  const record = prepared.record;
  prepared.after?.();
  await core.emit(
    [{ kind: 'create-child', parentRi: prepared.parentRi, child: record }],
    context.now,
  );
  return {
    rsc: ResponseStatusCode.CREATED,
    location: record.ri,
    ...createContent(core, record, rcn, attributes),
  };
}

async function commitCreate(
  core: CseCore,
  trx: Executor,
  prepared: PreparedCreate,
  now: string,
): Promise<void> {
  if (prepared.instanceOf !== undefined) {
    await insertInstance(core, trx, prepared.record, prepared.instanceOf, now);
  } else if (prepared.insert !== undefined) {
    await prepared.insert(trx);
  } else {
    await core.store.insert(trx, prepared.record);
  }
  await prepared.commit?.(trx);
}

/** Resolves the parent, checks the request against it and builds the new resource. */
async function prepareCreate(
  core: CseCore,
  context: RequestContext,
  ex: Executor,
  ty: ResourceType,
  attributes: Json,
): Promise<PreparedCreate> {
  const resolved = await core.resolveCreateTarget(ex, context.request.to, context.now);
  if (resolved.virtual !== undefined) {
    throw onem2mError(
      'OPERATION_NOT_ALLOWED',
      `CREATE is not allowed on the virtual resource ${resolved.virtual}`,
    );
  }
  if (resolved.fanOutPath !== undefined) {
    throw onem2mError('BAD_REQUEST', 'a request fanned out by a group cannot fan out again');
  }
  const parent = resolved.target;
  if (
    ty === ResourceType.Subscription &&
    (parent.ty === ResourceType.ContentInstance || parent.ty === ResourceType.Subscription)
  ) {
    throw onem2mError(
      'TARGET_NOT_SUBSCRIBABLE',
      `${typeShortNames[parent.ty]} ${parent.srn} cannot be subscribed to`,
    );
  }
  if (!allowedChildTypes[parent.ty].includes(ty)) {
    throw onem2mError(
      'INVALID_CHILD_RESOURCE_TYPE',
      `${typeShortNames[ty]} cannot be created below ${typeShortNames[parent.ty]} ${parent.srn}`,
    );
  }
  if (ty === ResourceType.AE) {
    if (!context.isAdmin) {
      context.originator = await registrationOriginator(core, context, ex);
    }
  } else {
    await core.requireAccess(context, parent, resolved.chain, AccessControlOperation.Create, {
      ex,
    });
  }
  const checked = validateCreate(ty, attributes);
  return { ...(await prepare(core, context, ex, resolved, ty, checked)), parentRi: parent.ri };
}

function createContent(
  core: CseCore,
  record: ResourceRecord,
  rcn: number,
  requested: Json,
): { pc?: unknown } {
  const shortName = typeShortNames[record.ty];
  switch (rcn) {
    case ResultContent.Nothing:
      return {};
    case ResultContent.HierarchicalAddress:
      return { pc: { 'm2m:uri': record.srn } };
    case ResultContent.HierarchicalAddressAndAttributes:
      return {
        pc: { 'm2m:rce': { [shortName]: representation(record, core.identity), uri: record.srn } },
      };
    case ResultContent.ModifiedAttributes: {
      const full = representation(record, core.identity);
      const modified: Json = {};
      for (const [name, value] of Object.entries(full)) {
        if (JSON.stringify(requested[name]) !== JSON.stringify(value)) {
          modified[name] = value;
        }
      }
      return { pc: { [shortName]: modified } };
    }
    default:
      return { pc: wrapped(record, core.identity) };
  }
}

/**
 * Decides the AE-ID of a registering AE (TS-0001, TS-0004):
 * no originator, `C` or `S` lets the CSE assign one with that prefix; an
 * AE-ID the AE brings must start with an allowed prefix (else 4126) and must
 * not be registered already (else 4117).
 */
async function registrationOriginator(
  core: CseCore,
  context: RequestContext,
  ex: Executor,
): Promise<string> {
  const given = normalizeOriginator(context.originator, core.identity);
  const random = (): string => randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
  if (given === '' || given === 'C') {
    return `C${random()}`;
  }
  if (given === 'S') {
    return `S${random()}`;
  }
  const allowed =
    /^[CS][A-Za-z0-9._~-]*$/.test(given) &&
    given.length <= 128 &&
    core.config.allowedAeIdPrefixes.some((prefix) => given.startsWith(prefix));
  if (!allowed) {
    throw rejection(
      'APP_RULE_VALIDATION_FAILED',
      `AE-ID ${given} is not allowed: it must start with one of ${core.config.allowedAeIdPrefixes.join(', ')} and use unreserved characters`,
      'onem2m.originator-rejected',
    );
  }
  if (await core.store.exists(ex, given)) {
    throw rejection(
      'ORIGINATOR_HAS_ALREADY_REGISTERED',
      `originator ${given} has already registered an AE`,
      'onem2m.originator-rejected',
    );
  }
  return given;
}

/** Resolves `acpi` (or `macp`) entries to accessControlPolicy resource IDs; 4000 for anything else. */
export async function policyIds(
  core: CseCore,
  ex: Executor,
  values: readonly string[],
  name: string,
  now: string,
): Promise<string[]> {
  const ids: string[] = [];
  for (const value of values) {
    const record = await core.resolveId(ex, value, now);
    if (record === undefined || record.ty !== ResourceType.AccessControlPolicy) {
      throw onem2mError(
        'BAD_REQUEST',
        `${name} entry ${value} does not name an accessControlPolicy resource`,
      );
    }
    if (!ids.includes(record.ri)) {
      ids.push(record.ri);
    }
  }
  return ids;
}

/** Checks an expiration time: a timestamp in the future. */
export function expirationOf(et: unknown, context: RequestContext, defaultSeconds: number): string {
  if (et === undefined) {
    return formatTimestamp(context.nowMs + defaultSeconds * 1000);
  }
  const text = typeof et === 'string' ? et : JSON.stringify(et);
  const ms = parseTimestamp(text) ?? 0;
  if (ms <= context.nowMs) {
    throw onem2mError('BAD_REQUEST', `expiration time et ${text} is not in the future`);
  }
  return formatTimestamp(ms);
}

/** Checks `poa` and `nu` URLs: http, https, mqtt or mqtts with a host. */
export function checkUrl(value: string, name: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw onem2mError('BAD_REQUEST', `${name} entry ${value} is not a valid URL`);
  }
  if (!['http:', 'https:', 'mqtt:', 'mqtts:'].includes(url.protocol) || url.hostname === '') {
    throw onem2mError(
      'BAD_REQUEST',
      `${name} entry ${value} must be an http, https, mqtt or mqtts URL with a host`,
    );
  }
}

/** Checks subscription `nu` entries: URLs or registered AEs. */
export async function checkNotificationUris(
  core: CseCore,
  nus: readonly string[],
  now: string,
): Promise<void> {
  for (const nu of nus) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(nu)) {
      checkUrl(nu, 'nu');
      continue;
    }
    const record = await core.resolveId(core.store.db, nu, now);
    if (record === undefined || record.ty !== ResourceType.AE) {
      throw onem2mError('BAD_REQUEST', `nu entry ${nu} is neither a URL nor a registered AE`);
    }
  }
}

async function prepare(
  core: CseCore,
  context: RequestContext,
  ex: Executor,
  resolved: ResolvedTarget,
  ty: ResourceType,
  checked: Json,
): Promise<TypedPreparation> {
  const parent = resolved.target;
  const { rn, et, cr, ...attrs } = checked;
  const ri = ty === ResourceType.AE ? context.originator : generateResourceId(ty, context.nowMs);
  const name = typeof rn === 'string' ? rn : ri;
  if (Array.isArray(attrs.acpi)) {
    attrs.acpi = await policyIds(core, ex, attrs.acpi as string[], 'acpi', context.now);
  }
  if (cr === null) {
    attrs[CREATOR_SHOWN] = true;
  }
  const record: ResourceRecord = {
    ri,
    pi: parent.ri,
    rn: name,
    srn: `${parent.srn}/${name}`,
    ty,
    ct: context.now,
    lt: context.now,
    et: expirationOf(et, context, core.config.defaultExpirationSeconds),
    st: 0,
    cni: 0,
    cbs: 0,
    cs: 0,
    cr:
      ty === ResourceType.AE || ty === ResourceType.AccessControlPolicy ? null : context.originator,
    attrs,
  };
  switch (ty) {
    case ResourceType.AE:
      return prepareAe(core, context, record);
    case ResourceType.Container:
      record.attrs.mni ??= core.config.containerDefaults.mni;
      record.attrs.mbs ??= core.config.containerDefaults.mbs;
      if (core.config.containerDefaults.mia > 0) {
        record.attrs.mia ??= core.config.containerDefaults.mia;
      }
      return { record };
    case ResourceType.ContentInstance:
      return prepareContentInstance(context, parent, record);
    case ResourceType.Subscription:
      return prepareSubscription(core, context, ex, resolved, record);
    case ResourceType.AccessControlPolicy:
      return {
        record,
        commit: (trx) =>
          core.auditChange(trx, context, 'onem2m.acp-create', 'C', record, {
            pv: record.attrs.pv,
            pvs: record.attrs.pvs,
          }),
        after: () => {
          core.forgetPolicy(record.ri);
        },
      };
    case ResourceType.Group:
      return prepareGroup(core, context, ex, record);
    case ResourceType.CSEBase:
      throw onem2mError('OPERATION_NOT_ALLOWED', 'a CSEBase cannot be created by a request');
  }
}

function prepareAe(
  core: CseCore,
  context: RequestContext,
  record: ResourceRecord,
): TypedPreparation {
  for (const poa of (record.attrs.poa as string[] | undefined) ?? []) {
    checkUrl(poa, 'poa');
  }
  record.attrs.aei = context.originator;
  return {
    record,
    insert: async (trx) => {
      if (await core.store.exists(trx, record.ri)) {
        throw onem2mError(
          'ORIGINATOR_HAS_ALREADY_REGISTERED',
          `originator ${record.ri} has already registered an AE`,
        );
      }
      await core.store.insert(trx, record);
    },
    commit: (trx) =>
      core.auditChange(trx, context, 'onem2m.ae-register', 'C', record, {
        aei: record.attrs.aei,
        api: record.attrs.api,
        poa: record.attrs.poa ?? [],
      }),
    after: () => {
      core.rememberAe(record.ri);
    },
  };
}

/**
 * Prepares a contentInstance (TS-0004): its size, its expiration within the
 * container's `mia`, and the container limits that `insertInstance` keeps.
 */
function prepareContentInstance(
  context: RequestContext,
  container: ResourceRecord,
  record: ResourceRecord,
): TypedPreparation {
  record.cs = contentSize(record.attrs.con);
  const mbs = typeof container.attrs.mbs === 'number' ? container.attrs.mbs : undefined;
  const mni = typeof container.attrs.mni === 'number' ? container.attrs.mni : undefined;
  const mia = typeof container.attrs.mia === 'number' ? container.attrs.mia : undefined;
  if (mbs !== undefined && record.cs > mbs) {
    throw onem2mError(
      'NOT_ACCEPTABLE',
      `content of ${record.cs} bytes exceeds the container's maximum byte size mbs=${mbs}`,
    );
  }
  if (mia !== undefined && mia > 0) {
    const ageLimit = formatTimestamp(context.nowMs + mia * 1000);
    if (record.et === null || record.et > ageLimit) {
      record.et = ageLimit;
    }
  }
  return { record, instanceOf: { record: container, mni, mbs } };
}

/**
 * Inserts a contentInstance: removes the container's expired instances,
 * counts the new one in the container's `cni`, `cbs` and `st` (see
 * `ResourceStore.insertInstance`), and evicts the oldest beyond `mni` and
 * `mbs`. Eviction walks the (pi, ty, st) index from the oldest end, so it
 * costs the same for ten instances or a million.
 */
async function insertInstance(
  core: CseCore,
  trx: Executor,
  record: ResourceRecord,
  container: InstanceContainer,
  now: string,
): Promise<void> {
  const counters = await core.store.insertInstance(trx, container.record.ri, record, now);
  await evictInstances(core, trx, container.record.ri, counters, container.mni, container.mbs);
}

/** Returns whether `value` is above `limit`; an undefined limit is never exceeded. */
function exceeds(limit: number | undefined, value: number): boolean {
  return limit !== undefined && value > limit;
}

/** Deletes the oldest instances until the container is within `mni` and `mbs`. */
export async function evictInstances(
  core: CseCore,
  trx: Executor,
  containerRi: string,
  counters: { cni: number; cbs: number },
  mni: number | undefined,
  mbs: number | undefined,
): Promise<void> {
  let cni = counters.cni;
  let cbs = counters.cbs;
  while (exceeds(mni, cni) || exceeds(mbs, cbs)) {
    const excess = mni !== undefined && cni > mni ? cni - mni : 0;
    if (excess === 1 && !exceeds(mbs, cbs)) {
      // The usual case of a full container that got one more instance.
      const evicted = await core.store.evictOldestInstance(trx, containerRi);
      if (evicted === undefined) {
        return;
      }
      cni = evicted.cni;
      cbs = evicted.cbs;
      continue;
    }
    const batch = await core.store.oldestInstances(
      trx,
      containerRi,
      Math.max(excess, 1) + (exceeds(mbs, cbs) ? 16 : 0),
    );
    if (batch.length === 0) {
      return;
    }
    const victims: string[] = [];
    let bytes = 0;
    for (const instance of batch) {
      if (!exceeds(mni, cni) && !exceeds(mbs, cbs)) {
        break;
      }
      victims.push(instance.ri);
      bytes += instance.cs;
      cni -= 1;
      cbs -= instance.cs;
    }
    await core.store.deleteInstances(trx, victims);
    await core.store.adjustContainer(trx, containerRi, -victims.length, -bytes, undefined);
  }
}

async function prepareSubscription(
  core: CseCore,
  context: RequestContext,
  ex: Executor,
  resolved: ResolvedTarget,
  record: ResourceRecord,
): Promise<TypedPreparation> {
  // TS-0004: the subscriber needs RETRIEVE on the subscribed-to resource.
  await core.requireAccess(
    context,
    resolved.target,
    resolved.chain,
    AccessControlOperation.Retrieve,
    { code: 'SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE', ex },
  );
  const nus = record.attrs.nu as string[];
  await checkNotificationUris(core, nus, context.now);
  record.attrs.enc ??= { net: [1] };
  record.attrs.nct ??= 1;
  await core.notifier.verify(nus, record.ri, context.originator);
  return {
    record,
    after: () => {
      core.forgetSubscriptions(record.pi);
    },
  };
}

async function prepareGroup(
  core: CseCore,
  context: RequestContext,
  ex: Executor,
  record: ResourceRecord,
): Promise<TypedPreparation> {
  const mnm = record.attrs.mnm as number;
  if (mnm > core.config.group.maxMembers) {
    throw onem2mError(
      'MAX_NUMBER_OF_MEMBER_EXCEEDED',
      `mnm ${mnm} exceeds this CSE's maximum of ${core.config.group.maxMembers} members`,
    );
  }
  if (Array.isArray(record.attrs.macp)) {
    record.attrs.macp = await policyIds(
      core,
      ex,
      record.attrs.macp as string[],
      'macp',
      context.now,
    );
  }
  record.attrs.mt ??= 0;
  const members = await resolveMembers(
    core,
    context,
    ex,
    record.attrs.mid as string[],
    record.attrs.mt as number,
    record.attrs.csy as number | undefined,
    mnm,
  );
  record.attrs.mid = members.mid;
  record.attrs.mt = members.mt;
  record.attrs.cnm = members.mid.length;
  record.attrs.mtv = true;
  return { record };
}
