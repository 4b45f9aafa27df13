/**
 * Storage of observations, associations and accepted device configurations
 * of the IEEE 11073 context, on SQLite and PostgreSQL.
 */
import type SqliteDatabase from 'better-sqlite3';
import type { Kysely } from 'kysely';
import { invalid } from '../../core/errors.js';
import { translateDatabaseError, type Storage } from '../../core/storage/index.js';
import type { ConfigReportInfo } from '../apdu.js';
import { decodeApdu } from '../decode.js';
import { encodeApdu } from '../encode.js';
import { referenceIdOf } from '../nomenclature.js';
import { MdcObject } from '../nomenclature-table.js';
import { configurationFromReport, type Configuration } from '../scan-report.js';
import { parseIsoTime } from './iso-time.js';
import { yieldToEventLoop } from './yield.js';
import type { ClockType, CompoundComponent, Observation, ObservationValue, Unit } from './model.js';
import type {
  AssociationTable,
  ConfigurationTable,
  Ieee11073Tables,
  ObservationTable,
  PmSegmentTransferTable,
} from './tables.js';

/** The database or an open transaction on it, with any tables; writers narrow it with `withTables`. */
export type Ieee11073Executor = Kysely<object>;

/**
 * Rows per INSERT statement: 19 columns make 9,500 parameters, below SQLite's
 * limit of 32,766 and PostgreSQL's of 65,535 bind parameters.
 */
const INSERT_CHUNK_ROWS = 500;

/** Rows inserted on SQLite before the event loop gets a turn, about 5 ms of work. */
const SQLITE_CHUNK_ROWS = 250;

export interface ObservationQuery {
  /** EUI-64 system id of the device, 16 hex digits. */
  deviceSystemId: string;
  /** Earliest gateway time included (ISO 8601 or Date). */
  from?: string | Date;
  /** Gateway time before which the page ends (exclusive). */
  to?: string | Date;
  /** Observations per page, 1 to 1000; default 100. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface ObservationPage {
  /** Observations in gateway time order, oldest first. */
  observations: Observation[];
  /** Pass as `cursor` to read the next page; absent on the last page. */
  nextCursor?: string;
}

const SYSTEM_ID = /^[0-9a-f]{16}$/;

/** Columns of ieee11073_observation in the order of `observationValues`. */
const OBSERVATION_COLUMNS = [
  'id',
  'device_system_id',
  'association_id',
  'handle',
  'person_id',
  'kind',
  'type_code',
  'unit_code',
  'unit_ucum',
  'value_decimal',
  'value_number',
  'value_json',
  'measurement_status',
  'supplemental_types',
  'clock_type',
  'device_time',
  'gateway_time_ms',
  'offset_applied',
  'received_at_ms',
] as const satisfies readonly (keyof ObservationTable)[];

const OBSERVATION_INSERT_TARGET = `ieee11073_observation (${OBSERVATION_COLUMNS.join(', ')})`;

/** INSERT of observation rows without its VALUES clause. */
export const INSERT_OBSERVATION_PREFIX = `INSERT INTO ${OBSERVATION_INSERT_TARGET}`;

/**
 * INSERT of observation rows, without its VALUES clause, that rolls back the
 * whole transaction when a row violates a constraint. A multi-row INSERT
 * that aborts only itself makes SQLite keep a statement journal of every page
 * it changes. The observation writer thread retries a failed transaction
 * request by request anyway, so it uses this form and saves the journal.
 */
export const INSERT_OBSERVATION_OR_ROLLBACK_PREFIX = `INSERT OR ROLLBACK INTO ${OBSERVATION_INSERT_TARGET}`;

const INSERT_OBSERVATION_SQL = `${INSERT_OBSERVATION_PREFIX} VALUES (${OBSERVATION_COLUMNS.map(() => '?').join(', ')})`;

export const OBSERVATION_COLUMN_COUNT = OBSERVATION_COLUMNS.length;

const insertStatements = new WeakMap<SqliteDatabase.Database, SqliteDatabase.Statement>();

/**
 * Appends the values of an observation's row to `target` in
 * `OBSERVATION_COLUMNS` order, without an intermediate row object.
 */
export function appendObservationValues(target: unknown[], observation: Observation): void {
  const value = observation.value;
  let valueDecimal: string | null = null;
  let valueNumber: number | null = null;
  let valueJson: string | null;
  if (value.kind === 'numeric') {
    valueDecimal = value.decimal;
    valueNumber = value.number;
    valueJson = value.special === undefined ? null : JSON.stringify({ special: value.special });
  } else {
    valueJson = nonNumericValueJson(value);
  }
  const unit = observation.unit;
  const timestamp = observation.timestamp;
  target.push(
    observation.id,
    observation.deviceSystemId,
    observation.associationId,
    observation.handle,
    observation.personId ?? null,
    value.kind,
    observation.type,
    unit?.code ?? null,
    unit?.ucum ?? null,
    valueDecimal,
    valueNumber,
    valueJson,
    observation.measurementStatus ?? null,
    observation.supplementalTypes === undefined
      ? null
      : JSON.stringify(observation.supplementalTypes),
    timestamp.clock,
    timestamp.deviceTime ?? null,
    parseIsoTime(timestamp.gatewayTime),
    timestamp.offsetApplied ? 1 : 0,
    parseIsoTime(observation.receivedAt),
  );
}

/** Returns the values of an observation's row in `OBSERVATION_COLUMNS` order. */
function observationValues(observation: Observation): unknown[] {
  const values: unknown[] = [];
  appendObservationValues(values, observation);
  return values;
}

function jsonNumber(value: number | null): string {
  return value === null || !Number.isFinite(value) ? 'null' : String(value);
}

/** JSON of shared unit objects (see `unitOf` in from-20601.ts), which many observations carry. */
const unitJsonCache = new WeakMap<Unit, string>();

function unitJson(unit: Unit): string {
  let json = unitJsonCache.get(unit);
  if (json === undefined) {
    json = JSON.stringify({ code: unit.code, ucum: unit.ucum });
    unitJsonCache.set(unit, json);
  }
  return json;
}

/**
 * Returns what `JSON.stringify({ components })` returns for components built
 * by from-20601.ts; components with their keys in another order get the same
 * values in this order. Blood pressure monitors send a compound value with
 * each reading, and for three components this takes about 0.85 µs where
 * JSON.stringify takes 1.3 µs (Node.js 20).
 */
function compoundValueJson(components: readonly CompoundComponent[]): string {
  let json = '{"components":[';
  for (let index = 0; index < components.length; index += 1) {
    const component = components[index];
    if (component === undefined) {
      continue;
    }
    json += index === 0 ? '{"decimal":' : ',{"decimal":';
    json += JSON.stringify(component.decimal) + ',"number":' + jsonNumber(component.number);
    if (component.special !== undefined) {
      json += ',"special":' + JSON.stringify(component.special);
    }
    if (component.code !== undefined) {
      json += ',"code":' + jsonNumber(component.code);
    }
    if (component.unit !== undefined) {
      json += ',"unit":' + unitJson(component.unit);
    }
    if (component.measurementStatus !== undefined) {
      json += ',"measurementStatus":' + jsonNumber(component.measurementStatus);
    }
    json += '}';
  }
  return json + ']}';
}

function nonNumericValueJson(value: ObservationValue): string {
  if (value.kind === 'compound') {
    return compoundValueJson(value.components);
  }
  // A rest pattern, unlike `delete`, leaves the copy a fast-properties object.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { kind, ...rest } = value;
  return JSON.stringify(rest);
}

function valueColumns(
  value: ObservationValue,
): Pick<ObservationTable, 'value_decimal' | 'value_number' | 'value_json'> {
  if (value.kind === 'numeric') {
    return {
      value_decimal: value.decimal,
      value_number: value.number,
      value_json: value.special === undefined ? null : JSON.stringify({ special: value.special }),
    };
  }
  return { value_decimal: null, value_number: null, value_json: nonNumericValueJson(value) };
}

/** Returns the row of an observation. */
export function observationRow(observation: Observation): ObservationTable {
  return {
    id: observation.id,
    device_system_id: observation.deviceSystemId,
    association_id: observation.associationId,
    handle: observation.handle,
    person_id: observation.personId ?? null,
    kind: observation.value.kind,
    type_code: observation.type,
    unit_code: observation.unit?.code ?? null,
    unit_ucum: observation.unit?.ucum ?? null,
    ...valueColumns(observation.value),
    measurement_status: observation.measurementStatus ?? null,
    supplemental_types:
      observation.supplementalTypes === undefined
        ? null
        : JSON.stringify(observation.supplementalTypes),
    clock_type: observation.timestamp.clock,
    device_time: observation.timestamp.deviceTime ?? null,
    gateway_time_ms: parseIsoTime(observation.timestamp.gatewayTime),
    offset_applied: observation.timestamp.offsetApplied ? 1 : 0,
    received_at_ms: parseIsoTime(observation.receivedAt),
  };
}

function valueOfRow(row: ObservationTable): ObservationValue {
  if (row.kind === 'numeric') {
    const extra =
      row.value_json === null ? {} : (JSON.parse(row.value_json) as { special?: string });
    const value: ObservationValue = {
      kind: 'numeric',
      decimal: row.value_decimal ?? '',
      number: row.value_number,
    };
    if (extra.special !== undefined) {
      value.special = extra.special;
    }
    return value;
  }
  const rest = JSON.parse(row.value_json ?? '{}') as object;
  return { kind: row.kind, ...rest } as ObservationValue;
}

/** Returns the observation a row stores. */
export function observationOfRow(row: ObservationTable): Observation {
  const observation: Observation = {
    id: row.id,
    deviceSystemId: row.device_system_id,
    associationId: row.association_id,
    handle: row.handle,
    type: row.type_code,
    value: valueOfRow(row),
    timestamp: {
      clock: row.clock_type as ClockType,
      gatewayTime: new Date(row.gateway_time_ms).toISOString(),
      offsetApplied: row.offset_applied === 1,
    },
    receivedAt: new Date(row.received_at_ms).toISOString(),
  };
  const referenceId = referenceIdOf(row.type_code);
  if (referenceId !== undefined) {
    observation.typeReferenceId = referenceId;
  }
  if (row.device_time !== null) {
    observation.timestamp.deviceTime = row.device_time;
  }
  if (row.person_id !== null) {
    observation.personId = row.person_id;
  }
  if (row.unit_code !== null) {
    observation.unit =
      row.unit_ucum === null
        ? { code: row.unit_code }
        : { code: row.unit_code, ucum: row.unit_ucum };
  }
  if (row.measurement_status !== null) {
    observation.measurementStatus = row.measurement_status;
  }
  if (row.supplemental_types !== null) {
    observation.supplementalTypes = JSON.parse(row.supplemental_types) as number[];
  }
  return observation;
}

function insertWithStatement(
  sqlite: SqliteDatabase.Database,
  observations: readonly Observation[],
): void {
  let statement = insertStatements.get(sqlite);
  try {
    if (statement === undefined) {
      statement = sqlite.prepare(INSERT_OBSERVATION_SQL);
      insertStatements.set(sqlite, statement);
    }
    for (const observation of observations) {
      statement.run(observationValues(observation));
    }
  } catch (error) {
    throw translateDatabaseError(error);
  }
}

interface Cursor {
  t: number;
  id: string;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    typeof parsed === 'object' &&
    parsed !== null &&
    'id' in parsed &&
    't' in parsed &&
    typeof parsed.t === 'number' &&
    typeof parsed.id === 'string'
  ) {
    return { t: parsed.t, id: parsed.id };
  }
  throw invalid(
    'IEEE11073_CURSOR_INVALID',
    'cursor is not a nextCursor of a previous observation page; omit it to start from the first page',
    { cursor: text },
  );
}

function timeBound(value: string | Date | undefined, name: string): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (!Number.isFinite(ms)) {
    throw invalid(
      'IEEE11073_QUERY_INVALID',
      `${name} ${String(value)} is not a time; use ISO 8601 such as 2026-01-31T12:00:00Z`,
      { [name]: String(value) },
    );
  }
  return ms;
}

/** Reads and writes the IEEE 11073 tables. */
export class Ieee11073Repository {
  readonly db: Kysely<Ieee11073Tables>;

  constructor(private readonly storage: Storage) {
    this.db = storage.db.withTables<Ieee11073Tables>();
  }

  /**
   * Inserts observations inside `executor`, which must be a transaction of
   * this repository's storage. On PostgreSQL, in statements of at most 500
   * rows. On SQLite, through one cached prepared statement on the
   * connection itself: Kysely's SQLite driver has a single connection, which
   * the open transaction holds, so the statement runs inside that
   * transaction, without Kysely compiling and SQLite preparing a large INSERT
   * for every batch.
   */
  async insertObservations(
    executor: Ieee11073Executor,
    observations: readonly Observation[],
  ): Promise<void> {
    if (observations.length === 0) {
      return;
    }
    const sqlite = this.storage.dialect === 'sqlite' ? this.storage.sqliteHandle : undefined;
    if (sqlite !== undefined) {
      for (let start = 0; start < observations.length; start += SQLITE_CHUNK_ROWS) {
        if (start > 0) {
          // Between chunks, sockets and timers run; see yieldToEventLoop.
          await yieldToEventLoop();
        }
        insertWithStatement(sqlite, observations.slice(start, start + SQLITE_CHUNK_ROWS));
      }
      return;
    }
    for (let start = 0; start < observations.length; start += INSERT_CHUNK_ROWS) {
      const rows = observations.slice(start, start + INSERT_CHUNK_ROWS).map(observationRow);
      await executor
        .withTables<Ieee11073Tables>()
        .insertInto('ieee11073_observation')
        .values(rows)
        .execute();
    }
  }

  /**
   * Returns one page of a device's observations in gateway time order. Throws
   * IEEE11073_QUERY_INVALID for a malformed system id, time or limit and
   * IEEE11073_CURSOR_INVALID for a cursor that no page returned.
   */
  async listObservations(query: ObservationQuery): Promise<ObservationPage> {
    const deviceSystemId = query.deviceSystemId.toLowerCase();
    if (!SYSTEM_ID.test(deviceSystemId)) {
      throw invalid(
        'IEEE11073_QUERY_INVALID',
        `deviceSystemId ${query.deviceSystemId} is not an EUI-64; use 16 hex digits`,
        { deviceSystemId: query.deviceSystemId },
      );
    }
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw invalid('IEEE11073_QUERY_INVALID', `limit ${limit} must be an integer from 1 to 1000`, {
        limit,
      });
    }
    const from = timeBound(query.from, 'from');
    const to = timeBound(query.to, 'to');
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    let select = this.db
      .selectFrom('ieee11073_observation')
      .selectAll()
      .where('device_system_id', '=', deviceSystemId);
    if (from !== undefined) {
      select = select.where('gateway_time_ms', '>=', from);
    }
    if (to !== undefined) {
      select = select.where('gateway_time_ms', '<', to);
    }
    if (cursor !== undefined) {
      select = select.where((eb) =>
        eb.or([
          eb('gateway_time_ms', '>', cursor.t),
          eb.and([eb('gateway_time_ms', '=', cursor.t), eb('id', '>', cursor.id)]),
        ]),
      );
    }
    const rows = await select
      .orderBy('gateway_time_ms')
      .orderBy('id')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const result: ObservationPage = { observations: page.map(observationOfRow) };
    if (rows.length > limit && last !== undefined) {
      result.nextCursor = encodeCursor({ t: last.gateway_time_ms, id: last.id });
    }
    return result;
  }

  /** Counts a device's stored observations. */
  async countObservations(deviceSystemId: string): Promise<number> {
    const row = await this.db
      .selectFrom('ieee11073_observation')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('device_system_id', '=', deviceSystemId.toLowerCase())
      .executeTakeFirstOrThrow();
    return row.count;
  }

  async insertAssociation(executor: Ieee11073Executor, row: AssociationTable): Promise<void> {
    await executor
      .withTables<Ieee11073Tables>()
      .insertInto('ieee11073_association')
      .values(row)
      .execute();
  }

  async updateAssociation(
    executor: Ieee11073Executor,
    id: string,
    patch: Partial<Omit<AssociationTable, 'id'>>,
  ): Promise<void> {
    await executor
      .withTables<Ieee11073Tables>()
      .updateTable('ieee11073_association')
      .set(patch)
      .where('id', '=', id)
      .execute();
  }

  /**
   * Returns the associations of manager `managerSystemId` that have not
   * ended, oldest first, locking them inside `executor` on PostgreSQL. Rows
   * written before associations named their manager count as its own.
   */
  async listOpenAssociations(
    executor: Ieee11073Executor,
    managerSystemId: string,
  ): Promise<AssociationTable[]> {
    return executor
      .withTables<Ieee11073Tables>()
      .selectFrom('ieee11073_association')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb('manager_system_id', '=', managerSystemId),
          eb('manager_system_id', 'is', null),
        ]),
      )
      .where('ended_at_ms', 'is', null)
      .orderBy('started_at_ms')
      .orderBy('id')
      .$call((query) => (this.storage.dialect === 'postgres' ? query.forUpdate() : query))
      .execute();
  }

  async getAssociation(id: string): Promise<AssociationTable | undefined> {
    return this.db
      .selectFrom('ieee11073_association')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** Stores an accepted extended configuration, replacing an earlier one of the same ids. */
  async saveConfiguration(
    executor: Ieee11073Executor,
    systemId: string,
    report: ConfigReportInfo,
    acceptedAtMs: number,
  ): Promise<void> {
    const bytes = encodeApdu({
      kind: 'prst',
      data: {
        invokeId: 0,
        message: {
          kind: 'roiv-confirmed-event-report',
          objHandle: 0,
          eventTime: 0,
          eventType: MdcObject.MDC_NOTI_CONFIG,
          eventInfo: report,
        },
      },
    });
    const row: ConfigurationTable = {
      system_id: systemId,
      dev_config_id: report.configReportId,
      config_report: Buffer.from(bytes).toString('hex'),
      object_count: report.configObjList.length,
      accepted_at_ms: acceptedAtMs,
    };
    await executor
      .withTables<Ieee11073Tables>()
      .insertInto('ieee11073_configuration')
      .values(row)
      .onConflict((conflict) =>
        conflict.columns(['system_id', 'dev_config_id']).doUpdateSet({
          config_report: row.config_report,
          object_count: row.object_count,
          accepted_at_ms: row.accepted_at_ms,
        }),
      )
      .execute();
  }

  /** Returns how far a device's PM-segment is stored, or undefined before its first transfer. */
  async loadSegmentTransfer(
    systemId: string,
    pmStoreHandle: number,
    segmentInstance: number,
  ): Promise<PmSegmentTransferTable | undefined> {
    return this.db
      .selectFrom('ieee11073_pm_segment_transfer')
      .selectAll()
      .where('system_id', '=', systemId)
      .where('pm_store_handle', '=', pmStoreHandle)
      .where('segment_instance', '=', segmentInstance)
      .executeTakeFirst();
  }

  /** Records how far a device's PM-segment is stored, replacing the earlier record. */
  async saveSegmentTransfer(
    executor: Ieee11073Executor,
    row: PmSegmentTransferTable,
  ): Promise<void> {
    await executor
      .withTables<Ieee11073Tables>()
      .insertInto('ieee11073_pm_segment_transfer')
      .values(row)
      .onConflict((conflict) =>
        conflict.columns(['system_id', 'pm_store_handle', 'segment_instance']).doUpdateSet({
          first_entry_sha256: row.first_entry_sha256,
          entries_stored: row.entries_stored,
          updated_at_ms: row.updated_at_ms,
        }),
      )
      .execute();
  }

  /**
   * Returns the configuration accepted earlier for a device and dev-config-id,
   * or undefined when none is stored or the stored report no longer decodes.
   */
  async loadConfiguration(
    systemId: string,
    devConfigId: number,
  ): Promise<Configuration | undefined> {
    const row = await this.db
      .selectFrom('ieee11073_configuration')
      .select('config_report')
      .where('system_id', '=', systemId)
      .where('dev_config_id', '=', devConfigId)
      .executeTakeFirst();
    if (row === undefined) {
      return undefined;
    }
    const { apdu } = decodeApdu(new Uint8Array(Buffer.from(row.config_report, 'hex')));
    if (
      apdu.kind === 'prst' &&
      apdu.data.message.kind === 'roiv-confirmed-event-report' &&
      apdu.data.message.eventInfo.kind === 'config-report'
    ) {
      return configurationFromReport(apdu.data.message.eventInfo);
    }
    return undefined;
  }
}
