import { randomUUID } from 'node:crypto';
import { ErrorKind, MedwardError, conflict } from '../errors.js';
import type { Logger } from '../logger.js';
import { defaultMaxMessageBytes, encodeMessage, validateMsgId } from './codec.js';
import {
  buildDeadLetter,
  describeFailure,
  logDeadLetter,
  type DeliveryOutcome,
} from './delivery.js';
import { DuplicateWindow } from './duplicate-window.js';
import { InProcessGroup, type StoredMessage } from './in-process-group.js';
import { defaultDuplicateWindowMs, resolveSubscribeOptions } from './settings.js';
import { isDeadLetterSubject, subjectMatches, validatePublishSubject } from './subject.js';
import type { EventBus, PublishOptions, SubscribeOptions, Subscription } from './types.js';

export interface InProcessBusOptions {
  /** Cap on encoded data plus headers. Default 1 MiB. */
  maxMessageBytes?: number;
  /** Window in which a repeated `msgId` is dropped. Default 120 000 ms, as JetStream's default. */
  duplicateWindowMs?: number;
  /** Maximum msgIds remembered. Beyond it, the oldest ids are forgotten before their window ends. Default 100 000. */
  maxDuplicateIds?: number;
  /**
   * Maximum unacknowledged messages per group (queued, in flight or waiting
   * for redelivery). Publishing beyond it fails with `BUS_BACKPRESSURE`. Default 10 000.
   */
  maxPendingPerGroup?: number;
  /**
   * Recent messages kept for groups that subscribe later, as a stream would
   * keep them: at most this many. Default 10 000; 0 keeps none.
   */
  maxRetainedMessages?: number;
  /** At most this many encoded bytes of kept messages. Default 16 MiB. */
  maxRetainedBytes?: number;
  /** Kept messages older than this are dropped. Default 300 000 ms. */
  retainMs?: number;
}

export const defaultMaxPendingPerGroup = 10_000;
const defaultMaxDuplicateIds = 100_000;
const defaultMaxRetainedMessages = 10_000;
const defaultMaxRetainedBytes = 16 * 1024 * 1024;
const defaultRetainMs = 300_000;

type BusState = 'new' | 'running' | 'stopping' | 'stopped';

/**
 * Event bus inside one process, the embedded default. It has the semantics
 * of the JetStream bus (groups, explicit acks, redelivery with back-off, ack
 * wait, dead letters, msgId de-duplication) with these differences:
 *
 * - Messages live in memory only. Everything queued is lost when the bus
 *   stops or the process exits; there is no durability across restarts.
 * - A group created by its first subscribe first receives the recent messages
 *   that match it. The bus keeps up to `maxRetainedMessages` (default
 *   10 000), `maxRetainedBytes` (16 MiB) and `retainMs` (5 minutes) of them,
 *   where a stream keeps everything its limits allow. So events published
 *   while a process starts, before their consumer subscribed, still reach it.
 * - A group exists from its first subscribe until the bus stops, also while it
 *   has no members. It keeps at most `maxPendingPerGroup` (default 10 000)
 *   unacknowledged messages. A publish that would exceed the limit in any
 *   matching group fails with `BUS_BACKPRESSURE` and reaches no group, so a
 *   group whose members all closed blocks its subjects once it is full.
 *   Dead letters are exempt from the limit, so backpressure never rejects them.
 */
export class InProcessBus implements EventBus {
  readonly name = 'event-bus';
  private state: BusState = 'new';
  private readonly groups = new Map<string, InProcessGroup>();
  private readonly duplicates: DuplicateWindow;
  private readonly maxMessageBytes: number;
  private readonly maxPendingPerGroup: number;
  /** Kept messages from index `retainedStart` on, oldest first; the slots before it are dropped. */
  private retained: StoredMessage[] = [];
  private retainedStart = 0;
  private retainedBytes = 0;
  private readonly maxRetainedMessages: number;
  private readonly maxRetainedBytes: number;
  private readonly retainMs: number;

  constructor(
    private readonly logger: Logger,
    options: InProcessBusOptions = {},
  ) {
    this.maxMessageBytes = options.maxMessageBytes ?? defaultMaxMessageBytes;
    this.maxPendingPerGroup = options.maxPendingPerGroup ?? defaultMaxPendingPerGroup;
    this.maxRetainedMessages = options.maxRetainedMessages ?? defaultMaxRetainedMessages;
    this.maxRetainedBytes = options.maxRetainedBytes ?? defaultMaxRetainedBytes;
    this.retainMs = options.retainMs ?? defaultRetainMs;
    this.duplicates = new DuplicateWindow(
      options.duplicateWindowMs ?? defaultDuplicateWindowMs,
      options.maxDuplicateIds ?? defaultMaxDuplicateIds,
    );
  }

  start(): Promise<void> {
    if (this.state !== 'new') {
      return Promise.reject(
        new MedwardError(
          ErrorKind.Internal,
          'BUS_ALREADY_STARTED',
          'event bus was already started',
        ),
      );
    }
    this.state = 'running';
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    await Promise.all([...this.groups.values()].map((group) => group.close()));
    this.groups.clear();
    this.duplicates.clear();
    this.retained = [];
    this.retainedStart = 0;
    this.retainedBytes = 0;
    this.state = 'stopped';
  }

  /** Resolves once the message is queued in every matching group. */
  publish(subject: string, data: unknown, options: PublishOptions = {}): Promise<void> {
    return new Promise((resolve) => {
      this.assertRunning();
      validatePublishSubject(subject);
      if (options.msgId !== undefined) {
        validateMsgId(options.msgId);
      }
      const headers = { ...(options.headers ?? {}) };
      const bytes = encodeMessage(subject, data, headers, this.maxMessageBytes);
      this.accept(subject, bytes, headers, options.msgId, false);
      resolve();
    });
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return new Promise((resolve) => {
      this.assertRunning();
      const settings = resolveSubscribeOptions(options);
      let group = this.groups.get(settings.group);
      if (group === undefined) {
        group = new InProcessGroup(settings.group, settings.subject, this.logger, (...args) => {
          this.deadLetter(...args);
        });
        this.groups.set(settings.group, group);
        this.replayRetained(group);
      } else if (group.filter !== settings.subject) {
        throw conflict(
          'BUS_GROUP_SUBJECT_MISMATCH',
          `group ${settings.group} consumes ${group.filter}, not ${settings.subject}; use another group name for another subject`,
          { group: settings.group, subject: settings.subject, groupSubject: group.filter },
        );
      }
      resolve(group.addMember(settings));
    });
  }

  /** Stores the message in every matching group, or in none when one of them is full. */
  private accept(
    subject: string,
    bytes: Uint8Array,
    headers: Readonly<Record<string, string>>,
    msgId: string | undefined,
    isDeadLetter: boolean,
  ): void {
    const nowMs = Date.now();
    if (msgId !== undefined && this.duplicates.has(msgId, nowMs)) {
      return;
    }
    const targets = [...this.groups.values()].filter((group) =>
      subjectMatches(group.filter, subject),
    );
    if (!isDeadLetter) {
      for (const group of targets) {
        if (group.pendingCount >= this.maxPendingPerGroup) {
          throw new MedwardError(
            ErrorKind.Unavailable,
            'BUS_BACKPRESSURE',
            `group ${group.name} has ${group.pendingCount} unacknowledged messages, its limit; retry later or add members to the group`,
            {
              details: { subject, group: group.name, maxPendingPerGroup: this.maxPendingPerGroup },
            },
          );
        }
      }
    }
    if (msgId !== undefined) {
      this.duplicates.record(msgId, nowMs);
    }
    const message: StoredMessage = {
      id: msgId ?? randomUUID(),
      subject,
      bytes,
      headers,
      publishedAt: new Date(nowMs),
    };
    for (const group of targets) {
      group.enqueue(message);
    }
    this.retain(message, nowMs);
  }

  /** Keeps `message` for groups that subscribe later, dropping the oldest beyond the limits. */
  private retain(message: StoredMessage, nowMs: number): void {
    if (this.maxRetainedMessages <= 0 || message.bytes.length > this.maxRetainedBytes) {
      return;
    }
    this.retained.push(message);
    this.retainedBytes += message.bytes.length;
    this.dropRetained(nowMs);
  }

  private dropRetained(nowMs: number): void {
    const oldestKeptMs = nowMs - this.retainMs;
    const retained = this.retained;
    let start = this.retainedStart;
    while (start < retained.length) {
      const message = retained[start] as StoredMessage;
      const overLimit =
        retained.length - start > this.maxRetainedMessages ||
        this.retainedBytes > this.maxRetainedBytes;
      if (!overLimit && message.publishedAt.getTime() >= oldestKeptMs) {
        break;
      }
      this.retainedBytes -= message.bytes.length;
      start += 1;
    }
    // Dropping advances the start; the array is compacted once half of it is dropped.
    if (start > retained.length / 2) {
      this.retained = retained.slice(start);
      start = 0;
    }
    this.retainedStart = start;
  }

  /** Queues the kept messages that match a new group, oldest first. */
  private replayRetained(group: InProcessGroup): void {
    this.dropRetained(Date.now());
    for (let index = this.retainedStart; index < this.retained.length; index += 1) {
      const message = this.retained[index] as StoredMessage;
      if (subjectMatches(group.filter, message.subject)) {
        group.enqueue(message);
      }
    }
  }

  private deadLetter(
    message: StoredMessage,
    group: string,
    deliveryCount: number,
    outcome: DeliveryOutcome,
  ): void {
    const reason = describeFailure(outcome);
    if (isDeadLetterSubject(message.subject)) {
      // Dead-lettering a dead letter again could loop, so the message is dropped and logged.
      this.logger.error(
        { subject: message.subject, group, messageId: message.id, deliveryCount, reason },
        'dead letter failed in its group and was dropped',
      );
      return;
    }
    const deadLetter = buildDeadLetter(message, group, deliveryCount, reason);
    logDeadLetter(this.logger, message, group, deliveryCount, reason);
    if (this.state !== 'running') {
      this.logger.error(
        { subject: message.subject, group, messageId: message.id },
        'dead letter dropped because the event bus is stopping',
      );
      return;
    }
    this.accept(deadLetter.subject, message.bytes, deadLetter.headers, deadLetter.msgId, true);
  }

  private assertRunning(): void {
    if (this.state !== 'running') {
      throw new MedwardError(
        ErrorKind.Unavailable,
        'BUS_NOT_RUNNING',
        `event bus is ${this.state}; start it before publishing or subscribing`,
      );
    }
  }
}
