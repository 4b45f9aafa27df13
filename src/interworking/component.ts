/**
 * The interworking component: consumes the manager's association events and
 * committed observations from the bus and writes them to the oneM2M CSE and
 * the FHIR exporter.
 */
import type { AuditTrail } from '../core/audit/index.js';
import type { BusMessage, EventBus, Subscription } from '../core/bus/index.js';
import type { Component } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import {
  ASSOCIATION_SUBJECTS,
  OBSERVATION_COMMITTED_SUBJECT,
  type Ieee11073Repository,
} from '../ieee11073/index.js';
import type { Onem2mCse } from '../onem2m/index.js';
import { parseAssociationEvent } from './association-events.js';
import { BoundaryGuard } from './boundary.js';
import { CommandPath, type AgentCommandRunner } from './command-path.js';
import type { InterworkingConfig } from './config.js';
import { phdExportPayload } from './fhir-bridge.js';
import { ObservationSource, parseCommittedEvent } from './observation-source.js';
import { Onem2mDeviceBridge } from './onem2m-bridge.js';

/** Durable bus group of the oneM2M writer. */
export const ONEM2M_GROUP = 'interworking-onem2m';
/** Durable bus group of the oneM2M writer of association events. */
export const ONEM2M_ASSOCIATION_GROUP = 'interworking-onem2m-association';
/** Durable bus group of the FHIR feed. */
export const FHIR_GROUP = 'interworking-fhir';

/** The part of the FHIR exporter the bridge uses. */
export interface FhirSink {
  enqueue(data: unknown): Promise<unknown>;
}

export interface InterworkingDeps {
  config: InterworkingConfig;
  bus: EventBus;
  audit: AuditTrail;
  logger: Logger;
  /** The manager's repository (`Ieee11073Manager.repository`). */
  repository: Ieee11073Repository;
  cse: Pick<Onem2mCse, 'handle'>;
  /** CSEBase name and administrator originator of the CSE's configuration. */
  cseName: string;
  adminOriginator: string;
  /** The manager, which runs commands on associated agents; without it no command is served. */
  agents?: AgentCommandRunner;
  /** The FHIR exporter when FHIR export is enabled. */
  fhir?: FhirSink;
}

export class InterworkingComponent implements Component {
  readonly name = 'interworking';
  readonly boundary: BoundaryGuard;
  readonly onem2m: Onem2mDeviceBridge;
  readonly commands: CommandPath | undefined;
  private readonly source: ObservationSource;
  private readonly logger: Logger;
  private readonly subscriptions: Subscription[] = [];

  constructor(private readonly deps: InterworkingDeps) {
    this.logger = deps.logger.child({ component: 'interworking' });
    this.boundary = new BoundaryGuard(deps.audit, this.logger);
    this.source = new ObservationSource(deps.repository);
    const agents = deps.agents;
    const commands =
      agents === undefined
        ? undefined
        : new CommandPath({
            agents,
            boundary: this.boundary,
            audit: deps.audit,
            logger: this.logger,
            port: deps.config.commandNotificationPort,
            writeResult: (systemId, outcome) =>
              this.onem2m.writeCommandResult(systemId, { ...outcome }),
          });
    this.commands = commands;
    this.onem2m = new Onem2mDeviceBridge({
      ...(commands === undefined
        ? {}
        : { commandNotificationUrl: (systemId: string) => commands.notificationUrl(systemId) }),
      cse: deps.cse,
      cseName: deps.cseName,
      adminOriginator: deps.adminOriginator,
      applicationOriginators: deps.config.applicationOriginators,
      commandContainer: deps.config.commandContainer,
      logger: this.logger,
    });
  }

  async start(): Promise<void> {
    if (!this.deps.config.enabled) {
      this.logger.info('interworking disabled');
      return;
    }
    await this.commands?.start();
    this.subscriptions.push(
      await this.deps.bus.subscribe({
        subject: ASSOCIATION_SUBJECTS,
        group: ONEM2M_ASSOCIATION_GROUP,
        handler: (message) => this.associationToOnem2m(message),
      }),
    );
    this.subscriptions.push(
      await this.deps.bus.subscribe({
        subject: OBSERVATION_COMMITTED_SUBJECT,
        group: ONEM2M_GROUP,
        handler: (message) => this.toOnem2m(message),
      }),
    );
    const fhir = this.deps.fhir;
    const fhirExport = this.deps.config.fhirExport && fhir !== undefined;
    if (fhirExport) {
      this.subscriptions.push(
        await this.deps.bus.subscribe({
          subject: OBSERVATION_COMMITTED_SUBJECT,
          group: FHIR_GROUP,
          handler: (message) => this.toFhir(message, fhir),
        }),
      );
    }
    this.logger.info(
      {
        fhir: fhirExport,
        applications: this.deps.config.applicationOriginators.length,
      },
      'interworking started',
    );
  }

  async stop(): Promise<void> {
    const subscriptions = this.subscriptions.splice(0);
    await Promise.all(subscriptions.map((subscription) => subscription.close()));
    await this.commands?.stop();
    this.logger.info('interworking stopped');
  }

  private async associationToOnem2m(message: BusMessage): Promise<void> {
    const event = parseAssociationEvent(message.subject, message.data);
    if (event === undefined) {
      return;
    }
    try {
      if (event.kind === 'operating') {
        await this.onem2m.describe(event.description);
      } else {
        await this.onem2m.end(event.ended);
      }
    } catch (error) {
      this.logger.warn(
        { err: error, subject: message.subject, messageId: message.id },
        'interworking oneM2M association write failed; the event is redelivered',
      );
      throw error;
    }
  }

  private async toOnem2m(message: BusMessage): Promise<void> {
    const batches = await this.source.load(parseCommittedEvent(message.data));
    for (const batch of batches) {
      try {
        await this.onem2m.write(batch);
      } catch (error) {
        this.logger.warn(
          { err: error, deviceSystemId: batch.deviceSystemId, messageId: message.id },
          'interworking oneM2M write failed; the event is redelivered',
        );
        throw error;
      }
    }
  }

  private async toFhir(message: BusMessage, fhir: FhirSink): Promise<void> {
    const batches = await this.source.load(parseCommittedEvent(message.data));
    for (const batch of batches) {
      const payload = phdExportPayload(batch);
      if (payload !== undefined) {
        await fhir.enqueue(payload);
      }
    }
  }
}
