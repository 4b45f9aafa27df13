/**
 * How an IEEE 11073-20601 agent and its observations appear in the oneM2M
 * resource tree: names, AE attributes and contentInstance content.
 */
import {
  measurementStatusFlags,
  specializationsOf,
  type DeviceObservation,
} from '../ieee11073/index.js';
import type { AssociationRecord } from './observation-source.js';

/** contentInfo of every contentInstance the bridge writes: JSON, no further encoding. */
export const CONTENT_INFO_JSON = 'application/json:0';

/** Name of the container holding the agent's MDS attributes. */
export const MDS_CONTAINER = 'mds';

/** AE-ID of an agent: `C11073-` followed by its EUI-64 system id in lowercase hex. */
export function agentAeId(systemId: string): string {
  return `C11073-${systemId}`;
}

/** Name of the agent's access control policy below the CSEBase. */
export function agentAcpName(systemId: string): string {
  return `acp-ieee11073-${systemId}`;
}

/**
 * Specialization of a device named by its observation types, lowercase
 * (`bpm`, `scale`), or `generic` when no type belongs to a known one.
 */
export function specializationOf(observations: readonly DeviceObservation[]): string {
  for (const observation of observations) {
    const specialization = specializationsOf(observation.type)[0];
    if (specialization !== undefined) {
      return specialization.name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    }
  }
  return 'generic';
}

/** App-ID of an agent's AE. */
export function agentAppId(specialization: string): string {
  return `Nmedward.ieee11073.${specialization}`;
}

/** Container name of a metric: its MDC reference id, or `MDC-<code>` for an unnamed code. */
export function metricContainerName(observation: DeviceObservation): string {
  return observation.typeReferenceId ?? `MDC-${observation.type}`;
}

/** resourceName of an observation's contentInstance; unique, so a redelivery conflicts. */
export function observationInstanceName(observation: DeviceObservation): string {
  return `obs-${observation.id}`;
}

/** Content of the `mds` contentInstance: the MDS facts the manager read after association. */
export function mdsContent(
  systemId: string,
  specialization: string,
  association: AssociationRecord | undefined,
): Record<string, unknown> {
  let details: Record<string, unknown> = {};
  if (typeof association?.mds_json === 'string') {
    details = JSON.parse(association.mds_json) as Record<string, unknown>;
  }
  return {
    systemId,
    specialization,
    systemModel: {
      manufacturer: association?.manufacturer ?? null,
      modelNumber: association?.model_number ?? null,
    },
    devConfigId: association?.dev_config_id ?? null,
    productionSpecification: details.productionSpecification ?? [],
    regCertDataList: details.regCertDataList ?? [],
    timeInfo: details.mdsTimeInfo ?? null,
    timeSet: association?.time_set === 1,
    associationId: association?.id ?? null,
  };
}

/** Content of an observation's contentInstance. */
export function observationContent(observation: DeviceObservation): Record<string, unknown> {
  const value = observation.value;
  const content: Record<string, unknown> = {
    observationId: observation.id,
    deviceSystemId: observation.deviceSystemId,
    type: { mdc: observation.type, referenceId: observation.typeReferenceId ?? null },
    value:
      value.kind === 'numeric'
        ? { kind: 'numeric', decimal: value.decimal, number: value.number }
        : value,
    unit:
      observation.unit === undefined
        ? null
        : { mdc: observation.unit.code, ucum: observation.unit.ucum ?? null },
    agentTime: {
      clock: observation.timestamp.clock,
      value: observation.timestamp.deviceTime ?? null,
    },
    gatewayTime: observation.timestamp.gatewayTime,
    receivedAt: observation.receivedAt,
    measurementStatus:
      observation.measurementStatus === undefined
        ? null
        : {
            bits: observation.measurementStatus,
            flags: measurementStatusFlags(observation.measurementStatus),
          },
  };
  if (observation.personId !== undefined) {
    content.personId = observation.personId;
  }
  if (observation.supplementalTypes !== undefined) {
    content.supplementalTypes = observation.supplementalTypes;
  }
  return content;
}
