/**
 * Tables of the IEEE 11073 context. Times are milliseconds since the Unix
 * epoch (UTC) in bigint columns, so range queries compare integers.
 */
import { sql } from 'kysely';
import type { MedwardMigration } from '../../core/storage/index.js';

export interface ObservationTable {
  id: string;
  device_system_id: string;
  association_id: string;
  handle: number;
  person_id: number | null;
  /** numeric, compound, enumeration or sample-array. */
  kind: string;
  type_code: number;
  unit_code: number | null;
  unit_ucum: string | null;
  /** Decimal text of a numeric value (special values by name). */
  value_decimal: string | null;
  /** Nearest number of a numeric value; null for special values and other kinds. */
  value_number: number | null;
  /** JSON of the value of the other kinds, and of a numeric value's special kind. */
  value_json: string | null;
  measurement_status: number | null;
  /** JSON array of full MDC codes. */
  supplemental_types: string | null;
  clock_type: string;
  device_time: string | null;
  gateway_time_ms: number;
  /** 1 when the gateway time used a measured device clock offset. */
  offset_applied: number;
  received_at_ms: number;
}

export interface AssociationTable {
  id: string;
  system_id: string;
  dev_config_id: number;
  connection_id: string;
  transport: string;
  remote_address: string;
  started_at_ms: number;
  ended_at_ms: number | null;
  end_reason: string | null;
  manufacturer: string | null;
  model_number: string | null;
  /** JSON of the MDS attributes read after association (production spec, certifications, time info). */
  mds_json: string | null;
  absolute_offset_ms: number | null;
  relative_epoch_ms: number | null;
  /** 1 when the manager set the agent's clock. */
  time_set: number;
  /**
   * EUI-64 of the manager that accepted the association, as hex; null on rows
   * written before the column existed.
   */
  manager_system_id: string | null;
}

export interface ConfigurationTable {
  system_id: string;
  dev_config_id: number;
  /** The accepted configuration report as MDER hex, inside a PRST APDU that decodeApdu reads back. */
  config_report: string;
  object_count: number;
  accepted_at_ms: number;
}

/**
 * How far the entries of one PM-segment of a device are stored. The manager
 * does not clear segments by default, so every association transfers them
 * again. It stores only the entries from `entries_stored` on, as long as
 * the segment still starts with the entry whose SHA-256 is recorded.
 */
export interface PmSegmentTransferTable {
  system_id: string;
  pm_store_handle: number;
  segment_instance: number;
  /** SHA-256 (hex) of the bytes of the segment's entry 0. */
  first_entry_sha256: string;
  /** Entries 0 to entries_stored - 1 are stored or were skipped as malformed. */
  entries_stored: number;
  updated_at_ms: number;
}

export type Ieee11073Tables = {
  ieee11073_observation: ObservationTable;
  ieee11073_association: AssociationTable;
  ieee11073_configuration: ConfigurationTable;
  ieee11073_pm_segment_transfer: PmSegmentTransferTable;
};

export const ieee11073Migrations: readonly MedwardMigration[] = [
  {
    name: '2026-12-04-05-ieee11073-manager',
    async up(db, dialect) {
      // On SQLite the observation table is clustered by its time-ordered id
      // (WITHOUT ROWID), which saves the separate rowid B-tree on every insert.
      await db.schema
        .createTable('ieee11073_observation')
        .addColumn('id', 'text', (col) => col.primaryKey())
        .addColumn('device_system_id', 'text', (col) => col.notNull())
        .addColumn('association_id', 'text', (col) => col.notNull())
        .addColumn('handle', 'integer', (col) => col.notNull())
        .addColumn('person_id', 'integer')
        .addColumn('kind', 'text', (col) => col.notNull())
        .addColumn('type_code', 'bigint', (col) => col.notNull())
        .addColumn('unit_code', 'bigint')
        .addColumn('unit_ucum', 'text')
        .addColumn('value_decimal', 'text')
        .addColumn('value_number', 'double precision')
        .addColumn('value_json', 'text')
        .addColumn('measurement_status', 'integer')
        .addColumn('supplemental_types', 'text')
        .addColumn('clock_type', 'text', (col) => col.notNull())
        .addColumn('device_time', 'text')
        .addColumn('gateway_time_ms', 'bigint', (col) => col.notNull())
        .addColumn('offset_applied', 'integer', (col) => col.notNull())
        .addColumn('received_at_ms', 'bigint', (col) => col.notNull())
        .$call((builder) =>
          dialect === 'sqlite' ? builder.modifyEnd(sql`without rowid`) : builder,
        )
        .execute();
      await db.schema
        .createIndex('ieee11073_observation_device_time')
        .on('ieee11073_observation')
        .columns(['device_system_id', 'gateway_time_ms', 'id'])
        .execute();

      await db.schema
        .createTable('ieee11073_association')
        .addColumn('id', 'text', (col) => col.primaryKey())
        .addColumn('system_id', 'text', (col) => col.notNull())
        .addColumn('dev_config_id', 'integer', (col) => col.notNull())
        .addColumn('connection_id', 'text', (col) => col.notNull())
        .addColumn('transport', 'text', (col) => col.notNull())
        .addColumn('remote_address', 'text', (col) => col.notNull())
        .addColumn('started_at_ms', 'bigint', (col) => col.notNull())
        .addColumn('ended_at_ms', 'bigint')
        .addColumn('end_reason', 'text')
        .addColumn('manufacturer', 'text')
        .addColumn('model_number', 'text')
        .addColumn('mds_json', 'text')
        .addColumn('absolute_offset_ms', 'bigint')
        .addColumn('relative_epoch_ms', 'bigint')
        .addColumn('time_set', 'integer', (col) => col.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex('ieee11073_association_system')
        .on('ieee11073_association')
        .columns(['system_id', 'started_at_ms'])
        .execute();

      await db.schema
        .createTable('ieee11073_configuration')
        .addColumn('system_id', 'text', (col) => col.notNull())
        .addColumn('dev_config_id', 'integer', (col) => col.notNull())
        .addColumn('config_report', 'text', (col) => col.notNull())
        .addColumn('object_count', 'integer', (col) => col.notNull())
        .addColumn('accepted_at_ms', 'bigint', (col) => col.notNull())
        .addPrimaryKeyConstraint('ieee11073_configuration_pk', ['system_id', 'dev_config_id'])
        .execute();
    },
  },
  {
    // A manager that restarts after a crash closes the associations it left
    // open, and only its own: several managers may share one database.
    name: '2026-12-04-30-ieee11073-association-manager',
    async up(db) {
      await db.schema
        .alterTable('ieee11073_association')
        .addColumn('manager_system_id', 'text')
        .execute();
      await db.schema
        .createIndex('ieee11073_association_open')
        .on('ieee11073_association')
        .columns(['manager_system_id', 'ended_at_ms'])
        .execute();
    },
  },
  {
    name: '2026-12-04-31-ieee11073-pm-segment-transfer',
    async up(db) {
      await db.schema
        .createTable('ieee11073_pm_segment_transfer')
        .addColumn('system_id', 'text', (col) => col.notNull())
        .addColumn('pm_store_handle', 'integer', (col) => col.notNull())
        .addColumn('segment_instance', 'integer', (col) => col.notNull())
        .addColumn('first_entry_sha256', 'text', (col) => col.notNull())
        .addColumn('entries_stored', 'bigint', (col) => col.notNull())
        .addColumn('updated_at_ms', 'bigint', (col) => col.notNull())
        .addPrimaryKeyConstraint('ieee11073_pm_segment_transfer_pk', [
          'system_id',
          'pm_store_handle',
          'segment_instance',
        ])
        .execute();
    },
  },
];
