/**
 * How an IEEE 11073-20601 agent and its observations appear in the oneM2M
 * resource tree: names, AE attributes and contentInstance content.
 */
import {
  listSpecializations,
  measurementStatusFlags,
  referenceIdOf,
  specializationsOf,
  type AgentSpecialization,
  type AssociationDescription,
  type DeviceObservation,
} from '../ieee11073/index.js';

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

/** Specialization name of a device whose specialization is not known. */
export const GENERIC_SPECIALIZATION = 'generic';

/** Id, state and start of an agent's newest association, as its AE's labels give them. */
export interface AssociationLabel {
  id: string;
  state: 'operating' | 'ended';
  startedAtMs: number;
}

const LABEL_SYSTEM_ID = 'ieee11073/systemId/';
const LABEL_SPECIALIZATION = 'ieee11073/specialization/';
const LABEL_ASSOCIATION_ID = 'ieee11073/associationId/';
const LABEL_ASSOCIATION_STATE = 'ieee11073/associationState/';
const LABEL_ASSOCIATION_STARTED = 'ieee11073/associationStartedAt/';

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

/**
 * Name of a specialization profile code in labels and App-IDs, lowercase
 * (`blood-pressure-monitor`), or `mdc-<code>` for a profile medward's table lacks.
 */
export function specializationName(profileCode: number): string {
  const known = listSpecializations().find((entry) => entry.profileCode === profileCode);
  return known === undefined ? `mdc-${profileCode}` : slug(known.name);
}

/** Names of an agent's specializations, without repeats. */
export function specializationNames(specializations: readonly AgentSpecialization[]): string[] {
  return [...new Set(specializations.map((entry) => specializationName(entry.code)))];
}

/**
 * Specialization of a device named by its observation types, or `generic`
 * when no type belongs to a known one.
 */
export function specializationOf(observations: readonly DeviceObservation[]): string {
  for (const observation of observations) {
    const specialization = specializationsOf(observation.type)[0];
    if (specialization !== undefined) {
      return slug(specialization.name);
    }
  }
  return GENERIC_SPECIALIZATION;
}

/**
 * Labels of an agent's AE: its system id, its specializations and, once an
 * association event arrived, the id and state of its newest association.
 */
export function agentLabels(
  systemId: string,
  specializations: readonly string[],
  association?: AssociationLabel,
): string[] {
  const labels = [
    `${LABEL_SYSTEM_ID}${systemId}`,
    ...specializations.map((name) => `${LABEL_SPECIALIZATION}${name}`),
  ];
  if (association !== undefined) {
    labels.push(
      `${LABEL_ASSOCIATION_ID}${association.id}`,
      `${LABEL_ASSOCIATION_STATE}${association.state}`,
      `${LABEL_ASSOCIATION_STARTED}${new Date(association.startedAtMs).toISOString()}`,
    );
  }
  return labels;
}

function labelValues(labels: readonly unknown[], prefix: string): string[] {
  return labels
    .filter((label): label is string => typeof label === 'string' && label.startsWith(prefix))
    .map((label) => label.slice(prefix.length));
}

/** Specialization names in an AE's labels. */
export function specializationsInLabels(labels: readonly unknown[]): string[] {
  return labelValues(labels, LABEL_SPECIALIZATION);
}

/**
 * Reads the association an AE's labels report. Returns undefined when they
 * report none, or one without a valid id, state and start time.
 */
export function associationInLabels(labels: readonly unknown[]): AssociationLabel | undefined {
  const id = labelValues(labels, LABEL_ASSOCIATION_ID)[0];
  const state = labelValues(labels, LABEL_ASSOCIATION_STATE)[0];
  const startedAt = labelValues(labels, LABEL_ASSOCIATION_STARTED)[0];
  const startedAtMs = startedAt === undefined ? Number.NaN : Date.parse(startedAt);
  if (
    id === undefined ||
    (state !== 'operating' && state !== 'ended') ||
    Number.isNaN(startedAtMs)
  ) {
    return undefined;
  }
  return { id, state, startedAtMs };
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

/**
 * Content of the `mds` contentInstance: the agent's specializations and the
 * MDS facts the manager read after association, null or empty where the MDS
 * GET returned none.
 */
export function mdsContent(description: AssociationDescription): Record<string, unknown> {
  const mds = description.mds;
  return {
    systemId: description.systemId,
    specialization: specializationNames(description.specializations)[0] ?? GENERIC_SPECIALIZATION,
    specializations: description.specializations.map((entry) => ({
      code: entry.code,
      referenceId: referenceIdOf(entry.code) ?? null,
      version: entry.version ?? null,
    })),
    systemModel: {
      manufacturer: mds?.manufacturer ?? null,
      modelNumber: mds?.modelNumber ?? null,
    },
    devConfigId: description.devConfigId,
    productionSpecification: mds?.productionSpecification ?? [],
    regCertDataList: mds?.regCertDataList ?? [],
    timeInfo: mds?.timeInfo ?? null,
    timeSet: mds?.timeSet ?? false,
    associationId: description.associationId,
    associationStartedAt: description.startedAt,
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
