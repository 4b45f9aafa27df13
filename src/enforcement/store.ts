import type { Kysely } from 'kysely';
import type { Executor } from '../core/audit/index.js';
import type { MedwardMigration, Storage } from '../core/storage/index.js';
import type { Actor } from '../core/context.js';
import type {
  DeviceEnforcement,
  EnforcedDevice,
  EnforcementDecision,
  SegmentKind,
} from './types.js';

export interface EnforcementDeviceTable {
  device_id: string;
  device: string;
  segment_kind: string;
  segment_name: string;
  decision_id: string;
  reason: string;
  cause_kind: string;
  cause_id: string;
  actor: string;
  applied_at: string;
  /** `in-force`, or `failed` while the decided segment could not be put in force. */
  status: string;
}

export interface EnforcementPendingTable {
  decision_id: string;
  device_id: string;
  decision: string;
  requested_at: string;
}

// A type alias, not an interface: Kysely's withTables needs an index-compatible type.
export type EnforcementTables = {
  enforcement_device: EnforcementDeviceTable;
  enforcement_pending: EnforcementPendingTable;
};

export const enforcementMigrations: MedwardMigration[] = [
  {
    name: '2026-12-04-07-enforcement',
    async up(db) {
      await db.schema
        .createTable('enforcement_device')
        .addColumn('device_id', 'text', (col) => col.primaryKey())
        .addColumn('device', 'text', (col) => col.notNull())
        .addColumn('segment_kind', 'text', (col) => col.notNull())
        .addColumn('segment_name', 'text', (col) => col.notNull())
        .addColumn('decision_id', 'text', (col) => col.notNull())
        .addColumn('reason', 'text', (col) => col.notNull())
        .addColumn('cause_kind', 'text', (col) => col.notNull())
        .addColumn('cause_id', 'text', (col) => col.notNull())
        .addColumn('actor', 'text', (col) => col.notNull())
        .addColumn('applied_at', 'text', (col) => col.notNull())
        .addColumn('status', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createTable('enforcement_pending')
        .addColumn('decision_id', 'text', (col) => col.primaryKey())
        .addColumn('device_id', 'text', (col) => col.notNull())
        .addColumn('decision', 'text', (col) => col.notNull())
        .addColumn('requested_at', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('enforcement_pending_device')
        .on('enforcement_pending')
        .column('device_id')
        .execute();
    },
  },
];

export interface StoredEnforcement extends DeviceEnforcement {
  status: 'in-force' | 'failed';
}

/** Reads and writes enforcement state; writes take the caller's transaction. */
export class EnforcementStore {
  readonly db: Kysely<EnforcementTables>;

  constructor(storage: Storage) {
    this.db = storage.db.withTables<EnforcementTables>();
  }

  async save(
    executor: Executor<object>,
    enforcement: DeviceEnforcement,
    status: 'in-force' | 'failed',
  ): Promise<void> {
    const row: EnforcementDeviceTable = {
      device_id: enforcement.device.id,
      device: JSON.stringify(enforcement.device),
      segment_kind: enforcement.segment,
      segment_name: enforcement.segmentName,
      decision_id: enforcement.decisionId,
      reason: enforcement.reason,
      cause_kind: enforcement.cause.kind,
      cause_id: enforcement.cause.id,
      actor: JSON.stringify(enforcement.actor),
      applied_at: enforcement.appliedAt,
      status,
    };
    const db = executor.withTables<EnforcementTables>();
    const rest: Omit<EnforcementDeviceTable, 'device_id'> = {
      device: row.device,
      segment_kind: row.segment_kind,
      segment_name: row.segment_name,
      decision_id: row.decision_id,
      reason: row.reason,
      cause_kind: row.cause_kind,
      cause_id: row.cause_id,
      actor: row.actor,
      applied_at: row.applied_at,
      status: row.status,
    };
    await db
      .insertInto('enforcement_device')
      .values(row)
      .onConflict((conflict) => conflict.column('device_id').doUpdateSet(rest))
      .execute();
  }

  async delete(executor: Executor<object>, deviceId: string): Promise<void> {
    const db = executor.withTables<EnforcementTables>();
    await db.deleteFrom('enforcement_device').where('device_id', '=', deviceId).execute();
    await db.deleteFrom('enforcement_pending').where('device_id', '=', deviceId).execute();
  }

  async list(): Promise<StoredEnforcement[]> {
    const rows = await this.db
      .selectFrom('enforcement_device')
      .selectAll()
      .orderBy('device_id')
      .execute();
    return rows.map((row) => ({
      device: JSON.parse(row.device) as EnforcedDevice,
      segment: row.segment_kind as SegmentKind,
      segmentName: row.segment_name,
      decisionId: row.decision_id,
      reason: row.reason,
      cause: { kind: row.cause_kind as 'audit-record' | 'decision', id: row.cause_id },
      actor: JSON.parse(row.actor) as Actor,
      appliedAt: row.applied_at,
      status: row.status === 'failed' ? 'failed' : 'in-force',
    }));
  }

  async addPending(
    executor: Executor<object>,
    decision: EnforcementDecision,
    requestedAt: string,
  ): Promise<void> {
    await executor
      .withTables<EnforcementTables>()
      .insertInto('enforcement_pending')
      .values({
        decision_id: decision.id,
        device_id: decision.device.id,
        decision: JSON.stringify(decision),
        requested_at: requestedAt,
      })
      .execute();
  }

  async deletePending(executor: Executor<object>, decisionId: string): Promise<number> {
    const result = await executor
      .withTables<EnforcementTables>()
      .deleteFrom('enforcement_pending')
      .where('decision_id', '=', decisionId)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async listPending(): Promise<{ decision: EnforcementDecision; requestedAt: string }[]> {
    const rows = await this.db
      .selectFrom('enforcement_pending')
      .selectAll()
      .orderBy('requested_at')
      .execute();
    return rows.map((row) => ({
      decision: JSON.parse(row.decision) as EnforcementDecision,
      requestedAt: row.requested_at,
    }));
  }
}
