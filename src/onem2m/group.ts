import { privilegesGrant, operationBit } from './access.js';
import type { RequestContext, ResolvedTarget } from './context.js';
import { rejection, type CseCore, type OperationResult } from './cse.js';
import { onem2mError, ResponseStatusCode } from './status.js';
import type { Executor } from './store.js';
import {
  ConsistencyStrategy,
  FilterUsage,
  typeShortNames,
  type ResponsePrimitive,
} from './types.js';

/**
 * Validates group members (TS-0004, <group> procedures): each `mid` entry
 * must name an existing resource of this CSE; missing ones are dropped. A member whose
 * type differs from `mt` is dropped (consistency strategy ABANDON_MEMBER,
 * the default), fails the request with 4110 (ABANDON_GROUP), or turns the
 * group mixed (SET_MIXED). More members than `mnm` fail with 6010.
 */
export async function resolveMembers(
  core: CseCore,
  context: RequestContext,
  ex: Executor,
  mid: readonly string[],
  mt: number,
  csy: number | undefined,
  mnm: number,
): Promise<{ mid: string[]; mt: number }> {
  if (mid.length > mnm) {
    throw onem2mError(
      'MAX_NUMBER_OF_MEMBER_EXCEEDED',
      `mid lists ${mid.length} members, more than the group's maximum mnm=${mnm}`,
    );
  }
  const members: string[] = [];
  let memberType = mt;
  for (const id of mid) {
    const record = await core.resolveId(ex, id, context.now);
    if (record === undefined) {
      core.logger.debug({ member: id }, 'group member dropped: not found');
      continue;
    }
    if (members.includes(record.ri)) {
      continue;
    }
    if (memberType !== 0 && record.ty !== memberType) {
      const strategy = csy ?? ConsistencyStrategy.AbandonMember;
      if (strategy === ConsistencyStrategy.AbandonGroup) {
        throw onem2mError(
          'GROUP_MEMBER_TYPE_INCONSISTENT',
          `member ${id} is a ${typeShortNames[record.ty]}, not of the group's member type ${memberType}`,
        );
      }
      if (strategy === ConsistencyStrategy.AbandonMember) {
        continue;
      }
      memberType = 0;
    }
    members.push(record.ri);
  }
  return { mid: members, mt: memberType };
}

/**
 * Fans a request out to every member of a group through its fanOutPoint
 * (TS-0001 group management): the request goes to each member
 * (with the path after `fopt` appended), each member applies its own access
 * control, and the responses come back aggregated in m2m:agr. When the group
 * has `macp`, the originator must also hold the operation's privilege there.
 */
export async function fanOut(
  core: CseCore,
  context: RequestContext,
  resolved: ResolvedTarget,
): Promise<OperationResult> {
  const group = resolved.target;
  const request = context.request;
  const discovery = request.fc?.fu === FilterUsage.Discovery;
  const bit = operationBit(request.op, discovery);
  const macp = Array.isArray(group.attrs.macp) ? (group.attrs.macp as string[]) : [];
  if (macp.length > 0 && !context.isAdmin) {
    const policies = await core.policies(macp, context.now);
    if (
      !policies.some((policy) =>
        privilegesGrant(policy.attrs.pv, context.originator, bit, core.identity),
      )
    ) {
      throw rejection(
        'ORIGINATOR_HAS_NO_PRIVILEGE',
        `originator ${context.originator} has no privilege in the members access control policies of ${group.srn}`,
        'onem2m.access-denied',
        group.ri,
      );
    }
  } else {
    // Without macp the group's own policies govern who may use its fanOutPoint.
    await core.requireAccess(context, group, resolved.chain, bit);
  }
  const members = Array.isArray(group.attrs.mid) ? (group.attrs.mid as string[]) : [];
  const suffix = (resolved.fanOutPath ?? []).join('/');
  const responses = await Promise.all(
    members.map(async (member): Promise<ResponsePrimitive> => {
      const to = suffix === '' ? member : `${member}/${suffix}`;
      const { response } = await core.handleWithLocation(
        { ...request, to, rqi: request.rqi, fr: context.originator },
        true,
        context.origin,
      );
      return { ...response, fr: to };
    }),
  );
  return {
    rsc: ResponseStatusCode.OK,
    pc: {
      'm2m:agr': {
        'm2m:rsp': responses.map((response) => ({
          rsc: response.rsc,
          rqi: response.rqi,
          ...(response.pc === undefined ? {} : { pc: response.pc }),
          fr: response.fr,
          ...(response.rvi === undefined ? {} : { rvi: response.rvi }),
        })),
      },
    },
  };
}
