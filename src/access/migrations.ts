import type { MedwardMigration } from '../core/storage/index.js';

export const accessMigrations: MedwardMigration[] = [
  {
    name: '2026-12-04-02-access-api-token',
    async up(db) {
      await db.schema
        .createTable('api_token')
        .addColumn('id', 'text', (col) => col.primaryKey())
        .addColumn('label', 'text', (col) => col.notNull())
        .addColumn('roles', 'text', (col) => col.notNull())
        .addColumn('secret_sha256', 'text', (col) => col.notNull())
        .addColumn('created_at', 'text', (col) => col.notNull())
        .addColumn('created_by', 'text', (col) => col.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('revoked_at', 'text')
        .addColumn('revoked_by', 'text')
        .addColumn('last_used_at', 'text')
        .execute();
      await db.schema
        .createIndex('api_token_created_at')
        .on('api_token')
        .columns(['created_at', 'id'])
        .execute();
    },
  },
];
