/**
 * Manager to FHIR export: maps committed observations and the MDS facts of
 * their association to the exporter's `PhdExportPayload`.
 */
import {
  describeAssociation,
  specializationsOf,
  type AgentSpecialization,
  type DeviceObservation,
} from '../ieee11073/index.js';
import type {
  PhdAgentTime,
  PhdDeviceInput,
  PhdExportPayload,
  PhdNumberValue,
  PhdObservationInput,
  PhdObservedValue,
} from '../fhir/input.js';
import type { DeviceObservations } from './observation-source.js';

/** MDC_DIM_DIMLESS, the unit the export gets for a numeric without a Unit-Code. */
const MDC_DIM_DIMLESS = 512;
const DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?$/;
const ABSOLUTE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{2}$/;
const specialKinds = new Set(['nan', 'nres', 'positive-infinity', 'negative-infinity', 'reserved']);

function numberValue(decimal: string, special: string | undefined): PhdNumberValue | undefined {
  if (special !== undefined) {
    return specialKinds.has(special) ? ({ kind: special } as PhdNumberValue) : undefined;
  }
  return DECIMAL.test(decimal) ? { kind: 'finite', decimal } : undefined;
}

/** The Unit-Code term: the 16-bit code within partition 4. */
function unitTerm(code: number | undefined): number {
  return code === undefined ? MDC_DIM_DIMLESS : code & 0xffff;
}

function observedValue(observation: DeviceObservation): PhdObservedValue | undefined {
  const value = observation.value;
  const ucum = observation.unit?.ucum;
  switch (value.kind) {
    case 'numeric': {
      const number = numberValue(value.decimal, value.special);
      if (number === undefined) {
        return undefined;
      }
      return {
        kind: 'numeric',
        unitCode: unitTerm(observation.unit?.code),
        ...(ucum === undefined ? {} : { ucum }),
        value: number,
      };
    }
    case 'compound': {
      const components = [];
      for (const component of value.components) {
        const number = numberValue(component.decimal, component.special);
        if (number === undefined || component.code === undefined) {
          return undefined;
        }
        components.push({
          type: component.code,
          value: number,
          ...(component.unit === undefined ? {} : { unitCode: unitTerm(component.unit.code) }),
          ...(component.unit?.ucum === undefined ? {} : { ucum: component.unit.ucum }),
          ...(component.measurementStatus === undefined
            ? {}
            : { measurementStatus: component.measurementStatus }),
        });
      }
      return {
        kind: 'compound',
        unitCode: unitTerm(observation.unit?.code),
        ...(ucum === undefined ? {} : { ucum }),
        components,
      };
    }
    case 'enumeration':
      if (value.code !== undefined) {
        return { kind: 'coded', code: value.code };
      }
      if (value.bits !== undefined) {
        return { kind: 'bits', bits: value.bits, width: value.bitsWidth ?? 16 };
      }
      return value.text === undefined ? undefined : { kind: 'text', text: value.text };
    case 'sample-array':
      // TODO: sample arrays need the metric's scale and period from its configuration.
      return undefined;
  }
}

function agentTime(observation: DeviceObservation): PhdAgentTime | undefined {
  const { clock, deviceTime } = observation.timestamp;
  if (deviceTime === undefined) {
    return undefined;
  }
  if (clock === 'absolute' && ABSOLUTE_TIME.test(deviceTime)) {
    return { kind: 'absolute', value: deviceTime };
  }
  if (clock === 'relative' && /^\d{1,10}$/.test(deviceTime)) {
    const ticks = Number(deviceTime);
    return ticks <= 0xffffffff ? { kind: 'relative', ticks } : undefined;
  }
  // NOTE: base-offset time stamps are stored as ISO text and are not passed on yet.
  return undefined;
}

function observationInput(observation: DeviceObservation): PhdObservationInput | undefined {
  const value = observedValue(observation);
  if (value === undefined) {
    return undefined;
  }
  const input: PhdObservationInput = {
    observationId: observation.id,
    deviceSystemId: observation.deviceSystemId,
    type: observation.type,
    value,
    gatewayReceivedAt: observation.receivedAt,
  };
  const time = agentTime(observation);
  if (time !== undefined) {
    input.agentTime = time;
  }
  if (observation.personId !== undefined) {
    input.personId = observation.personId;
  }
  if (observation.measurementStatus !== undefined) {
    input.measurementStatus = observation.measurementStatus;
  }
  if (observation.supplementalTypes !== undefined) {
    input.supplementalTypes = observation.supplementalTypes.slice(0, 32);
  }
  return input;
}

/** Specializations inferred from the observation types, for an association that names none. */
function measuredSpecializations(
  observations: readonly DeviceObservation[],
): AgentSpecialization[] {
  const codes = new Set<number>();
  for (const observation of observations) {
    for (const specialization of specializationsOf(observation.type)) {
      codes.add(specialization.profileCode);
    }
  }
  return [...codes].map((code) => ({ code }));
}

/**
 * Maps the device of a batch from the association of its latest observation:
 * its System-Type-Spec-List (else the specialization of a standard
 * dev-config-id, else those of the observation types) and its MDS facts.
 */
function deviceInput(batch: DeviceObservations): PhdDeviceInput {
  const latest = batch.observations.at(-1);
  const association =
    latest === undefined ? undefined : batch.associations.get(latest.associationId);
  const description = association === undefined ? undefined : describeAssociation(association);
  const declared = description?.specializations ?? [];
  const specializations =
    declared.length > 0 ? declared : measuredSpecializations(batch.observations);
  const device: PhdDeviceInput = {
    systemId: batch.deviceSystemId,
    specializations: specializations.slice(0, 32),
  };
  const mds = description?.mds;
  if (mds === undefined || mds === null) {
    return device;
  }
  if (mds.manufacturer !== null) {
    device.manufacturer = mds.manufacturer.slice(0, 256);
  }
  if (mds.modelNumber !== null) {
    device.model = mds.modelNumber.slice(0, 256);
  }
  device.productionSpec = mds.productionSpecification.slice(0, 64).map((entry) => ({
    ...entry,
    value: entry.value.slice(0, 256),
  }));
  return device;
}

/**
 * Maps one device's observations to a `PhdExportPayload`, or undefined when
 * none of them can be exported (sample arrays, values outside FLOAT decimals).
 */
export function phdExportPayload(batch: DeviceObservations): PhdExportPayload | undefined {
  const observations = batch.observations
    .map(observationInput)
    .filter((input): input is PhdObservationInput => input !== undefined);
  if (observations.length === 0) {
    return undefined;
  }
  return { device: deviceInput(batch), observations };
}
