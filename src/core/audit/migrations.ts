import { sql } from 'kysely';
import type { MedwardMigration } from '../storage/migrator.js';
import { GENESIS_HASH } from './types.js';

/**
 * The audit table is append-only in the database itself: triggers reject
 * UPDATE and DELETE (and TRUNCATE on PostgreSQL), so changing history needs
 * the privilege to drop a trigger. The hash chain then shows the change.
 */
export const auditMigrations: MedwardMigration[] = [
  {
    name: '2026-12-04-01-audit-trail',
    async up(db, dialect) {
      await db.schema
        .createTable('audit_event')
        .addColumn('seq', 'bigint', (col) => col.primaryKey())
        .addColumn('id', 'text', (col) => col.notNull().unique())
        .addColumn('recorded_at', 'text', (col) => col.notNull())
        .addColumn('site_id', 'text', (col) => col.notNull())
        .addColumn('event', 'text', (col) => col.notNull())
        .addColumn('action', 'text', (col) => col.notNull())
        .addColumn('outcome', 'text', (col) => col.notNull())
        .addColumn('actor_kind', 'text', (col) => col.notNull())
        .addColumn('actor_id', 'text', (col) => col.notNull())
        .addColumn('actor_display', 'text')
        .addColumn('target_kind', 'text')
        .addColumn('target_id', 'text')
        .addColumn('reason', 'text')
        .addColumn('correlation_id', 'text', (col) => col.notNull())
        .addColumn('source_address', 'text')
        .addColumn('details', 'text', (col) => col.notNull())
        .addColumn('prev_hash', 'text', (col) => col.notNull())
        .addColumn('hash', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('audit_event_target')
        .on('audit_event')
        .columns(['target_kind', 'target_id'])
        .execute();
      await db.schema
        .createIndex('audit_event_recorded_at')
        .on('audit_event')
        .column('recorded_at')
        .execute();
      await db.schema
        .createTable('audit_head')
        .addColumn('id', 'integer', (col) => col.primaryKey())
        .addColumn('seq', 'bigint', (col) => col.notNull())
        .addColumn('hash', 'text', (col) => col.notNull())
        .execute();
      await db.insertInto('audit_head').values({ id: 1, seq: 0, hash: GENESIS_HASH }).execute();

      if (dialect === 'sqlite') {
        await sql`CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
          BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END`.execute(db);
        await sql`CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
          BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END`.execute(db);
      } else {
        await sql`CREATE FUNCTION medward_audit_append_only() RETURNS trigger AS $$
          BEGIN RAISE EXCEPTION 'audit_event is append-only'; END; $$ LANGUAGE plpgsql`.execute(db);
        await sql`CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event
          FOR EACH ROW EXECUTE FUNCTION medward_audit_append_only()`.execute(db);
        await sql`CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
          FOR EACH STATEMENT EXECUTE FUNCTION medward_audit_append_only()`.execute(db);
      }
    },
  },
];
