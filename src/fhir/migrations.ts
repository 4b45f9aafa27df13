import type { MedwardMigration } from '../core/storage/index.js';
import { withSerialKey } from '../core/storage/index.js';

/**
 * Tables of the FHIR export:
 * - fhir_device: the latest description of each agent, by EUI-64;
 * - fhir_observation: every observation received, kept for downloads;
 * - fhir_outbox: observations not yet accepted by the FHIR server. A row is
 *   deleted only when the server confirmed its entry; `parked` rows were
 *   rejected and wait for an operator.
 */
export const fhirMigrations: MedwardMigration[] = [
  {
    name: '2026-12-04-06-fhir-export',
    async up(db, dialect) {
      await db.schema
        .createTable('fhir_device')
        .addColumn('system_id', 'text', (col) => col.primaryKey())
        .addColumn('input', 'text', (col) => col.notNull())
        .addColumn('updated_at', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createTable('fhir_observation')
        .addColumn('observation_id', 'text', (col) => col.primaryKey())
        .addColumn('device_system_id', 'text', (col) => col.notNull())
        .addColumn('received_at', 'text', (col) => col.notNull())
        .addColumn('input', 'text', (col) => col.notNull())
        .addColumn('created_at', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('fhir_observation_device_received')
        .on('fhir_observation')
        .columns(['device_system_id', 'received_at'])
        .execute();
      await db.schema
        .createIndex('fhir_observation_received')
        .on('fhir_observation')
        .column('received_at')
        .execute();
      await withSerialKey(db.schema.createTable('fhir_outbox'), 'seq', dialect)
        .addColumn('observation_id', 'text', (col) => col.notNull().unique())
        .addColumn('state', 'text', (col) => col.notNull())
        .addColumn('attempts', 'integer', (col) => col.notNull())
        .addColumn('last_attempt_at', 'text')
        .addColumn('last_status', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('outcome', 'text')
        .addColumn('created_at', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('fhir_outbox_state_seq')
        .on('fhir_outbox')
        .columns(['state', 'seq'])
        .execute();
    },
  },
];
