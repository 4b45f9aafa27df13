import { invalid } from '../core/errors.js';
import { parseCidr, requireCidr, requireMac } from './address.js';
import type { SegmentServicesConfig, SegmentsConfig } from './config.js';
import type { SegmentKind } from './types.js';
import {
  segmentRestriction,
  type DeviceEnforcement,
  type EnforcedDevice,
  type FlowRule,
} from './types.js';

export interface SegmentDefinition {
  name: string;
  kind: SegmentKind;
  vlan: number;
}

/**
 * The segments of a site and the flows each permits:
 *
 * - provisioning: DHCP, DNS, NTP and medward's provisioning listener only;
 * - production: the device's own allow-list (configuration profile and MUD);
 * - quarantine: medward's remediation endpoint only;
 * - isolation: nothing.
 *
 * No segment permits device-to-device traffic unless a device's own
 * allow-list names the other device as a peer.
 */
export class SegmentModel {
  private readonly production = new Map<string, SegmentDefinition>();
  private readonly provisioning: SegmentDefinition;
  private readonly quarantine: SegmentDefinition;
  private readonly isolation: SegmentDefinition;
  private readonly provisioningFlows: readonly FlowRule[];
  private readonly quarantineFlows: readonly FlowRule[];

  constructor(segments: SegmentsConfig, services: SegmentServicesConfig) {
    this.provisioning = {
      name: 'provisioning',
      kind: 'provisioning',
      vlan: segments.provisioning.vlan,
    };
    this.quarantine = { name: 'quarantine', kind: 'quarantine', vlan: segments.quarantine.vlan };
    this.isolation = { name: 'isolation', kind: 'isolation', vlan: segments.isolation.vlan };
    for (const segment of segments.production) {
      if (['provisioning', 'quarantine', 'isolation'].includes(segment.name)) {
        throw invalid(
          'ENFORCEMENT_SEGMENT_NAME_RESERVED',
          `production segment name ${segment.name} is reserved; choose a device class name`,
          { name: segment.name },
        );
      }
      if (this.production.has(segment.name)) {
        throw invalid(
          'ENFORCEMENT_SEGMENT_DUPLICATE',
          `production segment ${segment.name} is listed twice`,
          {
            name: segment.name,
          },
        );
      }
      this.production.set(segment.name, {
        name: segment.name,
        kind: 'production',
        vlan: segment.vlan,
      });
    }
    this.provisioningFlows = buildProvisioningFlows(services);
    this.quarantineFlows = buildQuarantineFlows(services);
  }

  /** Resolves the segment a device lands in for a target kind. */
  segmentFor(device: EnforcedDevice, kind: SegmentKind): SegmentDefinition {
    switch (kind) {
      case 'provisioning':
        return this.provisioning;
      case 'quarantine':
        return this.quarantine;
      case 'isolation':
        return this.isolation;
      case 'production': {
        const segment = this.production.get(device.productionSegment);
        if (segment === undefined) {
          throw invalid(
            'ENFORCEMENT_SEGMENT_UNKNOWN',
            `device ${device.id} names production segment ${device.productionSegment}, which is not configured; add it under enforcement.segments.production`,
            { deviceId: device.id, segment: device.productionSegment },
          );
        }
        return segment;
      }
    }
  }

  segmentByName(name: string): SegmentDefinition | undefined {
    if (name === 'provisioning') {
      return this.provisioning;
    }
    if (name === 'quarantine') {
      return this.quarantine;
    }
    if (name === 'isolation') {
      return this.isolation;
    }
    return this.production.get(name);
  }

  /** Returns the flows a device may use in a segment, in evaluation order. Everything else is dropped. */
  flowsFor(device: EnforcedDevice, kind: SegmentKind): readonly FlowRule[] {
    switch (kind) {
      case 'provisioning':
        return this.provisioningFlows;
      case 'quarantine':
        return this.quarantineFlows;
      case 'isolation':
        return [];
      case 'production':
        return [
          ...(device.profile?.allowedFlows ?? []).map((flow) => ({ ...flow, source: 'profile' })),
          ...(device.mudFlows ?? []),
        ];
    }
  }

  /** Returns the flows of the segment that an enforcement puts in force. */
  flowsOf(enforcement: DeviceEnforcement): readonly FlowRule[] {
    return this.flowsFor(enforcement.device, enforcement.segment);
  }
}

function buildProvisioningFlows(services: SegmentServicesConfig): FlowRule[] {
  const flows: FlowRule[] = [];
  const source = 'segment:provisioning';
  if (services.dhcp) {
    flows.push({
      direction: 'from-device',
      protocol: 'udp',
      ports: { first: 67, last: 67 },
      source,
    });
  }
  for (const [index, server] of services.dns.entries()) {
    requireCidr(server, `enforcement.services.dns[${index}]`);
    for (const protocol of ['udp', 'tcp'] as const) {
      flows.push({
        direction: 'from-device',
        protocol,
        peer: server,
        ports: { first: 53, last: 53 },
        source,
      });
    }
  }
  for (const [index, server] of services.ntp.entries()) {
    requireCidr(server, `enforcement.services.ntp[${index}]`);
    flows.push({
      direction: 'from-device',
      protocol: 'udp',
      peer: server,
      ports: { first: 123, last: 123 },
      source,
    });
  }
  if (services.provisioning !== undefined) {
    const endpoint = services.provisioning;
    requireCidr(endpoint.address, 'enforcement.services.provisioning.address');
    flows.push({
      direction: 'from-device',
      protocol: endpoint.protocol,
      peer: endpoint.address,
      ports: { first: endpoint.port, last: endpoint.port },
      source,
    });
  }
  return flows;
}

function buildQuarantineFlows(services: SegmentServicesConfig): FlowRule[] {
  if (services.remediation === undefined) {
    return [];
  }
  const endpoint = services.remediation;
  requireCidr(endpoint.address, 'enforcement.services.remediation.address');
  return [
    {
      direction: 'from-device',
      protocol: endpoint.protocol,
      peer: endpoint.address,
      ports: { first: endpoint.port, last: endpoint.port },
      source: 'segment:quarantine',
    },
  ];
}

/** Returns the more restrictive of two segment kinds. */
export function mostRestrictive(a: SegmentKind, b: SegmentKind): SegmentKind {
  return segmentRestriction[a] >= segmentRestriction[b] ? a : b;
}

const DEVICE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Checks a device from the caller and returns it with normalized MACs. Every
 * interface's MAC must be among `macs`, so a quarantine covers each of them.
 */
export function validateDevice(device: EnforcedDevice): EnforcedDevice {
  if (!DEVICE_ID.test(device.id)) {
    throw invalid(
      'ENFORCEMENT_DEVICE_ID_INVALID',
      `device id ${JSON.stringify(device.id)} must be 1 to 128 letters, digits, '.', '_', ':' or '-'`,
      { deviceId: device.id },
    );
  }
  const macs = [
    ...new Set(device.macs.map((mac, index) => requireMac(mac, `device.macs[${index}]`))),
  ];
  const interfaces = device.interfaces.map((item, index) => {
    const mac = requireMac(item.mac, `device.interfaces[${index}].mac`);
    // The device record comes from another context at run time, so the kind is checked.
    const kind: unknown = item.kind;
    if (kind !== 'wired' && kind !== 'wireless') {
      throw invalid(
        'ENFORCEMENT_INTERFACE_KIND_INVALID',
        `interface ${mac} of device ${device.id} has kind ${JSON.stringify(kind)}; use wired or wireless`,
        {
          deviceId: device.id,
          mac,
        },
      );
    }
    if (!macs.includes(mac)) {
      macs.push(mac);
    }
    return { ...item, mac };
  });
  if (macs.length === 0) {
    throw invalid(
      'ENFORCEMENT_DEVICE_WITHOUT_MAC',
      `device ${device.id} has no MAC address; enforcement needs at least one`,
      {
        deviceId: device.id,
      },
    );
  }
  for (const flow of [...(device.profile?.allowedFlows ?? []), ...(device.mudFlows ?? [])]) {
    validateFlow(flow, device.id);
  }
  return { ...device, macs, interfaces };
}

function validateFlow(flow: Omit<FlowRule, 'source'>, deviceId: string): void {
  if (flow.peer !== undefined && parseCidr(flow.peer) === undefined) {
    throw invalid(
      'ENFORCEMENT_FLOW_INVALID',
      `a flow of device ${deviceId} has peer ${JSON.stringify(flow.peer)}, which is not an IP address or prefix`,
      {
        deviceId,
        peer: flow.peer,
      },
    );
  }
  if (flow.ports !== undefined) {
    const { first, last } = flow.ports;
    const valid =
      Number.isInteger(first) &&
      Number.isInteger(last) &&
      first >= 0 &&
      first <= last &&
      last <= 65535;
    if (!valid || (flow.protocol !== 'tcp' && flow.protocol !== 'udp')) {
      throw invalid(
        'ENFORCEMENT_FLOW_INVALID',
        `a flow of device ${deviceId} has ports ${first}-${last} with protocol ${flow.protocol}; ports need tcp or udp and 0 <= first <= last <= 65535`,
        {
          deviceId,
          ports: flow.ports,
        },
      );
    }
  }
}
