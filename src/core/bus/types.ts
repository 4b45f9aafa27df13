import type { Component } from '../lifecycle.js';

/**
 * A message as a handler receives it. `data` is the decoded JSON payload and
 * is untrusted: handlers validate it before use.
 */
export interface BusMessage {
  /**
   * The publisher's `msgId`, or else a random UUID. A dead letter's id is
   * `deadletter:<group>:<original id>`, and a JetStream message from a client
   * other than medward has the id `<stream>:<sequence>`.
   */
  readonly id: string;
  /** Subject relative to the bus's subject prefix, for example `device.telemetry`. */
  readonly subject: string;
  readonly data: unknown;
  readonly headers: Readonly<Record<string, string>>;
  /** Time at which the bus accepted the message (the JetStream server's clock for JetStream). */
  readonly publishedAt: Date;
  /** 1 on the first delivery to this group, incremented on every redelivery. */
  readonly deliveryCount: number;
}

export type MessageHandler = (message: BusMessage) => Promise<void> | void;

export interface PublishOptions {
  /**
   * De-duplication key. A second message with the same id inside the duplicate
   * window is accepted but not delivered again.
   */
  msgId?: string;
  /** Header names follow RFC 9110 token rules. The prefixes `Nats-` and `Medward-` are reserved. */
  headers?: Record<string, string>;
}

export interface SubscribeOptions {
  /** Subject filter, in which `*` matches one token and `>` matches one or more trailing tokens. */
  subject: string;
  /**
   * Durable consumer group: 1 to 64 letters, digits, '-' or '_'. Subscriptions
   * in the same group share the messages, each message going to one member.
   * Every group receives every matching message (the in-process bus: every one
   * published after the group's first subscribe). The first subscribe fixes the
   * group's subject, and a later one with another subject is rejected with
   * `BUS_GROUP_SUBJECT_MISMATCH`.
   */
  group: string;
  handler: MessageHandler;
  /**
   * Time a handler has before its delivery counts as failed and is redelivered.
   * The handler keeps running, but its result is ignored. Default 30 000 ms.
   */
  ackWaitMs?: number;
  /**
   * Deliveries before a failing message goes to the dead-letter subject
   * `deadletter.<subject>`. Default 5.
   */
  maxDeliver?: number;
  /**
   * Delays before redelivery. Entry n-1 applies after failed delivery n, and the
   * last entry repeats. A failure is a thrown error or an exceeded ack wait.
   * Default [1000, 5000, 30000].
   */
  backoffMs?: readonly number[];
}

export interface Subscription {
  readonly subject: string;
  readonly group: string;
  /**
   * Stops delivery to this member and resolves once its in-flight handlers have
   * settled, including those past their ack wait. There is no time limit, so a
   * handler that never settles keeps close() and the bus's stop() waiting.
   */
  close(): Promise<void>;
}

/**
 * Publish/subscribe with durable consumer groups and at-least-once delivery.
 *
 * Subjects are relative to the bus, which may add a prefix on the wire. Dead
 * letters of subject `s` arrive on `deadletter.s`, so the first token
 * `deadletter` is reserved for the bus and rejected by `publish`. A wildcard
 * filter such as `>` also matches dead-letter subjects.
 *
 * Each subscription runs one handler at a time. A group with one member
 * therefore receives the messages of a subject in publish order as long as no
 * delivery fails, and a redelivery may arrive after later messages.
 */
export interface EventBus extends Component {
  /** Resolves once the message is accepted by the bus (for JetStream: stored and acknowledged). */
  publish(subject: string, data: unknown, options?: PublishOptions): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
}
