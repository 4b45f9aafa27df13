/**
 * Bundles of PHD resources. A transaction Bundle is idempotent:
 * - Devices are conditional updates keyed on their system id;
 * - Observations are conditional creates keyed on their PHD identifier, or
 *   on medward's observation id when the guide defines none;
 * - every fullUrl is a name-based urn:uuid.
 * Sending the same observations again therefore builds the same Bundle and
 * changes nothing on the server.
 */
import { FhirSystem, PhdCode } from './codes.js';
import {
  buildPhdDevice,
  buildPhgDevice,
  formatSystemId,
  type GatewayDescription,
} from './device.js';
import { identifierSearch } from './identifier.js';
import type { PhdDeviceInput, PhdObservationInput, PhdPatient } from './input.js';
import { nameUuid } from './name-uuid.js';
import { buildCoincidentObservation, buildPhdObservation } from './observation.js';
import type { Bundle, BundleEntry, Reference } from './resources.js';
import { resolveTiming, type CoincidentTime } from './timestamps.js';

export interface BundleSource {
  type: 'transaction' | 'collection';
  observations: readonly PhdObservationInput[];
  /** Agent descriptions by system id (any case); an agent without one gets a minimal PhdDevice. */
  devices: ReadonlyMap<string, PhdDeviceInput>;
  gateway: GatewayDescription;
  /** Bundle.timestamp; left out when absent, so equal inputs give equal Bundles. */
  timestamp?: string;
}

export interface BuiltBundle {
  bundle: Bundle;
  /** Position of each observation's entry in bundle.entry, by observation id. */
  observationEntries: Map<string, number>;
}

function urn(name: string): string {
  return `urn:uuid:${nameUuid(name)}`;
}

function deviceFullUrl(systemId: string): string {
  return urn(`device:${systemId.toUpperCase()}`);
}

/** Patient reference: a logical id, a conditional reference inside transactions, or the identifier. */
function subjectReference(
  patient: PhdPatient | undefined,
  type: BundleSource['type'],
  deviceUrl: string,
): Reference {
  if (patient === undefined) {
    // NOTE: without a known patient the agent itself is the subject, which
    // FHIR R4 allows but the PHD profiles expect to be a Patient.
    return { reference: deviceUrl };
  }
  if ('logicalId' in patient) {
    return { reference: `Patient/${patient.logicalId}` };
  }
  if (type === 'transaction') {
    return { reference: `Patient?${identifierSearch(patient.system, patient.value)}` };
  }
  return { identifier: { system: patient.system, value: patient.value } };
}

function minimalDevice(
  systemId: string,
  observations: readonly PhdObservationInput[],
): PhdDeviceInput {
  const codes = new Set<number>();
  for (const observation of observations) {
    if (observation.deviceSystemId.toUpperCase() === systemId) {
      for (const code of observation.specializations ?? []) {
        codes.add(code);
      }
    }
  }
  return { systemId, specializations: [...codes].map((code) => ({ code })) };
}

class BundleAssembly {
  readonly entries: BundleEntry[] = [];
  readonly observationEntries = new Map<string, number>();
  private readonly coincidentUrls = new Map<string, string>();

  constructor(private readonly source: BundleSource) {}

  add(entry: BundleEntry, search: string | undefined, method: 'PUT' | 'POST'): number {
    if (this.source.type === 'transaction') {
      const resourceType = entry.resource.resourceType;
      entry.request =
        method === 'PUT'
          ? { method, url: `${resourceType}?${search ?? ''}` }
          : search === undefined
            ? { method, url: resourceType }
            : { method, url: resourceType, ifNoneExist: search };
    }
    this.entries.push(entry);
    return this.entries.length - 1;
  }

  addDevice(device: PhdDeviceInput, fullUrl: string, gateway: boolean): void {
    const resource = gateway ? buildPhgDevice(this.source.gateway) : buildPhdDevice(device);
    const search = identifierSearch(FhirSystem.ieeeSystemId, formatSystemId(device.systemId));
    this.add({ fullUrl, resource }, search, 'PUT');
  }

  coincidentReference(
    coincident: CoincidentTime,
    links: { phdDevice: Reference; gateway: Reference; subject: Reference },
  ): Reference {
    let fullUrl = this.coincidentUrls.get(coincident.key);
    if (fullUrl === undefined) {
      const uuid = nameUuid(`coincident:${coincident.key}`);
      fullUrl = `urn:uuid:${uuid}`;
      const identifierValue = `coincident-${uuid}`;
      const resource = buildCoincidentObservation(coincident, identifierValue, links);
      this.add(
        { fullUrl, resource },
        identifierSearch(FhirSystem.medwardObservation, identifierValue),
        'POST',
      );
      this.coincidentUrls.set(coincident.key, fullUrl);
    }
    return { reference: fullUrl };
  }
}

/** Builds a Bundle of the observations, their agents' Devices and medward's PhgDevice. */
export function buildPhdBundle(source: BundleSource): BuiltBundle {
  const assembly = new BundleAssembly(source);
  const gatewayUrl = urn(`gateway:${source.gateway.systemId.toUpperCase()}`);
  assembly.addDevice({ systemId: source.gateway.systemId, specializations: [] }, gatewayUrl, true);

  const devices = new Map<string, PhdDeviceInput>();
  for (const [systemId, device] of source.devices) {
    devices.set(systemId.toUpperCase(), device);
  }
  const systemIds = [...new Set(source.observations.map((o) => o.deviceSystemId.toUpperCase()))];
  for (const systemId of systemIds) {
    const device = devices.get(systemId) ?? minimalDevice(systemId, source.observations);
    devices.set(systemId, device);
    assembly.addDevice(device, deviceFullUrl(systemId), false);
  }

  const inBundle = new Set(source.observations.map((o) => o.observationId));
  const gatewaySynchronized = source.gateway.timeSyncProtocol !== PhdCode.timeSyncNone;
  const gateway: Reference = { reference: gatewayUrl };
  for (const input of source.observations) {
    const systemId = input.deviceSystemId.toUpperCase();
    const phdDevice: Reference = { reference: deviceFullUrl(systemId) };
    const subject = subjectReference(input.patient, source.type, deviceFullUrl(systemId));
    const timing = resolveTiming(input, { device: devices.get(systemId), gatewaySynchronized });
    const coincident =
      timing.coincident === undefined
        ? undefined
        : assembly.coincidentReference(timing.coincident, { phdDevice, gateway, subject });
    const sources = (input.sourceObservationIds ?? []).map((id): Reference =>
      inBundle.has(id)
        ? { reference: urn(`observation:${id}`) }
        : { identifier: { system: FhirSystem.medwardObservation, value: id } },
    );
    const built = buildPhdObservation(input, timing, {
      phdDevice,
      gateway,
      subject,
      ...(coincident === undefined ? {} : { coincident }),
      sources,
    });
    const index = assembly.add(
      { fullUrl: urn(`observation:${input.observationId}`), resource: built.resource },
      identifierSearch(built.conditionalKey.system, built.conditionalKey.value),
      'POST',
    );
    assembly.observationEntries.set(input.observationId, index);
  }

  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: source.type,
    ...(source.timestamp === undefined ? {} : { timestamp: source.timestamp }),
    entry: assembly.entries,
  };
  return { bundle, observationEntries: assembly.observationEntries };
}
