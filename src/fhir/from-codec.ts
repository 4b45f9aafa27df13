/**
 * Builds FHIR export inputs straight from the IEEE 11073-20601 codec: the
 * observations `extractObservations` returns, the configuration they were
 * extracted with and the MDS attributes of a GET. It replaces the manager's
 * observation model where exports are built from captured APDUs.
 */
import {
  findAttribute,
  formatAbsoluteTime,
  MdcObject,
  MdcPartition,
  mdcCode,
  octetStringText,
  specializationForDevConfigId,
  specializationsOf,
  typeCode,
  ucumForUnitCode,
  type Ava,
  type CompoundComponent,
  type Configuration,
  type MderNumber,
  type Observation,
  type RegCertData,
} from '../ieee11073/index.js';
import type {
  PhdAgentTime,
  PhdClockReading,
  PhdCompoundComponent,
  PhdDeviceInput,
  PhdNumberValue,
  PhdObservationInput,
  PhdObservedValue,
  PhdPatient,
} from './input.js';
import { nameUuid } from './name-uuid.js';
import { identifierTimestamp } from './timestamps.js';

export interface CodecSource {
  /** EUI-64 of the agent, from the association request or the MDS System-Id, as bytes or hex. */
  systemId: Uint8Array | string;
  /** dev-config-id of the association; names the specialization when the MDS was not read. */
  devConfigId?: number;
  configuration: Configuration;
  /** Observations from `extractObservations`, in report order. */
  observations: readonly Observation[];
  gatewayReceivedAt: Date;
  /** Attributes of the MDS object from a GET, when the manager read them. */
  mdsAttributes?: readonly Ava[];
  /** The gateway's time when the MDS attributes were read; without it the agent clock is unused. */
  mdsReadAt?: Date;
  gatewayUtcOffsetMinutes?: number;
  patient?: PhdPatient;
}

export interface SkippedObservation {
  handle: number;
  reason: string;
}

export interface CodecInputs {
  device: PhdDeviceInput;
  observations: PhdObservationInput[];
  /** Observations the FHIR mapping cannot express (sample arrays, missing type or unit). */
  skipped: SkippedObservation[];
}

const O = MdcObject;

function hexOf(systemId: Uint8Array | string): string {
  const hex = typeof systemId === 'string' ? systemId : Buffer.from(systemId).toString('hex');
  if (!/^[0-9A-Fa-f]{16}$/.test(hex)) {
    throw new RangeError(`system id ${hex} is not an EUI-64 of 16 hex digits`);
  }
  return hex.toUpperCase();
}

function numberValue(value: MderNumber): PhdNumberValue {
  return value.kind === 'finite'
    ? { kind: 'finite', decimal: value.decimal }
    : { kind: value.kind };
}

/** Decodes the Continua entries of Reg-Cert-Data-List; malformed entries are left out. */
function regCertOf(list: readonly RegCertData[]): PhdDeviceInput['regCert'] {
  const continuaBody = 2;
  const regCert: NonNullable<PhdDeviceInput['regCert']> = {};
  for (const entry of list) {
    if (entry.authBody !== continuaBody) {
      continue;
    }
    const data = Buffer.from(entry.authBodyData);
    if (entry.authBodyStrucType === 1 && data.length >= 6) {
      const count = data.readUInt16BE(2);
      if (data.length < 6 + count * 2) {
        continue;
      }
      const certifiedDevices: number[] = [];
      for (let index = 0; index < count; index += 1) {
        certifiedDevices.push(data.readUInt16BE(6 + index * 2));
      }
      regCert.continuaVersion = { major: data.readUInt8(0), minor: data.readUInt8(1) };
      regCert.certifiedDevices = certifiedDevices;
    } else if (entry.authBodyStrucType === 2 && data.length >= 2) {
      regCert.regulationStatus = data.readUInt16BE(0);
    }
  }
  return Object.keys(regCert).length === 0 ? undefined : regCert;
}

function deviceOf(source: CodecSource, systemId: string): PhdDeviceInput {
  const mds = source.mdsAttributes ?? [];
  const device: PhdDeviceInput = { systemId, specializations: [] };
  const model = findAttribute(mds, O.MDC_ATTR_ID_MODEL);
  if (model?.kind === 'system-model') {
    device.manufacturer = octetStringText(model.value.manufacturer);
    device.model = octetStringText(model.value.modelNumber);
  }
  const production = findAttribute(mds, O.MDC_ATTR_ID_PROD_SPECN);
  if (production?.kind === 'production-spec') {
    device.productionSpec = production.value.map((entry) => ({
      specType: entry.specType,
      componentId: entry.componentId,
      value: octetStringText(entry.prodSpec),
    }));
  }
  const specList = findAttribute(mds, O.MDC_ATTR_SYS_TYPE_SPEC_LIST);
  if (specList?.kind === 'type-ver-list') {
    device.specializations = specList.value.map((entry) => ({
      code: mdcCode(MdcPartition.infrastructure, entry.type),
      version: entry.version,
    }));
  } else {
    device.specializations = inferredSpecializations(source).map((code) => ({ code }));
  }
  const regCert = findAttribute(mds, O.MDC_ATTR_REG_CERT_DATA_LIST);
  if (regCert?.kind === 'reg-cert-data-list') {
    const decoded = regCertOf(regCert.value);
    if (decoded !== undefined) {
      device.regCert = decoded;
    }
  }
  const timeInfo = findAttribute(mds, O.MDC_ATTR_MDS_TIME_INFO);
  if (timeInfo?.kind === 'mds-time-info') {
    const info = timeInfo.value;
    device.timeInfo = {
      capabilities: info.mdsTimeCapState,
      syncProtocol: info.timeSyncProtocol,
      syncAccuracy: info.timeSyncAccuracy,
      resolutionAbsTime: info.timeResolutionAbsTime,
      resolutionRelTime: info.timeResolutionRelTime,
      resolutionHighResTime: info.timeResolutionHighResTime,
    };
  }
  return device;
}

/** Specializations from the standard dev-config-id, else from the measured types. */
function inferredSpecializations(source: CodecSource): number[] {
  if (source.devConfigId !== undefined) {
    const standard = specializationForDevConfigId(source.devConfigId);
    if (standard !== undefined) {
      return [standard.profileCode];
    }
  }
  const codes = new Set<number>();
  for (const observation of source.observations) {
    if (observation.type !== undefined) {
      for (const specialization of specializationsOf(observation.type)) {
        codes.add(specialization.profileCode);
      }
    }
  }
  return [...codes];
}

/** Collects the agent's clocks read from the MDS, by kind, with the gateway time of the reading. */
function clockReadings(source: CodecSource): Map<PhdAgentTime['kind'], PhdClockReading> {
  const readings = new Map<PhdAgentTime['kind'], PhdClockReading>();
  if (source.mdsReadAt === undefined) {
    return readings;
  }
  const gatewayTime = source.mdsReadAt.toISOString();
  for (const { attributeId, value } of source.mdsAttributes ?? []) {
    if (attributeId === O.MDC_ATTR_TIME_ABS && value.kind === 'absolute-time') {
      readings.set('absolute', {
        agentTime: { kind: 'absolute', value: formatAbsoluteTime(value.value) },
        gatewayTime,
      });
    } else if (attributeId === O.MDC_ATTR_TIME_BO && value.kind === 'base-offset-time') {
      readings.set('base-offset', { agentTime: baseOffset(value.value), gatewayTime });
    } else if (attributeId === O.MDC_ATTR_TIME_REL && value.kind === 'relative-time') {
      readings.set('relative', {
        agentTime: { kind: 'relative', ticks: value.value },
        gatewayTime,
      });
    } else if (
      attributeId === O.MDC_ATTR_TIME_REL_HI_RES &&
      value.kind === 'high-res-relative-time'
    ) {
      readings.set('high-res-relative', {
        agentTime: { kind: 'high-res-relative', microseconds: value.value.toString() },
        gatewayTime,
      });
    }
  }
  return readings;
}

function baseOffset(time: {
  boSeconds: number;
  boFraction: number;
  boTimeOffset: number;
}): PhdAgentTime {
  return {
    kind: 'base-offset',
    seconds: time.boSeconds,
    fraction: time.boFraction,
    offsetMinutes: time.boTimeOffset,
  };
}

function agentTimeOf(observation: Observation): PhdAgentTime | undefined {
  if (observation.absoluteTime !== undefined) {
    return { kind: 'absolute', value: formatAbsoluteTime(observation.absoluteTime) };
  }
  if (observation.baseOffsetTime !== undefined) {
    return baseOffset(observation.baseOffsetTime);
  }
  if (observation.relativeTime !== undefined) {
    return { kind: 'relative', ticks: observation.relativeTime };
  }
  if (observation.highResRelativeTime !== undefined) {
    return { kind: 'high-res-relative', microseconds: observation.highResRelativeTime.toString() };
  }
  return undefined;
}

interface MappedValue {
  type: number;
  value: PhdObservedValue;
  measurementStatus?: number;
}

function unitOf(unitCode: number): { unitCode: number; ucum?: string } {
  const ucum = ucumForUnitCode(unitCode);
  return ucum === undefined ? { unitCode } : { unitCode, ucum };
}

function compoundComponents(
  components: readonly CompoundComponent[],
): PhdCompoundComponent[] | undefined {
  const mapped: PhdCompoundComponent[] = [];
  for (const component of components) {
    if (component.metricId === undefined) {
      return undefined;
    }
    const entry: PhdCompoundComponent = {
      type: component.metricId,
      value: numberValue(component.value),
    };
    if (component.unitCode !== undefined) {
      Object.assign(entry, unitOf(component.unitCode));
    }
    if (component.state !== undefined) {
      entry.measurementStatus = component.state;
    }
    mapped.push(entry);
  }
  return mapped;
}

/** Maps the codec's observed value; returns a reason string when FHIR export cannot express it. */
function mapValue(observation: Observation, type: number): MappedValue | string {
  const value = observation.value;
  if (value === undefined) {
    return 'the report carried no observed value';
  }
  const partition = Math.floor(type / 65536);
  switch (value.kind) {
    case 'numeric': {
      const unitCode = value.unitCode ?? observation.unitCode;
      if (unitCode === undefined) {
        return 'the configuration gives no Unit-Code';
      }
      const mapped: MappedValue = {
        type: value.metricId ?? type,
        value: { kind: 'numeric', ...unitOf(unitCode), value: numberValue(value.value) },
      };
      if (value.state !== undefined) {
        mapped.measurementStatus = value.state;
      }
      return mapped;
    }
    case 'compound': {
      const components = compoundComponents(value.components);
      if (components === undefined) {
        return 'the configuration gives no metric id for a compound entry';
      }
      const unitCode = observation.unitCode ?? components[0]?.unitCode;
      if (unitCode === undefined) {
        return 'the configuration gives no Unit-Code';
      }
      return { type, value: { kind: 'compound', ...unitOf(unitCode), components } };
    }
    case 'enum-oid':
      return {
        type,
        value: { kind: 'coded', code: mdcCode(value.partition ?? partition, value.code) },
      };
    case 'enum-bits':
      return { type, value: { kind: 'bits', bits: value.bits, width: value.width } };
    case 'enum-text':
      return { type, value: { kind: 'text', text: octetStringText(value.text) } };
    case 'enum':
      return enumValue(value.value, partition);
    case 'sample-array':
      return 'sample arrays (PhdRtsaObservation) are not exported';
  }
}

/** Enum-Observed-Value: its metric-id replaces the type and its state the Measurement-Status. */
function enumValue(
  value: Extract<NonNullable<Observation['value']>, { kind: 'enum' }>['value'],
  partition: number,
): MappedValue | string {
  const type = mdcCode(partition, value.metricId);
  const enumValue = value.value;
  switch (enumValue.choice) {
    case 'enum-obj-id':
      return {
        type,
        value: { kind: 'coded', code: mdcCode(partition, enumValue.value) },
        measurementStatus: value.state,
      };
    case 'enum-bit-str':
      return {
        type,
        value: { kind: 'bits', bits: enumValue.value, width: 32 },
        measurementStatus: value.state,
      };
    case 'enum-text-string':
      return {
        type,
        value: { kind: 'text', text: octetStringText(enumValue.value) },
        measurementStatus: value.state,
      };
    case 'unknown':
      return `Enum-Observed-Value choice ${enumValue.tag} is unknown`;
  }
}

/** Supplemental-Types and Source-Handle-Reference of a configuration object. */
function objectDetails(
  configuration: Configuration,
  handle: number,
): { supplementalTypes: number[]; sourceHandle?: number } {
  const object = configuration.objects.find((candidate) => candidate.objHandle === handle);
  const details: { supplementalTypes: number[]; sourceHandle?: number } = { supplementalTypes: [] };
  if (object === undefined) {
    return details;
  }
  const supplemental = findAttribute(object.attributes, O.MDC_ATTR_SUPPLEMENTAL_TYPES);
  if (supplemental?.kind === 'type-list') {
    details.supplementalTypes = supplemental.value.map(typeCode);
  }
  const source = findAttribute(object.attributes, O.MDC_ATTR_SOURCE_HANDLE_REF);
  if (source?.kind === 'u16') {
    details.sourceHandle = source.value;
  }
  return details;
}

/**
 * Builds the device and observation inputs of one scan report. Observation
 * ids are name-based UUIDs of the agent, handle, person, agent time stamp
 * (or reception time when there is none) and value, so an agent that sends
 * stored measurements again yields the same ids. A Source-Handle-Reference
 * points at the latest earlier observation of that handle in the report.
 */
export function phdInputsFromCodec(source: CodecSource): CodecInputs {
  const systemId = hexOf(source.systemId);
  const device = deviceOf(source, systemId);
  const readings = clockReadings(source);
  const gatewayReceivedAt = source.gatewayReceivedAt.toISOString();
  const observations: PhdObservationInput[] = [];
  const skipped: SkippedObservation[] = [];
  const latestByHandle = new Map<number, string>();

  for (const observation of source.observations) {
    if (observation.type === undefined) {
      skipped.push({ handle: observation.handle, reason: 'the configuration gives no type' });
      continue;
    }
    const mapped = mapValue(observation, observation.type);
    if (typeof mapped === 'string') {
      skipped.push({ handle: observation.handle, reason: mapped });
      continue;
    }
    const agentTime = agentTimeOf(observation);
    const details = objectDetails(source.configuration, observation.handle);
    const idName = [
      systemId,
      observation.handle,
      observation.personId ?? '',
      agentTime === undefined ? `received ${gatewayReceivedAt}` : identifierTimestamp(agentTime),
      JSON.stringify(mapped.value),
    ].join('|');
    const input: PhdObservationInput = {
      observationId: nameUuid(`codec-observation:${idName}`),
      deviceSystemId: systemId,
      specializations: device.specializations.map((entry) => entry.code),
      type: mapped.type,
      value: mapped.value,
      gatewayReceivedAt,
    };
    if (observation.personId !== undefined) {
      input.personId = observation.personId;
    }
    if (agentTime !== undefined) {
      input.agentTime = agentTime;
      const reading = readings.get(agentTime.kind);
      if (reading !== undefined) {
        input.agentClock = reading;
      }
    }
    if (source.gatewayUtcOffsetMinutes !== undefined) {
      input.gatewayUtcOffsetMinutes = source.gatewayUtcOffsetMinutes;
    }
    const status = mapped.measurementStatus ?? observation.measurementStatus;
    if (status !== undefined) {
      input.measurementStatus = status;
    }
    if (details.supplementalTypes.length > 0) {
      input.supplementalTypes = details.supplementalTypes;
    }
    const sourceId =
      details.sourceHandle === undefined ? undefined : latestByHandle.get(details.sourceHandle);
    if (sourceId !== undefined) {
      input.sourceObservationIds = [sourceId];
    }
    if (source.patient !== undefined) {
      input.patient = source.patient;
    }
    latestByHandle.set(observation.handle, input.observationId);
    observations.push(input);
  }
  return { device, observations, skipped };
}
