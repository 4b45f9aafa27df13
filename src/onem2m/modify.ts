import { validateUpdate } from './attributes.js';
import type { RequestContext } from './context.js';
import {
  checkNotificationUris,
  checkUrl,
  contentAttributes,
  evictInstances,
  expirationOf,
  policyIds,
} from './create.js';
import type { CseCore, OperationResult } from './cse.js';
import { fanOut, resolveMembers } from './group.js';
import { representation, wrapped } from './resources.js';
import { resourceContent } from './retrieve.js';
import { onem2mError, ResponseStatusCode } from './status.js';
import type { ResourceRecord } from './store.js';
import { formatTimestamp } from './time.js';
import { AccessControlOperation, ResourceType, ResultContent, typeShortNames } from './types.js';

type Json = Record<string, unknown>;

/** A committed deletion: the deleted resource and the subscriptions deleted with its subtree. */
export interface DeleteOutcome {
  record: ResourceRecord;
  subscriptions: ResourceRecord[];
}

const updateResultContents: readonly number[] = [
  ResultContent.Nothing,
  ResultContent.Attributes,
  ResultContent.ModifiedAttributes,
];

const deleteResultContents: readonly number[] = [
  ResultContent.Nothing,
  ResultContent.Attributes,
  ResultContent.AttributesAndChildResources,
  ResultContent.AttributesAndChildResourceReferences,
  ResultContent.ChildResourceReferences,
  ResultContent.ChildResources,
];

/** Handles an UPDATE (TS-0004): validated changes, applied and committed in one transaction. */
export async function updateResource(
  core: CseCore,
  context: RequestContext,
): Promise<OperationResult> {
  const request = context.request;
  const rcn = request.rcn ?? ResultContent.Attributes;
  if (!updateResultContents.includes(rcn)) {
    throw onem2mError(
      'BAD_REQUEST',
      `result content rcn=${rcn} is not allowed for UPDATE; use 0, 1 or 9`,
    );
  }
  const resolved = await core.resolve(core.store.db, request.to, context.now);
  if (resolved.fanOutPath !== undefined && !context.fannedOut) {
    return fanOut(core, context, resolved);
  }
  if (resolved.virtual !== undefined) {
    throw onem2mError(
      'OPERATION_NOT_ALLOWED',
      `UPDATE is not allowed on the virtual resource ${resolved.virtual}`,
    );
  }
  const target = resolved.target;
  if (target.ty === ResourceType.ContentInstance) {
    throw onem2mError(
      'OPERATION_NOT_ALLOWED',
      'a contentInstance cannot be updated; create a new one',
    );
  }
  if (request.ty !== undefined && request.ty !== target.ty) {
    throw onem2mError(
      'BAD_REQUEST',
      `ty=${request.ty} does not match the target's resource type ${target.ty}`,
    );
  }
  const attributes = contentAttributes(request.pc, target.ty, 'UPDATE');
  await core.requireAccess(context, target, resolved.chain, AccessControlOperation.Update);
  const changes = validateUpdate(target.ty, attributes);
  await prepareChanges(core, context, target, changes);

  const outcome = await core.store.write(async (trx) => {
    const current = await core.store.findByRi(trx, target.ri, context.now);
    if (current === undefined) {
      throw onem2mError('NOT_FOUND', `resource ${target.srn} was deleted while the request ran`);
    }
    const modified: Json = {};
    for (const [name, value] of Object.entries(changes)) {
      if (name === 'et') {
        current.et = typeof value === 'string' ? value : null;
      } else if (value === null) {
        current.attrs = Object.fromEntries(
          Object.entries(current.attrs).filter(([key]) => key !== name),
        );
      } else {
        current.attrs[name] = value;
      }
      modified[name] = value;
    }
    if (current.ty === ResourceType.Group && Array.isArray(current.attrs.mid)) {
      current.attrs.cnm = current.attrs.mid.length;
    }
    current.lt = context.now;
    if (current.ty === ResourceType.Container) {
      current.st += 1;
    }
    await core.store.update(trx, current, 'lbl' in changes);
    if (current.ty === ResourceType.Container) {
      // NOTE: a changed mia applies to instances created afterwards; existing
      // instances keep the expiration time they were created with.
      await evictInstances(
        core,
        trx,
        current.ri,
        { cni: current.cni, cbs: current.cbs },
        typeof current.attrs.mni === 'number' ? current.attrs.mni : undefined,
        typeof current.attrs.mbs === 'number' ? current.attrs.mbs : undefined,
      );
      const refreshed = await core.store.findByRi(trx, current.ri, context.now);
      if (refreshed !== undefined) {
        current.cni = refreshed.cni;
        current.cbs = refreshed.cbs;
        current.st = refreshed.st;
      }
    }
    if (current.ty === ResourceType.AccessControlPolicy) {
      await core.auditChange(trx, context, 'onem2m.acp-update', 'U', current, { changes });
    }
    return { current, modified };
  });

  if (target.ty === ResourceType.AccessControlPolicy) {
    core.forgetPolicy(target.ri);
  }
  if (target.ty === ResourceType.Subscription) {
    core.forgetSubscriptions(target.pi);
    core.notifier.forgetSubscription(target.ri);
  }
  const modifiedWithLt = { ...outcome.modified, lt: outcome.current.lt };
  await core.emit(
    [{ kind: 'update', record: outcome.current, modified: modifiedWithLt }],
    context.now,
  );
  const shortName = typeShortNames[target.ty];
  if (rcn === ResultContent.Nothing) {
    return { rsc: ResponseStatusCode.UPDATED };
  }
  if (rcn === ResultContent.ModifiedAttributes) {
    const full = representation(outcome.current, core.identity);
    const modified: Json = {};
    for (const name of [...Object.keys(outcome.modified), 'lt', 'st']) {
      if (name in full) {
        modified[name] = full[name];
      }
    }
    return { rsc: ResponseStatusCode.UPDATED, pc: { [shortName]: modified } };
  }
  return { rsc: ResponseStatusCode.UPDATED, pc: wrapped(outcome.current, core.identity) };
}

/** Type rules of an UPDATE that need lookups or network I/O, run before the transaction. */
async function prepareChanges(
  core: CseCore,
  context: RequestContext,
  target: ResourceRecord,
  changes: Json,
): Promise<void> {
  if (changes.et !== undefined && changes.et !== null) {
    changes.et = expirationOf(changes.et, context, core.config.defaultExpirationSeconds);
  }
  if (changes.et === null) {
    changes.et = formatTimestamp(context.nowMs + core.config.defaultExpirationSeconds * 1000);
  }
  if (Array.isArray(changes.acpi)) {
    changes.acpi = await policyIds(
      core,
      core.store.db,
      changes.acpi as string[],
      'acpi',
      context.now,
    );
  }
  switch (target.ty) {
    case ResourceType.AE:
      for (const poa of (changes.poa as string[] | null | undefined) ?? []) {
        checkUrl(poa, 'poa');
      }
      return;
    case ResourceType.Subscription: {
      if (Array.isArray(changes.nu)) {
        const nus = changes.nu as string[];
        await checkNotificationUris(core, nus, context.now);
        const previous = (target.attrs.nu as string[] | undefined) ?? [];
        const added = nus.filter((nu) => !previous.includes(nu));
        await core.notifier.verify(added, target.ri, context.originator);
      }
      return;
    }
    case ResourceType.Group: {
      if (Array.isArray(changes.macp)) {
        changes.macp = await policyIds(
          core,
          core.store.db,
          changes.macp as string[],
          'macp',
          context.now,
        );
      }
      const mnm = (changes.mnm as number | undefined) ?? (target.attrs.mnm as number);
      if (mnm > core.config.group.maxMembers) {
        throw onem2mError(
          'MAX_NUMBER_OF_MEMBER_EXCEEDED',
          `mnm ${mnm} exceeds this CSE's maximum of ${core.config.group.maxMembers} members`,
        );
      }
      const mid = (changes.mid as string[] | undefined) ?? (target.attrs.mid as string[]);
      if (mid.length > mnm) {
        throw onem2mError(
          'MAX_NUMBER_OF_MEMBER_EXCEEDED',
          `the group would have ${mid.length} members, more than mnm=${mnm}`,
        );
      }
      if (changes.mid !== undefined) {
        const members = await resolveMembers(
          core,
          context,
          core.store.db,
          mid,
          target.attrs.mt as number,
          target.attrs.csy as number | undefined,
          mnm,
        );
        changes.mid = members.mid;
        if (members.mt !== target.attrs.mt) {
          changes.mt = members.mt;
        }
      }
      return;
    }
    case ResourceType.CSEBase:
    case ResourceType.Container:
    case ResourceType.ContentInstance:
    case ResourceType.AccessControlPolicy:
      return;
  }
}

/** Handles a DELETE (TS-0004), including DELETE of `la` and `ol`. */
export async function deleteResource(
  core: CseCore,
  context: RequestContext,
): Promise<OperationResult> {
  const request = context.request;
  const rcn = request.rcn ?? ResultContent.Nothing;
  if (!deleteResultContents.includes(rcn)) {
    throw onem2mError(
      'BAD_REQUEST',
      `result content rcn=${rcn} is not allowed for DELETE; use 0, 1, 4, 5, 6 or 8`,
    );
  }
  const resolved = await core.resolve(core.store.db, request.to, context.now);
  if (resolved.fanOutPath !== undefined && !context.fannedOut) {
    return fanOut(core, context, resolved);
  }
  let target = resolved.target;
  let chain = resolved.chain;
  if (resolved.virtual !== undefined) {
    await core.requireAccess(context, target, chain, AccessControlOperation.Delete);
    const instance = await core.store.edgeInstance(
      core.store.db,
      target.ri,
      resolved.virtual === 'la' ? 'latest' : 'oldest',
      context.now,
    );
    if (instance === undefined) {
      throw onem2mError('NOT_FOUND', `container ${target.srn} has no contentInstance`);
    }
    chain = [...chain, target];
    target = instance;
  } else {
    if (target.ty === ResourceType.CSEBase) {
      throw onem2mError('OPERATION_NOT_ALLOWED', 'the CSEBase cannot be deleted');
    }
    await core.requireAccess(context, target, chain, AccessControlOperation.Delete);
  }
  const content =
    rcn === ResultContent.Nothing
      ? undefined
      : await resourceContent(core, context, { target, chain }, rcn);
  const deleted = target;
  const outcome = await core.store.write(async (trx) => {
    if (!(await core.store.exists(trx, deleted.ri))) {
      throw onem2mError('NOT_FOUND', `resource ${deleted.srn} was deleted while the request ran`);
    }
    const result = await core.deleteInTransaction(trx, deleted);
    if (deleted.ty === ResourceType.AE) {
      await core.auditChange(trx, context, 'onem2m.ae-deregister', 'D', deleted, {
        aei: deleted.attrs.aei,
      });
    }
    if (deleted.ty === ResourceType.AccessControlPolicy) {
      await core.auditChange(trx, context, 'onem2m.acp-delete', 'D', deleted, {});
    }
    return result;
  });
  await core.afterDelete(outcome, context.now);
  return { rsc: ResponseStatusCode.DELETED, ...(content === undefined ? {} : { pc: content }) };
}
