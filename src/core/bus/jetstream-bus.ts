import { randomUUID } from 'node:crypto';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import {
  connect,
  credsAuthenticator,
  headers as natsHeaders,
  nanos,
  type ConnectionOptions,
  type NatsConnection,
} from '@nats-io/transport-node';
import { ErrorKind, MedwardError, conflict, invalid } from '../errors.js';
import type { Logger } from '../logger.js';
import { defaultMaxMessageBytes, encodeMessage, validateMsgId } from './codec.js';
import { isNotFound, toBusError } from './nats-errors.js';
import {
  backoffDelayMs,
  defaultDuplicateWindowMs,
  resolveSubscribeOptions,
  type GroupSettings,
} from './settings.js';
import { validatePublishSubject, validateSubject } from './subject.js';
import { JetStreamSubscription, messageIdHeader } from './jetstream-subscription.js';
import type { EventBus, PublishOptions, SubscribeOptions, Subscription } from './types.js';

/** NATS credentials. A `.creds` file is passed as its contents. */
export type NatsCredentials =
  | { readonly user: string; readonly pass: string }
  | { readonly token: string }
  | { readonly creds: string };

export interface JetStreamBusOptions {
  /** NATS server URL or URLs, for example `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** JetStream stream name, for example `MEDWARD`. */
  stream: string;
  /** Subject prefix, for example `medward`. The stream captures `<subjectPrefix>.>`. */
  subjectPrefix: string;
  credentials?: NatsCredentials;
  /** Cap on encoded data plus headers, lowered at start to fit the server's max_payload. Default 1 MiB. */
  maxMessageBytes?: number;
  /** The stream's duplicate window for `msgId`. Default 120 000 ms. */
  duplicateWindowMs?: number;
  /** Age after which the stream discards messages. Default: no age limit. */
  maxAgeMs?: number;
  /** Time to wait for a PubAck or a JetStream API response. Default 5 000 ms. */
  requestTimeoutMs?: number;
  /** Time to wait for the first connection. Default 5 000 ms. */
  connectTimeoutMs?: number;
}

/**
 * Bytes of the server's max_payload kept free for the headers the bus adds
 * (Nats-Msg-Id, message id, dead-letter headers), which count against it.
 */
const busHeaderReserveBytes = 4096;
const streamNamePattern = /^[A-Za-z0-9_-]{1,64}$/u;

type BusState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

interface Connected {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
}

/**
 * Event bus on NATS JetStream. At start it creates or updates one stream with
 * file storage that captures `<subjectPrefix>.>`. Each group is a durable pull
 * consumer with explicit acks that delivers the stream from its first message,
 * so a group created later still receives messages published before it.
 *
 * Ack wait, back-off and max deliver are enforced by the member: it naks a
 * failed or timed-out delivery with the back-off delay and dead-letters it on
 * the last attempt. The consumer's server settings are the fallback for a
 * member that stops responding: its backoff entry n is ackWaitMs plus back-off
 * delay n, and its max_deliver is maxDeliver + 1. The extra delivery lets a
 * live member dead-letter a message whose last attempt was never acknowledged.
 */
export class JetStreamBus implements EventBus {
  readonly name = 'event-bus';
  private state: BusState = 'new';
  private connected: Connected | undefined;
  private readonly subscriptions = new Set<JetStreamSubscription>();
  private statusWatch: Promise<void> | undefined;
  private effectiveMaxMessageBytes: number;
  private readonly streamSubjects: string;

  constructor(
    private readonly options: JetStreamBusOptions,
    private readonly logger: Logger,
  ) {
    if (!streamNamePattern.test(options.stream)) {
      throw invalid(
        'BUS_INVALID_CONFIG',
        `invalid stream name ${JSON.stringify(options.stream)}: use 1 to 64 letters, digits, '-' or '_'`,
        { stream: options.stream },
      );
    }
    validateSubject(options.subjectPrefix, false);
    this.streamSubjects = `${options.subjectPrefix}.>`;
    this.effectiveMaxMessageBytes = options.maxMessageBytes ?? defaultMaxMessageBytes;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') {
      throw new MedwardError(
        ErrorKind.Internal,
        'BUS_ALREADY_STARTED',
        'event bus was already started',
      );
    }
    this.state = 'starting';
    let nc: NatsConnection;
    try {
      nc = await connect(this.connectionOptions());
    } catch (error) {
      this.state = 'stopped';
      throw toBusError(
        error,
        'BUS_CONNECT_FAILED',
        `connecting to NATS at ${String(this.options.servers)}`,
      );
    }
    try {
      const requestTimeoutMs = this.options.requestTimeoutMs ?? 5_000;
      const jsm = await jetstreamManager(nc, { timeout: requestTimeoutMs });
      const js = jetstream(nc, { timeout: requestTimeoutMs });
      this.connected = { nc, js, jsm };
      await this.ensureStream(jsm);
      this.applyServerPayloadLimit(nc);
      this.statusWatch = this.watchConnection(nc).catch((error: unknown) => {
        this.logger.warn({ err: error }, 'nats connection status watch failed');
      });
      this.state = 'running';
      this.logger.info(
        { stream: this.options.stream, subjects: this.streamSubjects },
        'jetstream event bus connected',
      );
    } catch (error) {
      this.state = 'stopped';
      this.connected = undefined;
      await nc.close();
      throw toBusError(
        error,
        'BUS_STREAM_SETUP_FAILED',
        `setting up stream ${this.options.stream}`,
      );
    }
  }

  async stop(): Promise<void> {
    const connected = this.connected;
    if (this.state !== 'running' || connected === undefined) {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    try {
      await connected.nc.drain();
    } catch (error) {
      this.logger.warn({ err: error }, 'nats connection drain failed');
    }
    await this.statusWatch;
    this.connected = undefined;
    this.state = 'stopped';
  }

  async publish(subject: string, data: unknown, options: PublishOptions = {}): Promise<void> {
    const { js } = this.requireRunning();
    validatePublishSubject(subject);
    if (options.msgId !== undefined) {
      validateMsgId(options.msgId);
    }
    const headers = { ...(options.headers ?? {}) };
    const bytes = encodeMessage(subject, data, headers, this.effectiveMaxMessageBytes);
    if (options.msgId === undefined) {
      // A bus-assigned id is sent in its own header, so the server keeps no duplicate-window entry for it.
      headers[messageIdHeader] = randomUUID();
    }
    await this.publishRaw(js, subject, bytes, headers, options.msgId);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const connected = this.requireRunning();
    const settings = resolveSubscribeOptions(options);
    await this.ensureConsumer(connected.jsm, settings);
    const subscription = new JetStreamSubscription(this, connected.js, settings, this.logger);
    this.subscriptions.add(subscription);
    subscription.begin();
    return subscription;
  }

  /** Full NATS subject for a bus subject. */
  toNatsSubject(subject: string): string {
    return `${this.options.subjectPrefix}.${subject}`;
  }

  /** Bus subject for a full NATS subject. */
  fromNatsSubject(natsSubject: string): string {
    const prefix = `${this.options.subjectPrefix}.`;
    return natsSubject.startsWith(prefix) ? natsSubject.slice(prefix.length) : natsSubject;
  }

  get streamName(): string {
    return this.options.stream;
  }

  forget(subscription: JetStreamSubscription): void {
    this.subscriptions.delete(subscription);
  }

  /** Publishes encoded bytes and waits for the PubAck. A duplicate PubAck counts as accepted. */
  async publishRaw(
    js: JetStreamClient,
    subject: string,
    bytes: Uint8Array,
    headers: Readonly<Record<string, string>>,
    msgId: string | undefined,
  ): Promise<void> {
    const natsSubject = this.toNatsSubject(subject);
    const messageHeaders = natsHeaders();
    for (const [name, value] of Object.entries(headers)) {
      messageHeaders.set(name, value);
    }
    try {
      await js.publish(natsSubject, bytes, {
        headers: messageHeaders,
        ...(msgId === undefined ? {} : { msgID: msgId }),
      });
    } catch (error) {
      throw toBusError(error, 'BUS_PUBLISH_FAILED', `publishing to ${natsSubject}`);
    }
  }

  private connectionOptions(): ConnectionOptions {
    const options: ConnectionOptions = {
      servers: this.options.servers,
      name: 'medward',
      timeout: this.options.connectTimeoutMs ?? 5_000,
      // A gateway keeps reconnecting for as long as it runs, and publishes time out while it is disconnected.
      maxReconnectAttempts: -1,
    };
    const credentials = this.options.credentials;
    if (credentials === undefined) {
      return options;
    }
    if ('creds' in credentials) {
      return {
        ...options,
        authenticator: credsAuthenticator(new TextEncoder().encode(credentials.creds)),
      };
    }
    if ('token' in credentials) {
      return { ...options, token: credentials.token };
    }
    return { ...options, user: credentials.user, pass: credentials.pass };
  }

  private async ensureStream(jsm: JetStreamManager): Promise<void> {
    const { stream } = this.options;
    const settings = {
      subjects: [this.streamSubjects],
      duplicate_window: nanos(this.options.duplicateWindowMs ?? defaultDuplicateWindowMs),
      max_age: nanos(this.options.maxAgeMs ?? 0),
    };
    let existing: StreamConfig;
    try {
      existing = (await jsm.streams.info(stream)).config;
    } catch (error) {
      if (!isNotFound(error)) {
        throw error;
      }
      await jsm.streams.add({
        name: stream,
        ...settings,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        discard: DiscardPolicy.Old,
      });
      this.logger.info({ stream, subjects: settings.subjects }, 'jetstream stream created');
      return;
    }
    if (existing.storage !== StorageType.File || existing.retention !== RetentionPolicy.Limits) {
      // Storage and retention cannot be changed on an existing stream.
      this.logger.warn(
        { stream, storage: existing.storage, retention: existing.retention },
        'jetstream stream exists with storage or retention other than file and limits',
      );
    }
    await jsm.streams.update(stream, { ...existing, ...settings });
  }

  /** Lowers the message cap when the server's max_payload leaves less room. */
  private applyServerPayloadLimit(nc: NatsConnection): void {
    const maxPayload = nc.info?.max_payload;
    if (maxPayload === undefined) {
      return;
    }
    const serverLimit = maxPayload - busHeaderReserveBytes;
    if (serverLimit < this.effectiveMaxMessageBytes) {
      this.logger.info(
        { maxPayload, maxMessageBytes: serverLimit },
        'message size cap lowered to fit the nats server max_payload',
      );
      this.effectiveMaxMessageBytes = serverLimit;
    }
  }

  private async ensureConsumer(jsm: JetStreamManager, settings: GroupSettings): Promise<void> {
    const { stream } = this.options;
    const filterSubject = this.toNatsSubject(settings.subject);
    const backoff = Array.from({ length: settings.maxDeliver }, (_, index) =>
      nanos(settings.ackWaitMs + backoffDelayMs(settings.backoffMs, index + 1)),
    );
    const delivery: Partial<ConsumerConfig> = {
      ack_wait: nanos(settings.ackWaitMs),
      max_deliver: settings.maxDeliver + 1,
      backoff,
    };
    try {
      let existingFilter: string | undefined;
      try {
        existingFilter = (await jsm.consumers.info(stream, settings.group)).config.filter_subject;
      } catch (error) {
        if (!isNotFound(error)) {
          throw error;
        }
        await jsm.consumers.add(stream, {
          durable_name: settings.group,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          filter_subject: filterSubject,
          ...delivery,
        });
        return;
      }
      if (existingFilter !== filterSubject) {
        throw conflict(
          'BUS_GROUP_SUBJECT_MISMATCH',
          `group ${settings.group} consumes ${this.fromNatsSubject(existingFilter ?? '>')}, not ${settings.subject}; use another group name for another subject`,
          { group: settings.group, subject: settings.subject },
        );
      }
      await jsm.consumers.update(stream, settings.group, delivery);
    } catch (error) {
      throw toBusError(error, 'BUS_CONSUMER_SETUP_FAILED', `setting up consumer ${settings.group}`);
    }
  }

  private async watchConnection(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        this.logger.warn({ server: status.server }, 'nats connection lost');
      } else if (status.type === 'reconnect') {
        this.logger.info({ server: status.server }, 'nats connection restored');
      } else if (status.type === 'error') {
        this.logger.error({ err: status.error }, 'nats connection error');
      } else if (status.type === 'close') {
        return;
      }
    }
  }

  private requireRunning(): Connected {
    if (this.state !== 'running' || this.connected === undefined) {
      throw new MedwardError(
        ErrorKind.Unavailable,
        'BUS_NOT_RUNNING',
        `event bus is ${this.state}; start it before publishing or subscribing`,
      );
    }
    return this.connected;
  }
}
