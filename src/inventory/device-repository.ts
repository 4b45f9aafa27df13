import { sql, type Kysely, type Transaction } from 'kysely';
import { CompiledQueries } from '../core/storage/compiled-queries.js';
import type { Device, SoftwareComponent } from './schema.js';
import type {
  DeviceFilter,
  DevicePosition,
  DeviceSoftwareComponentTable,
  DeviceTable,
  InventoryTables,
} from './types.js';

/** The database or an open transaction on it. */
export type InventoryExecutor = Kysely<object> | Transaction<object>;

/** Statements every enrolment and registration runs, compiled once. */
const queries = new CompiledQueries();

export interface DeviceUpdateOptions {
  /** Replace the stored MAC addresses with `device.macAddresses`. */
  macAddressesChanged: boolean;
  /** Replace the stored software components with `device.softwareComponents`. */
  softwareComponentsChanged: boolean;
}

/**
 * Reads and writes devices with their MAC addresses and software components.
 * Every method runs on the executor it is given, so the service decides the
 * transaction. Uniqueness (serial per manufacturer and model, System-Id, MAC
 * address) is enforced by the schema and surfaces as STORAGE_CONFLICT.
 */
export class DeviceRepository {
  async insert(executor: InventoryExecutor, device: Device): Promise<void> {
    const row = toRow(device);
    await queries.execute(executor, 'device:insert', Object.values(row), () =>
      executor.withTables<InventoryTables>().insertInto('device').values(row),
    );
    await this.insertMacAddresses(executor, device.id, device.macAddresses);
    await this.insertComponents(executor, device.id, device.softwareComponents);
  }

  /**
   * Writes `device` (whose version is the new one) when the stored version is
   * `expectedVersion`. Returns false, changing nothing, when it is not.
   */
  async update(
    executor: InventoryExecutor,
    device: Device,
    expectedVersion: number,
    options: DeviceUpdateOptions,
  ): Promise<boolean> {
    const db = executor.withTables<InventoryTables>();
    const id = device.id;
    const columns = toChangedColumns(device);
    const result = await queries.execute(
      executor,
      'device:update',
      [...Object.values(columns), id, expectedVersion],
      () =>
        db
          .updateTable('device')
          .set(columns)
          .where('id', '=', id)
          .where('version', '=', expectedVersion),
    );
    if (result.numAffectedRows === 0n) {
      return false;
    }
    if (options.macAddressesChanged) {
      await db.deleteFrom('device_mac_address').where('device_id', '=', id).execute();
      await this.insertMacAddresses(executor, id, device.macAddresses);
    }
    if (options.softwareComponentsChanged) {
      await db.deleteFrom('device_software_component').where('device_id', '=', id).execute();
      await this.insertComponents(executor, id, device.softwareComponents);
    }
    return true;
  }

  async findById(executor: InventoryExecutor, id: string): Promise<Device | undefined> {
    const db = executor.withTables<InventoryTables>();
    const row = await db.selectFrom('device').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) {
      return undefined;
    }
    const [device] = await this.withChildren(executor, [row]);
    return device;
  }

  /** The device with this serial number per manufacturer and model, if any. */
  async findBySerial(
    executor: InventoryExecutor,
    identity: { manufacturer: string; model: string; serialNumber: string },
  ): Promise<Device | undefined> {
    const { manufacturer, model, serialNumber } = identity;
    const result = await queries.execute(
      executor,
      'device:find-by-serial',
      [manufacturer, model, serialNumber],
      () =>
        executor
          .withTables<InventoryTables>()
          .selectFrom('device')
          .selectAll()
          .where('manufacturer', '=', manufacturer)
          .where('model', '=', model)
          .where('serial_number', '=', serialNumber),
    );
    const [row] = result.rows;
    if (row === undefined) {
      return undefined;
    }
    const [device] = await this.withChildren(executor, [row]);
    return device;
  }

  async findIdBySerial(
    executor: InventoryExecutor,
    identity: { manufacturer: string; model: string; serialNumber: string },
  ): Promise<string | undefined> {
    const { manufacturer, model, serialNumber } = identity;
    const result = await queries.execute(
      executor,
      'device:find-id-by-serial',
      [manufacturer, model, serialNumber],
      () =>
        executor
          .withTables<InventoryTables>()
          .selectFrom('device')
          .select('id')
          .where('manufacturer', '=', manufacturer)
          .where('model', '=', model)
          .where('serial_number', '=', serialNumber),
    );
    return result.rows[0]?.id;
  }

  async findIdBySystemId(
    executor: InventoryExecutor,
    systemId: string,
  ): Promise<string | undefined> {
    const row = await executor
      .withTables<InventoryTables>()
      .selectFrom('device')
      .select('id')
      .where('system_id', '=', systemId)
      .executeTakeFirst();
    return row?.id;
  }

  /** The devices that hold any of `macAddresses` (normalised form). */
  async findMacAddressOwners(
    executor: InventoryExecutor,
    macAddresses: readonly string[],
  ): Promise<{ macAddress: string; deviceId: string }[]> {
    if (macAddresses.length === 0) {
      return [];
    }
    const rows = await executor
      .withTables<InventoryTables>()
      .selectFrom('device_mac_address')
      .select(['mac_address', 'device_id'])
      .where('mac_address', 'in', macAddresses)
      .execute();
    return rows.map((row) => ({ macAddress: row.mac_address, deviceId: row.device_id }));
  }

  /** Up to `limit` devices matching `filter`, ordered by creation time then id, after `after`. */
  async list(
    executor: InventoryExecutor,
    filter: DeviceFilter,
    after: DevicePosition | undefined,
    limit: number,
  ): Promise<Device[]> {
    let query = executor
      .withTables<InventoryTables>()
      .selectFrom('device')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .limit(limit);
    if (after !== undefined) {
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '>', after.createdAt),
          eb.and([eb('created_at', '=', after.createdAt), eb('id', '>', after.id)]),
        ]),
      );
    }
    if (filter.state !== undefined) {
      query = query.where('state', '=', filter.state);
    }
    if (filter.segment !== undefined) {
      query = query.where('segment', '=', filter.segment);
    }
    if (filter.classification !== undefined) {
      query = query.where('classification', '=', filter.classification);
    }
    if (filter.manufacturer !== undefined) {
      query = query.where('manufacturer', '=', filter.manufacturer);
    }
    if (filter.model !== undefined) {
      query = query.where('model', '=', filter.model);
    }
    if (filter.lifeSustaining !== undefined) {
      query = query.where('life_sustaining', '=', filter.lifeSustaining ? 1 : 0);
    }
    if (filter.text !== undefined && filter.text !== '') {
      const pattern = `%${escapeLike(filter.text.toLowerCase())}%`;
      // SQLite has no default LIKE escape character, so the clause names one.
      query = query.where((eb) =>
        eb.or([
          sql<boolean>`lower(${eb.ref('serial_number')}) like ${pattern} escape '\\'`,
          sql<boolean>`lower(${eb.ref('model')}) like ${pattern} escape '\\'`,
        ]),
      );
    }
    const rows = await query.execute();
    return this.withChildren(executor, rows);
  }

  private async insertMacAddresses(
    executor: InventoryExecutor,
    deviceId: string,
    macAddresses: readonly string[],
  ): Promise<void> {
    if (macAddresses.length === 0) {
      return;
    }
    await executor
      .withTables<InventoryTables>()
      .insertInto('device_mac_address')
      .values(
        macAddresses.map((macAddress, position) => ({
          mac_address: macAddress,
          device_id: deviceId,
          position,
        })),
      )
      .execute();
  }

  private async insertComponents(
    executor: InventoryExecutor,
    deviceId: string,
    components: readonly SoftwareComponent[],
  ): Promise<void> {
    if (components.length === 0) {
      return;
    }
    await executor
      .withTables<InventoryTables>()
      .insertInto('device_software_component')
      .values(
        components.map((component, position) => ({
          device_id: deviceId,
          position,
          name: component.name,
          version: component.version,
          purl: component.purl ?? null,
          cpe: component.cpe ?? null,
        })),
      )
      .execute();
  }

  private async withChildren(
    executor: InventoryExecutor,
    rows: readonly DeviceTable[],
  ): Promise<Device[]> {
    if (rows.length === 0) {
      return [];
    }
    const db = executor.withTables<InventoryTables>();
    const ids = rows.map((row) => row.id);
    const macRows = await db
      .selectFrom('device_mac_address')
      .selectAll()
      .where('device_id', 'in', ids)
      .orderBy('device_id')
      .orderBy('position')
      .execute();
    const componentRows = await db
      .selectFrom('device_software_component')
      .selectAll()
      .where('device_id', 'in', ids)
      .orderBy('device_id')
      .orderBy('position')
      .execute();
    const macs = groupBy(macRows, (row) => row.device_id);
    const components = groupBy(componentRows, (row) => row.device_id);
    return rows.map((row) =>
      fromRow(
        row,
        (macs.get(row.id) ?? []).map((mac) => mac.mac_address),
        (components.get(row.id) ?? []).map(toComponent),
      ),
    );
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group === undefined) {
      groups.set(key(item), [item]);
    } else {
      group.push(item);
    }
  }
  return groups;
}

/** Escapes LIKE wildcards so user text matches literally (escape character: backslash). */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

function toComponent(row: DeviceSoftwareComponentTable): SoftwareComponent {
  return {
    name: row.name,
    version: row.version,
    ...(row.purl === null ? {} : { purl: row.purl }),
    ...(row.cpe === null ? {} : { cpe: row.cpe }),
  };
}

function toRow(device: Device): DeviceTable {
  return { id: device.id, created_at: device.createdAt, ...toChangedColumns(device) };
}

/** Every column an update may write: all but the id and the creation time. */
function toChangedColumns(device: Device): Omit<DeviceTable, 'id' | 'created_at'> {
  return {
    manufacturer: device.manufacturer,
    model: device.model,
    serial_number: device.serialNumber,
    udi_di: device.udiDeviceIdentifier,
    udi_pi: device.udiProductionIdentifier,
    system_id: device.systemId,
    certificate_fingerprint: device.certificateFingerprint,
    state: device.state,
    segment: device.segment,
    classification: device.classification,
    life_sustaining: device.lifeSustaining ? 1 : 0,
    criticality: device.criticality,
    firmware_version: device.firmwareVersion,
    location: device.location,
    owner: device.owner,
    version: device.version,
    updated_at: device.updatedAt,
  };
}

function fromRow(
  row: DeviceTable,
  macAddresses: string[],
  softwareComponents: SoftwareComponent[],
): Device {
  return {
    id: row.id,
    manufacturer: row.manufacturer,
    model: row.model,
    serialNumber: row.serial_number,
    udiDeviceIdentifier: row.udi_di,
    udiProductionIdentifier: row.udi_pi,
    systemId: row.system_id,
    macAddresses,
    certificateFingerprint: row.certificate_fingerprint,
    // The service writes only schema-checked values into these columns.
    state: row.state as Device['state'],
    segment: row.segment,
    classification: row.classification as Device['classification'],
    lifeSustaining: row.life_sustaining === 1,
    criticality: row.criticality as Device['criticality'],
    firmwareVersion: row.firmware_version,
    softwareComponents,
    location: row.location,
    owner: row.owner,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
