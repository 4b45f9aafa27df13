/**
 * The parts of FHIR R4 resources that medward writes. Decimals are
 * FhirDecimal so their text survives serialisation.
 */
import type { FhirDecimal } from './fhir-json.js';

export interface Coding {
  system: string;
  code: string;
  display?: string;
}

export interface CodeableConcept {
  coding: Coding[];
  text?: string;
}

export interface Identifier {
  type?: CodeableConcept;
  system?: string;
  value: string;
}

export interface Reference {
  reference?: string;
  identifier?: Identifier;
  display?: string;
}

export interface Quantity {
  value: FhirDecimal;
  unit?: string;
  system: string;
  code: string;
}

export interface Extension {
  url: string;
  valueReference?: Reference;
}

export interface Meta {
  profile: string[];
  security?: Coding[];
}

export interface ObservationComponent {
  code: CodeableConcept;
  valueQuantity?: Quantity;
  valueCodeableConcept?: CodeableConcept;
  dataAbsentReason?: CodeableConcept;
  interpretation?: CodeableConcept[];
}

export interface Observation {
  resourceType: 'Observation';
  meta: Meta;
  extension?: Extension[];
  identifier?: Identifier[];
  status: 'final';
  category?: CodeableConcept[];
  code: CodeableConcept;
  subject?: Reference;
  effectiveDateTime?: string;
  valueQuantity?: Quantity;
  valueCodeableConcept?: CodeableConcept;
  valueString?: string;
  valueDateTime?: string;
  dataAbsentReason?: CodeableConcept;
  interpretation?: CodeableConcept[];
  device?: Reference;
  derivedFrom?: Reference[];
  component?: ObservationComponent[];
}

export interface DeviceVersion {
  type: CodeableConcept;
  component?: Identifier;
  value: string;
}

export interface DeviceProperty {
  type: CodeableConcept;
  valueQuantity?: Quantity[];
  valueCode?: CodeableConcept[];
}

export interface Device {
  resourceType: 'Device';
  meta: Meta;
  identifier: Identifier[];
  manufacturer?: string;
  serialNumber?: string;
  modelNumber?: string;
  partNumber?: string;
  deviceName?: { name: string; type: 'model-name' | 'user-friendly-name' }[];
  type: CodeableConcept;
  specialization?: { systemType: CodeableConcept; version?: string }[];
  version?: DeviceVersion[];
  property?: DeviceProperty[];
}

export type PhdResource = Observation | Device;

export interface BundleEntryRequest {
  method: 'POST' | 'PUT';
  url: string;
  ifNoneExist?: string;
}

export interface BundleEntry {
  fullUrl: string;
  resource: PhdResource;
  request?: BundleEntryRequest;
}

export interface Bundle {
  resourceType: 'Bundle';
  type: 'transaction' | 'collection';
  timestamp?: string;
  entry: BundleEntry[];
}
