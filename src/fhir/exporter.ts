/**
 * The FHIR exporter: receives committed observations from the bus, keeps
 * them in an outbox and sends them to the FHIR server as transaction Bundles.
 *
 * Delivery guarantees:
 * - An observation is in storage before its bus message is acknowledged, and
 *   its outbox row is deleted only after a 2xx response whose
 *   transaction-response entry for it has a 2xx status.
 * - 408, 429, 5xx, 401, 403, network errors, timeouts and unreadable
 *   responses are retried after a pause that doubles per consecutive failure
 *   (with jitter, at least the server's Retry-After, at most retryMaxDelayMs).
 * - Another 4xx on a batch of several observations sends each of them alone.
 *   A 4xx for a single observation parks its row with the server's
 *   OperationOutcome and logs an error. medward sends a parked row again
 *   only after an operator requeues it.
 * - Resending is harmless: the Bundle's conditional requests match what the
 *   server already has.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Counter, Gauge } from 'prom-client';
import type { EventBus, Subscription } from '../core/bus/index.js';
import { MedwardError, ErrorKind } from '../core/errors.js';
import type { Component } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/metrics.js';
import { redactUrl, type Storage } from '../core/storage/index.js';
import { buildPhdBundle, type BuiltBundle } from './bundle.js';
import { postBundle, isRetryableStatus, type SendOutcome } from './client.js';
import { timeSyncProtocols, type FhirConfig } from './config.js';
import type { GatewayDescription } from './device.js';
import { serializeFhirJson } from './fhir-json.js';
import { parsePhdExportPayload } from './input.js';
import type { Bundle } from './resources.js';
import { FhirStore, type OutboxBatch, type OutboxCounts } from './store.js';

/** Bus subject on which the 11073 manager publishes committed observations (a PhdExportPayload). */
/** Bus subject whose messages carry a `PhdExportPayload` to store and export. */
export const FHIR_EXPORT_SUBJECT = 'fhir.export.requested';
const consumerGroup = 'fhir-export';

export interface FhirExporterDeps {
  config: FhirConfig;
  storage: Storage;
  bus: EventBus;
  logger: Logger;
  metrics: Registry;
  /** Site id; medward's gateway EUI-64 is derived from it unless configured. */
  siteId: string;
  /** Random number in [0, 1) for retry jitter; Math.random by default. */
  random?: () => number;
}

export interface BundleQuery {
  deviceSystemId?: string;
  /** Inclusive lower bound on the time medward received the observation. */
  from?: Date;
  /** Exclusive upper bound on the time medward received the observation. */
  to?: Date;
  type?: 'collection' | 'transaction';
  /** Maximum observations in the Bundle, oldest first; default and upper limit 10 000. */
  limit?: number;
}

/**
 * Derives a stable EUI-64 for medward from the site id: the first 8 bytes of
 * a SHA-256 with the locally-administered bit set and the group bit cleared.
 * The set bit keeps it out of the range vendors assign.
 */
export function gatewaySystemIdFor(siteId: string): string {
  const bytes = createHash('sha256').update(`medward-gateway:${siteId}`).digest().subarray(0, 8);
  bytes[0] = ((bytes[0] ?? 0) | 0x02) & 0xfe;
  return bytes.toString('hex').toUpperCase();
}

/**
 * A wake-up signal for the send loop. A notify that arrives while no waiter
 * is registered is remembered, so work queued during a send is not missed.
 */
class Wakeup {
  private waiter: (() => void) | undefined;
  private pending = false;

  notify(): void {
    const waiter = this.waiter;
    if (waiter === undefined) {
      this.pending = true;
      return;
    }
    this.waiter = undefined;
    waiter();
  }

  /** Resolves on the next notify, or after `timeoutMs` when given. */
  wait(timeoutMs?: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        if (this.waiter === finish) {
          this.waiter = undefined;
        }
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(finish, timeoutMs);
      this.waiter = finish;
    });
  }
}

export class FhirExporter implements Component {
  readonly name = 'fhir-exporter';
  readonly store: FhirStore;
  readonly gateway: GatewayDescription;
  private readonly config: FhirConfig;
  private readonly bus: EventBus;
  private readonly logger: Logger;
  private readonly random: () => number;
  private readonly wakeup = new Wakeup();
  private readonly abort = new AbortController();
  private subscription: Subscription | undefined;
  private loop: Promise<void> | undefined;
  private running = false;
  private consecutiveFailures = 0;
  private pausedUntilMs = 0;
  private readonly observationsTotal: Counter<'outcome'>;
  private readonly requestsTotal: Counter<'result'>;

  constructor(deps: FhirExporterDeps) {
    this.config = deps.config;
    if (deps.config.retryMaxDelayMs < deps.config.retryBaseDelayMs) {
      throw new MedwardError(
        ErrorKind.Invalid,
        'CONFIG_INVALID',
        `fhir.retryMaxDelayMs (${deps.config.retryMaxDelayMs}) is below fhir.retryBaseDelayMs (${deps.config.retryBaseDelayMs}); raise the maximum`,
        { details: { key: 'fhir.retryMaxDelayMs' } },
      );
    }

    this.bus = deps.bus;
    this.logger = deps.logger.child({ component: 'fhir-exporter' });
    this.random = deps.random ?? Math.random;
    this.store = new FhirStore(deps.storage);
    this.gateway = {
      systemId: (deps.config.gatewaySystemId ?? gatewaySystemIdFor(deps.siteId)).toUpperCase(),
      timeSyncProtocol: 8 * 65536 + timeSyncProtocols[deps.config.gatewayTimeSync],
    };

    this.observationsTotal = new Counter({
      name: 'medward_fhir_export_observations_total',
      help: 'Observations the FHIR export finished, by outcome: exported or parked',
      labelNames: ['outcome'],
      registers: [deps.metrics],
    });
    this.requestsTotal = new Counter({
      name: 'medward_fhir_export_requests_total',
      help: 'Transaction Bundles POSTed to the FHIR server, by result: accepted, retry or rejected',
      labelNames: ['result'],
      registers: [deps.metrics],
    });
    this.registerOutboxGauge(deps.metrics);
  }

  /** Registers the outbox gauge, which counts the rows in each state when scraped. */
  private registerOutboxGauge(metrics: Registry): void {
    const store = this.store;
    const logger = this.logger;
    new Gauge({
      name: 'medward_fhir_outbox_rows',
      help: 'Observations waiting in the FHIR outbox, by state: pending, isolated or parked',
      labelNames: ['state'],
      registers: [metrics],
      async collect() {
        try {
          const counts = await store.outboxCounts();
          for (const state of ['pending', 'isolated', 'parked'] as const) {
            this.set({ state }, counts[state]);
          }
        } catch (error) {
          logger.warn({ err: error }, 'fhir outbox count failed');
        }
      },
    });
  }

  async start(): Promise<void> {
    if (!this.config.enabled) {
      this.logger.info('fhir export disabled');
      return;
    }
    this.subscription = await this.bus.subscribe({
      subject: FHIR_EXPORT_SUBJECT,
      group: consumerGroup,
      handler: async (message) => {
        await this.enqueue(message.data);
      },
    });
    const serverUrl = this.config.serverUrl;
    if (serverUrl === undefined) {
      this.logger.warn('fhir export stores observations but sends none: fhir.serverUrl is not set');
    } else {
      this.running = true;
      this.loop = this.run(serverUrl);
    }
    this.logger.info(
      {
        serverUrl: serverUrl === undefined ? undefined : redactUrl(serverUrl),
        gatewaySystemId: this.gateway.systemId,
        batchSize: this.config.batchSize,
      },
      'fhir exporter started',
    );
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    this.subscription = undefined;
    this.running = false;
    this.abort.abort();
    this.wakeup.notify();
    await this.loop;
    this.loop = undefined;
    this.logger.info('fhir exporter stopped');
  }

  /**
   * Validates a committed-observation payload, stores it and wakes the send
   * loop. Throws FHIR_PAYLOAD_INVALID for a payload of the wrong shape.
   */
  async enqueue(data: unknown): Promise<{ added: string[]; duplicates: string[] }> {
    const payload = parsePhdExportPayload(data);
    const result = await this.store.record(payload);
    if (result.duplicates.length > 0) {
      this.logger.debug(
        { deviceSystemId: payload.device.systemId, duplicates: result.duplicates.length },
        'fhir export skipped observations it already has',
      );
    }
    if (result.added.length > 0) {
      this.wakeup.notify();
    }
    return result;
  }

  /** Returns parked observations to the outbox; all of them when no ids are given. */
  async requeueParked(observationIds?: readonly string[]): Promise<number> {
    const moved = await this.store.requeueParked(observationIds);
    if (moved > 0) {
      this.logger.info({ observations: moved }, 'fhir export requeued parked observations');
      this.wakeup.notify();
    }
    return moved;
  }

  outboxCounts(): Promise<OutboxCounts> {
    return this.store.outboxCounts();
  }

  /**
   * Builds a Bundle of stored observations, oldest first, for download. Use
   * serializeFhirJson to write it, so decimals keep their exact text.
   */
  async buildBundleFor(query: BundleQuery = {}): Promise<Bundle> {
    const limit = Math.min(Math.max(query.limit ?? 10000, 1), 10000);
    const stored = await this.store.observations({ ...query, limit });
    if (stored.unreadable > 0) {
      this.logger.error(
        { unreadable: stored.unreadable },
        'fhir download left out stored observations that no longer validate',
      );
    }
    const type = query.type ?? 'collection';
    return buildPhdBundle({
      type,
      observations: stored.observations,
      devices: stored.devices,
      gateway: this.gateway,
      ...(type === 'collection' ? { timestamp: new Date().toISOString() } : {}),
    }).bundle;
  }

  private async run(serverUrl: string): Promise<void> {
    while (this.running) {
      const pauseMs = this.pausedUntilMs - Date.now();
      if (pauseMs > 0) {
        await this.wakeup.wait(pauseMs);
        continue;
      }
      let sent: boolean;
      try {
        sent = await this.sendBatch(serverUrl);
      } catch (error) {
        // Storage failed; the rows are untouched and the batch is tried again.
        this.logger.error({ err: error }, 'fhir export batch failed');
        this.pause();
        continue;
      }
      if (!sent) {
        await this.wakeup.wait();
      }
    }
  }

  /** Sends the next batch; returns false when the outbox has nothing to send. */
  private async sendBatch(serverUrl: string): Promise<boolean> {
    const batch = await this.store.nextBatch(this.config.batchSize);
    for (const { observationId, problem } of batch.unreadable) {
      await this.store.park([observationId], { error: problem });
      this.observationsTotal.inc({ outcome: 'parked' });
      this.logger.error({ observationId, problem }, 'fhir export parked an unreadable observation');
    }
    if (batch.entries.length === 0) {
      return batch.unreadable.length > 0;
    }
    const built = buildPhdBundle({
      type: 'transaction',
      observations: batch.entries.map((entry) => entry.input),
      devices: batch.devices,
      gateway: this.gateway,
    });
    const outcome = await this.post(serverUrl, serializeFhirJson(built.bundle));
    if (!this.running && this.abort.signal.aborted) {
      // Aborted by stop(): the rows stay as they were and go out after the next start.
      return true;
    }
    await this.handleOutcome(batch, built, outcome);
    return true;
  }

  private async post(serverUrl: string, body: string): Promise<SendOutcome> {
    let bearerToken: string | undefined;
    if (this.config.bearerTokenFile !== undefined) {
      try {
        bearerToken = (await readFile(this.config.bearerTokenFile, 'utf8')).trim();
      } catch (error) {
        return {
          kind: 'retry',
          error: `bearer token file ${this.config.bearerTokenFile} is unreadable: ${(error as Error).message}`,
        };
      }
      if (bearerToken === '') {
        return {
          kind: 'retry',
          error: `bearer token file ${this.config.bearerTokenFile} is empty`,
        };
      }
    }
    return postBundle({
      url: serverUrl,
      body,
      ...(bearerToken === undefined ? {} : { bearerToken }),
      timeoutMs: this.config.requestTimeoutMs,
      signal: this.abort.signal,
    });
  }

  private async handleOutcome(
    batch: OutboxBatch,
    built: BuiltBundle,
    outcome: SendOutcome,
  ): Promise<void> {
    const ids = batch.entries.map((entry) => entry.observationId);
    switch (outcome.kind) {
      case 'accepted':
        this.requestsTotal.inc({ result: 'accepted' });
        await this.handleResponse(batch, built, outcome.body);
        return;
      case 'retry': {
        this.requestsTotal.inc({ result: 'retry' });
        await this.store.markRetry(ids, {
          ...(outcome.status === undefined ? {} : { status: outcome.status }),
          error: outcome.error,
        });
        const delayMs = this.pause(outcome.retryAfterMs);
        this.logger.warn(
          { status: outcome.status, error: outcome.error, observations: ids.length, delayMs },
          'fhir export will retry the batch',
        );
        return;
      }
      case 'rejected':
        this.requestsTotal.inc({ result: 'rejected' });
        this.succeeded();
        await this.reject(ids, outcome);
        return;
    }
  }

  private async reject(
    ids: string[],
    outcome: Extract<SendOutcome, { kind: 'rejected' }>,
  ): Promise<void> {
    const failure = {
      status: outcome.status,
      error: outcome.error,
      ...(outcome.outcome === undefined ? {} : { outcome: outcome.outcome }),
    };
    if (ids.length > 1) {
      await this.store.isolate(ids, failure);
      this.logger.warn(
        { status: outcome.status, observations: ids.length },
        'fhir server rejected a batch; sending its observations one by one',
      );
      return;
    }
    await this.store.park(ids, failure);
    this.observationsTotal.inc({ outcome: 'parked' }, ids.length);
    this.logger.error(
      {
        alert: true,
        status: outcome.status,
        observationIds: ids,
        outcome: outcome.outcome ?? outcome.error,
      },
      'fhir export batch parked',
    );
  }

  /** Applies a transaction-response entry by entry. */
  private async handleResponse(
    batch: OutboxBatch,
    built: BuiltBundle,
    body: unknown,
  ): Promise<void> {
    const ids = batch.entries.map((entry) => entry.observationId);
    const responses = responseEntries(body, built.bundle.entry.length);
    if (responses === undefined) {
      await this.store.markRetry(ids, {
        error:
          'the FHIR server answered 2xx without a transaction-response Bundle of one entry per request',
      });
      const delayMs = this.pause();
      this.logger.warn({ observations: ids.length, delayMs }, 'fhir export will retry the batch');
      return;
    }
    const exported: string[] = [];
    const retry: string[] = [];
    for (const id of ids) {
      const index = built.observationEntries.get(id);
      const response = index === undefined ? undefined : responses[index];
      const status = response?.status ?? Number.NaN;
      if (status >= 200 && status < 300) {
        exported.push(id);
      } else if (Number.isNaN(status) || isRetryableStatus(status)) {
        retry.push(id);
      } else {
        await this.reject([id], {
          kind: 'rejected',
          status,
          error: `FHIR server rejected the entry with ${status}`,
          ...(response?.outcome === undefined ? {} : { outcome: response.outcome }),
        });
      }
    }
    this.warnAboutSupportingEntries(built, responses);
    await this.store.markExported(exported);
    this.observationsTotal.inc({ outcome: 'exported' }, exported.length);
    if (retry.length > 0) {
      await this.store.markRetry(retry, {
        error: 'the FHIR server failed the entry; it is retried',
      });
      const delayMs = this.pause();
      this.logger.warn(
        { observations: retry.length, delayMs },
        'fhir export will retry failed entries',
      );
    } else {
      this.succeeded();
    }
    this.logger.debug({ exported: exported.length }, 'fhir export batch accepted');
  }

  /** Logs failed Device and coincident time stamp entries, which have no outbox row of their own. */
  private warnAboutSupportingEntries(built: BuiltBundle, responses: EntryResponse[]): void {
    const observationIndexes = new Set(built.observationEntries.values());
    responses.forEach((response, index) => {
      if (observationIndexes.has(index) || (response.status >= 200 && response.status < 300)) {
        return;
      }
      const entry = built.bundle.entry[index];
      this.logger.warn(
        {
          status: response.status,
          resourceType: entry?.resource.resourceType,
          fullUrl: entry?.fullUrl,
        },
        'fhir server failed a supporting entry of the batch',
      );
    });
  }

  /** Counts a failure and pauses sending; returns the pause in milliseconds. */
  private pause(retryAfterMs?: number): number {
    this.consecutiveFailures += 1;
    const exponent = Math.min(this.consecutiveFailures - 1, 40);
    const ceiling = Math.min(
      this.config.retryMaxDelayMs,
      this.config.retryBaseDelayMs * 2 ** exponent,
    );
    // Equal jitter: at least half the ceiling, so pauses never shrink while failures go on.
    const jittered = ceiling / 2 + (this.random() * ceiling) / 2;
    const delayMs = Math.round(
      Math.min(this.config.retryMaxDelayMs, Math.max(jittered, retryAfterMs ?? 0)),
    );
    this.pausedUntilMs = Date.now() + delayMs;
    return delayMs;
  }

  private succeeded(): void {
    this.consecutiveFailures = 0;
    this.pausedUntilMs = 0;
  }
}

interface EntryResponse {
  status: number;
  /** The entry's OperationOutcome as JSON text, when the server sent one. */
  outcome?: string;
}

/** Reads the entry statuses of a transaction-response, or undefined when the body is not one. */
function responseEntries(body: unknown, expected: number): EntryResponse[] | undefined {
  if (typeof body !== 'object' || body === null) {
    return undefined;
  }
  const bundle = body as { resourceType?: unknown; type?: unknown; entry?: unknown };
  if (
    bundle.resourceType !== 'Bundle' ||
    (bundle.type !== 'transaction-response' && bundle.type !== 'batch-response') ||
    !Array.isArray(bundle.entry) ||
    bundle.entry.length !== expected
  ) {
    return undefined;
  }
  return bundle.entry.map((entry: unknown): EntryResponse => {
    const response =
      typeof entry === 'object' && entry !== null && 'response' in entry
        ? (entry.response as { status?: unknown; outcome?: unknown } | undefined)
        : undefined;
    const status =
      typeof response?.status === 'string' ? Number.parseInt(response.status, 10) : Number.NaN;
    return response?.outcome === undefined
      ? { status }
      : { status, outcome: JSON.stringify(response.outcome) };
  });
}
