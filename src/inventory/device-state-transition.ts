import { ActorKind, currentContext } from '../core/context.js';
import { ErrorKind, MedwardError, conflict, notFound } from '../core/errors.js';
import { DeviceRepository, type InventoryExecutor } from './device-repository.js';
import type { Device, DeviceState } from './schema.js';
import { normaliseFingerprint } from './validation.js';

/** One state change of a device, with the columns changed together with it. */
export interface DeviceStateStep {
  to: DeviceState;
  /** Columns changed together with the state; omitted ones keep their values. */
  set?: {
    segment?: string | null;
    certificateFingerprint?: string | null;
    firmwareVersion?: string | null;
  };
  /** Runs on the device as the step finds it, before anything is written; throws to reject. */
  guard?: (before: Device) => void;
}

/** A state change of one device, applied only if the device still has `expectedVersion`. */
export interface DeviceStateTransition extends DeviceStateStep {
  deviceId: string;
  expectedVersion: number;
  /**
   * The device as the caller last wrote it in this same transaction, which
   * saves reading it again. The update still requires `expectedVersion`.
   */
  known?: Device;
}

/** Consecutive state changes of one device, applied only if it still has `expectedVersion`. */
export interface DeviceStateSequence {
  deviceId: string;
  expectedVersion: number;
  /** As in DeviceStateTransition: the device as last read or written, to skip reading it again. */
  known?: Device;
  steps: readonly DeviceStateStep[];
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
  const { deviceId, expectedVersion, known, ...step } = transition;
  const [before, after] = await transitionDeviceStates(
    executor,
    { deviceId, expectedVersion, ...(known === undefined ? {} : { known }), steps: [step] },
    now,
  );
  return { before: before as Device, after: after as Device };
}

/**
 * Applies consecutive state changes of one device with one write of its
 * row, as transitionDeviceState would apply them one by one: each step is
 * checked against the device as the previous step left it and raises the
 * version by one. Returns the device before the first step followed by the
 * device after each step. Throws as transitionDeviceState does.
 */
export async function transitionDeviceStates(
  executor: InventoryExecutor,
  sequence: DeviceStateSequence,
  now: Date,
): Promise<Device[]> {
  const { deviceId, expectedVersion } = sequence;
  const before =
    sequence.known?.id === deviceId
      ? sequence.known
      : await repository.findById(executor, deviceId);
  if (before === undefined) {
    throw notFound('INVENTORY_DEVICE_NOT_FOUND', `device ${deviceId} does not exist`, { deviceId });
  }
  if (before.version !== expectedVersion) {
    throw versionConflict(deviceId, expectedVersion, before.version);
  }
  const states: Device[] = [before];
  let current = before;
  for (const step of sequence.steps) {
    current = applyStep(current, step, now);
    states.push(current);
  }
  if (current === before) {
    return states;
  }
  const written = await repository.update(executor, current, expectedVersion, {
    macAddressesChanged: false,
    softwareComponentsChanged: false,
  });
  if (!written) {
    throw versionConflict(deviceId, expectedVersion, undefined);
  }
  return states;
}

/** Checks one step against the device's current state and returns the device after it. */
function applyStep(before: Device, step: DeviceStateStep, now: Date): Device {
  const deviceId = before.id;
  if (before.state === 'decommissioned') {
    throw conflict(
      'INVENTORY_DEVICE_DECOMMISSIONED',
      `device ${deviceId} is decommissioned and can no longer change; register a new device instead`,
      { deviceId },
    );
  }
  step.guard?.(before);
  const actor = currentContext()?.actor;
  if (
    actor?.kind === ActorKind.Automation &&
    before.lifeSustaining &&
    step.to !== before.state &&
    cutOffStates.has(step.to)
  ) {
    throw new MedwardError(
      ErrorKind.Forbidden,
      'INVENTORY_LIFE_SUSTAINING_MANUAL_ONLY',
      `device ${deviceId} is life-sustaining, so only a person may move it to ${step.to}`,
      { details: { deviceId, state: step.to, actorId: actor.id } },
    );
  }
  const set = step.set ?? {};
  return {
    ...before,
    state: step.to,
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
