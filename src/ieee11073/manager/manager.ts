/**
 * The IEEE 11073-20601 manager component: listens for agents, runs one
 * session per connection, commits their observations in groups and
 * publishes what it committed.
 */
import type { AuditTrail } from '../../core/audit/index.js';
import type { EventBus } from '../../core/bus/index.js';
import type { Component } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { Registry } from '../../core/metrics.js';
import type { Storage } from '../../core/storage/index.js';
import type { Ieee11073Config } from '../config.js';
import { closeAbandonedAssociations } from './abandoned-associations.js';
import { GroupCommitter } from '../store/group-commit.js';
import {
  Ieee11073Repository,
  type ObservationPage,
  type ObservationQuery,
} from '../store/repository.js';
import {
  SqliteObservationWriter,
  sqliteFileForWorker,
} from '../store/sqlite-observation-writer.js';
import { TcpApduListener } from '../transport/tcp.js';
import { loadTlsOptions } from '../transport/tls.js';
import type { ApduTransport, ApduTransportHandler } from '../transport/transport.js';
import {
  agentNotAssociated,
  type AgentCommand,
  type AgentCommandResult,
} from './agent-commands.js';
import { AssociationEventPublisher } from './association-events.js';
import { ConfigurationCache } from './configuration-cache.js';
import { ManagerMetrics } from './metrics.js';
import { ObservationPublisher } from './publisher.js';
import { ManagerSession } from './session.js';
import { isAssociated } from './state-machine.js';

export interface Ieee11073ManagerDeps {
  config: Ieee11073Config;
  storage: Storage;
  bus: EventBus;
  audit: AuditTrail;
  logger: Logger;
  metrics: Registry;
}

/** Extra time past the release timeout that shutdown waits before it drops connections. */
const SHUTDOWN_GRACE_MS = 1000;

/**
 * How long the observation writer thread waits for the write lock while the
 * main connection commits association or audit records. Those take
 * milliseconds, so a commit still waiting after this fails and its reports
 * are not acknowledged.
 */
const WRITER_BUSY_TIMEOUT_MS = 10000;

export class Ieee11073Manager implements Component {
  readonly name = 'ieee11073-manager';
  /** Observations, associations and configurations; `listObservations` serves the API. */
  readonly repository: Ieee11073Repository;
  private readonly config: Ieee11073Config;
  private readonly logger: Logger;
  private readonly metrics: ManagerMetrics;
  private readonly committer: GroupCommitter;
  private writer: SqliteObservationWriter | undefined;
  private readonly publisher: ObservationPublisher;
  private readonly associationEvents: AssociationEventPublisher;
  private readonly configurations: ConfigurationCache;
  private readonly sessions = new Set<ManagerSession>();
  private listener: TcpApduListener | undefined;
  private accepting = false;

  constructor(private readonly deps: Ieee11073ManagerDeps) {
    this.config = deps.config;
    this.logger = deps.logger.child({ component: 'ieee11073-manager' });
    this.repository = new Ieee11073Repository(deps.storage);
    const writerOf = (): SqliteObservationWriter | undefined => this.writer;
    this.metrics = new ManagerMetrics(
      deps.metrics,
      () => this.sessions.size,
      () => [...this.sessions].filter((session) => isAssociated(session.state)).length,
    );
    this.publisher = new ObservationPublisher(deps.bus, this.logger, this.metrics);
    this.associationEvents = new AssociationEventPublisher(deps.bus, this.logger);
    this.committer = new GroupCommitter({
      storage: deps.storage,
      // Observation-only commits go to the writer thread once `start` found a SQLite file.
      writer: {
        get available() {
          return writerOf()?.available ?? false;
        },
        commit: (observations) => {
          const writer = writerOf();
          if (writer === undefined) {
            return Promise.reject(new Error('observation writer thread is not started'));
          }
          return writer.commit(observations);
        },
      },
      repository: this.repository,
      maxBatch: this.config.groupCommit.maxBatch,
      maxDelayMs: this.config.groupCommit.maxDelayMs,
      logger: this.logger,
      metrics: this.metrics,
      onCommitted: (observations) => {
        if (observations.length > 0) {
          this.publisher.publish(observations);
        }
      },
    });
    this.configurations = new ConfigurationCache(this.repository);
  }

  /** Port the listener is bound to; 0 before start or when disabled. */
  get port(): number {
    return this.listener?.port ?? 0;
  }

  /** Open agent connections. */
  get connectionCount(): number {
    return this.sessions.size;
  }

  /** Connections with an association (configuring, operating or disassociating). */
  get associationCount(): number {
    let count = 0;
    for (const session of this.sessions) {
      if (isAssociated(session.state)) {
        count += 1;
      }
    }
    return count;
  }

  /**
   * Sends `command` to the agent with EUI-64 `systemId` (16 lowercase hex
   * digits) and resolves with its result. Rejects with
   * IEEE11073_AGENT_NOT_ASSOCIATED when no operating association has that id.
   */
  runAgentCommand(systemId: string, command: AgentCommand): Promise<AgentCommandResult> {
    for (const session of this.sessions) {
      if (session.deviceSystemId === systemId && session.state === 'operating') {
        return session.runCommand(command);
      }
    }
    return Promise.reject(agentNotAssociated(systemId));
  }

  /** One page of a device's stored observations; see `Ieee11073Repository.listObservations`. */
  listObservations(query: ObservationQuery): Promise<ObservationPage> {
    return this.repository.listObservations(query);
  }

  async start(): Promise<void> {
    if (!this.config.enabled) {
      this.logger.info('ieee11073 manager disabled');
      return;
    }
    this.startWriter();
    await closeAbandonedAssociations({
      storage: this.deps.storage,
      repository: this.repository,
      audit: this.deps.audit,
      associationEvents: this.associationEvents,
      logger: this.logger,
      managerSystemId: this.config.systemId.toLowerCase(),
    });
    const listener = new TcpApduListener({
      host: this.config.listen.host,
      port: this.config.listen.port,
      tls: loadTlsOptions(this.config.tls),
      maxConnections: this.config.maxConnections,
      maxApduBytes: this.config.maxApduBytes,
      idleTimeoutMs: this.config.idleTimeoutMs,
      logger: this.logger,
      onConnectionRejected: () => {
        this.metrics.connectionsRejected.inc();
      },
    });
    this.accepting = true;
    await listener.listen((transport) => this.accept(transport));
    this.listener = listener;
    this.logger.info(
      {
        host: this.config.listen.host,
        port: listener.port,
        tls: this.config.tls.enabled,
        mutualTls: this.config.tls.enabled && this.config.tls.requireClientCert,
      },
      'ieee11073 manager listening',
    );
  }

  /** Starts the observation writer threads when the storage is a SQLite file in WAL mode. */
  private startWriter(): void {
    const storage = this.deps.storage;
    const sqlite = storage.sqliteHandle;
    const writeLock = storage.sqliteWriteLock;
    const file = sqlite === undefined ? undefined : sqliteFileForWorker(sqlite);
    const restartRequest = file === undefined ? undefined : storage.startBackgroundCheckpoints();
    if (writeLock === undefined || file === undefined || restartRequest === undefined) {
      return;
    }
    const writer = new SqliteObservationWriter({
      file,
      busyTimeoutMs: WRITER_BUSY_TIMEOUT_MS,
      maxBatchRows: this.config.groupCommit.maxBatch,
      logger: this.logger,
      metrics: this.metrics,
    });
    writer.start({ writeLock, restartRequest });
    this.writer = writer;
    this.logger.info({ file }, 'ieee11073 observation writer thread started');
  }

  private accept(transport: ApduTransport): ApduTransportHandler {
    const session = new ManagerSession(
      transport,
      {
        config: this.config,
        managerSystemId: new Uint8Array(Buffer.from(this.config.systemId, 'hex')),
        logger: this.logger,
        metrics: this.metrics,
        committer: this.committer,
        repository: this.repository,
        audit: this.deps.audit,
        configurations: this.configurations,
        associationEvents: this.associationEvents,
        accepting: () => this.accepting,
      },
      (closed) => {
        this.sessions.delete(closed);
      },
    );
    this.sessions.add(session);
    return session;
  }

  /**
   * Stops accepting connections, acknowledges what was already read once it
   * is committed, releases every association (ABRT where the agent does not
   * answer within the release timeout), then flushes the group commit and the
   * bus publishing.
   */
  async stop(): Promise<void> {
    const listener = this.listener;
    this.accepting = false;
    if (listener !== undefined) {
      await listener.stopAccepting();
    }
    const sessions = [...this.sessions];
    for (const session of sessions) {
      session.pauseForShutdown();
    }
    await this.committer.flush();
    const released = Promise.all(sessions.map((session) => session.shutdown()));
    const deadline = this.config.timeouts.releaseMs + SHUTDOWN_GRACE_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      released.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => {
          resolve(true);
        }, deadline);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.logger.warn(
        { connections: this.sessions.size, deadlineMs: deadline },
        'ieee11073 connections still open at shutdown; dropping them',
      );
      for (const session of this.sessions) {
        session.destroy();
      }
    }
    listener?.destroyAll();
    await this.committer.stop();
    await this.writer?.stop();
    this.writer = undefined;
    await this.publisher.drain();
    await this.associationEvents.drain();
    this.listener = undefined;
    this.logger.info('ieee11073 manager stopped');
  }
}
