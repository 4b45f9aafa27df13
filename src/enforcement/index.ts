export { EnforcementSection, type EnforcementConfig } from './config.js';
export { createEnforcementService, type EnforcementDependencies } from './create-enforcement.js';
export {
  EnforcementService,
  ENFORCEMENT_ALERT_SUBJECT,
  type EnforcementAlert,
  type EnforcementServiceOptions,
} from './service.js';
export { SegmentModel, mostRestrictive, type SegmentDefinition } from './segments.js';
export { enforcementMigrations } from './store.js';
export { InMemoryEnforcementPoint } from './in-memory-point.js';
export { NftablesEnforcementPoint, type NftablesPointOptions } from './nftables/nftables-point.js';
export { createCommandRunner, type CommandRunner } from './nftables/command-runner.js';
export { RadiusEnforcementPoint, type RadiusPointOptions } from './radius/radius-point.js';
export {
  compileMudFile,
  loadMudTrustKeys,
  type CompiledMud,
  type MudTrustKey,
} from './mud/index.js';
export {
  SegmentKind,
  type DecisionCause,
  type DecisionOutcome,
  type DeviceEnforcement,
  type DeviceInterface,
  type DeviceProfile,
  type EnforcedDevice,
  type EnforcementDecision,
  type EnforcementDescription,
  type EnforcementPoint,
  type EnforcementState,
  type FlowRule,
  type SegmentEnforcer,
} from './types.js';
