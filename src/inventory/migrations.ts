import type { MedwardMigration } from '../core/storage/index.js';

export const inventoryMigrations: MedwardMigration[] = [
  {
    name: '2026-12-04-03-inventory-device',
    async up(db) {
      await db.schema
        .createTable('device')
        .addColumn('id', 'text', (col) => col.primaryKey())
        .addColumn('manufacturer', 'text', (col) => col.notNull())
        .addColumn('model', 'text', (col) => col.notNull())
        .addColumn('serial_number', 'text', (col) => col.notNull())
        .addColumn('udi_di', 'text')
        .addColumn('udi_pi', 'text')
        .addColumn('system_id', 'text', (col) => col.unique())
        .addColumn('certificate_fingerprint', 'text')
        .addColumn('state', 'text', (col) => col.notNull())
        .addColumn('segment', 'text')
        .addColumn('classification', 'text', (col) => col.notNull())
        .addColumn('life_sustaining', 'integer', (col) => col.notNull())
        .addColumn('criticality', 'text', (col) => col.notNull())
        .addColumn('firmware_version', 'text')
        .addColumn('location', 'text')
        .addColumn('owner', 'text')
        .addColumn('version', 'integer', (col) => col.notNull())
        .addColumn('created_at', 'text', (col) => col.notNull())
        .addColumn('updated_at', 'text', (col) => col.notNull())
        .addUniqueConstraint('device_serial_unique', ['manufacturer', 'model', 'serial_number'])
        .execute();
      await db.schema
        .createIndex('device_created_at')
        .on('device')
        .columns(['created_at', 'id'])
        .execute();
      await db.schema.createIndex('device_state').on('device').column('state').execute();
      await db.schema.createIndex('device_segment').on('device').column('segment').execute();

      await db.schema
        .createTable('device_mac_address')
        .addColumn('mac_address', 'text', (col) => col.primaryKey())
        .addColumn('device_id', 'text', (col) => col.notNull().references('device.id'))
        .addColumn('position', 'integer', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('device_mac_address_device')
        .on('device_mac_address')
        .column('device_id')
        .execute();

      await db.schema
        .createTable('device_software_component')
        .addColumn('device_id', 'text', (col) => col.notNull().references('device.id'))
        .addColumn('position', 'integer', (col) => col.notNull())
        .addColumn('name', 'text', (col) => col.notNull())
        .addColumn('version', 'text', (col) => col.notNull())
        .addColumn('purl', 'text')
        .addColumn('cpe', 'text')
        .addPrimaryKeyConstraint('device_software_component_pk', ['device_id', 'position'])
        .execute();
    },
  },
];
