import { randomUUID } from 'node:crypto';
import { conflict } from '../core/errors.js';
import { DeviceRepository, type InventoryExecutor } from './device-repository.js';
import type { Device, DeviceCreateInput } from './schema.js';
import {
  assertDeviceCreateInput,
  macAddressProblems,
  normaliseFingerprint,
  normaliseMacAddress,
  normaliseSystemId,
  rejectProblems,
  type ValidationProblem,
} from './validation.js';

const repository = new DeviceRepository();

/**
 * Inserts a new device inside the caller's transaction, for contexts that
 * create a device together with their own records (the onboarding context
 * at enrolment, which commits the device, its state changes and its
 * certificate at once). It applies InventoryService.create's checks: the
 * schema, a life-sustaining device being critical, no decommissioned state,
 * and no other device holding the serial number (per manufacturer and
 * model), the System-Id or a MAC address (INVENTORY_IDENTITY_CONFLICT). It
 * appends no audit record and publishes nothing: the caller records
 * `device.create` and publishes `inventory.device.created` after commit.
 * `id` lets the caller name the device before it exists, for example in a
 * certificate signed before the transaction.
 */
export async function insertDeviceInTransaction(
  executor: InventoryExecutor,
  input: DeviceCreateInput,
  now: Date,
  id: string = randomUUID(),
): Promise<Device> {
  assertDeviceCreateInput(input);
  const nowIso = now.toISOString();
  const device: Device = {
    id,
    manufacturer: input.manufacturer,
    model: input.model,
    serialNumber: input.serialNumber,
    udiDeviceIdentifier: input.udiDeviceIdentifier ?? null,
    udiProductionIdentifier: input.udiProductionIdentifier ?? null,
    systemId:
      input.systemId === undefined || input.systemId === null
        ? null
        : normaliseSystemId(input.systemId),
    macAddresses: (input.macAddresses ?? []).map(normaliseMacAddress),
    certificateFingerprint:
      input.certificateFingerprint === undefined || input.certificateFingerprint === null
        ? null
        : normaliseFingerprint(input.certificateFingerprint),
    state: input.state ?? 'unknown',
    segment: input.segment ?? null,
    classification: input.classification ?? 'confidential',
    lifeSustaining: input.lifeSustaining,
    criticality: input.criticality,
    firmwareVersion: input.firmwareVersion ?? null,
    softwareComponents: (input.softwareComponents ?? []).map((component) => ({
      name: component.name,
      version: component.version,
      ...(component.purl === undefined ? {} : { purl: component.purl }),
      ...(component.cpe === undefined ? {} : { cpe: component.cpe }),
    })),
    location: input.location ?? null,
    owner: input.owner ?? null,
    version: 1,
    createdAt: nowIso,
    updatedAt: nowIso,
  };
  const problems: ValidationProblem[] = macAddressProblems(device.macAddresses);
  if (device.lifeSustaining && device.criticality !== 'critical') {
    problems.push({
      path: '/criticality',
      message: 'a life-sustaining device must have criticality critical',
    });
  }
  if (device.state === 'decommissioned') {
    problems.push({
      path: '/state',
      message: 'state decommissioned is set only by decommissioning the device',
    });
  }
  rejectProblems(problems);

  const clashes: { field: string; value: string; deviceId: string }[] = [];
  const serialOwner = await repository.findIdBySerial(executor, device);
  if (serialOwner !== undefined) {
    clashes.push({ field: 'serialNumber', value: device.serialNumber, deviceId: serialOwner });
  }
  if (device.systemId !== null) {
    const owner = await repository.findIdBySystemId(executor, device.systemId);
    if (owner !== undefined) {
      clashes.push({ field: 'systemId', value: device.systemId, deviceId: owner });
    }
  }
  for (const { macAddress, deviceId } of await repository.findMacAddressOwners(
    executor,
    device.macAddresses,
  )) {
    clashes.push({ field: 'macAddresses', value: macAddress, deviceId });
  }
  if (clashes.length > 0) {
    throw conflict(
      'INVENTORY_IDENTITY_CONFLICT',
      'device identity is already registered: ' +
        clashes
          .map((clash) => `${clash.field} ${clash.value} belongs to device ${clash.deviceId}`)
          .join('; '),
      { conflicts: clashes },
    );
  }
  await repository.insert(executor, device);
  return device;
}
