import { randomUUID } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../core/logger.js';
import type { CseIdentity } from './address.js';
import type { Onem2mConfig } from './config.js';
import { wrapped, spRelativeAddress } from './resources.js';
import { onem2mError, isSuccessRsc } from './status.js';
import type { ResourceRecord } from './store.js';
import { parseDuration, formatTimestamp } from './time.js';
import {
  NotificationContentType,
  NotificationEventType,
  Operation,
  typeShortNames,
  type RequestPrimitive,
  type ResponsePrimitive,
} from './types.js';

/** A change to a resource, as the subscriptions on it and on its parent see it. */
export type ResourceEvent =
  | { kind: 'update'; record: ResourceRecord; modified: Record<string, unknown> }
  | { kind: 'delete'; record: ResourceRecord }
  | { kind: 'create-child'; parentRi: string; child: ResourceRecord }
  | { kind: 'delete-child'; parentRi: string; child: ResourceRecord };

/** Sends a request primitive over MQTT to `targetId` and returns its response. */
export interface MqttRequester {
  /** Whether a `mqtt://` URL names the broker this CSE is connected to. */
  reaches(url: URL): boolean;
  request(
    targetId: string,
    primitive: RequestPrimitive,
    timeoutMs: number,
  ): Promise<ResponsePrimitive>;
}

/** A notification destination: an HTTP URL, or an MQTT receiver ID on the CSE's broker. */
type Destination =
  { kind: 'http'; url: URL; nu: string } | { kind: 'mqtt'; targetId: string; url: URL; nu: string };

export interface NotifierOptions {
  identity: CseIdentity;
  config: Onem2mConfig['notification'];
  logger: Logger;
  registry: Registry;
  /** Finds a registered AE by AE-ID or resource address, for `nu` entries that are not URLs. */
  findAe(id: string): Promise<ResourceRecord | undefined>;
  /** Called once per notification of a subscription with `exc`; decrements it and deletes at zero. */
  countNotification(subscription: ResourceRecord): Promise<void>;
}

interface BatchBuffer {
  subscription: ResourceRecord;
  events: Record<string, unknown>[];
  timer: NodeJS.Timeout | undefined;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function isLoopback(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname) || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
}

function eventTypeOf(event: ResourceEvent): number {
  switch (event.kind) {
    case 'update':
      return NotificationEventType.UpdateOfResource;
    case 'delete':
      return NotificationEventType.DeleteOfResource;
    case 'create-child':
      return NotificationEventType.CreateOfDirectChildResource;
    case 'delete-child':
      return NotificationEventType.DeleteOfDirectChildResource;
  }
}

function subjectOf(event: ResourceEvent): ResourceRecord {
  return event.kind === 'update' || event.kind === 'delete' ? event.record : event.child;
}

/**
 * Whether a subscription's eventNotificationCriteria (`enc`) select an event: the event type must be in `net` (default: update only),
 * a child's type in `chty`, an update must touch an attribute in `atr`, and
 * the subject must satisfy the size and creation-time bounds.
 */
export function criteriaMatch(subscription: ResourceRecord, event: ResourceEvent): boolean {
  const enc = (subscription.attrs.enc ?? {}) as {
    net?: number[];
    chty?: number[];
    atr?: string[];
    sza?: number;
    szb?: number;
    cra?: string;
    crb?: string;
  };
  const net = enc.net ?? [NotificationEventType.UpdateOfResource];
  const type = eventTypeOf(event);
  if (!net.includes(type)) {
    return false;
  }
  const subject = subjectOf(event);
  if (
    (event.kind === 'create-child' || event.kind === 'delete-child') &&
    enc.chty !== undefined &&
    !enc.chty.includes(subject.ty)
  ) {
    return false;
  }
  if (event.kind === 'update' && enc.atr !== undefined) {
    const touched = Object.keys(event.modified);
    if (!enc.atr.some((name) => touched.includes(name))) {
      return false;
    }
  }
  if (enc.sza !== undefined && subject.cs < enc.sza) {
    return false;
  }
  if (enc.szb !== undefined && subject.cs >= enc.szb) {
    return false;
  }
  if (enc.cra !== undefined && !(subject.ct > enc.cra)) {
    return false;
  }
  if (enc.crb !== undefined && !(subject.ct < enc.crb)) {
    return false;
  }
  return true;
}

/** Resolves in the check phase of the next event loop turn. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    setImmediate(resolve);
  });
}

/** Returns why an HTTP response reports a failed delivery, or undefined for a success. */
function responseFailure(response: IncomingMessage): string | undefined {
  const rsc = response.headers['x-m2m-rsc'];
  if (typeof rsc === 'string' && !isSuccessRsc(Number(rsc))) {
    return `target answered rsc ${rsc}`;
  }
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) {
    return `target answered HTTP ${status}`;
  }
  return undefined;
}

/**
 * Delivers notifications (TS-0004): verification
 * requests when a subscription is created, event notifications after the
 * change has committed, batches (`bn`) and deletion notifications (`sud`).
 * Deliveries of one subscription run in order; deliveries of different
 * subscriptions run concurrently up to `concurrency`. Each attempt has a
 * timeout and failed attempts are retried with doubling delays. Failures are
 * logged and counted in `medward_onem2m_notifications_total`; the queue is
 * held in memory, so notifications not yet delivered at a crash are lost.
 */
export class Notifier {
  private readonly identity: CseIdentity;
  private readonly config: Onem2mConfig['notification'];
  private readonly logger: Logger;
  private readonly chains = new Map<string, Promise<void>>();
  private readonly batches = new Map<string, BatchBuffer>();
  private readonly excRemaining = new Map<string, number>();
  private readonly outcomes: Counter<'result'>;
  private readonly queuedGauge: Gauge;
  private queued = 0;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private mqtt: MqttRequester | undefined;
  private stopped = false;
  /** Keep-alive connections to HTTP targets, which usually receive notification after notification. */
  private httpAgent = new HttpAgent({ keepAlive: true });
  private httpsAgent = new HttpsAgent({ keepAlive: true });

  constructor(private readonly options: NotifierOptions) {
    this.identity = options.identity;
    this.config = options.config;
    this.logger = options.logger;
    this.outcomes = new Counter({
      name: 'medward_onem2m_notifications_total',
      help: 'oneM2M notifications by result: delivered, failed (after retries), dropped (queue full)',
      labelNames: ['result'],
      registers: [options.registry],
    });
    this.queuedGauge = new Gauge({
      name: 'medward_onem2m_notifications_queued',
      help: 'oneM2M notifications waiting for delivery',
      registers: [options.registry],
    });
  }

  /** Connects the MQTT binding, which delivers notifications to `mqtt://` targets. */
  useMqtt(requester: MqttRequester | undefined): void {
    this.mqtt = requester;
  }

  /**
   * Sends the verification request of a new subscription (`vrq`) to each
   * `nu` that is not the subscriber itself, and throws 5204 when a target
   * cannot be reached or does not accept it.
   */
  async verify(nus: readonly string[], subscriptionRi: string, creator: string): Promise<void> {
    for (const nu of nus) {
      if (this.isOriginatorItself(nu, creator)) {
        continue;
      }
      const content = {
        'm2m:sgn': {
          vrq: true,
          sur: `${this.identity.cseId}/${subscriptionRi}`,
          cr: creator,
        },
      };
      const error = await this.deliverOnce(nu, content, 1);
      if (error !== undefined) {
        throw onem2mError(
          'SUBSCRIPTION_VERIFICATION_INITIATION_FAILED',
          `verification request to notification URI ${nu} failed: ${error}`,
        );
      }
    }
  }

  private isOriginatorItself(nu: string, creator: string): boolean {
    const prefix = `${this.identity.cseId}/`;
    const strip = (id: string): string => (id.startsWith(prefix) ? id.slice(prefix.length) : id);
    return creator !== '' && strip(nu) === strip(creator);
  }

  /** Queues the notifications an event causes on the given subscriptions. */
  notify(event: ResourceEvent, subscriptions: readonly ResourceRecord[]): void {
    for (const subscription of subscriptions) {
      if (!criteriaMatch(subscription, event)) {
        continue;
      }
      const exc = subscription.attrs.exc;
      if (typeof exc === 'number') {
        // The stored counter is decremented after delivery; this one counts at
        // once, so a burst of events never exceeds the counter.
        const left = this.excRemaining.get(subscription.ri) ?? exc;
        if (left <= 0) {
          continue;
        }
        this.excRemaining.set(subscription.ri, left - 1);
      }
      const content = this.eventContent(subscription, event);
      const bn = subscription.attrs.bn as { num: number; dur?: string } | undefined;
      if (bn === undefined) {
        this.enqueue(subscription, { 'm2m:sgn': content });
      } else {
        this.addToBatch(subscription, content, bn);
      }
      if (typeof subscription.attrs.exc === 'number') {
        this.enqueueTask(subscription.ri, () => this.options.countNotification(subscription));
      }
    }
  }

  /** Drops what the notifier remembers of a subscription whose attributes changed. */
  forgetSubscription(ri: string): void {
    this.excRemaining.delete(ri);
  }

  /** Sends the deletion notification (`sud`) of a deleted subscription to its subscriber URI. */
  notifyDeletion(subscription: ResourceRecord): void {
    this.flushBatch(subscription.ri);
    this.excRemaining.delete(subscription.ri);
    const su = subscription.attrs.su;
    if (typeof su !== 'string') {
      return;
    }
    const content = {
      'm2m:sgn': { sud: true, sur: spRelativeAddress(subscription, this.identity) },
    };
    this.enqueueTask(subscription.ri, async () => {
      await this.deliver(su, content, subscription.ri);
    });
  }

  private eventContent(
    subscription: ResourceRecord,
    event: ResourceEvent,
  ): Record<string, unknown> {
    const subject = subjectOf(event);
    const nct = subscription.attrs.nct ?? NotificationContentType.AllAttributes;
    let rep: Record<string, unknown>;
    if (nct === NotificationContentType.ResourceId) {
      rep = { 'm2m:uri': subject.srn };
    } else if (nct === NotificationContentType.ModifiedAttributes && event.kind === 'update') {
      rep = { [typeShortNames[subject.ty]]: { ...event.modified, ri: subject.ri } };
    } else if (event.kind === 'delete' && nct !== NotificationContentType.AllAttributes) {
      rep = { [typeShortNames[subject.ty]]: { ri: subject.ri } };
    } else {
      rep = wrapped(subject, this.identity);
    }
    return {
      nev: { rep, net: eventTypeOf(event) },
      sur: spRelativeAddress(subscription, this.identity),
    };
  }

  private addToBatch(
    subscription: ResourceRecord,
    content: Record<string, unknown>,
    bn: { num: number; dur?: string },
  ): void {
    let buffer = this.batches.get(subscription.ri);
    if (buffer === undefined) {
      buffer = { subscription, events: [], timer: undefined };
      this.batches.set(subscription.ri, buffer);
      const durMs = bn.dur === undefined ? undefined : parseDuration(bn.dur);
      if (durMs !== undefined) {
        const ri = subscription.ri;
        buffer.timer = setTimeout(() => {
          this.flushBatch(ri);
        }, durMs);
        buffer.timer.unref();
      }
    }
    buffer.subscription = subscription;
    buffer.events.push(content);
    if (buffer.events.length >= bn.num) {
      this.flushBatch(subscription.ri);
    }
  }

  /** Sends a subscription's pending batch as one aggregated notification (m2m:agn). */
  private flushBatch(ri: string): void {
    const buffer = this.batches.get(ri);
    if (buffer === undefined) {
      return;
    }
    this.batches.delete(ri);
    if (buffer.timer !== undefined) {
      clearTimeout(buffer.timer);
    }
    if (buffer.events.length > 0) {
      this.enqueue(buffer.subscription, { 'm2m:agn': { 'm2m:sgn': buffer.events } });
    }
  }

  private enqueue(subscription: ResourceRecord, content: Record<string, unknown>): void {
    const nus = Array.isArray(subscription.attrs.nu) ? (subscription.attrs.nu as string[]) : [];
    for (const nu of nus) {
      this.enqueueTask(subscription.ri, async () => {
        await this.deliver(nu, content, subscription.ri);
      });
    }
  }

  private enqueueTask(key: string, task: () => Promise<void>): void {
    if (this.stopped) {
      this.outcomes.inc({ result: 'dropped' });
      this.logger.warn({ subscription: key }, 'notification dropped: notifier stopped');
      return;
    }
    if (this.queued >= this.config.maxQueued) {
      this.outcomes.inc({ result: 'dropped' });
      this.logger.warn(
        { subscription: key, queued: this.queued },
        'notification dropped: queue full',
      );
      return;
    }
    this.queued += 1;
    this.queuedGauge.set(this.queued);
    // A new chain starts in the next turn of the event loop, so the request
    // that caused the event sends its response before delivery work begins.
    const previous = this.chains.get(key) ?? nextTurn();
    const next = previous
      .then(async () => {
        await this.acquire();
        try {
          await task();
        } finally {
          this.release();
        }
      })
      .catch((error: unknown) => {
        this.logger.error({ err: error, subscription: key }, 'notification task failed');
      })
      .finally(() => {
        this.queued -= 1;
        this.queuedGauge.set(this.queued);
        if (this.chains.get(key) === next) {
          this.chains.delete(key);
        }
      });
    this.chains.set(key, next);
  }

  private async acquire(): Promise<void> {
    if (this.running < this.config.concurrency) {
      this.running += 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
  }

  private release(): void {
    this.running -= 1;
    this.waiting.shift()?.();
  }

  /** Delivers with retries; logs and counts the outcome. */
  private async deliver(
    nu: string,
    content: Record<string, unknown>,
    subscriptionRi: string,
  ): Promise<void> {
    const error = await this.deliverOnce(nu, content, this.config.retries + 1);
    if (error === undefined) {
      this.outcomes.inc({ result: 'delivered' });
      return;
    }
    this.outcomes.inc({ result: 'failed' });
    this.logger.warn(
      { subscription: subscriptionRi, nu, reason: error },
      'notification delivery failed',
    );
  }

  /**
   * Sends `content` to one `nu` (URL or AE), trying up to `attempts` times.
   * Returns undefined on success or the last failure reason.
   */
  async deliverOnce(
    nu: string,
    content: Record<string, unknown>,
    attempts: number,
  ): Promise<string | undefined> {
    let destinations: Destination[];
    try {
      destinations = await this.resolve(nu);
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
    let reason = 'no destination';
    for (let attempt = 0; attempt < attempts; attempt += 1) {
      if (attempt > 0) {
        await new Promise((resolve) =>
          setTimeout(resolve, this.config.retryDelayMs * 2 ** (attempt - 1)),
        );
      }
      for (const destination of destinations) {
        const failure = await this.send(destination, content);
        if (failure === undefined) {
          return undefined;
        }
        reason = failure;
      }
    }
    return reason;
  }

  /** Turns a `nu` entry into destinations: a URL, or the points of access of an AE. */
  private async resolve(nu: string): Promise<Destination[]> {
    if (/^(https?|mqtts?):\/\//i.test(nu)) {
      return [this.destinationOfUrl(nu, undefined)];
    }
    const ae = await this.options.findAe(nu);
    if (ae === undefined) {
      throw new Error(`notification URI ${nu} is neither a URL nor a registered AE`);
    }
    const poa = Array.isArray(ae.attrs.poa) ? (ae.attrs.poa as string[]) : [];
    if (poa.length === 0) {
      throw new Error(`AE ${String(ae.attrs.aei)} has no point of access (poa)`);
    }
    return poa.map((url) => this.destinationOfUrl(url, String(ae.attrs.aei)));
  }

  private destinationOfUrl(text: string, aeId: string | undefined): Destination {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new Error(`notification URI ${text} is not a valid URL`);
    }
    if (!this.config.allowRemoteTargets && !isLoopback(url)) {
      throw new Error(
        `notification URI ${text} is not on a loopback address; set onem2m.notification.allowRemoteTargets to allow it`,
      );
    }
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      return { kind: 'http', url, nu: text };
    }
    // TS-0010: the receiver ID in the topic is the AE-ID, or the URL path without its slash.
    const targetId = aeId ?? decodeURIComponent(url.pathname.replace(/^\/+/, ''));
    if (targetId === '') {
      throw new Error(`MQTT notification URI ${text} names no receiver; append /<AE-ID>`);
    }
    return { kind: 'mqtt', url, targetId, nu: text };
  }

  /** One attempt; returns undefined on success or why it failed. */
  private async send(
    destination: Destination,
    content: Record<string, unknown>,
  ): Promise<string | undefined> {
    const primitive: RequestPrimitive = {
      op: Operation.Notify,
      to: destination.nu,
      fr: this.identity.cseId,
      rqi: randomUUID(),
      rvi: '3',
      ot: formatTimestamp(Date.now()),
      pc: content,
    };
    if (destination.kind === 'mqtt') {
      const mqtt = this.mqtt;
      if (mqtt === undefined || !mqtt.reaches(destination.url)) {
        return `MQTT broker of ${destination.nu} is not the broker this CSE is connected to`;
      }
      try {
        const response = await mqtt.request(destination.targetId, primitive, this.config.timeoutMs);
        return isSuccessRsc(response.rsc) ? undefined : `target answered rsc ${response.rsc}`;
      } catch (error) {
        return error instanceof Error ? error.message : String(error);
      }
    }
    return this.post(destination.url, primitive, JSON.stringify(content));
  }

  /**
   * POSTs a notification over HTTP(S) and returns undefined on success or
   * why it failed. Redirects are not followed, so a 3xx response is a failure.
   */
  private post(url: URL, primitive: RequestPrimitive, body: string): Promise<string | undefined> {
    const https = url.protocol === 'https:';
    return new Promise((resolve) => {
      const failed = (error: Error): void => {
        resolve(`${error.name}: ${error.message}`);
      };
      const request = (https ? httpsRequest : httpRequest)(
        url,
        {
          method: 'POST',
          agent: https ? this.httpsAgent : this.httpAgent,
          headers: {
            'X-M2M-Origin': primitive.fr,
            'X-M2M-RI': primitive.rqi,
            'X-M2M-RVI': '3',
            'X-M2M-OT': primitive.ot ?? '',
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            Accept: 'application/json',
          },
          signal: AbortSignal.timeout(this.config.timeoutMs),
        },
        (response) => {
          response.on('error', failed);
          response.on('end', () => {
            resolve(responseFailure(response));
          });
          response.resume();
        },
      );
      request.on('error', failed);
      request.end(body);
    });
  }

  /** Sends pending batches now and waits for queued deliveries, at most `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    for (const ri of [...this.batches.keys()]) {
      this.flushBatch(ri);
    }
    this.stopped = true;
    const all = Promise.allSettled([...this.chains.values()]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      all,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    if (timer !== undefined) {
      clearTimeout(timer);
    }
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** Resumes accepting notifications after `stop`, for a CSE that starts again. */
  resume(): void {
    this.stopped = false;
    this.httpAgent = new HttpAgent({ keepAlive: true });
    this.httpsAgent = new HttpsAgent({ keepAlive: true });
  }

  /** Waits until every queued notification has been attempted; for tests and shutdown. */
  async idle(): Promise<void> {
    while (this.chains.size > 0) {
      await Promise.allSettled([...this.chains.values()]);
    }
  }
}
