import type { MedwardMigration } from '../core/storage/index.js';
import { withSerialKey } from '../core/storage/index.js';

/** Tables of the onboarding context; each row type is in the module that owns the table. */
export const onboardingMigrations: MedwardMigration[] = [
  {
    name: '2026-12-04-21-onboarding-ca',
    async up(db) {
      await db.schema
        .createTable('onboarding_certificate')
        .addColumn('serial_number', 'text', (col) => col.primaryKey())
        .addColumn('device_id', 'text')
        .addColumn('kind', 'text', (col) => col.notNull())
        .addColumn('fingerprint', 'text', (col) => col.notNull().unique())
        .addColumn('subject', 'text', (col) => col.notNull())
        .addColumn('not_before', 'text', (col) => col.notNull())
        .addColumn('not_after', 'text', (col) => col.notNull())
        .addColumn('issued_at', 'text', (col) => col.notNull())
        .addColumn('status', 'text', (col) => col.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('revocation_reason', 'integer')
        .addColumn('der', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('onboarding_certificate_device')
        .on('onboarding_certificate')
        .column('device_id')
        .execute();
      await db.schema
        .createIndex('onboarding_certificate_status')
        .on('onboarding_certificate')
        .columns(['status', 'not_after'])
        .execute();
      await db.schema
        .createTable('onboarding_ca_state')
        .addColumn('id', 'integer', (col) => col.primaryKey())
        .addColumn('crl_number', 'integer', (col) => col.notNull())
        .execute();
      await db.insertInto('onboarding_ca_state').values({ id: 1, crl_number: 0 }).execute();
    },
  },
  {
    name: '2026-12-04-22-onboarding-authorisation',
    async up(db) {
      await db.schema
        .createTable('onboarding_authorisation_list')
        .addColumn('list_id', 'text', (col) => col.primaryKey())
        .addColumn('version', 'integer', (col) => col.notNull())
        .addColumn('issued_at', 'text', (col) => col.notNull())
        .addColumn('expires_at', 'text', (col) => col.notNull())
        .addColumn('key_id', 'text', (col) => col.notNull())
        .addColumn('source', 'text', (col) => col.notNull())
        .addColumn('etag', 'text')
        .addColumn('envelope', 'text', (col) => col.notNull())
        .addColumn('imported_at', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createTable('onboarding_authorisation_entry')
        .addColumn('list_id', 'text', (col) => col.notNull())
        .addColumn('entry_id', 'text', (col) => col.notNull())
        .addColumn('manufacturer', 'text', (col) => col.notNull())
        .addColumn('model', 'text', (col) => col.notNull())
        .addColumn('serial_number', 'text', (col) => col.notNull())
        .addColumn('valid_from', 'text')
        .addColumn('valid_until', 'text')
        .addColumn('entry', 'text', (col) => col.notNull())
        .addPrimaryKeyConstraint('onboarding_authorisation_entry_pk', ['list_id', 'entry_id'])
        .execute();
      await db.schema
        .createIndex('onboarding_authorisation_entry_serial')
        .on('onboarding_authorisation_entry')
        .columns(['serial_number', 'manufacturer', 'model'])
        .execute();
      await db.schema
        .createTable('onboarding_revocation')
        .addColumn('manufacturer', 'text', (col) => col.notNull())
        .addColumn('model', 'text', (col) => col.notNull())
        .addColumn('serial_number', 'text', (col) => col.notNull())
        .addColumn('list_id', 'text', (col) => col.notNull())
        .addColumn('action', 'text', (col) => col.notNull())
        .addColumn('reason', 'text', (col) => col.notNull())
        .addColumn('revoked_at', 'text', (col) => col.notNull())
        .addPrimaryKeyConstraint('onboarding_revocation_pk', [
          'manufacturer',
          'model',
          'serial_number',
        ])
        .execute();
      await db.schema
        .createTable('onboarding_bootstrap_secret')
        .addColumn('secret_hash', 'text', (col) => col.primaryKey())
        .addColumn('list_id', 'text', (col) => col.notNull())
        .addColumn('entry_id', 'text', (col) => col.notNull())
        .addColumn('serial_number', 'text', (col) => col.notNull())
        .addColumn('issued_at', 'text', (col) => col.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('consumed_at', 'text')
        .addColumn('consumed_by', 'text')
        .execute();
      await db.schema
        .createIndex('onboarding_bootstrap_secret_entry')
        .on('onboarding_bootstrap_secret')
        .columns(['list_id', 'entry_id'])
        .execute();
    },
  },
  {
    name: '2026-12-04-23-onboarding-sightings',
    async up(db) {
      await db.schema
        .createTable('onboarding_sighting')
        .addColumn('id', 'text', (col) => col.primaryKey())
        .addColumn('identity_key', 'text', (col) => col.notNull().unique())
        .addColumn('manufacturer', 'text')
        .addColumn('model', 'text')
        .addColumn('serial_number', 'text')
        .addColumn('certificate_fingerprint', 'text')
        .addColumn('certificate_der', 'text')
        .addColumn('source_address', 'text')
        .addColumn('reason', 'text', (col) => col.notNull())
        .addColumn('first_seen_at', 'text', (col) => col.notNull())
        .addColumn('last_seen_at', 'text', (col) => col.notNull())
        .addColumn('times_seen', 'integer', (col) => col.notNull())
        .addColumn('status', 'text', (col) => col.notNull())
        .addColumn('decided_by', 'text')
        .addColumn('decided_at', 'text')
        .execute();
      await db.schema
        .createIndex('onboarding_sighting_status')
        .on('onboarding_sighting')
        .columns(['status', 'last_seen_at'])
        .execute();
    },
  },
  {
    name: '2026-12-04-24-onboarding-configuration',
    async up(db, dialect) {
      await db.schema
        .createTable('onboarding_configuration')
        .addColumn('device_id', 'text', (col) => col.notNull())
        .addColumn('version', 'integer', (col) => col.notNull())
        .addColumn('configuration', 'text', (col) => col.notNull())
        .addColumn('configuration_sha256', 'text', (col) => col.notNull())
        .addColumn('previous_sha256', 'text')
        .addColumn('firmware_version', 'text')
        .addColumn('firmware_sha256', 'text')
        .addColumn('changed_by_kind', 'text', (col) => col.notNull())
        .addColumn('changed_by_id', 'text', (col) => col.notNull())
        .addColumn('cause', 'text', (col) => col.notNull())
        .addColumn('reason', 'text', (col) => col.notNull())
        .addColumn('jws', 'text', (col) => col.notNull())
        .addColumn('created_at', 'text', (col) => col.notNull())
        .addPrimaryKeyConstraint('onboarding_configuration_pk', ['device_id', 'version'])
        .execute();
      await db.schema
        .createTable('onboarding_registration')
        .addColumn('device_id', 'text', (col) => col.primaryKey())
        .addColumn('fact_sheet', 'text', (col) => col.notNull())
        .addColumn('sbom_summary', 'text')
        .addColumn('registered_at', 'text', (col) => col.notNull())
        .execute();
      await withSerialKey(db.schema.createTable('onboarding_drift_finding'), 'id', dialect)
        .addColumn('device_id', 'text', (col) => col.notNull())
        .addColumn('kind', 'text', (col) => col.notNull())
        .addColumn('expected', 'text')
        .addColumn('reported', 'text', (col) => col.notNull())
        .addColumn('configuration_version', 'integer')
        .addColumn('detected_at', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('onboarding_drift_finding_device')
        .on('onboarding_drift_finding')
        .column('device_id')
        .execute();
    },
  },
];
