import { conflict, notFound } from '../core/errors.js';
import { DeviceRepository, type InventoryExecutor } from './device-repository.js';
import type { Device, SoftwareComponent } from './schema.js';
import {
  assertDevicePatch,
  macAddressProblems,
  normaliseMacAddress,
  rejectProblems,
} from './validation.js';

/** What a device reports about itself when it registers. */
export interface RegisteredDeviceFacts {
  deviceId: string;
  expectedVersion: number;
  macAddresses: string[];
  firmwareVersion: string | null;
  softwareComponents: SoftwareComponent[];
}

const repository = new DeviceRepository();

/**
 * Writes the MAC addresses, firmware version and software components a
 * device reported at registration, inside the caller's transaction, so they
 * commit together with the configuration issued for them. Input is checked
 * against the inventory's patch schema; a MAC address held by another device
 * raises INVENTORY_IDENTITY_CONFLICT. Returns the device before and after, or
 * the same device twice when nothing changed. The caller appends the audit
 * record.
 */
export async function updateRegisteredDeviceFacts(
  executor: InventoryExecutor,
  facts: RegisteredDeviceFacts,
  now: Date,
): Promise<{ before: Device; after: Device; changed: string[] }> {
  const patch = {
    macAddresses: facts.macAddresses,
    firmwareVersion: facts.firmwareVersion,
    softwareComponents: facts.softwareComponents,
  };
  assertDevicePatch(patch);
  const macAddresses = facts.macAddresses.map(normaliseMacAddress);
  rejectProblems(macAddressProblems(macAddresses));
  const before = await repository.findById(executor, facts.deviceId);
  if (before === undefined) {
    throw notFound('INVENTORY_DEVICE_NOT_FOUND', `device ${facts.deviceId} does not exist`, {
      deviceId: facts.deviceId,
    });
  }
  if (before.version !== facts.expectedVersion) {
    throw conflict(
      'INVENTORY_VERSION_CONFLICT',
      `device ${facts.deviceId} is no longer at version ${facts.expectedVersion} but at version ` +
        `${before.version}; read it again and reapply the change`,
      {
        deviceId: facts.deviceId,
        expectedVersion: facts.expectedVersion,
        currentVersion: before.version,
      },
    );
  }
  const clashes = (await repository.findMacAddressOwners(executor, macAddresses)).filter(
    (owner) => owner.deviceId !== facts.deviceId,
  );
  if (clashes.length > 0) {
    throw conflict(
      'INVENTORY_IDENTITY_CONFLICT',
      'device identity is already registered: ' +
        clashes
          .map((clash) => `macAddresses ${clash.macAddress} belongs to device ${clash.deviceId}`)
          .join('; '),
      {
        conflicts: clashes.map((clash) => ({
          field: 'macAddresses',
          value: clash.macAddress,
          deviceId: clash.deviceId,
        })),
      },
    );
  }
  const softwareComponents = facts.softwareComponents.map((component) => ({
    name: component.name,
    version: component.version,
    ...(component.purl === undefined ? {} : { purl: component.purl }),
    ...(component.cpe === undefined ? {} : { cpe: component.cpe }),
  }));
  const changed: string[] = [];
  if (JSON.stringify(before.macAddresses) !== JSON.stringify(macAddresses)) {
    changed.push('macAddresses');
  }
  if (before.firmwareVersion !== facts.firmwareVersion) {
    changed.push('firmwareVersion');
  }
  if (JSON.stringify(before.softwareComponents) !== JSON.stringify(softwareComponents)) {
    changed.push('softwareComponents');
  }
  if (changed.length === 0) {
    return { before, after: before, changed };
  }
  const after: Device = {
    ...before,
    macAddresses,
    firmwareVersion: facts.firmwareVersion,
    softwareComponents,
    version: before.version + 1,
    updatedAt: now.toISOString(),
  };
  const written = await repository.update(executor, after, facts.expectedVersion, {
    macAddressesChanged: changed.includes('macAddresses'),
    softwareComponentsChanged: changed.includes('softwareComponents'),
  });
  if (!written) {
    throw conflict(
      'INVENTORY_VERSION_CONFLICT',
      `device ${facts.deviceId} changed during registration; retry the registration`,
      { deviceId: facts.deviceId, expectedVersion: facts.expectedVersion, currentVersion: null },
    );
  }
  return { before, after, changed };
}
