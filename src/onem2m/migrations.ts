import type { MedwardMigration } from '../core/storage/index.js';

/**
 * The resource tree of the CSE has one row per resource, with its parent as
 * a foreign key ON DELETE CASCADE, so deleting a resource deletes its subtree
 * in the same statement. Labels are kept in a separate table, so `lbl`
 * filters use an index and bound parameters.
 */
export const onem2mMigrations: MedwardMigration[] = [
  {
    name: '2026-12-04-04-onem2m-resources',
    async up(db) {
      await db.schema
        .createTable('onem2m_resource')
        .addColumn('ri', 'text', (col) => col.primaryKey())
        .addColumn('pi', 'text', (col) => col.references('onem2m_resource.ri').onDelete('cascade'))
        .addColumn('rn', 'text', (col) => col.notNull())
        // Structured resource name below the CSE (`medward/ae1/cnt1`): unique, so
        // resource names are unique per parent and a structured address resolves
        // with one index lookup.
        .addColumn('srn', 'text', (col) => col.notNull().unique())
        .addColumn('ty', 'integer', (col) => col.notNull())
        .addColumn('ct', 'text', (col) => col.notNull())
        .addColumn('lt', 'text', (col) => col.notNull())
        .addColumn('et', 'text')
        // stateTag; for a contentInstance it is the container's stateTag at its
        // creation, which orders the instances of a container.
        .addColumn('st', 'bigint', (col) => col.notNull().defaultTo(0))
        .addColumn('cni', 'bigint', (col) => col.notNull().defaultTo(0))
        .addColumn('cbs', 'bigint', (col) => col.notNull().defaultTo(0))
        .addColumn('cs', 'bigint', (col) => col.notNull().defaultTo(0))
        .addColumn('cr', 'text')
        .addColumn('attrs', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('onem2m_resource_children')
        .on('onem2m_resource')
        .columns(['pi', 'ty', 'st'])
        .execute();
      await db.schema
        .createIndex('onem2m_resource_expiry')
        .on('onem2m_resource')
        .column('et')
        .execute();
      await db.schema
        .createTable('onem2m_label')
        .addColumn('ri', 'text', (col) =>
          col.notNull().references('onem2m_resource.ri').onDelete('cascade'),
        )
        .addColumn('label', 'text', (col) => col.notNull())
        .addPrimaryKeyConstraint('onem2m_label_pk', ['ri', 'label'])
        .execute();
      await db.schema
        .createIndex('onem2m_label_label')
        .on('onem2m_label')
        .column('label')
        .execute();
    },
  },
];
