import { createHash } from 'node:crypto';
import { formatCidr, requireCidr } from '../address.js';
import type { DeviceEnforcement, FlowRule } from '../types.js';

/**
 * nftables text for medward's table. Frames are matched by source MAC at the
 * input and forward hooks, so one verdict map from MAC to a per-device chain
 * covers every interface of a device. A device chain accepts the flows of its
 * segment and drops everything else. The last rule's comment names the
 * segment and the decision, which is what the read-back confirms.
 */

export const DEVICE_MAP = 'device_chain';

export interface TableNames {
  family: 'inet';
  table: string;
}

export function deviceChainName(deviceId: string): string {
  return `dev_${createHash('sha256').update(deviceId).digest('hex').slice(0, 20)}`;
}

export function decisionTag(decisionId: string): string {
  return createHash('sha256').update(decisionId).digest('hex').slice(0, 16);
}

export function markerComment(segmentName: string, decisionId: string): string {
  return `medward segment=${segmentName} decision=${decisionTag(decisionId)}`;
}

const MARKER = /^medward segment=([a-z][a-z0-9-]*) decision=([0-9a-f]{16})$/;

export function parseMarker(
  comment: string,
): { segmentName: string; decisionTag: string } | undefined {
  const match = MARKER.exec(comment);
  const [, segmentName, tag] = match ?? [];
  if (segmentName === undefined || tag === undefined) {
    return undefined;
  }
  return { segmentName, decisionTag: tag };
}

function portMatch(ports: { first: number; last: number }): string {
  return ports.first === ports.last ? String(ports.first) : `${ports.first}-${ports.last}`;
}

/** Renders one flow as an nft rule body (without `add rule ...`). */
export function renderFlow(flow: FlowRule): string {
  const parts: string[] = [];
  if (flow.direction === 'to-device') {
    // The device's replies to a connection the peer opened.
    parts.push('ct direction reply');
  }
  const peer = flow.peer === undefined ? undefined : requireCidr(flow.peer, 'flow peer');
  if (peer !== undefined) {
    parts.push(`${peer.family === 4 ? 'ip' : 'ip6'} daddr ${formatCidr(peer)}`);
  }
  const portField = flow.direction === 'to-device' ? 'sport' : 'dport';
  switch (flow.protocol) {
    case 'tcp':
    case 'udp':
      parts.push(
        flow.ports === undefined
          ? `meta l4proto ${flow.protocol}`
          : `${flow.protocol} ${portField} ${portMatch(flow.ports)}`,
      );
      break;
    case 'icmp':
      if (peer === undefined) {
        parts.push('meta l4proto { icmp, ipv6-icmp }');
      } else {
        parts.push(peer.family === 4 ? 'meta l4proto icmp' : 'meta l4proto ipv6-icmp');
      }
      break;
    case 'any':
      break;
  }
  parts.push('accept');
  return parts.join(' ');
}

/** Commands that create or replace one device's chain and point all its MACs at it. */
export function renderDeviceChange(
  names: TableNames,
  enforcement: DeviceEnforcement,
  flows: readonly FlowRule[],
  presentMacs: ReadonlySet<string>,
): string[] {
  const { family, table } = names;
  const chain = deviceChainName(enforcement.device.id);
  const lines = [
    `add chain ${family} ${table} ${chain}`,
    `flush chain ${family} ${table} ${chain}`,
  ];
  for (const flow of flows) {
    lines.push(`add rule ${family} ${table} ${chain} ${renderFlow(flow)}`);
  }
  lines.push(
    `add rule ${family} ${table} ${chain} counter drop comment "${markerComment(enforcement.segmentName, enforcement.decisionId)}"`,
  );
  const macs = enforcement.device.macs;
  const stale = macs.filter((mac) => presentMacs.has(mac));
  if (stale.length > 0) {
    lines.push(`delete element ${family} ${table} ${DEVICE_MAP} { ${stale.join(', ')} }`);
  }
  lines.push(
    `add element ${family} ${table} ${DEVICE_MAP} { ${macs.map((mac) => `${mac} : goto ${chain}`).join(', ')} }`,
  );
  return lines;
}

/** Commands that remove a device's MACs from the map and then its chain. */
export function renderDeviceRemoval(
  names: TableNames,
  deviceId: string,
  presentMacs: readonly string[],
  chainPresent: boolean,
): string[] {
  const { family, table } = names;
  const lines: string[] = [];
  if (presentMacs.length > 0) {
    lines.push(`delete element ${family} ${table} ${DEVICE_MAP} { ${presentMacs.join(', ')} }`);
  }
  if (chainPresent) {
    const chain = deviceChainName(deviceId);
    lines.push(
      `flush chain ${family} ${table} ${chain}`,
      `delete chain ${family} ${table} ${chain}`,
    );
  }
  return lines;
}

/**
 * Commands that replace the whole table in one transaction: the table is
 * declared (so the delete cannot fail), deleted and built again, and the
 * kernel swaps old for new at commit, so no packet is evaluated without the table.
 */
export function renderTable(
  names: TableNames,
  priority: number,
  devices: readonly { enforcement: DeviceEnforcement; flows: readonly FlowRule[] }[],
): string[] {
  const { family, table } = names;
  const lines = [
    `add table ${family} ${table}`,
    `delete table ${family} ${table}`,
    `add table ${family} ${table}`,
    `add map ${family} ${table} ${DEVICE_MAP} { type ether_addr : verdict; }`,
  ];
  for (const hook of ['input', 'forward']) {
    lines.push(
      `add chain ${family} ${table} ${hook} { type filter hook ${hook} priority ${priority}; policy accept; }`,
      `add rule ${family} ${table} ${hook} ether saddr vmap @${DEVICE_MAP}`,
    );
  }
  for (const { enforcement, flows } of devices) {
    lines.push(...renderDeviceChange(names, enforcement, flows, new Set()));
  }
  return lines;
}
