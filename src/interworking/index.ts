/**
 * Interworking between IEEE 11073-20601 agents, the oneM2M CSE and the FHIR
 * export, with protocol detection at the boundary.
 */
export { InterworkingSection, type InterworkingConfig } from './config.js';
export {
  FHIR_GROUP,
  InterworkingComponent,
  ONEM2M_GROUP,
  type FhirSink,
  type InterworkingDeps,
} from './component.js';
export { BoundaryGuard, detectProtocol, type Detection } from './boundary.js';
export { phdExportPayload } from './fhir-bridge.js';
export { agentAeId } from './onem2m-mapping.js';
