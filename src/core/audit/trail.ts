import { createHash, randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { currentContext, systemActor } from '../context.js';
import { ErrorKind, MedwardError, invalid } from '../errors.js';
import { CompiledQueries } from '../storage/compiled-queries.js';
import type { Storage } from '../storage/database.js';
import { canonicalJson } from './canonical-json.js';
import {
  type AuditAction,
  type AuditEntry,
  type AuditEventTable,
  type AuditOutcome,
  type AuditRecord,
  type AuditTables,
} from './types.js';

/** A query executor: the database itself or an open transaction on it. */
export type Executor<T> = Kysely<T> | Transaction<T>;

export interface AuditTrailOptions {
  siteId: string;
  now?: () => Date;
}

export interface AuditQuery {
  afterSeq?: number;
  limit?: number;
  targetKind?: string;
  targetId?: string;
  event?: string;
}

/** Serialises the fields the hash covers: everything but the storage sequence number. */
function hashInput(row: Omit<AuditEventTable, 'seq' | 'hash'>): string {
  return canonicalJson({
    id: row.id,
    recordedAt: row.recorded_at,
    siteId: row.site_id,
    event: row.event,
    action: row.action,
    outcome: row.outcome,
    actor: { kind: row.actor_kind, id: row.actor_id, display: row.actor_display },
    target: { kind: row.target_kind, id: row.target_id },
    reason: row.reason,
    correlationId: row.correlation_id,
    sourceAddress: row.source_address,
    details: row.details,
    prevHash: row.prev_hash,
  });
}

export function computeAuditHash(row: Omit<AuditEventTable, 'seq' | 'hash'>): string {
  return createHash('sha256').update(hashInput(row)).digest('hex');
}

export function toAuditRecord(row: AuditEventTable): AuditRecord {
  return {
    seq: row.seq,
    id: row.id,
    recordedAt: row.recorded_at,
    siteId: row.site_id,
    event: row.event,
    action: row.action as AuditAction,
    outcome: row.outcome as AuditOutcome,
    actorKind: row.actor_kind,
    actorId: row.actor_id,
    actorDisplay: row.actor_display,
    targetKind: row.target_kind,
    targetId: row.target_id,
    reason: row.reason,
    correlationId: row.correlation_id,
    sourceAddress: row.source_address,
    details: JSON.parse(row.details) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

const EVENT_NAME = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;

/** Columns of audit_event in the order the INSERT statement lists them. */
const AUDIT_EVENT_COLUMNS = [
  'seq',
  'id',
  'recorded_at',
  'site_id',
  'event',
  'action',
  'outcome',
  'actor_kind',
  'actor_id',
  'actor_display',
  'target_kind',
  'target_id',
  'reason',
  'correlation_id',
  'source_address',
  'details',
  'prev_hash',
  'hash',
] as const satisfies readonly (keyof AuditEventTable)[];

/** Returns the row with its members in AUDIT_EVENT_COLUMNS order, which Kysely compiles them in. */
function inColumnOrder(row: AuditEventTable): AuditEventTable {
  const ordered: Partial<Record<keyof AuditEventTable, unknown>> = {};
  for (const column of AUDIT_EVENT_COLUMNS) {
    ordered[column] = row[column];
  }
  return ordered as AuditEventTable;
}

/** Audit rows per INSERT statement: 18 columns each keeps it far below SQLite's bound-parameter limit. */
const ROWS_PER_INSERT = 50;

/**
 * The hash-chained audit trail. Each record carries the hash of its
 * predecessor and its own; appending locks the chain head row, so appends
 * from concurrent transactions line up one after another. A record is
 * appended inside the caller's transaction, so it commits or rolls back
 * together with the change it describes.
 */
export class AuditTrail {
  private readonly db: Kysely<AuditTables>;
  private readonly siteId: string;
  private readonly now: () => Date;
  private readonly queries = new CompiledQueries();

  constructor(
    private readonly storage: Storage,
    options: AuditTrailOptions,
  ) {
    this.db = storage.db.withTables<AuditTables>();
    this.siteId = options.siteId;
    this.now = options.now ?? (() => new Date());
  }

  /** Appends a record inside `executor`, which should be the transaction making the change. */
  async append(executor: Executor<object>, entry: AuditEntry): Promise<AuditRecord> {
    const [row] = await this.appendRows(executor, [entry]);
    return toAuditRecord(row as AuditEventTable);
  }

  /**
   * Appends records in order inside `executor`, with one read and one
   * update of the chain head and one insert per 50 records, for changes
   * that record several events at once.
   */
  async appendMany(executor: Executor<object>, entries: readonly AuditEntry[]): Promise<void> {
    await this.appendRows(executor, entries);
  }

  private async appendRows(
    executor: Executor<object>,
    entries: readonly AuditEntry[],
  ): Promise<AuditEventTable[]> {
    for (const entry of entries) {
      if (!EVENT_NAME.test(entry.event)) {
        throw invalid(
          'AUDIT_EVENT_INVALID',
          `audit event name ${entry.event} must be dotted lowercase words`,
        );
      }
    }
    if (entries.length === 0) {
      return [];
    }
    const context = currentContext();
    const head = await this.readHead(executor);
    const recordedAt = this.now().toISOString();
    const rows: AuditEventTable[] = [];
    let seq = head.seq;
    let prevHash = head.hash;
    for (const entry of entries) {
      const actor = entry.actor ?? context?.actor ?? systemActor;
      const row: Omit<AuditEventTable, 'seq' | 'hash'> = {
        id: randomUUID(),
        recorded_at: recordedAt,
        site_id: this.siteId,
        event: entry.event,
        action: entry.action,
        outcome: entry.outcome,
        actor_kind: actor.kind,
        actor_id: actor.id,
        actor_display: actor.display ?? null,
        target_kind: entry.target?.kind ?? null,
        target_id: entry.target?.id ?? null,
        reason: entry.reason ?? null,
        correlation_id: entry.correlationId ?? context?.correlationId ?? randomUUID(),
        source_address: entry.sourceAddress ?? context?.sourceAddress ?? null,
        details: canonicalJson(entry.details ?? {}),
        prev_hash: prevHash,
      };
      seq += 1;
      prevHash = computeAuditHash(row);
      rows.push({ ...row, seq, hash: prevHash });
    }
    for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
      await this.insertRows(executor, rows.slice(start, start + ROWS_PER_INSERT));
    }
    await this.queries.execute(
      executor,
      'audit:update-head',
      [seq, prevHash, 1],
      () =>
        executor
          .withTables<AuditTables>()
          .updateTable('audit_head')
          .set({ seq, hash: prevHash })
          .where('id', '=', 1),
    );
    return rows;
  }

  /** Reads the chain head; on PostgreSQL the row stays locked until the transaction ends. */
  private async readHead(executor: Executor<object>): Promise<{ seq: number; hash: string }> {
    const dialect = this.storage.dialect;
    const result = await this.queries.execute(executor, `audit:read-head:${dialect}`, [1], () => {
      const query = executor
        .withTables<AuditTables>()
        .selectFrom('audit_head')
        .select(['seq', 'hash'])
        .where('id', '=', 1);
      return dialect === 'postgres' ? query.forUpdate() : query;
    });
    const head = result.rows[0];
    if (head === undefined) {
      throw new MedwardError(
        ErrorKind.Internal,
        'AUDIT_HEAD_MISSING',
        'the audit chain head row is missing; run the audit migrations',
      );
    }
    return head;
  }

  private async insertRows(
    executor: Executor<object>,
    rows: readonly AuditEventTable[],
  ): Promise<void> {
    const parameters = rows.flatMap((row) => AUDIT_EVENT_COLUMNS.map((column) => row[column]));
    await this.queries.execute(
      executor,
      `audit:insert-events:${rows.length}`,
      parameters,
      () =>
        executor
          .withTables<AuditTables>()
          .insertInto('audit_event')
          .values(rows.map(inColumnOrder)),
    );
  }

  /** Appends a record in a transaction of its own, for events that change nothing else. */
  record(entry: AuditEntry): Promise<AuditRecord> {
    return this.storage.db.transaction().execute((trx) => this.append(trx, entry));
  }

  async list(query: AuditQuery = {}): Promise<AuditRecord[]> {
    let select = this.db
      .selectFrom('audit_event')
      .selectAll()
      .where('seq', '>', query.afterSeq ?? 0)
      .orderBy('seq')
      .limit(Math.min(query.limit ?? 100, 10000));
    if (query.targetKind !== undefined) {
      select = select.where('target_kind', '=', query.targetKind);
    }
    if (query.targetId !== undefined) {
      select = select.where('target_id', '=', query.targetId);
    }
    if (query.event !== undefined) {
      select = select.where('event', '=', query.event);
    }
    const rows = await select.execute();
    return rows.map(toAuditRecord);
  }

  /** Streams raw rows in sequence order, a page at a time. */
  async *rows(pageSize = 1000): AsyncGenerator<AuditEventTable> {
    let afterSeq = 0;
    for (;;) {
      const page = await this.db
        .selectFrom('audit_event')
        .selectAll()
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(pageSize)
        .execute();
      for (const row of page) {
        yield row;
      }
      const last = page[page.length - 1];
      if (last === undefined || page.length < pageSize) {
        return;
      }
      afterSeq = last.seq;
    }
  }

  async head(): Promise<{ seq: number; hash: string }> {
    const head = await this.db
      .selectFrom('audit_head')
      .select(['seq', 'hash'])
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return { seq: head.seq, hash: head.hash };
  }

  /** Finds the sequence number of the record whose own hash is `hash`, if any. */
  async seqOfHash(hash: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('audit_event')
      .select('seq')
      .where('hash', '=', hash)
      .executeTakeFirst();
    return row?.seq;
  }
}
