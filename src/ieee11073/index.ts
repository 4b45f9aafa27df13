/**
 * IEEE 11073-20601 (Personal Health Device) MDER codec and nomenclature.
 *
 * - `decodeApdu(bytes, options)` decodes one APDU from untrusted bytes and
 *   returns it with the agent quirks it tolerated. It throws MedwardErrors
 *   with `MDER_*` codes that carry a protocol reaction (`reactionFor`).
 * - `encodeApdu(apdu)` is its exact inverse.
 * - `extractObservations(configuration, report)` turns scan reports into
 *   observations, with a configuration from `configurationFromReport` or
 *   `standardConfiguration(devConfigId)`.
 * - FLOAT/SFLOAT, time and nomenclature helpers.
 */
export type * from './apdu.js';
export {
  ApduTag,
  APDU_HEADER_BYTES,
  DEFAULT_MAX_APDU_BYTES,
  decodeApdu,
  peekApduLength,
} from './decode.js';
export type { DecodeOptions, DecodedApdu } from './decode.js';
export { encodeApdu } from './encode.js';
export { AbortReason, MderErrorCode, RorjProblem, reactionFor } from './mder-error.js';
export type { MderErrorDetails, MderReaction } from './mder-error.js';
export type { Quirk, QuirkCode } from './mder.js';
export {
  AssociateResult,
  AssociationBits,
  ConfigId,
  DATA_PROTO_ID_20601,
  ReleaseRequestReason,
  ReleaseResponseReason,
} from './association.js';
export { MessageTag, RoerErrorValue } from './data-apdu.js';
export { ConfigResult, SegmEvtStatus, eventInfoKind } from './events.js';
export { TrigSegmXferRsp } from './actions.js';
export {
  PmStoreCapab,
  SegmEntryHeader,
  decodeSegmentEntries,
  encodeSegmentEntries,
  segmentEntryLayout,
  segmentEntryObservations,
} from './pm-segment.js';
export type {
  DecodedSegmentEntries,
  SegmentEntry,
  SegmentEntryDefect,
  SegmentEntryDefectCode,
  SegmentEntryElement,
  SegmentEntryLayout,
  SegmentEntryTimes,
  SegmentObservations,
} from './pm-segment.js';
export { attributeValueKind, findAttribute, octetStringText } from './attributes.js';
export {
  MderSpecial,
  decimalString,
  decodeFloat,
  decodeSfloat,
  encodeFloat,
  encodeSfloat,
  finiteNumber,
  mderNumberFromDecimal,
} from './float.js';
export type { MderFiniteNumber, MderNumber, MderSpecialKind } from './float.js';
export {
  RELATIVE_TIME_TICKS_PER_MS,
  absoluteTimeFromDate,
  decodeAbsoluteTime,
  encodeAbsoluteTime,
  formatAbsoluteTime,
  isValidAbsoluteTime,
  isZeroAbsoluteTime,
  msToRelativeTime,
  relativeTimeToMs,
} from './time.js';
export type { AbsoluteTime, BaseOffsetTime } from './time.js';
export {
  listSpecializations,
  lookupTerm,
  lookupTermByReferenceId,
  mdcCode,
  referenceIdOf,
  specializationByStandard,
  specializationForDevConfigId,
  specializationsOf,
  typeCode,
  ucumForUnitCode,
} from './nomenclature.js';
export type { NomenclatureTerm, Specialization } from './nomenclature.js';
export {
  MdcDiseaseManagement,
  MdcDimension,
  MdcInfrastructure,
  MdcObject,
  MdcPartition,
  MdcScada,
} from './nomenclature-table.js';
export {
  MetricSpecSmall,
  MetricStructure,
  standardConfiguration,
  standardConfigurationIds,
} from './configurations.js';
export { configurationFromReport, extractObservations } from './scan-report.js';
export type { Configuration, ObservationResult, ScanReportSource } from './scan-report.js';
export type { CompoundComponent, Observation, ObservedValue } from './observations.js';

// ---- IEEE 11073-20601 manager (network side): component, observation store, transport, simulator ----
export { Ieee11073Section } from './config.js';
export type { Ieee11073Config } from './config.js';
export { Ieee11073Manager } from './manager/manager.js';
export type { Ieee11073ManagerDeps } from './manager/manager.js';
export { OBSERVATION_COMMITTED_SUBJECT } from './manager/publisher.js';
export type { CommittedObservation, ObservationCommittedEvent } from './manager/publisher.js';
export {
  AgentSpecialization,
  AssociationDescription,
  MdsDescription,
  describeAssociation,
} from './manager/association-description.js';
export type { DescribedAssociationRow } from './manager/association-description.js';
export {
  ASSOCIATION_ENDED_SUBJECT,
  ASSOCIATION_OPERATING_SUBJECT,
  ASSOCIATION_SUBJECTS,
  AssociationEndedEvent,
} from './manager/association-events.js';
export { Ieee11073Repository } from './store/repository.js';
export type { ObservationPage, ObservationQuery } from './store/repository.js';
export { ieee11073Migrations } from './store/tables.js';
export { measurementStatusFlags } from './store/model.js';
export type {
  ClockType,
  Observation as DeviceObservation,
  ObservationTimestamp,
  ObservationValue,
} from './store/model.js';
export type { ApduListener, ApduTransport, ApduTransportHandler } from './transport/transport.js';
export { SimulatedAgent } from './simulator/agent.js';
export type { AckRecord, AgentOptions, AgentResult } from './simulator/agent.js';
export { agentKinds, createScenario, isAgentKind } from './simulator/scenarios.js';
export type {
  AgentKind,
  ExpectedObservation,
  Scenario,
  ScenarioPmStore,
  StoredReading,
} from './simulator/scenarios.js';
export { runSimulation } from './simulator/run.js';
export type { SimulationOptions, SimulationSummary } from './simulator/run.js';
export { observationRoutes } from './routes.js';
