import type { FlowProtocol, FlowRule } from '../types.js';
import type { MudAce, MudFile } from './mud-file.js';

/** An access control entry that medward could not turn into a rule, so the flow stays blocked. */
export interface UnresolvedAce {
  acl: string;
  ace: string;
  reason: string;
}

export interface MudFlows {
  flows: FlowRule[];
  unresolved: UnresolvedAce[];
}

const protocols: ReadonlyMap<number, FlowProtocol> = new Map([
  [6, 'tcp'],
  [17, 'udp'],
  [1, 'icmp'],
  [58, 'icmp'],
]);

function unresolvedReason(ace: MudAce): string | undefined {
  if (ace.destinationDnsName !== undefined || ace.sourceDnsName !== undefined) {
    // TODO: resolve ietf-acldns names and keep the addresses current; until then the flow stays blocked.
    return 'names a DNS name, which medward does not resolve';
  }
  if (ace.mudMatches.length > 0) {
    return `uses ietf-mud matches (${ace.mudMatches.join(', ')}), which need site configuration medward does not have`;
  }
  if (ace.protocol !== undefined && !protocols.has(ace.protocol)) {
    return `matches IP protocol ${ace.protocol}, which medward cannot express`;
  }
  return undefined;
}

/**
 * Turns a MUD file's accept entries into flows. Entries that need knowledge
 * medward lacks (DNS names, controller classes) and every entry after a drop
 * or reject in the same list are left out and reported, so the result never
 * allows more than the file does.
 */
export function mudToFlows(mud: MudFile): MudFlows {
  const flows: FlowRule[] = [];
  const unresolved: UnresolvedAce[] = [];
  const policies = [
    ...mud.fromDeviceAcls.map((name) => ({ name, policy: 'from-device' as const })),
    ...mud.toDeviceAcls.map((name) => ({ name, policy: 'to-device' as const })),
  ];
  for (const { name, policy } of policies) {
    const acl = mud.acls.get(name);
    if (acl === undefined) {
      continue;
    }
    let blockedFrom: string | undefined;
    for (const ace of acl.aces) {
      if (ace.forwarding !== 'accept') {
        blockedFrom ??= ace.name;
        continue;
      }
      if (blockedFrom !== undefined) {
        unresolved.push({
          acl: name,
          ace: ace.name,
          reason: `follows ${blockedFrom}, a drop entry that medward cannot order before accepts`,
        });
        continue;
      }
      const reason = unresolvedReason(ace);
      if (reason !== undefined) {
        unresolved.push({ acl: name, ace: ace.name, reason });
        continue;
      }
      const flow = aceToFlow(ace, policy, `mud:${name}/${ace.name}`);
      if (flow !== undefined) {
        flows.push(flow);
      }
    }
  }
  return { flows, unresolved };
}

function aceToFlow(
  ace: MudAce,
  policy: 'from-device' | 'to-device',
  source: string,
): FlowRule | undefined {
  const protocol = ace.protocol === undefined ? 'any' : (protocols.get(ace.protocol) ?? 'any');
  if (policy === 'from-device') {
    if (ace.directionInitiated === 'to-device') {
      // Replies from the device's port to connections the peer opened.
      return withOptional(
        { direction: 'to-device', protocol, source },
        ace.destinationNetwork,
        ace.sourcePort,
      );
    }
    return withOptional(
      { direction: 'from-device', protocol, source },
      ace.destinationNetwork,
      ace.destinationPort,
    );
  }
  if (ace.directionInitiated === 'from-device') {
    // Packets toward the device on connections it opened; its from-device entries cover them.
    return undefined;
  }
  return withOptional(
    { direction: 'to-device', protocol, source },
    ace.sourceNetwork,
    ace.destinationPort,
  );
}

function withOptional(
  base: FlowRule,
  peer: string | undefined,
  ports: { first: number; last: number } | undefined,
): FlowRule {
  return {
    ...base,
    ...(peer === undefined ? {} : { peer }),
    ...(ports === undefined || (base.protocol !== 'tcp' && base.protocol !== 'udp')
      ? {}
      : { ports }),
  };
}
