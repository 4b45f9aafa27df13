/**
 * FHIR R4 export of personal health device observations as resources of the
 * HL7 Personal Health Device implementation guide 1.1.0.
 */
export { FhirSection, timeSyncProtocols, type FhirConfig } from './config.js';
export {
  FhirExporter,
  FHIR_EXPORT_SUBJECT,
  gatewaySystemIdFor,
  type BundleQuery,
  type FhirExporterDeps,
} from './exporter.js';
export { FhirStore, type OutboxCounts, type OutboxState } from './store.js';
export { fhirMigrations } from './migrations.js';
export { buildPhdBundle, type BuiltBundle, type BundleSource } from './bundle.js';
export {
  buildPhdDevice,
  buildPhgDevice,
  formatSystemId,
  type GatewayDescription,
} from './device.js';
export {
  buildPhdObservation,
  buildCoincidentObservation,
  type BuiltObservation,
} from './observation.js';
export { composePhdIdentifier, type PhdIdentifierParts } from './identifier.js';
export {
  resolveTiming,
  identifierTimestamp,
  type CoincidentTime,
  type Timing,
} from './timestamps.js';
export { phdInputsFromCodec, type CodecInputs, type CodecSource } from './from-codec.js';
export { FhirDecimal, serializeFhirJson } from './fhir-json.js';
export { fhirRoutes } from './routes.js';
export { FhirSystem, PhdProfile } from './codes.js';
export {
  PhdExportPayload,
  PhdObservationInput,
  PhdDeviceInput,
  parsePhdExportPayload,
  type PhdAgentTime,
  type PhdClockReading,
  type PhdNumberValue,
  type PhdObservedValue,
  type PhdPatient,
} from './input.js';
export type { Bundle, Device, Observation } from './resources.js';
