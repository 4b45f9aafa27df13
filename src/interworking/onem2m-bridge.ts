/**
 * IEEE 11073-20601 to oneM2M: each associated agent becomes an AE with an
 * `mds` container that contains one descriptor per association, one container
 * per metric and one contentInstance per observation, written through the
 * CSE's in-process API.
 */
import { ErrorKind, MedwardError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import {
  describeAssociation,
  type AssociationDescription,
  type AssociationEndedEvent,
  type DeviceObservation,
} from '../ieee11073/index.js';
import type { Onem2mCse, RequestPrimitive, ResponsePrimitive } from '../onem2m/index.js';
import type { DeviceObservations } from './observation-source.js';
import {
  CONTENT_INFO_JSON,
  GENERIC_SPECIALIZATION,
  MDS_CONTAINER,
  agentAcpName,
  agentAeId,
  agentAppId,
  agentLabels,
  associationInLabels,
  mdsContent,
  metricContainerName,
  observationContent,
  observationInstanceName,
  specializationNames,
  specializationOf,
  specializationsInLabels,
  type AssociationLabel,
} from './onem2m-mapping.js';

/** accessControlOperations bits (TS-0004): CREATE 1, RETRIEVE 2, UPDATE 4, DELETE 8, NOTIFY 16, DISCOVERY 32. */
const ACOP_CREATE = 1;
const ACOP_RETRIEVE = 2;
const ACOP_ALL = 63;
const ACOP_DISCOVERY = 32;

const RSC_CREATED = 2001;
const RSC_OK = 2000;
const RSC_UPDATED = 2004;
const RSC_NOT_FOUND = 4004;
const RSC_CONFLICT = 4105;
/** The AE-ID is registered already: the AE exists, created by an earlier run. */
const RSC_ORIGINATOR_HAS_ALREADY_REGISTERED = 4117;

/** Ended associations remembered so that a late operating event does not label them operating. */
const ENDED_ASSOCIATIONS_KEPT = 10000;

export interface Onem2mBridgeOptions {
  cse: Pick<Onem2mCse, 'handle'>;
  /** CSEBase resource name, the first segment of structured addresses. */
  cseName: string;
  /** The CSE's administrator originator, which writes the device resources. */
  adminOriginator: string;
  /** Originators allowed to read and subscribe to device data. */
  applicationOriginators: readonly string[];
  commandContainer: string;
  /** URL that receives the notifications of new commands of a device, when commands are served. */
  commandNotificationUrl?: (systemId: string) => string;
  logger: Logger;
}

/** resourceName of the subscription to each device's command container. */
const COMMAND_SUBSCRIPTION = 'interworking';
/** notificationEventType: create of a direct child resource. */
const NET_CREATE_CHILD = 3;

interface ProvisionedDevice {
  aeId: string;
  acpRi: string;
  containers: Set<string>;
  /** Association whose MDS facts the `mds` container holds. */
  mdsAssociationId: string | undefined;
  /** Specialization names in the AE's labels. */
  specializations: string[];
  /**
   * The newest association the AE's labels report. An AE from an earlier run
   * starts with the association in its labels, so a stale redelivered event
   * cannot relabel it after a restart.
   */
  association: AssociationLabel | undefined;
}

export class Onem2mDeviceBridge {
  private readonly devices = new Map<string, ProvisionedDevice>();
  private readonly provisioning = new Map<string, Promise<ProvisionedDevice>>();
  private readonly endedAssociations = new Set<string>();
  private requests = 0;

  constructor(private readonly options: Onem2mBridgeOptions) {}

  /** AE-ID of a device that has been provisioned, for the command path. */
  aeIdOf(systemId: string): string | undefined {
    return this.devices.get(systemId)?.aeId;
  }

  /**
   * Writes a device's observations. Safe to repeat: resources that exist
   * (a redelivered event) are left as they are.
   */
  async write(batch: DeviceObservations): Promise<void> {
    const latest = batch.observations.at(-1);
    const association =
      latest === undefined ? undefined : batch.associations.get(latest.associationId);
    const description = association === undefined ? undefined : describeAssociation(association);
    const declared = specializationNames(description?.specializations ?? []);
    const device = await this.provision(
      batch.deviceSystemId,
      declared.length > 0 ? declared : [specializationOf(batch.observations)],
    );
    // The operating event writes the same descriptor; whichever comes first creates it.
    if (
      description !== undefined &&
      description.mds !== null &&
      device.mdsAssociationId !== description.associationId
    ) {
      await this.writeDescriptor(device, description);
    }
    for (const observation of batch.observations) {
      await this.writeObservation(device, observation);
    }
  }

  /**
   * Provisions the agent of an operating association, writes its MDS
   * descriptor and labels the AE with the association. Safe to repeat and to
   * receive after the association ended or after a newer one.
   */
  async describe(description: AssociationDescription): Promise<void> {
    const declared = specializationNames(description.specializations);
    const names = declared.length > 0 ? declared : [GENERIC_SPECIALIZATION];
    const device = await this.provision(description.systemId, names);
    const startedAtMs = Date.parse(description.startedAt);
    if (device.association !== undefined && startedAtMs < device.association.startedAtMs) {
      return;
    }
    if (device.mdsAssociationId !== description.associationId) {
      await this.writeDescriptor(device, description);
    }
    const id = description.associationId;
    const state = this.endedAssociations.has(id) ? 'ended' : 'operating';
    await this.label(device, description.systemId, names, { id, state, startedAtMs });
  }

  /**
   * Labels the AE of an agent whose association ended. An agent without an
   * AE gets none: its association ended before it was operating.
   */
  async end(event: AssociationEndedEvent): Promise<void> {
    if (this.endedAssociations.size >= ENDED_ASSOCIATIONS_KEPT) {
      this.endedAssociations.clear();
    }
    this.endedAssociations.add(event.associationId);
    let device = this.devices.get(event.systemId);
    if (device === undefined) {
      const aeId = agentAeId(event.systemId);
      // The administrator, because the CSE rejects an unregistered AE-ID as originator (4106).
      const ae = await this.send({
        op: 2,
        to: `${this.options.cseName}/${aeId}`,
        fr: this.options.adminOriginator,
      });
      if (ae.rsc === RSC_NOT_FOUND) {
        return;
      }
      this.expect(ae, [RSC_OK], `AE ${aeId}`);
      device = await this.provision(event.systemId, specializationsInLabels(labelsOf(ae)));
    }
    await this.label(device, event.systemId, device.specializations, {
      id: event.associationId,
      state: 'ended',
      startedAtMs: Date.parse(event.startedAt),
    });
  }

  private async writeDescriptor(
    device: ProvisionedDevice,
    description: AssociationDescription,
  ): Promise<void> {
    const name = `mds-${description.associationId}`;
    await this.createInstance(device, MDS_CONTAINER, name, mdsContent(description));
    device.mdsAssociationId = description.associationId;
  }

  /**
   * Sets the AE's labels to `association` unless the labels already report
   * it, or a newer association, or its end.
   */
  private async label(
    device: ProvisionedDevice,
    systemId: string,
    specializations: string[],
    association: AssociationLabel,
  ): Promise<void> {
    const current = device.association;
    if (current !== undefined) {
      if (association.startedAtMs < current.startedAtMs) {
        return;
      }
      const sameAssociation = current.id === association.id;
      if (sameAssociation && (current.state === 'ended' || current.state === association.state)) {
        return;
      }
    }
    const response = await this.send({
      op: 3,
      to: `${this.options.cseName}/${device.aeId}`,
      fr: device.aeId,
      pc: {
        'm2m:ae': {
          lbl: agentLabels(systemId, specializations, association),
        },
      },
    });
    this.expect(response, [RSC_UPDATED], `labels of AE ${device.aeId}`);
    device.specializations = specializations;
    device.association = association;
  }

  private async writeObservation(
    device: ProvisionedDevice,
    observation: DeviceObservation,
  ): Promise<void> {
    const container = metricContainerName(observation);
    await this.ensureContainer(device, container);
    await this.createInstance(
      device,
      container,
      observationInstanceName(observation),
      observationContent(observation),
    );
  }

  /**
   * Returns the device's resources, creating those that do not exist. Calls
   * for a device whose creation is under way wait for it.
   */
  private provision(
    systemId: string,
    specializations: readonly string[],
  ): Promise<ProvisionedDevice> {
    const known = this.devices.get(systemId);
    if (known !== undefined) {
      return Promise.resolve(known);
    }
    let pending = this.provisioning.get(systemId);
    if (pending === undefined) {
      pending = this.createDevice(systemId, specializations).finally(() => {
        this.provisioning.delete(systemId);
      });
      this.provisioning.set(systemId, pending);
    }
    return pending;
  }

  private async createDevice(
    systemId: string,
    specializations: readonly string[],
  ): Promise<ProvisionedDevice> {
    const { cseName } = this.options;
    const aeId = agentAeId(systemId);
    const acpRi = await this.ensureAcp(systemId, aeId);
    const specialization = specializations[0] ?? GENERIC_SPECIALIZATION;
    const ae = await this.send({
      op: 1,
      to: cseName,
      fr: aeId,
      ty: 2,
      pc: {
        'm2m:ae': {
          rn: aeId,
          api: agentAppId(specialization),
          rr: false,
          srv: ['3'],
          acpi: [acpRi],
          lbl: agentLabels(systemId, specializations),
        },
      },
    });
    this.expect(
      ae,
      [RSC_CREATED, RSC_CONFLICT, RSC_ORIGINATOR_HAS_ALREADY_REGISTERED],
      `AE ${aeId}`,
    );
    const device: ProvisionedDevice = {
      aeId,
      acpRi,
      containers: new Set(),
      mdsAssociationId: undefined,
      specializations: [...specializations],
      association: undefined,
    };
    if (ae.rsc !== RSC_CREATED) {
      await this.restoreLabels(device);
    }
    await this.ensureContainer(device, MDS_CONTAINER);
    await this.ensureContainer(device, this.options.commandContainer);
    await this.ensureContainer(device, this.resultContainer());
    await this.subscribeCommands(device, systemId);
    this.devices.set(systemId, device);
    this.options.logger.info({ systemId, aeId, specializations }, 'interworking device AE ready');
    return device;
  }

  /** Reads what the labels of an AE from an earlier run report. */
  private async restoreLabels(device: ProvisionedDevice): Promise<void> {
    const response = await this.send({
      op: 2,
      to: `${this.options.cseName}/${device.aeId}`,
      fr: this.options.adminOriginator,
    });
    this.expect(response, [RSC_OK], `AE ${device.aeId}`);
    const labels = labelsOf(response);
    const specializations = specializationsInLabels(labels);
    if (specializations.length > 0) {
      device.specializations = specializations;
    }
    device.association = associationInLabels(labels);
  }

  /** Writes the outcome of a command as a contentInstance of the device's result container. */
  async writeCommandResult(systemId: string, outcome: Record<string, unknown>): Promise<void> {
    const device = this.devices.get(systemId);
    if (device === undefined) {
      throw new MedwardError(
        ErrorKind.NotFound,
        'INTERWORKING_DEVICE_UNKNOWN',
        `device ${systemId} has no AE in the CSE; no command result can be written`,
        { details: { systemId } },
      );
    }
    const commandId = typeof outcome.commandId === 'string' ? outcome.commandId : 'unknown';
    await this.createInstance(device, this.resultContainer(), `result-${commandId}`, outcome);
  }

  private resultContainer(): string {
    return `${this.options.commandContainer}-result`;
  }

  /**
   * Subscribes the command container's new contentInstances to the command
   * listener; an existing subscription (from an earlier run, whose listener
   * may have had another port) gets the current URL.
   */
  private async subscribeCommands(device: ProvisionedDevice, systemId: string): Promise<void> {
    const urlOf = this.options.commandNotificationUrl;
    if (urlOf === undefined) {
      return;
    }
    const url = urlOf(systemId);
    const container = `${this.options.cseName}/${device.aeId}/${this.options.commandContainer}`;
    const created = await this.send({
      op: 1,
      to: container,
      fr: device.aeId,
      ty: 23,
      pc: {
        'm2m:sub': { rn: COMMAND_SUBSCRIPTION, nu: [url], enc: { net: [NET_CREATE_CHILD] } },
      },
    });
    if (created.rsc === RSC_CONFLICT) {
      const updated = await this.send({
        op: 3,
        to: `${container}/${COMMAND_SUBSCRIPTION}`,
        fr: device.aeId,
        pc: { 'm2m:sub': { nu: [url] } },
      });
      this.expect(updated, [RSC_UPDATED], `subscription ${container}/${COMMAND_SUBSCRIPTION}`);
      return;
    }
    this.expect(created, [RSC_CREATED], `subscription ${container}/${COMMAND_SUBSCRIPTION}`);
  }

  /**
   * Creates (or finds) the device's ACP: the application originators may
   * CREATE, RETRIEVE and DISCOVER, the AE itself everything.
   * NOTE: subscribing is creating a <subscription> child, which needs CREATE;
   * the CSE's ACPs have no child-type context, so CREATE also lets those
   * applications add other children (such as commands) below the device.
   */
  private async ensureAcp(systemId: string, aeId: string): Promise<string> {
    const { cseName, adminOriginator, applicationOriginators } = this.options;
    const name = agentAcpName(systemId);
    const rules = [{ acor: [aeId], acop: ACOP_ALL }];
    if (applicationOriginators.length > 0) {
      rules.push({
        acor: [...applicationOriginators],
        acop: ACOP_CREATE + ACOP_RETRIEVE + ACOP_DISCOVERY,
      });
    }
    const created = await this.send({
      op: 1,
      to: cseName,
      fr: adminOriginator,
      ty: 1,
      pc: {
        'm2m:acp': {
          rn: name,
          pv: { acr: rules },
          pvs: { acr: [{ acor: [adminOriginator], acop: ACOP_ALL }] },
        },
      },
    });
    if (created.rsc === RSC_CREATED) {
      return this.riOf(created, 'm2m:acp');
    }
    this.expect(created, [RSC_CONFLICT], `ACP ${name}`);
    const existing = await this.send({ op: 2, to: `${cseName}/${name}`, fr: adminOriginator });
    this.expect(existing, [RSC_OK], `ACP ${name}`);
    return this.riOf(existing, 'm2m:acp');
  }

  private async ensureContainer(device: ProvisionedDevice, name: string): Promise<void> {
    if (device.containers.has(name)) {
      return;
    }
    const response = await this.send({
      op: 1,
      to: `${this.options.cseName}/${device.aeId}`,
      fr: device.aeId,
      ty: 3,
      pc: { 'm2m:cnt': { rn: name, acpi: [device.acpRi] } },
    });
    this.expect(response, [RSC_CREATED, RSC_CONFLICT], `container ${device.aeId}/${name}`);
    device.containers.add(name);
  }

  private async createInstance(
    device: ProvisionedDevice,
    container: string,
    name: string,
    content: Record<string, unknown>,
  ): Promise<void> {
    const response = await this.send({
      op: 1,
      to: `${this.options.cseName}/${device.aeId}/${container}`,
      fr: device.aeId,
      ty: 4,
      pc: { 'm2m:cin': { rn: name, cnf: CONTENT_INFO_JSON, con: JSON.stringify(content) } },
    });
    this.expect(response, [RSC_CREATED, RSC_CONFLICT], `contentInstance ${container}/${name}`);
  }

  private send(primitive: Omit<RequestPrimitive, 'rqi' | 'rvi'>): Promise<ResponsePrimitive> {
    this.requests += 1;
    return this.options.cse.handle({ ...primitive, rqi: `iwk-${this.requests}`, rvi: '3' });
  }

  private riOf(response: ResponsePrimitive, root: string): string {
    const resource = (response.pc as Record<string, Record<string, unknown>> | undefined)?.[root];
    if (typeof resource?.ri !== 'string') {
      throw this.failure(response, `${root} response without ri`);
    }
    return resource.ri;
  }

  private expect(response: ResponsePrimitive, accepted: readonly number[], what: string): void {
    if (!accepted.includes(response.rsc)) {
      throw this.failure(response, what);
    }
  }

  private failure(response: ResponsePrimitive, what: string): MedwardError {
    const dbg = (response.pc as Record<string, unknown> | undefined)?.['m2m:dbg'];
    return new MedwardError(
      ErrorKind.Unavailable,
      'INTERWORKING_ONEM2M_WRITE_FAILED',
      `oneM2M write of ${what} failed with rsc ${response.rsc}: ${typeof dbg === 'string' ? dbg : 'no debug text'}`,
      { details: { rsc: response.rsc, what } },
    );
  }
}

/** Specialization names in the labels of a retrieved AE. */
/** Labels of the AE in a RETRIEVE response. */
function labelsOf(response: ResponsePrimitive): unknown[] {
  const ae = (response.pc as Record<string, Record<string, unknown>> | undefined)?.['m2m:ae'];
  return Array.isArray(ae?.lbl) ? ae.lbl : [];
}
