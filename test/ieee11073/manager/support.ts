/**
 * Helpers of the manager tests: a live manager on 127.0.0.1 port 0 over a
 * fresh database, and a raw APDU client.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Value } from '@sinclair/typebox/value';
import { AuditTrail } from '../../../src/core/audit/index.js';
import { InProcessBus, type EventBus } from '../../../src/core/bus/index.js';
import { silentLogger, type Logger } from '../../../src/core/logger.js';
import { createMetricsRegistry } from '../../../src/core/metrics.js';
import type { DialectName } from '../../../src/core/storage/index.js';
import {
  Ieee11073Section,
  Ieee11073Manager,
  type Ieee11073Config,
} from '../../../src/ieee11073/index.js';
import {
  AssociateResult,
  AssociationBits,
  DATA_PROTO_ID_20601,
  MdcObject,
  decodeApdu,
  encodeApdu,
  type Apdu,
  type Ava,
  type DataMessage,
  type DeviceObservation,
  type EventInfo,
} from '../../../src/ieee11073/index.js';
import { ApduFramer } from '../../../src/ieee11073/transport/framer.js';
import { createTestDatabase, type TestDatabase } from '../../support/storage.js';

export type ConfigOverrides = Partial<
  Omit<Ieee11073Config, 'timeouts' | 'groupCommit' | 'pmStore'>
> & {
  timeouts?: Partial<Ieee11073Config['timeouts']>;
  groupCommit?: Partial<Ieee11073Config['groupCommit']>;
  pmStore?: Partial<Ieee11073Config['pmStore']>;
};

/** Returns the manager section with defaults, enabled on 127.0.0.1 port 0, with `overrides` applied. */
export function managerConfig(overrides: ConfigOverrides = {}): Ieee11073Config {
  const defaults = Value.Default(Ieee11073Section, {}) as Ieee11073Config;
  return {
    ...defaults,
    enabled: true,
    ...overrides,
    listen: { host: '127.0.0.1', port: 0, ...overrides.listen },
    timeouts: { ...defaults.timeouts, ...overrides.timeouts },
    groupCommit: { ...defaults.groupCommit, ...overrides.groupCommit },
    pmStore: { ...defaults.pmStore, ...overrides.pmStore },
  };
}

export interface LiveManager {
  manager: Ieee11073Manager;
  database: TestDatabase;
  bus: EventBus;
  audit: AuditTrail;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts a manager over a fresh database. Without `bus` it gets an
 * in-process bus that `stop` stops too; a given bus is started and stopped by
 * the caller.
 */
export async function startManager(
  options: {
    dialect?: DialectName;
    config?: ConfigOverrides;
    logger?: Logger;
    bus?: EventBus;
  } = {},
): Promise<LiveManager> {
  const database = await createTestDatabase(options.dialect ?? 'sqlite');
  const logger = options.logger ?? silentLogger();
  const ownsBus = options.bus === undefined;
  const bus = options.bus ?? new InProcessBus(logger);
  if (ownsBus) {
    await bus.start();
  }
  const audit = new AuditTrail(database.storage, { siteId: 'test' });
  const manager = new Ieee11073Manager({
    config: managerConfig(options.config),
    storage: database.storage,
    bus,
    audit,
    logger,
    metrics: createMetricsRegistry({ defaultMetrics: false }),
  });
  await manager.start();
  let stopped = false;
  return {
    manager,
    database,
    bus,
    audit,
    port: manager.port,
    async stop() {
      if (stopped) {
        return;
      }
      stopped = true;
      await manager.stop();
      if (ownsBus) {
        await bus.stop();
      }
      await database.dispose();
    },
  };
}

/** A raw client: sends bytes, collects decoded APDUs and notices the close. */
export class ApduClient {
  readonly received: Apdu[] = [];
  closed = false;
  private readonly waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    const framer = new ApduFramer(65539, {
      apdu: (bytes) => {
        this.received.push(decodeApdu(bytes).apdu);
        this.wake();
      },
      oversize: () => {
        this.socket.destroy();
      },
    });
    socket.on('data', (chunk: Buffer) => {
      framer.push(chunk);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async connect(port: number): Promise<ApduClient> {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    await once(socket, 'connect');
    return new ApduClient(socket);
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) {
      waiter();
    }
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Waits until `predicate` holds for the received APDUs or the close, up to `timeoutMs`. */
  async waitUntil(predicate: () => boolean, timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        return false;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  /** Index of the first APDU that `next` has not returned or skipped. */
  private cursor = 0;

  /** Returns the first APDU of `kind` after the last one `next` returned, waiting up to `timeoutMs`. */
  async next(kind: Apdu['kind'], timeoutMs = 3000): Promise<Apdu> {
    const find = (): number =>
      this.received.findIndex((apdu, index) => index >= this.cursor && apdu.kind === kind);
    await this.waitUntil(() => find() >= 0 || this.closed, timeoutMs);
    const index = find();
    const apdu = this.received[index];
    if (index < 0 || apdu === undefined) {
      throw new Error(`no ${kind} within ${timeoutMs} ms (closed: ${String(this.closed)})`);
    }
    this.cursor = index + 1;
    return apdu;
  }

  close(): void {
    this.socket.destroy();
  }
}

export { capturingLogger } from '../../support/logger.js';

export interface AarqFields {
  systemId?: Uint8Array;
  devConfigId?: number;
  assocVersion?: number;
  protocolVersion?: number;
  encodingRules?: number;
  systemType?: number;
  dataProtoId?: number;
}

export const defaultSystemId = new Uint8Array([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);

export function aarqBytes(fields: AarqFields = {}): Uint8Array {
  const info = {
    protocolVersion: fields.protocolVersion ?? AssociationBits.protocolVersion1,
    encodingRules: fields.encodingRules ?? AssociationBits.encodingMder,
    nomenclatureVersion: AssociationBits.nomenclatureVersion1,
    functionalUnits: 0,
    systemType: fields.systemType ?? AssociationBits.systemTypeAgent,
    systemId: fields.systemId ?? defaultSystemId,
    devConfigId: fields.devConfigId ?? 0x02bc,
    dataReqModeCapab: { dataReqModeFlags: 1, dataReqInitAgentCount: 1, dataReqInitManagerCount: 0 },
    optionList: [],
  };
  return encodeApdu({
    kind: 'aarq',
    assocVersion: fields.assocVersion ?? AssociationBits.assocVersion1,
    dataProtoList: [
      fields.dataProtoId === undefined || fields.dataProtoId === DATA_PROTO_ID_20601
        ? { dataProtoId: DATA_PROTO_ID_20601, dataProtoInfo: info }
        : { dataProtoId: fields.dataProtoId, dataProtoInfo: new Uint8Array([1, 2, 3]) },
    ],
  });
}

export function prstBytes(invokeId: number, message: DataMessage): Uint8Array {
  return encodeApdu({ kind: 'prst', data: { invokeId, message } });
}

/** A confirmed event report from the MDS. */
export function reportBytes(
  invokeId: number,
  eventType: number,
  eventInfo: EventInfo,
  eventTime = 0,
): Uint8Array {
  return prstBytes(invokeId, {
    kind: 'roiv-confirmed-event-report',
    objHandle: 0,
    eventTime,
    eventType,
    eventInfo,
  });
}

/** Returns the data message of a PRST APDU, failing for other APDUs. */
export function messageOf(apdu: Apdu): { invokeId: number; message: DataMessage } {
  if (apdu.kind !== 'prst') {
    throw new Error(`expected a PRST APDU, got ${apdu.kind}`);
  }
  return apdu.data;
}

/** MDS attributes of an agent that names its manufacturer and model. */
export function systemModelAttributes(manufacturer: string, modelNumber: string): Ava[] {
  const text = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, 'latin1'));
  return [
    {
      attributeId: MdcObject.MDC_ATTR_ID_MODEL,
      value: {
        kind: 'system-model',
        value: { manufacturer: text(manufacturer), modelNumber: text(modelNumber) },
      },
    },
  ];
}

/** Waits for the manager's MDS GET and answers it with an empty attribute list. */
export async function answerMdsGet(client: ApduClient, attributes: Ava[] = []): Promise<number> {
  const get = messageOf(await client.next('prst'));
  if (get.message.kind !== 'roiv-get') {
    throw new Error(`expected the MDS GET, got ${get.message.kind}`);
  }
  client.send(
    prstBytes(get.invokeId, { kind: 'rors-get', objHandle: 0, attributeList: attributes }),
  );
  return get.invokeId;
}

/** Associates a raw client with a standard configuration and answers the MDS GET. */
export async function associate(port: number, fields: AarqFields = {}): Promise<ApduClient> {
  const client = await ApduClient.connect(port);
  client.send(aarqBytes(fields));
  const aare = await client.next('aare');
  if (aare.kind !== 'aare' || aare.result !== AssociateResult.accepted) {
    throw new Error(`association not accepted: ${JSON.stringify(aare)}`);
  }
  await answerMdsGet(client);
  return client;
}

/** Returns the decimal of a stored numeric value, or the component decimals of a compound one joined by '/'. */
export function storedDecimal(observation: DeviceObservation): string | undefined {
  switch (observation.value.kind) {
    case 'numeric':
      return observation.value.decimal;
    case 'compound':
      return observation.value.components.map((component) => component.decimal).join('/');
    case 'enumeration':
    case 'sample-array':
      return undefined;
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
