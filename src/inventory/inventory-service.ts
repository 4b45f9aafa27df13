import { randomUUID } from 'node:crypto';
import type { AuditTrail } from '../core/audit/index.js';
import type { EventBus } from '../core/bus/index.js';
import { ActorKind, currentContext, systemActor } from '../core/context.js';
import {
  ErrorKind,
  MedwardError,
  conflict,
  invalid,
  isMedwardError,
  notFound,
} from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Storage } from '../core/storage/index.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { DeviceRepository, type InventoryExecutor } from './device-repository.js';
import type { Device, DeviceCreateInput, DevicePatch, DeviceState } from './schema.js';
import type { DeviceFilter, DeviceListQuery, DevicePage } from './types.js';
import {
  assertDeviceCreateInput,
  assertDevicePatch,
  macAddressProblems,
  normaliseFingerprint,
  normaliseMacAddress,
  normaliseSystemId,
  rejectProblems,
  type ValidationProblem,
} from './validation.js';

export interface InventoryServiceOptions {
  storage: Storage;
  audit: AuditTrail;
  logger: Logger;
  /** Receives `inventory.device.*` events after each commit; optional. */
  bus?: EventBus;
  now?: () => Date;
}

export interface DecommissionOptions {
  /** When given, the device must still have this version. */
  expectedVersion?: number;
  reason?: string;
}

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 500;

/** States that cut a device off; automation may not move a life-sustaining device into them. */
const cutOffStates: ReadonlySet<DeviceState> = new Set([
  'rejected',
  'suspended',
  'quarantined',
  'decommissioned',
]);

type DeviceField = Exclude<keyof Device, 'id' | 'version' | 'createdAt' | 'updatedAt'>;

const deviceFields: readonly DeviceField[] = [
  'manufacturer',
  'model',
  'serialNumber',
  'udiDeviceIdentifier',
  'udiProductionIdentifier',
  'systemId',
  'macAddresses',
  'certificateFingerprint',
  'state',
  'segment',
  'classification',
  'lifeSustaining',
  'criticality',
  'firmwareVersion',
  'softwareComponents',
  'location',
  'owner',
];

/**
 * The device inventory. Each change commits together with its audit record
 * (`device.create`, `device.update`, `device.decommission`) and is then
 * published on the bus as `inventory.device.created`, `.updated` or
 * `.decommissioned`. Publishing is best effort: a failure is logged and the
 * change stands.
 *
 * Rules beyond the schema: a life-sustaining device is critical; the state
 * decommissioned is reached only through decommission() and is final; an
 * automation actor may not cut off a life-sustaining device, which waits for
 * a person.
 */
export class InventoryService {
  private readonly storage: Storage;
  private readonly audit: AuditTrail;
  private readonly logger: Logger;
  private readonly bus: EventBus | undefined;
  private readonly now: () => Date;
  private readonly repository = new DeviceRepository();

  constructor(options: InventoryServiceOptions) {
    this.storage = options.storage;
    this.audit = options.audit;
    this.logger = options.logger;
    this.bus = options.bus;
    this.now = options.now ?? (() => new Date());
  }

  async create(input: DeviceCreateInput): Promise<Device> {
    assertDeviceCreateInput(input);
    const nowIso = this.now().toISOString();
    const device: Device = normaliseDevice({
      id: randomUUID(),
      manufacturer: input.manufacturer,
      model: input.model,
      serialNumber: input.serialNumber,
      udiDeviceIdentifier: input.udiDeviceIdentifier ?? null,
      udiProductionIdentifier: input.udiProductionIdentifier ?? null,
      systemId: input.systemId ?? null,
      macAddresses: input.macAddresses ?? [],
      certificateFingerprint: input.certificateFingerprint ?? null,
      state: input.state ?? 'unknown',
      segment: input.segment ?? null,
      classification: input.classification ?? 'confidential',
      lifeSustaining: input.lifeSustaining,
      criticality: input.criticality,
      firmwareVersion: input.firmwareVersion ?? null,
      softwareComponents: input.softwareComponents ?? [],
      location: input.location ?? null,
      owner: input.owner ?? null,
      version: 1,
      createdAt: nowIso,
      updatedAt: nowIso,
    });
    const problems = devicePropertyProblems(device);
    if (device.state === 'decommissioned') {
      problems.push(decommissionedByUpdateProblem());
    }
    rejectProblems(problems);

    await this.inTransaction(async (trx) => {
      await this.assertIdentityFree(trx, device, undefined);
      await this.repository.insert(trx, device);
      await this.audit.append(trx, {
        event: 'device.create',
        action: 'C',
        outcome: 'success',
        target: { kind: 'device', id: device.id },
        details: { after: snapshot(device) },
      });
    });
    this.logger.info({ deviceId: device.id, version: device.version }, 'device created');
    await this.publish('inventory.device.created', device);
    return device;
  }

  async get(id: string): Promise<Device> {
    const device = await this.repository.findById(this.storage.db, id);
    if (device === undefined) {
      throw deviceNotFound(id);
    }
    return device;
  }

  /**
   * Applies `patch` when the stored device still has `expectedVersion`, and
   * returns the device with its version incremented. A patch that changes
   * nothing returns the stored device unchanged, without an audit record.
   */
  async update(id: string, patch: DevicePatch, expectedVersion: number): Promise<Device> {
    assertDevicePatch(patch);
    assertVersion(expectedVersion);
    const result = await this.inTransaction(async (trx) => {
      const current = await this.loadForChange(trx, id, expectedVersion);
      if (patch.state === 'decommissioned') {
        rejectProblems([decommissionedByUpdateProblem()]);
      }
      const merged = normaliseDevice({ ...current, ...withoutUndefined(patch) });
      const changed = deviceFields.filter((field) => !sameValue(current[field], merged[field]));
      if (changed.length === 0) {
        return { device: current, changed };
      }
      const next: Device = {
        ...merged,
        version: current.version + 1,
        updatedAt: this.now().toISOString(),
      };
      rejectProblems(devicePropertyProblems(next));
      assertNotAutomatedCutOff(current, next.state);
      await this.assertIdentityFree(trx, next, current);
      const written = await this.repository.update(trx, next, expectedVersion, {
        macAddressesChanged: changed.includes('macAddresses'),
        softwareComponentsChanged: changed.includes('softwareComponents'),
      });
      if (!written) {
        throw versionConflict(id, expectedVersion, undefined);
      }
      await this.audit.append(trx, {
        event: 'device.update',
        action: 'U',
        outcome: 'success',
        target: { kind: 'device', id },
        details: {
          fromVersion: current.version,
          toVersion: next.version,
          before: pick(current, changed),
          after: pick(next, changed),
        },
      });
      return { device: next, changed };
    });
    if (result.changed.length > 0) {
      this.logger.info(
        { deviceId: id, version: result.device.version, changed: result.changed },
        'device updated',
      );
      await this.publish('inventory.device.updated', result.device);
    }
    return result.device;
  }

  /** Moves a device to the final state decommissioned; the record is kept. */
  async decommission(id: string, options: DecommissionOptions = {}): Promise<Device> {
    if (options.expectedVersion !== undefined) {
      assertVersion(options.expectedVersion);
    }
    const device = await this.inTransaction(async (trx) => {
      const current = await this.loadForChange(trx, id, options.expectedVersion);
      assertNotAutomatedCutOff(current, 'decommissioned');
      const next: Device = {
        ...current,
        state: 'decommissioned',
        version: current.version + 1,
        updatedAt: this.now().toISOString(),
      };
      const written = await this.repository.update(trx, next, current.version, {
        macAddressesChanged: false,
        softwareComponentsChanged: false,
      });
      if (!written) {
        throw versionConflict(id, current.version, undefined);
      }
      await this.audit.append(trx, {
        event: 'device.decommission',
        action: 'U',
        outcome: 'success',
        target: { kind: 'device', id },
        ...(options.reason === undefined ? {} : { reason: options.reason }),
        details: {
          fromVersion: current.version,
          toVersion: next.version,
          before: { state: current.state },
          after: { state: next.state },
        },
      });
      return next;
    });
    this.logger.info({ deviceId: id, version: device.version }, 'device decommissioned');
    await this.publish('inventory.device.decommissioned', device);
    return device;
  }

  /** One page of devices, oldest first; pass `nextCursor` back for the next page. */
  async list(query: DeviceListQuery = {}): Promise<DevicePage> {
    const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
      throw invalid(
        'INVENTORY_LIMIT_INVALID',
        `limit ${limit} is out of range; use an integer from 1 to ${MAX_PAGE_LIMIT}`,
        { limit },
      );
    }
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const filter: DeviceFilter = {
      state: query.state,
      segment: query.segment,
      classification: query.classification,
      manufacturer: query.manufacturer,
      model: query.model,
      lifeSustaining: query.lifeSustaining,
      text: query.text,
    };
    const rows = await this.repository.list(this.storage.db, filter, after, limit + 1);
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    const nextCursor =
      rows.length > limit && last !== undefined
        ? encodeCursor({ createdAt: last.createdAt, id: last.id })
        : null;
    return { items, nextCursor };
  }

  private async loadForChange(
    trx: InventoryExecutor,
    id: string,
    expectedVersion: number | undefined,
  ): Promise<Device> {
    const current = await this.repository.findById(trx, id);
    if (current === undefined) {
      throw deviceNotFound(id);
    }
    if (expectedVersion !== undefined && current.version !== expectedVersion) {
      throw versionConflict(id, expectedVersion, current.version);
    }
    if (current.state === 'decommissioned') {
      throw conflict(
        'INVENTORY_DEVICE_DECOMMISSIONED',
        `device ${id} is decommissioned and can no longer change; register a new device instead`,
        { deviceId: id },
      );
    }
    return current;
  }

  /**
   * Rejects with INVENTORY_IDENTITY_CONFLICT, naming every clash, when another
   * device holds the serial number (per manufacturer and model), the System-Id
   * or one of the MAC addresses of `device`.
   */
  private async assertIdentityFree(
    trx: InventoryExecutor,
    device: Device,
    current: Device | undefined,
  ): Promise<void> {
    const clashes: { field: string; value: string; deviceId: string }[] = [];
    const identityChanged =
      current === undefined ||
      current.manufacturer !== device.manufacturer ||
      current.model !== device.model ||
      current.serialNumber !== device.serialNumber;
    if (identityChanged) {
      const owner = await this.repository.findIdBySerial(trx, device);
      if (owner !== undefined && owner !== device.id) {
        clashes.push({ field: 'serialNumber', value: device.serialNumber, deviceId: owner });
      }
    }
    if (device.systemId !== null && device.systemId !== current?.systemId) {
      const owner = await this.repository.findIdBySystemId(trx, device.systemId);
      if (owner !== undefined && owner !== device.id) {
        clashes.push({ field: 'systemId', value: device.systemId, deviceId: owner });
      }
    }
    const owners = await this.repository.findMacAddressOwners(trx, device.macAddresses);
    for (const { macAddress, deviceId } of owners) {
      if (deviceId !== device.id) {
        clashes.push({ field: 'macAddresses', value: macAddress, deviceId });
      }
    }
    if (clashes.length > 0) {
      throw conflict(
        'INVENTORY_IDENTITY_CONFLICT',
        'device identity is already registered: ' +
          clashes.map((c) => `${c.field} ${c.value} belongs to device ${c.deviceId}`).join('; '),
        { conflicts: clashes },
      );
    }
  }

  /** Runs `work` in a transaction; a unique-key race becomes INVENTORY_IDENTITY_CONFLICT. */
  private async inTransaction<T>(work: (trx: InventoryExecutor) => Promise<T>): Promise<T> {
    try {
      return await this.storage.db.transaction().execute(work);
    } catch (error) {
      if (isMedwardError(error) && error.code === 'STORAGE_CONFLICT') {
        throw new MedwardError(
          ErrorKind.Conflict,
          'INVENTORY_IDENTITY_CONFLICT',
          'another change registered the same device identity at the same time; ' +
            'read the devices again and retry',
          { cause: error },
        );
      }
      throw error;
    }
  }

  private async publish(subject: string, device: Device): Promise<void> {
    if (this.bus === undefined) {
      return;
    }
    const context = currentContext();
    const actor = context?.actor ?? systemActor;
    try {
      await this.bus.publish(
        subject,
        {
          device,
          actor: { kind: actor.kind, id: actor.id },
          correlationId: context?.correlationId ?? null,
        },
        { msgId: `device:${device.id}:${device.version}` },
      );
    } catch (error) {
      this.logger.warn(
        { subject, deviceId: device.id, version: device.version, err: error },
        'device event not published',
      );
    }
  }
}

function normaliseDevice(device: Device): Device {
  return {
    ...device,
    macAddresses: device.macAddresses.map(normaliseMacAddress),
    // A fixed key order lets sameValue compare components by their JSON text.
    softwareComponents: device.softwareComponents.map((component) => ({
      name: component.name,
      version: component.version,
      ...(component.purl === undefined ? {} : { purl: component.purl }),
      ...(component.cpe === undefined ? {} : { cpe: component.cpe }),
    })),
    systemId: device.systemId === null ? null : normaliseSystemId(device.systemId),
    certificateFingerprint:
      device.certificateFingerprint === null
        ? null
        : normaliseFingerprint(device.certificateFingerprint),
  };
}

function devicePropertyProblems(device: Device): ValidationProblem[] {
  const problems = macAddressProblems(device.macAddresses);
  if (device.lifeSustaining && device.criticality !== 'critical') {
    problems.push({
      path: '/criticality',
      message: 'a life-sustaining device must have criticality critical',
    });
  }
  return problems;
}

function decommissionedByUpdateProblem(): ValidationProblem {
  return {
    path: '/state',
    message: 'state decommissioned is set only by decommissioning the device',
  };
}

function assertNotAutomatedCutOff(current: Device, nextState: DeviceState): void {
  const actor = currentContext()?.actor;
  if (
    actor?.kind === ActorKind.Automation &&
    current.lifeSustaining &&
    nextState !== current.state &&
    cutOffStates.has(nextState)
  ) {
    throw new MedwardError(
      ErrorKind.Forbidden,
      'INVENTORY_LIFE_SUSTAINING_MANUAL_ONLY',
      `device ${current.id} is life-sustaining, so only a person may move it to ${nextState}`,
      { details: { deviceId: current.id, state: nextState, actorId: actor.id } },
    );
  }
}

function assertVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw invalid(
      'INVENTORY_VERSION_INVALID',
      `expected version ${version} is not a positive integer; send the version last read`,
      { expectedVersion: version },
    );
  }
}

function versionConflict(
  id: string,
  expectedVersion: number,
  currentVersion: number | undefined,
): MedwardError {
  return conflict(
    'INVENTORY_VERSION_CONFLICT',
    `device ${id} is no longer at version ${expectedVersion}` +
      (currentVersion === undefined ? '' : ` but at version ${currentVersion}`) +
      '; read it again and reapply the change',
    { deviceId: id, expectedVersion, currentVersion: currentVersion ?? null },
  );
}

function deviceNotFound(id: string): MedwardError {
  return notFound('INVENTORY_DEVICE_NOT_FOUND', `device ${id} does not exist`, { deviceId: id });
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, entry]) => entry !== undefined),
  ) as Partial<T>;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function pick(device: Device, fields: readonly DeviceField[]): Record<string, unknown> {
  return Object.fromEntries(fields.map((field) => [field, device[field]]));
}

/** The device as an audit record shows it. */
function snapshot(device: Device): Record<string, unknown> {
  return { ...device };
}
