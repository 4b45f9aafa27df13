import type { Logger } from '../logger.js';
import { decodeData } from './codec.js';
import { describeFailure, runHandler, type DeliveryOutcome } from './delivery.js';
import { backoffDelayMs, type GroupSettings } from './settings.js';
import type { BusMessage, Subscription } from './types.js';

export interface StoredMessage {
  readonly id: string;
  readonly subject: string;
  readonly bytes: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly publishedAt: Date;
}

interface GroupEntry {
  readonly message: StoredMessage;
  deliveryCount: number;
}

export type DeadLetterSink = (
  message: StoredMessage,
  group: string,
  deliveryCount: number,
  outcome: DeliveryOutcome,
) => void;

/** One durable group: its queues, members and redelivery timers. */
export class InProcessGroup {
  /** Messages not yet delivered, in publish order. */
  private readonly fresh: GroupEntry[] = [];
  /** Redeliveries whose back-off has passed. They are served before `fresh`, as JetStream serves redeliveries first. */
  private readonly due: GroupEntry[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly members: InProcessSubscription[] = [];
  private nextMemberIndex = 0;
  /** Messages enqueued and not yet acknowledged or dead-lettered. */
  pendingCount = 0;

  constructor(
    readonly name: string,
    readonly filter: string,
    private readonly logger: Logger,
    private readonly deadLetter: DeadLetterSink,
  ) {}

  addMember(settings: GroupSettings): InProcessSubscription {
    const member = new InProcessSubscription(settings, this);
    this.members.push(member);
    this.dispatch();
    return member;
  }

  removeMember(member: InProcessSubscription): void {
    const index = this.members.indexOf(member);
    if (index >= 0) {
      this.members.splice(index, 1);
    }
  }

  enqueue(message: StoredMessage): void {
    this.pendingCount += 1;
    this.fresh.push({ message, deliveryCount: 0 });
    this.dispatch();
  }

  /** Closes all members, waiting for their handlers, and cancels pending redeliveries. */
  async close(): Promise<void> {
    await Promise.all([...this.members].map((member) => member.close()));
    for (const timer of this.timers) {
      clearTimeout(timer);
    }
    this.timers.clear();
  }

  /** Hands ready messages to idle members, round robin. */
  dispatch(): void {
    for (;;) {
      const member = this.takeIdleMember();
      if (member === undefined) {
        return;
      }
      const entry = this.due.shift() ?? this.fresh.shift();
      if (entry === undefined) {
        return;
      }
      this.deliver(member, entry);
    }
  }

  private takeIdleMember(): InProcessSubscription | undefined {
    for (let offset = 0; offset < this.members.length; offset += 1) {
      const index = (this.nextMemberIndex + offset) % this.members.length;
      const member = this.members[index];
      if (member !== undefined && !member.busy) {
        this.nextMemberIndex = index + 1;
        return member;
      }
    }
    return undefined;
  }

  private deliver(member: InProcessSubscription, entry: GroupEntry): void {
    entry.deliveryCount += 1;
    const { settings } = member;
    const stored = entry.message;
    const message: BusMessage = {
      id: stored.id,
      subject: stored.subject,
      // Each delivery decodes its own copy, so a handler that mutates data affects no other delivery.
      data: decodeData(stored.bytes),
      headers: { ...stored.headers },
      publishedAt: stored.publishedAt,
      deliveryCount: entry.deliveryCount,
    };
    member.busy = true;
    const run = runHandler(settings.handler, message, settings.ackWaitMs);
    member.track(run.settled);
    member.track(
      run.outcome.then((outcome) => {
        member.busy = false;
        try {
          this.settle(entry, settings, outcome);
        } catch (error) {
          this.logger.error(
            { subject: stored.subject, group: this.name, messageId: stored.id, err: error },
            'message settlement failed',
          );
        }
        this.dispatch();
      }),
    );
  }

  private settle(entry: GroupEntry, settings: GroupSettings, outcome: DeliveryOutcome): void {
    if (outcome.kind === 'acked') {
      this.pendingCount -= 1;
      return;
    }
    if (entry.deliveryCount >= settings.maxDeliver) {
      this.pendingCount -= 1;
      this.deadLetter(entry.message, this.name, entry.deliveryCount, outcome);
      return;
    }
    const delayMs = backoffDelayMs(settings.backoffMs, entry.deliveryCount);
    this.logger.debug(
      {
        subject: entry.message.subject,
        group: this.name,
        messageId: entry.message.id,
        deliveryCount: entry.deliveryCount,
        delayMs,
        reason: describeFailure(outcome),
      },
      'message redelivery scheduled',
    );
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.due.push(entry);
      this.dispatch();
    }, delayMs);
    this.timers.add(timer);
  }
}

export class InProcessSubscription implements Subscription {
  busy = false;
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    readonly settings: GroupSettings,
    private readonly owner: InProcessGroup,
  ) {}

  get subject(): string {
    return this.settings.subject;
  }

  get group(): string {
    return this.owner.name;
  }

  track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => {
      this.inFlight.delete(work);
    });
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.owner.removeMember(this);
    }
    while (this.inFlight.size > 0) {
      await Promise.allSettled([...this.inFlight]);
    }
  }
}
