import type { FastifyInstance } from 'fastify';
import type { AuditTrail } from '../core/audit/index.js';
import type { Component } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/metrics.js';
import type { Storage } from '../core/storage/index.js';
import type { Onem2mConfig } from './config.js';
import { CseCore } from './cse.js';
import { HttpBinding } from './http-binding.js';
import { MqttBinding } from './mqtt-binding.js';
import type { RequestPrimitive, ResponsePrimitive } from './types.js';

export interface Onem2mCseOptions {
  config: Onem2mConfig;
  /** Migrated storage (the oneM2M and audit migrations applied). */
  storage: Storage;
  audit: AuditTrail;
  logger: Logger;
  registry: Registry;
  /**
   * MQTT broker URL used when `config.mqtt.url` is not set: the embedded
   * broker's URL in the default setup, or `mqtt.url` for an external broker.
   */
  mqttUrl?: string;
}

/** Time `stop` waits for queued notifications before it gives up on them. */
const NOTIFICATION_DRAIN_MS = 5000;

/**
 * medward's oneM2M IN-CSE as a lifecycle component: the HTTP listener, the
 * MQTT client and the notification and expiration workers.
 *
 * In-process callers (interworking proxies such as the IEEE 11073 agent
 * bridge) use `handle(request)` with the same request primitives the
 * bindings produce, for example
 * `cse.handle({ op: 1, to: 'medward', fr: 'C', rqi: 'r1', rvi: '3', ty: 2,
 * pc: { 'm2m:ae': { api: 'Nmedward.agent', rr: false, srv: ['3'] } } })`.
 * Their requests pass the same originator and access control checks as any
 * other.
 */
export class Onem2mCse implements Component {
  readonly name = 'onem2m-cse';
  readonly core: CseCore;
  private readonly options: Onem2mCseOptions;
  private http: HttpBinding | undefined;
  private mqtt: MqttBinding | undefined;

  constructor(options: Onem2mCseOptions) {
    this.options = options;
    this.core = new CseCore(options);
  }

  async start(): Promise<void> {
    const { config, logger } = this.options;
    await this.core.initialize();
    if (config.http.enabled) {
      const http = new HttpBinding(this.core, {
        host: config.http.host,
        port: config.http.port,
        maxContentBytes: config.maxContentBytes,
        logger,
      });
      await http.start();
      this.http = http;
    }
    if (config.mqtt.enabled) {
      const url = config.mqtt.url ?? this.options.mqttUrl;
      if (url === undefined) {
        throw new Error('onem2m.mqtt is enabled but no broker URL is known; set onem2m.mqtt.url');
      }
      const mqtt = new MqttBinding(this.core, {
        url,
        connectTimeoutMs: config.mqtt.connectTimeoutMs,
        maxContentBytes: config.maxContentBytes,
        logger,
        registry: this.options.registry,
      });
      try {
        await mqtt.start();
      } catch (error) {
        await this.http?.stop();
        this.http = undefined;
        throw error;
      }
      this.mqtt = mqtt;
      this.core.notifier.useMqtt(mqtt);
    }
    this.core.startSweeper();
    logger.info({ cseId: config.cseId, cseName: config.cseName }, 'oneM2M CSE started');
  }

  async stop(): Promise<void> {
    await this.http?.stop();
    this.http = undefined;
    await this.core.stopSweeper();
    await this.core.notifier.stop(NOTIFICATION_DRAIN_MS);
    this.core.notifier.useMqtt(undefined);
    await this.mqtt?.stop();
    this.mqtt = undefined;
  }

  /**
   * Handles one request primitive in-process and returns the response
   * primitive; never throws. See the class documentation for an example.
   */
  handle(request: RequestPrimitive): Promise<ResponsePrimitive> {
    return this.core.handle(request);
  }

  /** The Fastify instance of the HTTP binding while it runs, for `inject` in tests. */
  get httpApp(): FastifyInstance | undefined {
    return this.http?.app;
  }

  /** The address the HTTP binding listens on while it runs. */
  get httpAddress(): { host: string; port: number } | undefined {
    return this.http?.address();
  }

  /** Waits until every queued notification has been attempted. */
  notificationsIdle(): Promise<void> {
    return this.core.notifier.idle();
  }
}
