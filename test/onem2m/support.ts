import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { AuditTrail } from '../../src/core/audit/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { createMetricsRegistry, type Registry } from '../../src/core/metrics.js';
import type { DialectName } from '../../src/core/storage/index.js';
import { Onem2mCse } from '../../src/onem2m/index.js';
import { Onem2mSection, type Onem2mConfig } from '../../src/onem2m/config.js';
import type { RequestPrimitive, ResponsePrimitive } from '../../src/onem2m/types.js';
import { createTestDatabase, type TestDatabase } from '../support/storage.js';

export const ADMIN = 'CAdmin';

/** Deep partial of the oneM2M configuration, for test overrides. */
export type ConfigOverrides = { [K in keyof Onem2mConfig]?: unknown };

export function testConfig(overrides: ConfigOverrides = {}): Onem2mConfig {
  const base = {
    cseId: `/id-test-${randomBytes(4).toString('hex')}`,
    http: { enabled: false },
    mqtt: { enabled: false },
    expirationSweepIntervalMs: 60000,
    notification: { timeoutMs: 1000, retries: 0, retryDelayMs: 10 },
    ...overrides,
  };
  const config = Value.Default(Onem2mSection, structuredClone(base)) as Onem2mConfig;
  if (!Value.Check(Onem2mSection, config)) {
    throw new Error(
      `invalid test configuration: ${JSON.stringify([...Value.Errors(Onem2mSection, config)][0])}`,
    );
  }
  return config;
}

export interface TestCse {
  cse: Onem2mCse;
  database: TestDatabase;
  audit: AuditTrail;
  registry: Registry;
  config: Onem2mConfig;
  /** Sends a request primitive in-process, filling rqi and rvi. */
  request(
    primitive: Partial<RequestPrimitive> & { op: number; to: string },
  ): Promise<ResponsePrimitive>;
  dispose(): Promise<void>;
}

let counter = 0;

export async function startTestCse(
  dialect: DialectName,
  overrides: ConfigOverrides = {},
  mqttUrl?: string,
): Promise<TestCse> {
  const database = await createTestDatabase(dialect);
  const audit = new AuditTrail(database.storage, { siteId: 'test' });
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const config = testConfig(overrides);
  const cse = new Onem2mCse({
    config,
    storage: database.storage,
    audit,
    logger: silentLogger(),
    registry,
    ...(mqttUrl === undefined ? {} : { mqttUrl }),
  });
  await cse.start();
  return {
    cse,
    database,
    audit,
    registry,
    config,
    request(primitive) {
      counter += 1;
      return cse.handle({
        rqi: `rq-${counter}`,
        rvi: '3',
        fr: ADMIN,
        ...primitive,
      });
    },
    async dispose() {
      await cse.stop();
      await database.dispose();
    },
  };
}

/** Registers an AE and returns its AE-ID. */
export async function registerAe(
  env: TestCse,
  originator: string,
  attributes: Record<string, unknown> = {},
  rn?: string,
): Promise<string> {
  const response = await env.request({
    op: 1,
    to: env.config.cseName,
    fr: originator,
    ty: 2,
    pc: {
      'm2m:ae': {
        api: 'Nmedward.test',
        rr: false,
        srv: ['3'],
        ...(rn === undefined ? {} : { rn }),
        ...attributes,
      },
    },
  });
  if (response.rsc !== 2001) {
    throw new Error(`AE registration failed: ${JSON.stringify(response)}`);
  }
  return String(body(response, 'm2m:ae').aei);
}

/** Returns the attributes inside a response's single root element. */
export function body(response: ResponsePrimitive, root: string): Record<string, unknown> {
  const content = response.pc as Record<string, unknown> | undefined;
  const value = content?.[root];
  if (typeof value !== 'object' || value === null) {
    throw new Error(`response has no ${root}: ${JSON.stringify(response)}`);
  }
  return value as Record<string, unknown>;
}

export function dbg(response: ResponsePrimitive): string {
  const text = (response.pc as Record<string, unknown> | undefined)?.['m2m:dbg'];
  return typeof text === 'string' ? text : '';
}

export interface ReceivedNotification {
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  path: string;
}

/** A notification target on 127.0.0.1 that records what it receives. */
export class NotificationReceiver {
  readonly received: ReceivedNotification[] = [];
  /** HTTP status and X-M2M-RSC of the receiver's responses. */
  status = 200;
  rsc = 2000;
  private server: Server | undefined;
  private waiters: { count: number; resolve: () => void }[] = [];

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        this.received.push({
          headers: request.headers,
          body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
          path: request.url ?? '/',
        });
        response.statusCode = this.status;
        response.setHeader('X-M2M-RSC', String(this.rsc));
        response.setHeader('X-M2M-RI', String(request.headers['x-m2m-ri'] ?? ''));
        response.end();
        this.waiters = this.waiters.filter((waiter) => {
          if (this.received.length >= waiter.count) {
            waiter.resolve();
            return false;
          }
          return true;
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') {
      throw new Error('receiver has no port');
    }
    return `http://127.0.0.1:${address.port}/notify`;
  }

  /** Resolves once `count` notifications arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs = 5000): Promise<void> {
    if (this.received.length >= count) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`expected ${count} notifications, got ${this.received.length}`));
      }, timeoutMs);
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (this.server === undefined) {
        resolve();
        return;
      }
      this.server.closeAllConnections();
      this.server.close(() => {
        resolve();
      });
    });
  }
}
