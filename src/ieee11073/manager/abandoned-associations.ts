/**
 * Closes the associations that an earlier run of this manager left open. A
 * process that is killed or crashes cannot release its associations, so their
 * rows would stay open forever and the oneM2M AEs built from them would keep
 * showing a live device. At start, before it accepts connections, the
 * manager ends each such row, writes an audit record for it and publishes its
 * ended event.
 */
import type { Kysely } from 'kysely';
import type { AuditTrail } from '../../core/audit/index.js';
import type { Logger } from '../../core/logger.js';
import type { Storage } from '../../core/storage/index.js';
import type { Ieee11073Repository } from '../store/repository.js';
import type { AssociationTable } from '../store/tables.js';
import type { AssociationEventPublisher } from './association-events.js';
import { associationClosedAtStart } from './audit-events.js';

/** End reason of an association closed at start. */
export const ABANDONED_END_REASON = 'manager stopped without releasing the association';

export interface AbandonedAssociationsDeps {
  storage: Storage;
  repository: Ieee11073Repository;
  audit: AuditTrail;
  associationEvents: AssociationEventPublisher;
  logger: Logger;
  /** EUI-64 of this manager as lowercase hex. */
  managerSystemId: string;
}

/** Ends every open association of this manager; returns how many it ended. */
export async function closeAbandonedAssociations(deps: AbandonedAssociationsDeps): Promise<number> {
  const endedAtMs = Date.now();
  const closed = await deps.storage.db.transaction().execute(async (transaction) => {
    const executor = transaction as unknown as Kysely<object>;
    const rows = await deps.repository.listOpenAssociations(executor, deps.managerSystemId);
    for (const row of rows) {
      await deps.repository.updateAssociation(executor, row.id, {
        ended_at_ms: endedAtMs,
        end_reason: ABANDONED_END_REASON,
      });
      await deps.audit.append(executor, auditEntry(row));
    }
    return rows;
  });
  for (const row of closed) {
    deps.associationEvents.ended(
      {
        id: row.id,
        systemId: row.system_id,
        devConfigId: row.dev_config_id,
        startedAtMs: row.started_at_ms,
      },
      endedAtMs,
      ABANDONED_END_REASON,
    );
  }
  if (closed.length > 0) {
    deps.logger.warn(
      { associations: closed.length, managerSystemId: deps.managerSystemId },
      'ieee11073 associations left open by an earlier run closed',
    );
  }
  return closed.length;
}

function auditEntry(row: AssociationTable): ReturnType<typeof associationClosedAtStart> {
  return associationClosedAtStart(
    {
      associationId: row.id,
      systemId: row.system_id,
      connectionId: row.connection_id,
      transport: row.transport,
      remoteAddress: row.remote_address,
      devConfigId: row.dev_config_id,
    },
    row.started_at_ms,
    ABANDONED_END_REASON,
  );
}
