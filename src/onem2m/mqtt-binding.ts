import { randomBytes } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../core/logger.js';
import { idToMqttTopicPart } from './address.js';
import type { CseCore } from './cse.js';
import type { MqttRequester } from './notifications.js';
import { parseJsonBody, parseRequestPrimitive, recoverRequestId } from './primitive.js';
import { rscOf } from './status.js';
import type { RequestPrimitive, ResponsePrimitive } from './types.js';

/**
 * The MQTT binding (TS-0010). The CSE subscribes to
 * `/oneM2M/req/+/<cse>/+` and `/oneM2M/reg_req/+/<cse>/+`, where `<cse>` is
 * its CSE-ID without the leading slash, and publishes each response on
 * `/oneM2M/resp/<originator>/<cse>/json` (or `reg_resp`). Requests it sends
 * itself (notifications) go to `/oneM2M/req/<cse>/<receiver>/json`; their
 * responses arrive on `/oneM2M/resp/<cse>/+/+`. Only the JSON serialization
 * is supported.
 */

export interface MqttBindingOptions {
  url: string;
  connectTimeoutMs: number;
  maxContentBytes: number;
  logger: Logger;
  registry: Registry;
}

interface PendingRequest {
  resolve: (response: ResponsePrimitive) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_MQTT_PORT = 1883;
const DROP_LOG_INTERVAL_MS = 60000;
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

export class MqttBinding implements MqttRequester {
  private client: MqttClient | undefined;
  private readonly cseTopicId: string;
  private readonly pending = new Map<string, PendingRequest>();
  private readonly dropped: Counter<'reason'>;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly brokerUrl: URL;
  private readonly lastDropLog = new Map<string, number>();

  constructor(
    private readonly core: CseCore,
    private readonly options: MqttBindingOptions,
  ) {
    this.cseTopicId = idToMqttTopicPart(core.identity.cseId);
    this.brokerUrl = new URL(options.url);
    this.dropped = new Counter({
      name: 'medward_onem2m_mqtt_dropped_total',
      help: 'MQTT messages the oneM2M binding dropped without a response, by reason',
      labelNames: ['reason'],
      registers: [options.registry],
    });
  }

  /** The topic filters this binding subscribes to. */
  get topics(): string[] {
    return [
      `/oneM2M/req/+/${this.cseTopicId}/+`,
      `/oneM2M/reg_req/+/${this.cseTopicId}/+`,
      `/oneM2M/resp/${this.cseTopicId}/+/+`,
    ];
  }

  async start(): Promise<void> {
    const client = await connectAsync(this.options.url, {
      clientId: `medward-${this.cseTopicId}-${randomBytes(4).toString('hex')}`,
      clean: true,
      connectTimeout: this.options.connectTimeoutMs,
      reconnectPeriod: 1000,
    });
    this.client = client;
    client.on('message', (topic, payload) => {
      const work = this.onMessage(topic, payload).catch((error: unknown) => {
        this.options.logger.error({ err: error, topic }, 'oneM2M MQTT message handling failed');
      });
      this.inFlight.add(work);
      void work.finally(() => this.inFlight.delete(work));
    });
    client.on('error', (error) => {
      this.options.logger.warn({ err: error }, 'oneM2M MQTT client error');
    });
    client.on('reconnect', () => {
      this.options.logger.info({ broker: this.brokerUrl.host }, 'oneM2M MQTT client reconnecting');
    });
    await client.subscribeAsync(this.topics, { qos: 1 });
    this.options.logger.info(
      { broker: this.brokerUrl.host, topics: this.topics },
      'oneM2M MQTT binding subscribed',
    );
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    for (const [rqi, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new Error('MQTT binding stopped'));
      this.pending.delete(rqi);
    }
    await this.client?.endAsync();
    this.client = undefined;
  }

  /** Checks whether `url` names the broker of this binding; all loopback names count as one host. */
  reaches(url: URL): boolean {
    const port = (value: URL): number =>
      value.port === '' ? DEFAULT_MQTT_PORT : Number(value.port);
    const host = (value: URL): string =>
      LOOPBACK_NAMES.has(value.hostname) ? 'loopback' : value.hostname;
    return port(url) === port(this.brokerUrl) && host(url) === host(this.brokerUrl);
  }

  /** Sends a request to `targetId` and waits for its response on the resp topic. */
  async request(
    targetId: string,
    primitive: RequestPrimitive,
    timeoutMs: number,
  ): Promise<ResponsePrimitive> {
    const client = this.client;
    if (client === undefined) {
      throw new Error('MQTT binding is not connected');
    }
    const topic = `/oneM2M/req/${this.cseTopicId}/${idToMqttTopicPart(targetId)}/json`;
    const response = new Promise<ResponsePrimitive>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(primitive.rqi);
        reject(new Error(`no MQTT response from ${targetId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(primitive.rqi, { resolve, reject, timer });
    });
    await client.publishAsync(topic, JSON.stringify(primitive), { qos: 1 });
    return response;
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    const parts = topic.split('/');
    // ['', 'oneM2M', kind, originator, receiver, serialization]
    if (parts.length !== 6 || parts[1] !== 'oneM2M') {
      this.drop('topic', topic);
      return;
    }
    const [, , kind = '', originator = '', receiver = '', serialization = ''] = parts;
    if (kind === 'resp') {
      this.onResponse(payload, topic);
      return;
    }
    if (serialization !== 'json') {
      // Without a parser for the serialization no rqi can be read, so no response can be sent.
      this.drop('serialization', topic);
      return;
    }
    let value: unknown;
    try {
      value = parseJsonBody(payload, this.options.maxContentBytes);
    } catch {
      this.drop('json', topic);
      return;
    }
    const responseTopic = `/oneM2M/${kind === 'reg_req' ? 'reg_resp' : 'resp'}/${originator}/${receiver}/json`;
    let request: RequestPrimitive;
    try {
      request = parseRequestPrimitive(value);
    } catch (error) {
      const rqi = recoverRequestId(value);
      if (rqi === undefined) {
        this.drop('primitive', topic);
        return;
      }
      const response: ResponsePrimitive = {
        rsc: rscOf(error),
        rqi,
        pc: { 'm2m:dbg': error instanceof Error ? error.message : String(error) },
        fr: this.core.identity.cseId,
      };
      await this.publish(responseTopic, response);
      return;
    }
    const { response } = await this.core.handleWithLocation(request, false, {
      correlationId: request.rqi,
      sourceAddress: `mqtt:${originator}`,
    });
    await this.publish(responseTopic, response);
  }

  private onResponse(payload: Buffer, topic: string): void {
    let value: unknown;
    try {
      value = parseJsonBody(payload, this.options.maxContentBytes);
    } catch {
      this.drop('json', topic);
      return;
    }
    const rqi = recoverRequestId(value);
    const pending = rqi === undefined ? undefined : this.pending.get(rqi);
    if (rqi === undefined || pending === undefined) {
      this.drop('unmatched-response', topic);
      return;
    }
    this.pending.delete(rqi);
    clearTimeout(pending.timer);
    const response = (value as { 'm2m:rsp'?: unknown })['m2m:rsp'] ?? value;
    const rsc = (response as { rsc?: unknown }).rsc;
    pending.resolve({
      ...(response as object),
      rqi,
      rsc: typeof rsc === 'number' ? rsc : Number(rsc),
    });
  }

  private async publish(topic: string, response: ResponsePrimitive): Promise<void> {
    const client = this.client;
    if (client === undefined) {
      this.drop('disconnected', topic);
      return;
    }
    await client.publishAsync(topic, JSON.stringify(response), { qos: 1 });
  }

  /** Counts a dropped message; logs the first of each reason and then at most one per minute. */
  private drop(reason: string, topic: string): void {
    this.dropped.inc({ reason });
    const now = Date.now();
    const last = this.lastDropLog.get(reason);
    if (last === undefined || now - last >= DROP_LOG_INTERVAL_MS) {
      this.lastDropLog.set(reason, now);
      this.options.logger.warn({ topic, reason }, 'oneM2M MQTT message dropped');
    }
  }
}
