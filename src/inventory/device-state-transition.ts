import { ActorKind, currentContext } from '../core/context.js';
import { ErrorKind, MedwardError, conflict, notFound } from '../core/errors.js';
import { DeviceRepository, type InventoryExecutor } from './device-repository.js';
import type { Device, DeviceState } from './schema.js';
import { normaliseFingerprint } from './validation.js';

/** A state change of one device, applied only if the device still has `expectedVersion`. */
export interface DeviceStateTransition {
  deviceId: string;
  expectedVersion: number;
  to: DeviceState;
  /** Columns changed together with the state; omitted ones keep their values. */
  set?: {
    segment?: string | null;
    certificateFingerprint?: string | null;
    firmwareVersion?: string | null;
  };
  /** Runs on the stored device before anything is written; throws to reject the transition. */
  guard?: (before: Device) => void;
  /**
   * The device as the caller last wrote it in this same transaction, which
   * saves reading it again. The update still requires `expectedVersion`.
   */
  known?: Device;
}

const cutOffStates: ReadonlySet<DeviceState> = new Set([
  'rejected',
  'suspended',
  'quarantined',
  'decommissioned',
]);

const repository = new DeviceRepository();

/**
 * Changes a device's lifecycle state inside the caller's transaction, for
 * contexts that must commit the change together with their own records (the
 * onboarding state machine and its audit trail). It checks the expected
 * version (optimistic concurrency), keeps decommissioned final and, like
 * InventoryService.update, forbids an automation actor to cut off a
 * life-sustaining device. It appends no audit record and publishes nothing:
 * the caller does both.
 *
 * Throws INVENTORY_DEVICE_NOT_FOUND, INVENTORY_VERSION_CONFLICT,
 * INVENTORY_DEVICE_DECOMMISSIONED or INVENTORY_LIFE_SUSTAINING_MANUAL_ONLY.
 */
export async function transitionDeviceState(
  executor: InventoryExecutor,
  transition: DeviceStateTransition,
  now: Date,
): Promise<{ before: Device; after: Device }> {
  const { deviceId, expectedVersion } = transition;
  const before =
    transition.known?.id === deviceId
      ? transition.known
      : await repository.findById(executor, deviceId);
  if (before === undefined) {
    throw notFound('INVENTORY_DEVICE_NOT_FOUND', `device ${deviceId} does not exist`, { deviceId });
  }
  if (before.version !== expectedVersion) {
    throw versionConflict(deviceId, expectedVersion, before.version);
  }
  if (before.state === 'decommissioned') {
    throw conflict(
      'INVENTORY_DEVICE_DECOMMISSIONED',
      `device ${deviceId} is decommissioned and can no longer change; register a new device instead`,
      { deviceId },
    );
  }
  transition.guard?.(before);
  const actor = currentContext()?.actor;
  if (
    actor?.kind === ActorKind.Automation &&
    before.lifeSustaining &&
    transition.to !== before.state &&
    cutOffStates.has(transition.to)
  ) {
    throw new MedwardError(
      ErrorKind.Forbidden,
      'INVENTORY_LIFE_SUSTAINING_MANUAL_ONLY',
      `device ${deviceId} is life-sustaining, so only a person may move it to ${transition.to}`,
      { details: { deviceId, state: transition.to, actorId: actor.id } },
    );
  }
  const set = transition.set ?? {};
  const after: Device = {
    ...before,
    state: transition.to,
    ...(set.segment === undefined ? {} : { segment: set.segment }),
    ...(set.firmwareVersion === undefined ? {} : { firmwareVersion: set.firmwareVersion }),
    ...(set.certificateFingerprint === undefined
      ? {}
      : {
          certificateFingerprint:
            set.certificateFingerprint === null
              ? null
              : normaliseFingerprint(set.certificateFingerprint),
        }),
    version: before.version + 1,
    updatedAt: now.toISOString(),
  };
  const written = await repository.update(executor, after, expectedVersion, {
    macAddressesChanged: false,
    softwareComponentsChanged: false,
  });
  if (!written) {
    throw versionConflict(deviceId, expectedVersion, undefined);
  }
  return { before, after };
}

function versionConflict(
  deviceId: string,
  expectedVersion: number,
  currentVersion: number | undefined,
): MedwardError {
  return conflict(
    'INVENTORY_VERSION_CONFLICT',
    `device ${deviceId} is no longer at version ${expectedVersion}` +
      (currentVersion === undefined ? '' : ` but at version ${currentVersion}`) +
      '; read it again and reapply the change',
    { deviceId, expectedVersion, currentVersion: currentVersion ?? null },
  );
}
