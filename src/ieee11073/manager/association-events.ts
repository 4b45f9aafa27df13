/**
 * Association events on the event bus: one when an association is operating
 * and its MDS facts are stored, one when it ended. Each is published after
 * the association row it reports is committed, and the operating event of an
 * association, when there is one, is published before its ended event.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { EventBus } from '../../core/bus/index.js';
import type { Logger } from '../../core/logger.js';
import { TrackedPublishes } from './tracked-publishes.js';
import {
  SystemIdText,
  UtcTimeText,
  describeAssociation,
  type AssociationDescription,
  type DescribedAssociationRow,
} from './association-description.js';

/**
 * Payload: an `AssociationDescription`, with `mds` null when the agent
 * rejected the MDS GET. An association that ends before the manager read its
 * MDS (no configuration, GET timed out) has no operating event.
 */
export const ASSOCIATION_OPERATING_SUBJECT = 'ieee11073.association.operating';

/** Payload: an `AssociationEndedEvent`. */
export const ASSOCIATION_ENDED_SUBJECT = 'ieee11073.association.ended';

/** Filter that matches both association subjects. */
export const ASSOCIATION_SUBJECTS = 'ieee11073.association.*';

export const AssociationEndedEvent = Type.Object(
  {
    associationId: Type.String({ minLength: 1, maxLength: 64 }),
    systemId: SystemIdText,
    devConfigId: Type.Integer({ minimum: 0, maximum: 0xffff }),
    startedAt: UtcTimeText,
    endedAt: UtcTimeText,
    /** Why it ended, for example `released by agent` or `aborted by manager: ...`. */
    endReason: Type.String({ maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export type AssociationEndedEvent = Static<typeof AssociationEndedEvent>;

/** Identity of an association, as the session keeps it in memory. */
export interface AssociationIdentity {
  id: string;
  systemId: string;
  devConfigId: number;
  startedAtMs: number;
}

/** The MDS columns the session wrote to the association row. */
export interface StoredMdsFacts {
  manufacturer?: string | null;
  model_number?: string | null;
  mds_json?: string | null;
  time_set?: number;
}

/** Called once the commit of a row update settled; `committed` is false when it failed. */
export type CommitCallback = (committed: boolean) => void;

interface PendingOperating {
  settled: Promise<void>;
  settle: () => void;
}

/**
 * Publishes association events. The msgId names the association and the
 * subject, so the bus drops a repeated publish of the same event.
 * NOTE: publishing follows the commit and is not part of it, so an event
 * whose commit preceded a crash may never be published.
 */
export class AssociationEventPublisher {
  private readonly publishes: TrackedPublishes;
  /** Associations with an MDS GET sent and an operating event neither published nor skipped. */
  private readonly pendingOperating = new Map<string, PendingOperating>();

  constructor(
    bus: EventBus,
    private readonly logger: Logger,
  ) {
    this.publishes = new TrackedPublishes(bus, logger, 'ieee11073 association event not published');
  }

  /**
   * Records that the MDS GET of an association was sent: its ended event
   * waits until `operating` or `skipOperating` is called for it.
   */
  expectOperating(associationId: string): void {
    let settle: () => void = () => undefined;
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    this.pendingOperating.set(associationId, { settled, settle });
  }

  /** Records that an association gets no operating event (its MDS facts were not stored). */
  skipOperating(associationId: string): void {
    this.settle(associationId);
  }

  private settle(associationId: string): void {
    this.pendingOperating.get(associationId)?.settle();
    this.pendingOperating.delete(associationId);
  }

  /** Returns the commit callback of a row update with MDS facts: it publishes `operating`. */
  operatingOnCommit(association: AssociationIdentity, facts: StoredMdsFacts): CommitCallback {
    return (committed) => {
      if (committed) {
        this.operating(association, facts);
      } else {
        this.skipOperating(association.id);
      }
    };
  }

  /** Returns the commit callback of the row update that ends an association. */
  endedOnCommit(
    association: AssociationIdentity,
    endedAtMs: number,
    endReason: string,
  ): CommitCallback {
    return (committed) => {
      if (committed) {
        this.ended(association, endedAtMs, endReason);
      }
    };
  }

  /** Publishes that `association` is operating; `facts` is undefined when the MDS GET failed. */
  operating(association: AssociationIdentity, facts: StoredMdsFacts | undefined): void {
    try {
      this.publishOperating(association, facts);
    } finally {
      this.settle(association.id);
    }
  }

  private publishOperating(
    association: AssociationIdentity,
    facts: StoredMdsFacts | undefined,
  ): void {
    const row: DescribedAssociationRow = {
      id: association.id,
      system_id: association.systemId,
      dev_config_id: association.devConfigId,
      started_at_ms: association.startedAtMs,
      manufacturer: facts?.manufacturer ?? null,
      model_number: facts?.model_number ?? null,
      mds_json: facts?.mds_json ?? null,
      time_set: facts?.time_set ?? 0,
    };
    let event: AssociationDescription;
    try {
      event = describeAssociation(row);
    } catch (error) {
      // The caller runs after a commit and has no one to pass an error to.
      this.logger.error(
        { err: error, associationId: association.id },
        'ieee11073 association event not built',
      );
      return;
    }
    this.publish(ASSOCIATION_OPERATING_SUBJECT, association.id, event);
  }

  /** Publishes that `association` ended, after its operating event when one is pending. */
  ended(association: AssociationIdentity, endedAtMs: number, endReason: string): void {
    const event: AssociationEndedEvent = {
      associationId: association.id,
      systemId: association.systemId,
      devConfigId: association.devConfigId,
      startedAt: new Date(association.startedAtMs).toISOString(),
      endedAt: new Date(endedAtMs).toISOString(),
      endReason: endReason.slice(0, 1024),
    };
    const pending = this.pendingOperating.get(association.id);
    if (pending === undefined) {
      this.publish(ASSOCIATION_ENDED_SUBJECT, association.id, event);
      return;
    }
    void pending.settled.then(() => {
      this.publish(ASSOCIATION_ENDED_SUBJECT, association.id, event);
    });
  }

  private publish(subject: string, associationId: string, event: object): void {
    this.publishes.publish(subject, event, `${subject}:${associationId}`, {
      subject,
      associationId,
    });
  }

  /** Resolves when every publish started so far has settled. */
  drain(): Promise<void> {
    return this.publishes.drain();
  }
}
