import type { Actor } from '../core/context.js';

/** Segment kinds, from least to most restrictive. */
export const SegmentKind = {
  Production: 'production',
  Provisioning: 'provisioning',
  Quarantine: 'quarantine',
  Isolation: 'isolation',
} as const;
export type SegmentKind = (typeof SegmentKind)[keyof typeof SegmentKind];

/** Rank of each segment kind; a higher rank is more restrictive. */
export const segmentRestriction: Readonly<Record<SegmentKind, number>> = {
  production: 0,
  provisioning: 1,
  quarantine: 2,
  isolation: 3,
};

export type InterfaceKind = 'wired' | 'wireless';

export interface DeviceInterface {
  mac: string;
  kind: InterfaceKind;
  /** Label from the inventory, for example `eth0`; informational. */
  name?: string;
}

export type FlowProtocol = 'tcp' | 'udp' | 'icmp' | 'any';

/**
 * One permitted flow. `from-device` flows are connections the device opens to
 * the peer; `to-device` flows are connections the peer opens to the device,
 * enforced on the device's replies.
 */
export interface FlowRule {
  direction: 'from-device' | 'to-device';
  protocol: FlowProtocol;
  /** Peer address or prefix; absent means any peer. */
  peer?: string;
  /** Destination port (from-device) or the device's listening port (to-device); absent means any. */
  ports?: { first: number; last: number };
  /** Where the rule came from: `segment:provisioning`, `profile`, `mud:<acl name>`. */
  source: string;
}

/** A device's configuration profile: the peers and ports it needs in production. */
export interface DeviceProfile {
  allowedFlows: readonly Omit<FlowRule, 'source'>[];
}

/**
 * The narrow view of an inventory device that enforcement needs. A
 * quarantine applies to every MAC and interface listed here, so a device
 * cannot escape it by changing interface.
 */
export interface EnforcedDevice {
  id: string;
  macs: readonly string[];
  interfaces: readonly DeviceInterface[];
  /** Known IP addresses; optional, used for logs and future inbound rules. */
  addresses?: readonly string[];
  /** The production segment of this device's class, by name. */
  productionSegment: string;
  lifeSustaining: boolean;
  profile?: DeviceProfile;
  /** Flows from the device's verified MUD file (see parseMudFile and mudToFlows). */
  mudFlows?: readonly FlowRule[];
}

/** What caused a decision: an audit record or an upstream decision. */
export interface DecisionCause {
  kind: 'audit-record' | 'decision';
  id: string;
}

export interface EnforcementDecision {
  /** Unique id of this decision; audit records and stored state refer to it. */
  id: string;
  device: EnforcedDevice;
  target: SegmentKind;
  /** Why, in words an auditor can read. */
  reason: string;
  cause: DecisionCause;
  /** Who decided. Automation actors cannot cut off life-sustaining devices on their own. */
  actor: Actor;
  /**
   * The decision this one lifts. A decision that would make a device less
   * restricted takes effect only when it names the decision currently in force.
   */
  supersedes?: string;
}

export type DecisionStatus = 'in-force' | 'pending-approval' | 'overruled';

export interface DecisionOutcome {
  status: DecisionStatus;
  decisionId: string;
  deviceId: string;
  /** The segment in force (or awaiting approval) for the device after this decision. */
  segment: SegmentKind;
  segmentName: string;
  /** The decision whose segment is in force; differs from decisionId when overruled. */
  inForceDecisionId: string;
}

/** A device's enforcement as stored, and as restored at startup. */
export interface DeviceEnforcement {
  device: EnforcedDevice;
  segment: SegmentKind;
  segmentName: string;
  decisionId: string;
  reason: string;
  cause: DecisionCause;
  actor: Actor;
  appliedAt: string;
}

export interface EnforcementState {
  devices: readonly DeviceEnforcement[];
}

export interface EnforcementDescription {
  /** Enforcement point names, for example `nftables` or `radius`. */
  points: readonly string[];
  devices: readonly {
    deviceId: string;
    segment: SegmentKind;
    segmentName: string;
    decisionId: string;
    macs: readonly string[];
    /** `failed` while the decided segment is not confirmed in force; medward keeps retrying. */
    status: 'in-force' | 'failed';
  }[];
  pendingApprovals: readonly { decisionId: string; deviceId: string; target: SegmentKind }[];
}

/**
 * What the rest of medward calls to move devices between segments. `apply`
 * resolves only once the change is confirmed in force (or held for approval),
 * and rejects when it could not be put in force.
 */
export interface SegmentEnforcer {
  apply(decision: EnforcementDecision): Promise<DecisionOutcome>;
  /** Removes every rule and entry for the device (for example when it leaves the inventory). */
  remove(deviceId: string): Promise<void>;
  /** Puts the stored state in force at startup, replacing what the point held. */
  restore(state: EnforcementState): Promise<void>;
  describe(): EnforcementDescription;
}

/**
 * One place where segments are enforced: the gateway's nftables table, the
 * RADIUS server that assigns switch VLANs, or memory. The enforcement service
 * decides; a point only puts the resolved segment in force and confirms it.
 */
export interface EnforcementPoint {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Puts `enforcement` in force and resolves once the point has confirmed it. */
  enforce(enforcement: DeviceEnforcement): Promise<void>;
  remove(deviceId: string): Promise<void>;
  /** Replaces everything the point holds with `state`, in one change where the point allows. */
  restore(state: EnforcementState): Promise<void>;
  /** The segment in force per device, as the point itself reports it. */
  inForce(): ReadonlyMap<string, { segmentName: string; decisionId: string }>;
}
