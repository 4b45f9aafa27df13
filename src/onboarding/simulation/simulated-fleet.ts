import { randomBytes, type KeyObject } from 'node:crypto';
import { hashSecret } from '../authorisation/authorisation-service.js';
import {
  AUTHORISATION_LIST_FORMAT,
  type AuthorisationList,
  type ListEntry,
} from '../authorisation/list-schema.js';
import { signList } from '../authorisation/signature.js';
import {
  SimulatedDevice,
  type BirthCredential,
  type SimulatedManufacturer,
} from './simulated-device.js';

/** A simulated device: who it is, its birth credential, and its authorisation list entry. */
export interface DeviceSpec {
  manufacturer: string;
  model: string;
  serialNumber: string;
  birth: BirthCredential;
  entry: ListEntry;
}

/**
 * Naming scheme of the devices of one simulation run. Runs against the same
 * medward need names of their own, because the inventory keeps serial
 * numbers (per manufacturer and model) and MAC addresses unique.
 */
export interface FleetNaming {
  /** Start of every serial number of the fleet. */
  serialPrefix: string;
  serialNumber(index: number): string;
  macAddress(index: number): string;
  entryId(index: number): string;
}

const MODELS = ['LP-420', 'PM-9', 'VX-2'] as const;

/** Largest device index a tagged fleet names: 20 bits of the MAC address. */
export const MAX_TAGGED_FLEET_DEVICES = 0x100000;

/** Returns the MAC address of simulated device `index`: locally administered, unique per index. */
export function simulatedMac(index: number): string {
  const hex = index.toString(16).padStart(8, '0');
  return `02:5e:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}`;
}

/** Names for the one fleet of a medward of its own: SIM-000042 and 02:5e:00:00:00:2a. */
export const untaggedNaming: FleetNaming = {
  serialPrefix: 'SIM-',
  serialNumber: (index) => `SIM-${String(index).padStart(6, '0')}`,
  macAddress: simulatedMac,
  entryId: (index) => `sim-${index}`,
};

/**
 * Names for a fleet tagged with a 20-bit run tag: serial numbers SIM-<tag
 * hex>-<index> and locally administered MAC addresses 02:TT:TT:TI:II:II.
 * Fleets with different tags never share a name.
 */
export function taggedNaming(tag: number): FleetNaming & { tagHex: string } {
  if (!Number.isInteger(tag) || tag < 0 || tag >= 0x100000) {
    throw new RangeError(`fleet tag ${tag} is not a 20-bit integer`);
  }
  const tagHex = tag.toString(16).padStart(5, '0');
  const serialPrefix = `SIM-${tagHex}-`;
  return {
    tagHex,
    serialPrefix,
    serialNumber: (index) => `${serialPrefix}${String(index).padStart(6, '0')}`,
    macAddress: (index) => {
      if (!Number.isInteger(index) || index < 0 || index >= MAX_TAGGED_FLEET_DEVICES) {
        throw new RangeError(`device index ${index} does not fit a tagged fleet's MAC address`);
      }
      const hex = tagHex + index.toString(16).padStart(5, '0');
      return `02:${hex.match(/../g)?.join(':') ?? ''}`;
    },
    entryId: (index) => `sim-${tagHex}-${index}`,
  };
}

/**
 * Returns `count` device specs from index `offset` on, alternating IDevID
 * (issued by `manufacturer`) and bootstrap-secret birth identities.
 */
export function simulatedDeviceSpecs(
  manufacturer: SimulatedManufacturer,
  count: number,
  offset = 0,
  naming: FleetNaming = untaggedNaming,
): DeviceSpec[] {
  const specs: DeviceSpec[] = [];
  for (let index = offset; index < offset + count; index += 1) {
    const model = MODELS[index % MODELS.length] ?? 'LP-420';
    const serialNumber = naming.serialNumber(index);
    let birth: BirthCredential;
    let birthIdentity: ListEntry['birthIdentity'];
    if (index % 2 === 0) {
      birth = { kind: 'idevid', ...manufacturer.issueIdevid(model, serialNumber) };
      birthIdentity = { kind: 'idevid', trustAnchors: [manufacturer.certificatePem] };
    } else {
      const secret = randomBytes(24).toString('base64url');
      birth = { kind: 'bootstrap-secret', secret };
      birthIdentity = { kind: 'bootstrap-secret', secretSha256: hashSecret(secret) };
    }
    specs.push({
      manufacturer: manufacturer.name,
      model,
      serialNumber,
      birth,
      entry: {
        entryId: naming.entryId(index),
        manufacturer: manufacturer.name,
        model,
        serialNumber,
        birthIdentity,
        deviceClass: model === 'PM-9' ? 'patient-monitor' : 'infusion-pump',
        macAddresses: [naming.macAddress(index)],
      },
    });
  }
  return specs;
}

/** Returns the signed envelope (JSON text) of a one-day list naming `entries`. */
export function signedSimulationList(
  entries: readonly ListEntry[],
  options: {
    listId: string;
    version: number;
    authorityKey: KeyObject;
    revocations?: AuthorisationList['revocations'];
  },
): string {
  const now = Date.now();
  const list: AuthorisationList = {
    format: AUTHORISATION_LIST_FORMAT,
    formatVersion: 1,
    listId: options.listId,
    version: options.version,
    issuedAt: new Date(now - 60_000).toISOString(),
    expiresAt: new Date(now + 86_400_000).toISOString(),
    authority: 'medward simulation',
    devices: [...entries],
    revocations: options.revocations ?? [],
  };
  return JSON.stringify(signList(list, options.authorityKey));
}

/**
 * Returns the device that `spec` describes, talking to the listener at
 * `listenerUrl`. Its one wired interface has `macAddress`, by default the
 * first MAC address of its list entry.
 */
export function simulatedDeviceOf(
  spec: DeviceSpec,
  listener: { listenerUrl: string; trustedCaPem: string },
  options: { macAddress?: string; sbom?: unknown } = {},
): SimulatedDevice {
  const macAddress = options.macAddress ?? spec.entry.macAddresses?.[0];
  return new SimulatedDevice({
    manufacturer: spec.manufacturer,
    model: spec.model,
    serialNumber: spec.serialNumber,
    birth: spec.birth,
    listenerUrl: listener.listenerUrl,
    trustedCaPem: listener.trustedCaPem,
    interfaces: macAddress === undefined ? [] : [{ name: 'eth0', mac: macAddress, kind: 'wired' }],
    firmwareVersion: '4.2.0',
    ...(options.sbom === undefined ? {} : { sbom: options.sbom }),
  });
}
