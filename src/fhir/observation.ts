/**
 * Observation resources of the PHD guide (1.1.0) from PhdObservationInput:
 * PhdNumericObservation, PhdCompoundNumericObservation,
 * PhdCodedEnumerationObservation, PhdBitsEnumerationObservation,
 * PhdStringEnumerationObservation and PhdCoincidentTimeStampObservation.
 */
import {
  FhirSystem,
  GATEWAY_DEVICE_EXTENSION,
  loincFor,
  mdcReferenceId,
  measurementStatusEffects,
  mderBitSet,
  PhdCode,
  PhdProfile,
  specialValueReason,
} from './codes.js';
import { FhirDecimal } from './fhir-json.js';
import { composePhdIdentifier } from './identifier.js';
import type {
  PhdCompoundComponent,
  PhdNumberValue,
  PhdObservationInput,
  PhdObservedValue,
} from './input.js';
import type {
  CodeableConcept,
  Coding,
  Identifier,
  Observation,
  ObservationComponent,
  Quantity,
  Reference,
} from './resources.js';
import { clockCode, identifierTimestamp, type CoincidentTime, type Timing } from './timestamps.js';

/** References an Observation points to, as fullUrls or logical references. */
export interface ObservationLinks {
  phdDevice: Reference;
  gateway: Reference;
  subject: Reference;
  coincident?: Reference;
  sources: readonly Reference[];
}

/** The key a conditional create searches for: the PHD identifier, or medward's observation id. */
export interface ConditionalKey {
  system?: string;
  value: string;
}

export interface BuiltObservation {
  resource: Observation;
  /** Absent when the agent sent no time stamp; the guide needs no identifier then. */
  phdIdentifier?: string;
  conditionalKey: ConditionalKey;
}

/** Builds a CodeableConcept of one MDC code, with the reference id as display when known. */
export function mdcConcept(code: number): CodeableConcept {
  const referenceId = mdcReferenceId(code);
  const coding: Coding = { system: FhirSystem.mdc, code: String(code) };
  if (referenceId !== undefined) {
    coding.display = referenceId;
  }
  return referenceId === undefined ? { coding: [coding] } : { coding: [coding], text: referenceId };
}

/** Builds the measurement code: the MDC code first, then any LOINC translation. */
function measurementConcept(code: number): CodeableConcept {
  const concept = mdcConcept(code);
  const loinc = loincFor(code);
  for (const coding of loinc?.codings ?? []) {
    concept.coding.push({ system: FhirSystem.loinc, code: coding.code, display: coding.display });
  }
  return concept;
}

function reasonConcept(code: string): CodeableConcept {
  return { coding: [{ system: FhirSystem.dataAbsentReason, code }] };
}

interface StatusEffects {
  dataAbsentReason?: string;
  interpretations: string[];
  testData: boolean;
}

/** Splits a Measurement-Status value into the elements the guide maps its set bits to. */
function statusEffects(status: number | undefined): StatusEffects {
  const effects: StatusEffects = { interpretations: [], testData: false };
  if (status === undefined) {
    return effects;
  }
  for (const [bit, effect] of measurementStatusEffects) {
    if (!mderBitSet(status, bit, 16)) {
      continue;
    }
    if (effect.element === 'dataAbsentReason') {
      effects.dataAbsentReason ??= effect.code;
    } else if (effect.element === 'interpretation') {
      effects.interpretations.push(effect.code);
    } else {
      effects.testData = true;
    }
  }
  return effects;
}

function interpretationConcepts(codes: readonly string[]): CodeableConcept[] {
  return codes.map((code) => ({ coding: [{ system: FhirSystem.measurementStatus, code }] }));
}

function quantity(decimal: string, unitCode: number, ucum: string | undefined): Quantity {
  if (ucum === undefined) {
    // No UCUM equivalent is known: the MDC unit code keeps the unit exact.
    const code = String(4 * 65536 + unitCode);
    return { value: new FhirDecimal(decimal), system: FhirSystem.mdc, code };
  }
  return { value: new FhirDecimal(decimal), unit: ucum, system: FhirSystem.ucum, code: ucum };
}

function unitToken(unitCode: number, ucum: string | undefined): string {
  return ucum ?? String(4 * 65536 + unitCode);
}

/**
 * Returns the data-absent reason of a number: its special value first, then
 * the Measurement-Status. NaN with the invalid bit set is therefore
 * not-a-number, the more specific of the two.
 */
function numberAbsentReason(
  value: PhdNumberValue,
  statusReason: string | undefined,
): string | undefined {
  return value.kind === 'finite' ? statusReason : specialValueReason[value.kind];
}

interface ValueElements {
  profile: string;
  elements: Partial<Observation>;
  components: ObservationComponent[];
  valueParts: string[];
}

function numericElements(
  value: Extract<PhdObservedValue, { kind: 'numeric' }>,
  status: StatusEffects,
): ValueElements {
  const reason = numberAbsentReason(value.value, status.dataAbsentReason);
  const components: ObservationComponent[] = [];
  if (value.accuracy !== undefined) {
    components.push({
      code: mdcConcept(PhdCode.accuracy),
      valueQuantity: quantity(value.accuracy, value.unitCode, value.ucum),
    });
  }
  const unit = unitToken(value.unitCode, value.ucum);
  if (reason !== undefined || value.value.kind !== 'finite') {
    return {
      profile: PhdProfile.numeric,
      elements: { dataAbsentReason: reasonConcept(reason ?? 'error') },
      components,
      valueParts: [reason ?? 'error', unit],
    };
  }
  return {
    profile: PhdProfile.numeric,
    elements: { valueQuantity: quantity(value.value.decimal, value.unitCode, value.ucum) },
    components,
    valueParts: [value.value.decimal, unit],
  };
}

function compoundComponent(
  entry: PhdCompoundComponent,
  unitCode: number,
  ucum: string | undefined,
): { component: ObservationComponent; valueToken: string } {
  const entryStatus = statusEffects(entry.measurementStatus);
  const reason = numberAbsentReason(entry.value, entryStatus.dataAbsentReason);
  const component: ObservationComponent = { code: measurementConcept(entry.type) };
  let valueToken: string;
  if (reason === undefined && entry.value.kind === 'finite') {
    component.valueQuantity = quantity(
      entry.value.decimal,
      entry.unitCode ?? unitCode,
      entry.ucum ?? ucum,
    );
    valueToken = entry.value.decimal;
  } else {
    component.dataAbsentReason = reasonConcept(reason ?? 'error');
    valueToken = reason ?? 'error';
  }
  if (entryStatus.interpretations.length > 0) {
    component.interpretation = interpretationConcepts(entryStatus.interpretations);
  }
  return { component, valueToken };
}

function compoundElements(
  value: Extract<PhdObservedValue, { kind: 'compound' }>,
  status: StatusEffects,
): ValueElements {
  const built = value.components.map((entry) => ({
    entry,
    ...compoundComponent(entry, value.unitCode, value.ucum),
  }));
  const perEntryUnits = value.components.some((entry) => entry.unitCode !== undefined);
  const valueParts = perEntryUnits
    ? built.flatMap(({ entry, valueToken }) => [
        valueToken,
        unitToken(entry.unitCode ?? value.unitCode, entry.ucum ?? value.ucum),
      ])
    : [...built.map(({ valueToken }) => valueToken), unitToken(value.unitCode, value.ucum)];
  if (status.dataAbsentReason !== undefined) {
    // An overall failure: the guide reports no entries.
    return {
      profile: PhdProfile.compoundNumeric,
      elements: { dataAbsentReason: reasonConcept(status.dataAbsentReason) },
      components: [],
      valueParts,
    };
  }
  return {
    profile: PhdProfile.compoundNumeric,
    elements: {},
    components: built.map(({ component }) => component),
    valueParts,
  };
}

/** Builds one component per reported bit: set bits always, cleared bits only for states. */
function bitComponents(
  type: number,
  value: Extract<PhdObservedValue, { kind: 'bits' }>,
): ObservationComponent[] {
  const components: ObservationComponent[] = [];
  for (let bit = 0; bit < value.width; bit += 1) {
    const set = mderBitSet(value.bits, bit, value.width);
    const state = mderBitSet(value.stateMask ?? 0, bit, value.width);
    if (!set && !state) {
      continue;
    }
    components.push({
      code: { coding: [{ system: FhirSystem.asn1ToHl7, code: `${type}.${bit}` }] },
      valueCodeableConcept: { coding: [{ system: FhirSystem.yesNo, code: set ? 'Y' : 'N' }] },
    });
  }
  return components;
}

function valueElements(input: PhdObservationInput, status: StatusEffects): ValueElements {
  const value = input.value;
  const reason = status.dataAbsentReason;
  const absent = reason === undefined ? {} : { dataAbsentReason: reasonConcept(reason) };
  switch (value.kind) {
    case 'numeric':
      return numericElements(value, status);
    case 'compound':
      return compoundElements(value, status);
    case 'coded':
      return {
        profile: PhdProfile.codedEnumeration,
        elements: reason === undefined ? { valueCodeableConcept: mdcConcept(value.code) } : absent,
        components: [],
        valueParts: [reason ?? String(value.code)],
      };
    case 'bits':
      return {
        profile: PhdProfile.bitsEnumeration,
        elements: absent,
        components: reason === undefined ? bitComponents(input.type, value) : [],
        valueParts: [String(value.bits)],
      };
    case 'text':
      return {
        profile: PhdProfile.stringEnumeration,
        elements: reason === undefined ? { valueString: value.text } : absent,
        components: [],
        valueParts: [reason ?? value.text],
      };
  }
}

/** Components for Supplemental-Types and relative time stamps, which every profile carries. */
function descriptiveComponents(input: PhdObservationInput): ObservationComponent[] {
  const components: ObservationComponent[] = [];
  for (const code of input.supplementalTypes ?? []) {
    components.push({
      code: mdcConcept(PhdCode.supplementalTypes),
      valueCodeableConcept: mdcConcept(code),
    });
  }
  const time = input.agentTime;
  if (time?.kind === 'relative' || time?.kind === 'high-res-relative') {
    const microseconds = time.kind === 'relative' ? String(time.ticks * 125) : time.microseconds;
    components.push({
      code: mdcConcept(
        time.kind === 'relative' ? PhdCode.relativeTimeStamp : PhdCode.highResRelativeTimeStamp,
      ),
      valueQuantity: {
        value: new FhirDecimal(microseconds),
        unit: 'us',
        system: FhirSystem.ucum,
        code: 'us',
      },
    });
  }
  return components;
}

function vitalSignsCategory(): CodeableConcept {
  return {
    coding: [
      { system: FhirSystem.observationCategory, code: 'vital-signs', display: 'Vital Signs' },
    ],
  };
}

/** Builds the Observation of one measurement with its PHD identifier. */
export function buildPhdObservation(
  input: PhdObservationInput,
  timing: Timing,
  links: ObservationLinks,
): BuiltObservation {
  const status = statusEffects(input.measurementStatus);
  const value = valueElements(input, status);
  const phdIdentifier =
    input.agentTime === undefined
      ? undefined
      : composePhdIdentifier({
          deviceSystemId: input.deviceSystemId,
          patient: input.patient,
          type: input.type,
          valueParts: value.valueParts,
          timestamp: identifierTimestamp(input.agentTime),
          supplementalTypes: input.supplementalTypes ?? [],
        });
  const identifier: Identifier[] = [];
  if (phdIdentifier !== undefined) {
    identifier.push({ value: phdIdentifier });
  }
  identifier.push({ system: FhirSystem.medwardObservation, value: input.observationId });

  const vitalSign = loincFor(input.type)?.vitalSign === true;
  const derivedFrom = [
    ...(links.coincident === undefined ? [] : [links.coincident]),
    ...links.sources,
  ];
  const components = [...value.components, ...descriptiveComponents(input)];
  // Members follow the order of the FHIR Observation definition.
  const resource: Observation = {
    resourceType: 'Observation',
    meta: {
      profile: [value.profile],
      ...(status.testData ? { security: [{ system: FhirSystem.actReason, code: 'HTEST' }] } : {}),
    },
    extension: [{ url: GATEWAY_DEVICE_EXTENSION, valueReference: links.gateway }],
    identifier,
    status: 'final',
    ...(vitalSign ? { category: [vitalSignsCategory()] } : {}),
    code: measurementConcept(input.type),
    subject: links.subject,
    ...(timing.effectiveDateTime === undefined
      ? {}
      : { effectiveDateTime: timing.effectiveDateTime }),
    ...value.elements,
    ...(status.interpretations.length > 0
      ? { interpretation: interpretationConcepts(status.interpretations) }
      : {}),
    device: links.phdDevice,
    ...(derivedFrom.length > 0 ? { derivedFrom } : {}),
    ...(components.length > 0 ? { component: components } : {}),
  };
  return {
    resource,
    ...(phdIdentifier === undefined ? {} : { phdIdentifier }),
    conditionalKey:
      phdIdentifier === undefined
        ? { system: FhirSystem.medwardObservation, value: input.observationId }
        : { value: phdIdentifier },
  };
}

/**
 * Builds the coincident time stamp Observation: the gateway's time in
 * effectiveDateTime and the agent's clock in valueDateTime (wall clocks) or
 * valueQuantity in microseconds (tick counters), or dataAbsentReason
 * "unknown" for a time fault.
 */
export function buildCoincidentObservation(
  coincident: CoincidentTime,
  identifierValue: string,
  links: Omit<ObservationLinks, 'coincident' | 'sources'>,
): Observation {
  const resource: Observation = {
    resourceType: 'Observation',
    meta: { profile: [PhdProfile.coincidentTimeStamp] },
    extension: [{ url: GATEWAY_DEVICE_EXTENSION, valueReference: links.gateway }],
    identifier: [{ system: FhirSystem.medwardObservation, value: identifierValue }],
    status: 'final',
    code: mdcConcept(clockCode[coincident.clock]),
    subject: links.subject,
  };
  if (coincident.gatewayTime !== undefined) {
    resource.effectiveDateTime = coincident.gatewayTime;
  }
  const agentValue = coincident.agentValue;
  if (agentValue === undefined) {
    resource.dataAbsentReason = reasonConcept('unknown');
  } else if (agentValue.kind === 'dateTime') {
    resource.valueDateTime = agentValue.value;
  } else {
    resource.valueQuantity = {
      value: agentValue.value,
      unit: 'us',
      system: FhirSystem.ucum,
      code: 'us',
    };
  }
  resource.device = links.phdDevice;
  return resource;
}
