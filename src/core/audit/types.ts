import type { Actor } from '../context.js';

/** FHIR R4 AuditEvent.action: create, read, update, delete, execute. */
export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';

/** FHIR R4 AuditEvent.outcome, named: 0 success, 4 minor, 8 serious, 12 major failure. */
export const AuditOutcome = {
  Success: 'success',
  MinorFailure: 'minor-failure',
  SeriousFailure: 'serious-failure',
  MajorFailure: 'major-failure',
} as const;
export type AuditOutcome = (typeof AuditOutcome)[keyof typeof AuditOutcome];

export interface AuditTarget {
  /** Kind of the thing acted on: `device`, `api-token`, `configuration`, ... */
  kind: string;
  id: string;
}

/** What a caller supplies; context fields default from the current OperationContext. */
export interface AuditEntry {
  /** Dotted event name, subject first: `device.create`, `auth.failure`, `token.revoke`. */
  event: string;
  action: AuditAction;
  outcome: AuditOutcome;
  target?: AuditTarget;
  actor?: Actor;
  /** Why this happened or why it failed, in words an auditor can read. */
  reason?: string;
  correlationId?: string;
  sourceAddress?: string;
  /** Evidence for the event (decision inputs, before/after). Never a secret. */
  details?: Record<string, unknown>;
}

export interface AuditRecord {
  seq: number;
  id: string;
  recordedAt: string;
  siteId: string;
  event: string;
  action: AuditAction;
  outcome: AuditOutcome;
  actorKind: string;
  actorId: string;
  actorDisplay: string | null;
  targetKind: string | null;
  targetId: string | null;
  reason: string | null;
  correlationId: string;
  sourceAddress: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditEventTable {
  seq: number;
  id: string;
  recorded_at: string;
  site_id: string;
  event: string;
  action: string;
  outcome: string;
  actor_kind: string;
  actor_id: string;
  actor_display: string | null;
  target_kind: string | null;
  target_id: string | null;
  reason: string | null;
  correlation_id: string;
  source_address: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

// A type alias, not an interface: Kysely's withTables needs an index-compatible type.
export type AuditTables = {
  audit_event: AuditEventTable;
  audit_head: AuditHeadTable;
};

export const GENESIS_HASH = '0'.repeat(64);
