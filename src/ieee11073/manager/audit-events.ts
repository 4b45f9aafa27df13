/**
 * Audit records of the manager. Accepted and rejected associations and
 * aborts are security-relevant: they show which devices connected, from
 * where, and when a session failed. They are written once per association,
 * never per observation, because a device sends thousands of observations
 * per association and the audit trail is a hash chain whose every append
 * serializes on its head row; observations live in their own table.
 */
import { ActorKind } from '../../core/context.js';
import { AuditOutcome, type AuditEntry } from '../../core/audit/index.js';

export interface AssociationFacts {
  associationId?: string;
  /** EUI-64 of the agent as hex, when its AARQ carried one. */
  systemId?: string;
  connectionId: string;
  transport: string;
  remoteAddress: string;
  peerCertificateSubject?: string;
  devConfigId?: number;
}

function base(facts: AssociationFacts): Pick<AuditEntry, 'actor' | 'target' | 'sourceAddress'> {
  const id = facts.systemId ?? `connection:${facts.connectionId}`;
  return {
    actor: { kind: ActorKind.Device, id: `ieee11073:${id}` },
    target: { kind: 'device', id },
    sourceAddress: facts.remoteAddress,
  };
}

function details(facts: AssociationFacts, extra: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = {
    connectionId: facts.connectionId,
    transport: facts.transport,
    ...extra,
  };
  if (facts.associationId !== undefined) {
    result.associationId = facts.associationId;
  }
  if (facts.devConfigId !== undefined) {
    result.devConfigId = facts.devConfigId;
  }
  if (facts.peerCertificateSubject !== undefined) {
    result.peerCertificateSubject = facts.peerCertificateSubject;
  }
  return result;
}

export function associationAccepted(facts: AssociationFacts, result: string): AuditEntry {
  const entry: AuditEntry = {
    event: 'ieee11073.association.accept',
    action: 'E',
    outcome: AuditOutcome.Success,
    ...base(facts),
    details: details(facts, { result }),
  };
  if (facts.associationId !== undefined) {
    entry.correlationId = facts.associationId;
  }
  return entry;
}

export function associationRejected(
  facts: AssociationFacts,
  result: string,
  reason: string,
): AuditEntry {
  return {
    event: 'ieee11073.association.reject',
    action: 'E',
    outcome: AuditOutcome.MinorFailure,
    ...base(facts),
    reason,
    details: details(facts, { result }),
  };
}

/** `direction` says who sent the ABRT: the agent (`received`) or the manager (`sent`). */
export function associationAborted(
  facts: AssociationFacts,
  direction: 'received' | 'sent',
  abortReason: number,
  cause: string,
): AuditEntry {
  const entry: AuditEntry = {
    event: 'ieee11073.association.abort',
    action: 'E',
    outcome: AuditOutcome.SeriousFailure,
    ...base(facts),
    reason: cause,
    details: details(facts, { direction, abortReason }),
  };
  if (facts.associationId !== undefined) {
    entry.correlationId = facts.associationId;
  }
  return entry;
}

/**
 * Builds the record of an association that an earlier run of the manager
 * left open, closed when the manager started again. Its process stopped
 * without releasing it.
 */
export function associationClosedAtStart(
  facts: AssociationFacts,
  startedAtMs: number,
  endReason: string,
): AuditEntry {
  const entry: AuditEntry = {
    event: 'ieee11073.association.close-abandoned',
    action: 'U',
    outcome: AuditOutcome.MinorFailure,
    ...base(facts),
    reason: endReason,
    details: details(facts, { startedAt: new Date(startedAtMs).toISOString() }),
  };
  if (facts.associationId !== undefined) {
    entry.correlationId = facts.associationId;
  }
  return entry;
}
