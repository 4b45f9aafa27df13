import type {
  ConsumerMessages,
  ConsumerNotification,
  JetStreamClient,
  JsMsg,
} from '@nats-io/jetstream';
import type { Logger } from '../logger.js';
import { decodeData } from './codec.js';
import {
  buildDeadLetter,
  describeFailure,
  logDeadLetter,
  runHandler,
  type DeliveryOutcome,
} from './delivery.js';
import type { JetStreamBus } from './jetstream-bus.js';
import { backoffDelayMs, type GroupSettings } from './settings.js';
import { isDeadLetterSubject } from './subject.js';
import type { BusMessage, Subscription } from './types.js';

/** Header with the bus-assigned id of a message published without `msgId`. */
export const messageIdHeader = 'Medward-Message-Id';
const natsMsgIdHeader = 'Nats-Msg-Id';
/** Pause before a member re-creates a consume loop that ended by an error. */
const consumeRestartDelayMs = 1_000;

/** Returns the headers passed to handlers: those the publisher set, without the server's and the bus's own. */
function publicHeaders(message: JsMsg): Record<string, string> {
  const result: Record<string, string> = {};
  const source = message.headers;
  if (source === undefined) {
    return result;
  }
  for (const name of source.keys()) {
    const lowerName = name.toLowerCase();
    if (lowerName.startsWith('nats-') || lowerName === messageIdHeader.toLowerCase()) {
      continue;
    }
    result[name] = source.get(name);
  }
  return result;
}

function messageIdOf(message: JsMsg, stream: string): string {
  const headers = message.headers;
  const fromHeader = headers?.get(natsMsgIdHeader) || headers?.get(messageIdHeader);
  // Messages published by other NATS clients carry neither header, so the stream sequence identifies them.
  return fromHeader !== undefined && fromHeader !== '' ? fromHeader : `${stream}:${message.seq}`;
}

/** Consumer notifications that mean a member may receive nothing. The other notifications are routine. */
const reportedConsumerStatuses: ReadonlySet<ConsumerNotification['type']> = new Set([
  'heartbeats_missed',
  'consumer_deleted',
  'consumer_not_found',
  'stream_not_found',
  'no_responders',
] as const);

/** One member of a durable group, pulling one message at a time. */
export class JetStreamSubscription implements Subscription {
  private closing = false;
  private loop: Promise<void> | undefined;
  private messages: ConsumerMessages | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private wake: (() => void) | undefined;

  constructor(
    private readonly bus: JetStreamBus,
    private readonly js: JetStreamClient,
    private readonly settings: GroupSettings,
    private readonly logger: Logger,
  ) {}

  get subject(): string {
    return this.settings.subject;
  }

  get group(): string {
    return this.settings.group;
  }

  begin(): void {
    this.loop = this.consumeUntilClosed();
  }

  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.wake?.();
      await this.messages?.close();
    }
    await this.loop;
    while (this.inFlight.size > 0) {
      await Promise.allSettled([...this.inFlight]);
    }
    this.bus.forget(this);
  }

  /** A method rather than a field read, because `closing` changes while the loop awaits. */
  private isClosing(): boolean {
    return this.closing;
  }

  private async consumeUntilClosed(): Promise<void> {
    while (!this.isClosing()) {
      try {
        const consumer = await this.js.consumers.get(this.bus.streamName, this.settings.group);
        // One message at a time keeps the order of the stream and leaves the
        // other members of the group the rest of the messages.
        const messages = await consumer.consume({ max_messages: 1 });
        this.messages = messages;
        if (this.isClosing()) {
          await messages.close();
          return;
        }
        this.watchConsumer(messages).catch((error: unknown) => {
          this.logger.warn(
            { group: this.group, err: error },
            'jetstream consumer status watch failed',
          );
        });
        for await (const message of messages) {
          if (this.isClosing()) {
            // A message buffered before close goes back to the group at once.
            message.nak();
            continue;
          }
          await this.handle(message);
        }
        if (this.isClosing()) {
          return;
        }
        this.logger.warn({ group: this.group }, 'jetstream consume ended; restarting');
      } catch (error) {
        if (this.isClosing()) {
          return;
        }
        this.logger.error(
          { group: this.group, err: error },
          'jetstream consume failed; restarting',
        );
      }
      await this.pause(consumeRestartDelayMs);
    }
  }

  private async watchConsumer(messages: ConsumerMessages): Promise<void> {
    for await (const status of messages.status()) {
      if (reportedConsumerStatuses.has(status.type)) {
        this.logger.warn({ group: this.group, status }, 'jetstream consumer status');
      }
    }
  }

  private pause(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, delayMs);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async handle(jsMessage: JsMsg): Promise<void> {
    const deliveryCount = jsMessage.info.deliveryCount;
    const meta = {
      id: messageIdOf(jsMessage, this.bus.streamName),
      subject: this.bus.fromNatsSubject(jsMessage.subject),
      headers: publicHeaders(jsMessage),
    };
    if (deliveryCount > this.settings.maxDeliver) {
      const reason = `no acknowledgement after ${this.settings.maxDeliver} deliveries`;
      await this.deadLetter(jsMessage, meta, deliveryCount, reason);
      return;
    }
    let data: unknown;
    try {
      data = decodeData(jsMessage.data);
    } catch {
      await this.deadLetter(jsMessage, meta, deliveryCount, 'message data is not valid UTF-8 JSON');
      return;
    }
    const message: BusMessage = { ...meta, data, publishedAt: jsMessage.time, deliveryCount };
    // The message may have waited in the client buffer, so restart the server's ack timer now.
    jsMessage.working();
    const run = runHandler(this.settings.handler, message, this.settings.ackWaitMs);
    this.track(run.settled);
    const outcome = await run.outcome;
    await this.settle(jsMessage, meta, deliveryCount, outcome);
  }

  private async settle(
    jsMessage: JsMsg,
    meta: Pick<BusMessage, 'id' | 'subject' | 'headers'>,
    deliveryCount: number,
    outcome: DeliveryOutcome,
  ): Promise<void> {
    if (outcome.kind === 'acked') {
      jsMessage.ack();
      return;
    }
    if (deliveryCount >= this.settings.maxDeliver) {
      await this.deadLetter(jsMessage, meta, deliveryCount, describeFailure(outcome));
      return;
    }
    const delayMs = backoffDelayMs(this.settings.backoffMs, deliveryCount);
    this.logger.debug(
      {
        subject: meta.subject,
        group: this.group,
        messageId: meta.id,
        deliveryCount,
        delayMs,
        reason: describeFailure(outcome),
      },
      'message redelivery scheduled',
    );
    jsMessage.nak(delayMs);
  }

  /**
   * Publishes the message to its dead-letter subject, then acks it. A dead
   * letter that fails in its own group is terminated instead, so it stays in
   * the stream but is not delivered to that group again.
   */
  private async deadLetter(
    jsMessage: JsMsg,
    meta: Pick<BusMessage, 'id' | 'subject' | 'headers'>,
    deliveryCount: number,
    reason: string,
  ): Promise<void> {
    const logFields = {
      subject: meta.subject,
      group: this.group,
      messageId: meta.id,
      streamSequence: jsMessage.seq,
      deliveryCount,
      reason,
    };
    if (isDeadLetterSubject(meta.subject)) {
      this.logger.error(logFields, 'dead letter failed in its group; left in the stream');
      jsMessage.term();
      return;
    }
    const deadLetter = buildDeadLetter(meta, this.group, deliveryCount, reason);
    try {
      await this.bus.publishRaw(
        this.js,
        deadLetter.subject,
        jsMessage.data,
        deadLetter.headers,
        deadLetter.msgId,
      );
    } catch (error) {
      if (deliveryCount <= this.settings.maxDeliver) {
        this.logger.error({ ...logFields, err: error }, 'dead letter publish failed; retrying');
        jsMessage.nak(backoffDelayMs(this.settings.backoffMs, deliveryCount));
      } else {
        this.logger.error(
          { ...logFields, err: error },
          'dead letter publish failed; left in the stream',
        );
        jsMessage.term();
      }
      return;
    }
    logDeadLetter(this.logger, meta, this.group, deliveryCount, reason);
    jsMessage.ack();
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => {
      this.inFlight.delete(work);
    });
  }
}
