import type { RequestContext, ResolvedTarget } from './context.js';
import type { CseCore, OperationResult } from './cse.js';
import { fanOut } from './group.js';
import { representation, wrapped } from './resources.js';
import { onem2mError, ResponseStatusCode } from './status.js';
import type { ResourceRecord } from './store.js';
import { formatTimestamp, parseTimestamp } from './time.js';
import {
  AccessControlOperation,
  DiscoveryResultType,
  FilterUsage,
  ResultContent,
  typeShortNames,
  type FilterCriteria,
} from './types.js';

type Json = Record<string, unknown>;

const retrieveResultContents: readonly number[] = [
  ResultContent.Attributes,
  ResultContent.AttributesAndChildResources,
  ResultContent.AttributesAndChildResourceReferences,
  ResultContent.ChildResourceReferences,
  ResultContent.OriginalResource,
  ResultContent.ChildResources,
];

const discoveryResultContents: readonly number[] = [
  ResultContent.DiscoveryResultReferences,
  ResultContent.ChildResourceReferences,
];

/** PARTIAL_CONTENT of m2m:contentStatus: more results exist beyond `lim`. */
const PARTIAL_CONTENT = 2;

const DISCOVERY_PAGE = 500;

/** Rewrites filter timestamps to the stored form, so string comparison in SQL is time order. */
export function normalizeFilter(filter: FilterCriteria | undefined): FilterCriteria {
  const result: FilterCriteria = { ...(filter ?? {}) };
  for (const key of ['cra', 'crb', 'ms', 'us', 'exa', 'exb'] as const) {
    const value = result[key];
    if (value !== undefined) {
      result[key] = formatTimestamp(parseTimestamp(value) ?? 0);
    }
  }
  return result;
}

/** Handles a RETRIEVE, including discovery (fu=1) and the latest/oldest virtual resources. */
export async function retrieveResource(
  core: CseCore,
  context: RequestContext,
): Promise<OperationResult> {
  const request = context.request;
  const discovery = request.fc?.fu === FilterUsage.Discovery;
  if (
    request.fc?.fu !== undefined &&
    request.fc.fu !== FilterUsage.Discovery &&
    request.fc.fu !== FilterUsage.ConditionalRetrieval
  ) {
    throw onem2mError(
      'BAD_REQUEST',
      `filter usage fu=${request.fc.fu} is not supported; use 1 (discovery) or 2`,
    );
  }
  const rcn =
    request.rcn ?? (discovery ? ResultContent.DiscoveryResultReferences : ResultContent.Attributes);
  const resolved = await core.resolve(core.store.db, request.to, context.now);
  if (resolved.fanOutPath !== undefined && !context.fannedOut) {
    return fanOut(core, context, resolved);
  }
  if (discovery) {
    if (!discoveryResultContents.includes(rcn)) {
      throw onem2mError(
        'BAD_REQUEST',
        `result content rcn=${rcn} is not allowed for discovery; use 11 or 6`,
      );
    }
    if (resolved.virtual !== undefined) {
      throw onem2mError(
        'BAD_REQUEST',
        `discovery cannot start at the virtual resource ${resolved.virtual}`,
      );
    }
    await core.requireAccess(
      context,
      resolved.target,
      resolved.chain,
      AccessControlOperation.Discovery,
    );
    return discover(core, context, resolved, rcn);
  }
  if (!retrieveResultContents.includes(rcn)) {
    throw onem2mError(
      'BAD_REQUEST',
      `result content rcn=${rcn} is not allowed for RETRIEVE; use 1, 4, 5, 6, 7 or 8`,
    );
  }
  await core.requireAccess(
    context,
    resolved.target,
    resolved.chain,
    AccessControlOperation.Retrieve,
  );
  if (resolved.virtual !== undefined) {
    const instance = await core.store.edgeInstance(
      core.store.db,
      resolved.target.ri,
      resolved.virtual === 'la' ? 'latest' : 'oldest',
      context.now,
    );
    if (instance === undefined) {
      throw onem2mError('NOT_FOUND', `container ${resolved.target.srn} has no contentInstance`);
    }
    return { rsc: ResponseStatusCode.OK, pc: wrapped(instance, core.identity) };
  }
  return { rsc: ResponseStatusCode.OK, pc: await resourceContent(core, context, resolved, rcn) };
}

/**
 * Builds the content of a RETRIEVE (or DELETE) for a result content value:
 * the resource, its children (filtered by fc with fu=2 and by RETRIEVE
 * privilege), or references to them.
 */
export async function resourceContent(
  core: CseCore,
  context: RequestContext,
  resolved: ResolvedTarget,
  rcn: number,
): Promise<Json> {
  const target = resolved.target;
  const shortName = typeShortNames[target.ty];
  if (rcn === ResultContent.Attributes || rcn === ResultContent.OriginalResource) {
    return wrapped(target, core.identity);
  }
  const filter = normalizeFilter(context.request.fc);
  const limit = Math.min(
    filter.lim ?? core.config.maxDiscoveryResults,
    core.config.maxDiscoveryResults,
  );
  const { records } = await findAllowed(core, context, resolved, {
    filter: { ...filter, lvl: filter.lvl ?? 1 },
    limit,
    offset: filter.ofst ?? 0,
    bit: AccessControlOperation.Retrieve,
  });
  const drt = context.request.drt ?? DiscoveryResultType.Structured;
  const references = records.map((record) => ({
    nm: record.rn,
    typ: record.ty,
    val: drt === DiscoveryResultType.Unstructured ? record.ri : record.srn,
  }));
  const grouped: Json = {};
  for (const record of records) {
    const key = typeShortNames[record.ty];
    const list = (grouped[key] ?? []) as Json[];
    list.push(representation(record, core.identity));
    grouped[key] = list;
  }
  switch (rcn) {
    case ResultContent.AttributesAndChildResources:
      return { [shortName]: { ...representation(target, core.identity), ...grouped } };
    case ResultContent.AttributesAndChildResourceReferences:
      return { [shortName]: { ...representation(target, core.identity), ch: references } };
    case ResultContent.ChildResourceReferences:
      return { 'm2m:rrl': { rrf: references } };
    case ResultContent.ChildResources:
      return { [shortName]: grouped };
    default:
      throw onem2mError('BAD_REQUEST', `result content rcn=${rcn} is not supported here`);
  }
}

interface SearchOptions {
  filter: FilterCriteria;
  limit: number;
  offset: number;
  bit: AccessControlOperation;
}

/**
 * Searches below the target and keeps the resources the originator holds
 * `bit` on. Offset and limit count permitted resources only, so the pages
 * an originator sees never depend on resources hidden from it.
 */
async function findAllowed(
  core: CseCore,
  context: RequestContext,
  resolved: ResolvedTarget,
  options: SearchOptions,
): Promise<{ records: ResourceRecord[]; more: boolean }> {
  const base = resolved.target;
  const query = {
    baseRi: base.ri,
    ...(options.filter.lvl === undefined ? {} : { levels: options.filter.lvl }),
    filter: options.filter,
    now: context.now,
  };
  if (context.isAdmin) {
    const rows = await core.store.searchSubtree(core.store.db, {
      ...query,
      offset: options.offset,
      limit: options.limit + 1,
    });
    return { records: rows.slice(0, options.limit), more: rows.length > options.limit };
  }
  const records: ResourceRecord[] = [];
  let skipped = 0;
  let databaseOffset = 0;
  const known = new Map<string, ResourceRecord>([[base.srn, base]]);
  for (const ancestor of resolved.chain) {
    known.set(ancestor.srn, ancestor);
  }
  for (;;) {
    const page = await core.store.searchSubtree(core.store.db, {
      ...query,
      offset: databaseOffset,
      limit: DISCOVERY_PAGE,
    });
    databaseOffset += page.length;
    await loadAncestors(core, page, known, context.now);
    for (const record of page) {
      known.set(record.srn, record);
    }
    for (const record of page) {
      const chain = chainOf(record, known);
      if (chain === undefined || !(await core.isAllowed(context, record, chain, options.bit))) {
        continue;
      }
      if (skipped < options.offset) {
        skipped += 1;
        continue;
      }
      if (records.length === options.limit) {
        return { records, more: true };
      }
      records.push(record);
    }
    if (page.length < DISCOVERY_PAGE) {
      return { records, more: false };
    }
  }
}

function prefixesOf(srn: string): string[] {
  const parts = srn.split('/');
  const result: string[] = [];
  for (let index = 1; index < parts.length; index += 1) {
    result.push(parts.slice(0, index).join('/'));
  }
  return result;
}

async function loadAncestors(
  core: CseCore,
  records: readonly ResourceRecord[],
  known: Map<string, ResourceRecord>,
  now: string,
): Promise<void> {
  const missing = new Set<string>();
  const inPage = new Set(records.map((record) => record.srn));
  for (const record of records) {
    for (const prefix of prefixesOf(record.srn)) {
      if (!known.has(prefix) && !inPage.has(prefix)) {
        missing.add(prefix);
      }
    }
  }
  if (missing.size === 0) {
    return;
  }
  const found = await core.store.findManyBySrn(core.store.db, [...missing], now);
  for (const [srn, record] of found) {
    known.set(srn, record);
  }
}

function chainOf(
  record: ResourceRecord,
  known: Map<string, ResourceRecord>,
): ResourceRecord[] | undefined {
  const chain: ResourceRecord[] = [];
  for (const prefix of prefixesOf(record.srn)) {
    const ancestor = known.get(prefix);
    if (ancestor === undefined) {
      return undefined;
    }
    chain.push(ancestor);
  }
  return chain;
}

/** Discovery (TS-0004): addresses of the matching resources the originator may discover. */
async function discover(
  core: CseCore,
  context: RequestContext,
  resolved: ResolvedTarget,
  rcn: number,
): Promise<OperationResult> {
  const filter = normalizeFilter(context.request.fc);
  const limit = Math.min(
    filter.lim ?? core.config.maxDiscoveryResults,
    core.config.maxDiscoveryResults,
  );
  const offset = filter.ofst ?? 0;
  const { records, more } = await findAllowed(core, context, resolved, {
    filter,
    limit,
    offset,
    bit: AccessControlOperation.Discovery,
  });
  const drt = context.request.drt ?? DiscoveryResultType.Structured;
  const address = (record: ResourceRecord): string =>
    drt === DiscoveryResultType.Unstructured ? record.ri : record.srn;
  const pc =
    rcn === ResultContent.ChildResourceReferences
      ? {
          'm2m:rrl': {
            rrf: records.map((record) => ({ nm: record.rn, typ: record.ty, val: address(record) })),
          },
        }
      : { 'm2m:uril': records.map(address) };
  return {
    rsc: ResponseStatusCode.OK,
    pc,
    ...(more ? { cnst: PARTIAL_CONTENT, cnot: offset + records.length } : {}),
  };
}
