/**
 * The manager side of one agent connection: the IEEE 11073-20601 manager
 * state machine with its timers, the handling of every APDU an agent can
 * send, and the acknowledgement of confirmed event reports once their
 * observations are committed.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditEntry, AuditTrail } from '../../core/audit/index.js';
import { isMedwardError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type {
  AarqApdu,
  Apdu,
  MdsTimeInfo,
  ConfigReportInfo,
  DataApdu,
  DataMessage,
  RoivEventReport,
  SegmentDataEventInfo,
} from '../apdu.js';
import { AssociateResult } from '../association.js';
import type { Ieee11073Config } from '../config.js';
import { decodeApdu } from '../decode.js';
import { ConfigResult } from '../events.js';
import { AbortReason, RorjProblem, reactionFor } from '../mder-error.js';
import { RoerErrorValue } from '../data-apdu.js';
import type { Observation as CodecObservation } from '../observations.js';
import {
  configurationFromReport,
  extractObservations,
  type Configuration,
} from '../scan-report.js';
import { observationsFrom20601, type ClockReference } from '../store/from-20601.js';
import type { GroupCommitter } from '../store/group-commit.js';
import type { Ieee11073Repository } from '../store/repository.js';
import type { ApduTransport, ApduTransportHandler } from '../transport/transport.js';
import * as apdus from './apdus.js';
import {
  acceptingAare,
  associateResultNames,
  evaluateAarq,
  rejectingAare,
  systemIdHex,
} from './association.js';
import {
  associationAborted,
  associationAccepted,
  associationRejected,
  type AssociationFacts,
} from './audit-events.js';
import type { AssociationEventPublisher, CommitCallback } from './association-events.js';
import type { ConfigurationCache } from './configuration-cache.js';
import { checkConfiguration } from './configuration-check.js';
import {
  agentLacksCapability,
  agentNotAssociated,
  type AgentCommand,
  type AgentCommandResult,
} from './agent-commands.js';
import { InvokeTracker } from './invoke.js';
import { recordClockSet, setClockApdu } from './clock-setting.js';
import { settableClock, summarizeMds, type SettableClock } from './mds.js';
import type { ManagerMetrics } from './metrics.js';
import { PmStoreTransfer, hasPmStore } from './pm-store.js';
import { ManagerStateMachine, isAssociated, type ManagerState } from './state-machine.js';

/** Services every session of a manager shares. */
export interface SessionServices {
  config: Ieee11073Config;
  /** EUI-64 the manager sends in its AAREs. */
  managerSystemId: Uint8Array;
  logger: Logger;
  metrics: ManagerMetrics;
  committer: GroupCommitter;
  repository: Ieee11073Repository;
  audit: AuditTrail;
  configurations: ConfigurationCache;
  associationEvents: AssociationEventPublisher;
  /** False once the manager stops: new AARQs are then rejected as transient. */
  accepting(): boolean;
}

/** APDUs answered with RORJ on one connection before the manager aborts it. */
const MAX_REJECTED_APDUS = 100;

interface Association {
  id: string;
  systemId: string;
  devConfigId: number;
  startedAtMs: number;
  configuration: Configuration | undefined;
  clock: ClockReference;
  /**
   * The clock offsets the MDS GET measured before the manager set the
   * agent's clock. The agent stamped the entries of its PM-stores with that
   * clock, so their times are converted with these.
   */
  storedDataClock: ClockReference;
  /** Reads the agent's PM-stores and receives their segment data; set once operating. */
  pmStore: PmStoreTransfer | undefined;
  /** Settles when the MDS GET after entering operating finished, however it ended. */
  mdsRead: Promise<void> | undefined;
  /** Mds-Time-Info from the MDS GET, which tells whether the agent's clock can be set. */
  timeInfo: MdsTimeInfo | undefined;
  abortAudited: boolean;
  ended: boolean;
}

type TimerName = 'association' | 'configuration' | 'release';

type AssociationPatch = Parameters<Ieee11073Repository['updateAssociation']>[2];

export class ManagerSession implements ApduTransportHandler {
  private readonly machine = new ManagerStateMachine();
  private readonly tracker = new InvokeTracker();
  private association: Association | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pendingReports = 0;
  private paused = false;
  private shuttingDown = false;
  private rejectedApdus = 0;
  private idleStrikes = 0;
  private resolveClosed: () => void = () => undefined;
  /** Resolves when the connection is closed. */
  readonly closedPromise: Promise<void>;

  constructor(
    private readonly transport: ApduTransport,
    private readonly services: SessionServices,
    private readonly onClosed: (session: ManagerSession) => void,
  ) {
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.startTimer('association', services.config.timeouts.associationMs);
  }

  get state(): ManagerState {
    return this.machine.state;
  }

  /** System id of the associated agent, as hex. */
  get deviceSystemId(): string | undefined {
    return this.association?.systemId;
  }

  private get log(): Logger {
    return this.services.logger;
  }

  /** Fields that name the device in every log line. */
  private ids(): Record<string, unknown> {
    return {
      device: this.association?.systemId ?? this.transport.connectionId,
      connectionId: this.transport.connectionId,
      remoteAddress: this.transport.remoteAddress,
    };
  }

  private facts(association: Association | undefined = this.association): AssociationFacts {
    const facts: AssociationFacts = {
      connectionId: this.transport.connectionId,
      transport: this.transport.kind,
      remoteAddress: this.transport.remoteAddress,
    };
    if (association !== undefined) {
      facts.associationId = association.id;
      facts.systemId = association.systemId;
      facts.devConfigId = association.devConfigId;
    }
    if (this.transport.peerCertificateSubject !== undefined) {
      facts.peerCertificateSubject = this.transport.peerCertificateSubject;
    }
    return facts;
  }

  // ---- transport events ----

  apdu(bytes: Uint8Array): void {
    try {
      this.receive(bytes);
    } catch (error) {
      this.failInternally(error);
    }
  }

  oversize(header: Uint8Array, announcedBytes: number): void {
    try {
      let error: unknown;
      try {
        decodeApdu(header, { maxApduBytes: this.services.config.maxApduBytes });
      } catch (caught) {
        error = caught;
      }
      this.onMalformed(error, undefined, { announcedBytes });
    } catch (error) {
      this.failInternally(error);
    }
  }

  drain(): void {
    this.updateFlow();
  }

  /** First idle period: ABRT (when associated) and close; a second one: destroy, as the peer reads nothing. */
  idle(): void {
    try {
      this.idleStrikes += 1;
      if (this.idleStrikes > 1) {
        this.transport.destroy();
        return;
      }
      this.log.info({ ...this.ids(), state: this.state }, 'ieee11073 connection idle; closing');
      if (isAssociated(this.state)) {
        this.abort(AbortReason.undefined, 'connection idle');
      } else {
        this.clearTimer();
        this.transport.close();
      }
    } catch (error) {
      this.failInternally(error);
    }
  }

  closed(error: Error | undefined): void {
    this.clearTimer();
    if (this.association !== undefined) {
      this.endAssociation('connection closed');
    }
    if (this.state !== 'disconnected') {
      this.machine.transition('disconnected');
    }
    if (error !== undefined) {
      this.log.debug({ ...this.ids(), err: error }, 'ieee11073 connection failed');
    }
    this.resolveClosed();
    this.onClosed(this);
  }

  // ---- receiving ----

  private receive(bytes: Uint8Array): void {
    if (this.state === 'disconnected') {
      return;
    }
    let decoded: ReturnType<typeof decodeApdu>;
    try {
      decoded = decodeApdu(bytes, { maxApduBytes: this.services.config.maxApduBytes });
    } catch (error) {
      this.onMalformed(error, bytes);
      return;
    }
    if (decoded.quirks.length > 0) {
      this.services.metrics.quirks.inc(decoded.quirks.length);
      this.log.debug({ ...this.ids(), quirks: decoded.quirks }, 'ieee11073 apdu quirks tolerated');
    }
    this.dispatch(decoded.apdu);
  }

  private dispatch(apdu: Apdu): void {
    const state = this.state;
    switch (apdu.kind) {
      case 'aarq':
        if (state === 'unassociated') {
          void this.onAarq(apdu);
        } else {
          this.protocolViolation(`AARQ received in state ${state}`);
        }
        return;
      case 'aare':
        this.protocolViolation('AARE received from an agent');
        return;
      case 'rlrq':
        this.onReleaseRequest();
        return;
      case 'rlre':
        this.onReleaseResponse();
        return;
      case 'abrt':
        this.onAbort(apdu.reason);
        return;
      case 'prst':
        this.onData(apdu.data);
        return;
    }
  }

  /**
   * Reacts to bytes the codec rejected with the reaction `reactionFor` gives,
   * and logs exactly one warning. In states without data exchange
   * (unassociated, associating) every APDU but an AARQ ends in an ABRT.
   */
  private onMalformed(
    error: unknown,
    bytes: Uint8Array | undefined,
    extra: Record<string, unknown> = {},
    fallbackInvokeId?: number,
  ): void {
    const reaction = reactionFor(error);
    const defect = {
      code: isMedwardError(error) ? error.code : 'UNKNOWN',
      message: error instanceof Error ? error.message : String(error),
      ...(isMedwardError(error)
        ? { offset: error.details.offset, field: error.details.field }
        : {}),
      ...extra,
    };
    const dataState =
      this.state === 'operating' ||
      this.state === 'waiting-for-config' ||
      this.state === 'checking-config' ||
      this.state === 'disassociating';
    if (reaction?.kind === 'reject' && dataState) {
      const invokeId = reaction.invokeId ?? fallbackInvokeId ?? invokeIdOf(bytes);
      this.log.warn(
        { ...this.ids(), defect, reaction: 'rorj', problem: reaction.problem, invokeId },
        'ieee11073 malformed apdu rejected',
      );
      this.reject(invokeId, reaction.problem);
      return;
    }
    const reason = reaction?.kind === 'abort' ? reaction.reason : AbortReason.undefined;
    this.log.warn(
      { ...this.ids(), defect, reaction: 'abrt', abortReason: reason },
      'ieee11073 malformed apdu; association aborted',
    );
    this.abort(reason, `malformed APDU: ${defect.code}`);
  }

  /** Aborts for an APDU that the current state does not allow, with one warning. */
  private protocolViolation(defect: string): void {
    this.log.warn(
      { ...this.ids(), defect, state: this.state, reaction: 'abrt' },
      'ieee11073 unexpected apdu; association aborted',
    );
    this.abort(AbortReason.undefined, defect);
  }

  private reject(invokeId: number, problem: number): void {
    this.services.metrics.protocolErrors.inc({ reaction: 'rorj' });
    this.send(apdus.rejectApdu(invokeId, problem));
    this.rejectedApdus += 1;
    if (this.rejectedApdus > MAX_REJECTED_APDUS) {
      this.log.warn(
        { ...this.ids(), rejectedApdus: this.rejectedApdus },
        'ieee11073 too many rejected apdus; association aborted',
      );
      this.abort(AbortReason.undefined, `more than ${MAX_REJECTED_APDUS} APDUs rejected`);
    }
  }

  private replyError(invokeId: number, errorValue: number, defect: string): void {
    this.services.metrics.protocolErrors.inc({ reaction: 'roer' });
    this.log.warn(
      { ...this.ids(), defect, reaction: 'roer', errorValue, invokeId },
      'ieee11073 invoke answered with roer',
    );
    this.send(apdus.errorApdu(invokeId, errorValue));
  }

  // ---- association ----

  private async onAarq(aarq: AarqApdu): Promise<void> {
    this.clearTimer();
    this.machine.transition('associating');
    const evaluation = evaluateAarq(aarq);
    const systemId =
      evaluation.info === undefined ? undefined : systemIdHex(evaluation.info.systemId);
    try {
      if (!evaluation.acceptable) {
        await this.rejectAssociation(evaluation.result, evaluation.reason, systemId);
        return;
      }
      if (!this.services.accepting()) {
        await this.rejectAssociation(
          AssociateResult.rejectedTransient,
          'manager is shutting down',
          systemId,
        );
        return;
      }
      const info = evaluation.info;
      const hex = systemIdHex(info.systemId);
      const configuration = await this.services.configurations.lookup(hex, info.devConfigId);
      const result =
        configuration === undefined
          ? AssociateResult.acceptedUnknownConfig
          : AssociateResult.accepted;
      const startedAtMs = Date.now();
      const association: Association = {
        id: randomUUID(),
        systemId: hex,
        devConfigId: info.devConfigId,
        startedAtMs,
        configuration,
        clock: {},
        storedDataClock: {},
        pmStore: undefined,
        mdsRead: undefined,
        timeInfo: undefined,
        abortAudited: false,
        ended: false,
      };
      const facts = this.facts(association);
      const resultName = associateResultNames[result] ?? String(result);
      // The acceptance is on record before the agent learns of it.
      await this.services.committer.submit({
        observations: [],
        operation: async (transaction) => {
          await this.services.repository.insertAssociation(transaction, {
            id: association.id,
            system_id: hex,
            dev_config_id: info.devConfigId,
            connection_id: this.transport.connectionId,
            transport: this.transport.kind,
            remote_address: this.transport.remoteAddress,
            started_at_ms: startedAtMs,
            ended_at_ms: null,
            end_reason: null,
            manufacturer: null,
            model_number: null,
            mds_json: null,
            absolute_offset_ms: null,
            relative_epoch_ms: null,
            time_set: 0,
            manager_system_id: this.services.config.systemId.toLowerCase(),
          });
          await this.services.audit.append(transaction, associationAccepted(facts, resultName));
        },
      });
      if (this.state !== 'associating') {
        this.persist(association, {
          ended_at_ms: Date.now(),
          end_reason: 'closed while associating',
        });
        return;
      }
      this.association = association;
      this.services.metrics.associations.inc({ result: resultName });
      this.send(
        apdus.encode(
          acceptingAare(result, evaluation.protocolVersion, this.services.managerSystemId),
        ),
      );
      this.log.info(
        {
          ...this.ids(),
          associationId: association.id,
          devConfigId: info.devConfigId,
          result: resultName,
        },
        'ieee11073 association accepted',
      );
      if (configuration === undefined) {
        this.machine.transition('waiting-for-config');
        this.startTimer('configuration', this.services.config.timeouts.configurationMs);
      } else {
        this.enterOperating();
      }
    } catch (error) {
      this.failAssociating(error);
    }
  }

  private async rejectAssociation(
    result: number,
    reason: string,
    systemId: string | undefined,
  ): Promise<void> {
    const facts = this.facts();
    if (systemId !== undefined) {
      facts.systemId = systemId;
    }
    const resultName = associateResultNames[result] ?? String(result);
    await this.recordAudit(associationRejected(facts, resultName, reason));
    if (this.state !== 'associating') {
      return;
    }
    this.services.metrics.associations.inc({ result: resultName });
    this.log.warn(
      { ...this.ids(), systemId, result: resultName, reason },
      'ieee11073 association rejected',
    );
    this.send(apdus.encode(rejectingAare(result)));
    this.machine.transition('unassociated');
    this.startTimer('association', this.services.config.timeouts.associationMs);
  }

  private failAssociating(error: unknown): void {
    if (this.state !== 'associating') {
      return;
    }
    this.log.error({ ...this.ids(), err: error }, 'ieee11073 association could not be recorded');
    this.send(apdus.encode(rejectingAare(AssociateResult.rejectedTransient)));
    this.machine.transition('unassociated');
    this.transport.close();
  }

  private enterOperating(): void {
    this.machine.transition('operating');
    if (this.shuttingDown) {
      this.release();
      return;
    }
    const association = this.association;
    // Most agents have no PM-store; they carry no transfer state.
    if (association?.configuration !== undefined && hasPmStore(association.configuration)) {
      association.pmStore = this.pmStoreTransfer(association, association.configuration);
    }
    this.readMds();
  }

  /** Returns the PM-store transfer of an association, with the session services it may use. */
  private pmStoreTransfer(association: Association, configuration: Configuration): PmStoreTransfer {
    return new PmStoreTransfer(
      { id: association.id, systemId: association.systemId, configuration },
      {
        ids: () => this.ids(),
        action: (objHandle, actionType, args, timeoutMs) => {
          const { invokeId, response } = this.tracker.start('rors-confirmed-action', timeoutMs);
          this.send(apdus.confirmedActionApdu(invokeId, objHandle, actionType, args));
          return response;
        },
        send: (bytes) => {
          this.send(bytes);
        },
        replyError: (invokeId, errorValue, defect) => {
          this.replyError(invokeId, errorValue, defect);
        },
        requestFailed: (request, error) => {
          this.onRequestFailed(association, request, error);
        },
        abort: (reason, cause) => {
          if (this.association === association) {
            this.abort(reason, cause);
          }
        },
      },
      this.services,
    );
  }

  private onReleaseRequest(): void {
    const state = this.state;
    if (!isAssociated(state)) {
      this.protocolViolation(`RLRQ received in state ${state}`);
      return;
    }
    this.send(apdus.releaseResponseApdu());
    this.log.info({ ...this.ids() }, 'ieee11073 association released by agent');
    this.endAssociation('released by agent');
    this.machine.transition('unassociated');
    if (state === 'disassociating' || this.shuttingDown) {
      this.transport.close();
    } else {
      this.startTimer('association', this.services.config.timeouts.associationMs);
    }
  }

  private onReleaseResponse(): void {
    if (this.state !== 'disassociating') {
      this.protocolViolation(`RLRE received in state ${this.state}`);
      return;
    }
    this.log.info({ ...this.ids() }, 'ieee11073 association released by manager');
    this.endAssociation('released by manager');
    this.machine.transition('unassociated');
    this.transport.close();
  }

  private onAbort(reason: number): void {
    const state = this.state;
    if (!isAssociated(state) && state !== 'associating') {
      this.log.debug(
        { ...this.ids(), abortReason: reason },
        'ieee11073 abrt ignored while unassociated',
      );
      return;
    }
    this.log.info({ ...this.ids(), abortReason: reason }, 'ieee11073 association aborted by agent');
    this.auditAbort('received', reason, 'agent sent ABRT');
    this.endAssociation('aborted by agent');
    this.machine.transition('unassociated');
    if (this.shuttingDown) {
      this.transport.close();
    } else {
      this.startTimer('association', this.services.config.timeouts.associationMs);
    }
  }

  /** Sends ABRT, ends the association and closes the connection. */
  private abort(reason: number, cause: string): void {
    if (this.state === 'disconnected') {
      return;
    }
    this.services.metrics.protocolErrors.inc({ reaction: 'abrt' });
    this.send(apdus.abortApdu(reason));
    this.auditAbort('sent', reason, cause);
    if (this.association !== undefined) {
      this.endAssociation(`aborted by manager: ${cause}`);
    }
    if (this.state !== 'unassociated') {
      this.machine.transition('unassociated');
    }
    this.clearTimer();
    this.transport.close();
  }

  private auditAbort(direction: 'received' | 'sent', reason: number, cause: string): void {
    const association = this.association;
    if (association !== undefined) {
      if (association.abortAudited) {
        return;
      }
      association.abortAudited = true;
    }
    void this.recordAudit(
      associationAborted(this.facts(association), direction, reason, cause),
    ).catch((error: unknown) => {
      this.log.error({ ...this.ids(), err: error }, 'ieee11073 abort could not be audited');
    });
  }

  private recordAudit(entry: AuditEntry): Promise<void> {
    return this.services.committer.submit({
      observations: [],
      operation: async (transaction) => {
        await this.services.audit.append(transaction, entry);
      },
    });
  }

  private endAssociation(reason: string): void {
    const association = this.association;
    if (association === undefined) {
      return;
    }
    association.ended = true;
    association.pmStore?.stop();
    this.association = undefined;
    this.tracker.cancelAll(reason);
    this.clearTimer();
    const endedAtMs = Date.now();
    this.persist(
      association,
      { ended_at_ms: endedAtMs, end_reason: reason },
      this.services.associationEvents.endedOnCommit(association, endedAtMs, reason),
    );
  }

  /**
   * Writes association facts through the group commit and calls `onSettled`
   * once the commit succeeded or failed; failures are logged only.
   */
  private persist(
    association: Association,
    patch: AssociationPatch,
    onSettled?: CommitCallback,
  ): void {
    this.services.committer
      .submit({
        observations: [],
        operation: (transaction: Kysely<object>) =>
          this.services.repository.updateAssociation(transaction, association.id, patch),
      })
      .then(
        () => onSettled?.(true),
        (error: unknown) => {
          this.log.warn(
            { ...this.ids(), associationId: association.id, err: error },
            'ieee11073 association record not updated',
          );
          onSettled?.(false);
        },
      );
  }

  // ---- data ----

  private onData(data: DataApdu): void {
    const message = data.message;
    if (isResponse(message)) {
      if (isAssociated(this.state)) {
        this.onResponse(data.invokeId, message);
      } else {
        this.protocolViolation(`${message.kind} received in state ${this.state}`);
      }
      return;
    }
    switch (this.state) {
      case 'operating':
        this.onOperatingInvoke(data.invokeId, message);
        return;
      case 'waiting-for-config':
        this.onConfiguringInvoke(data.invokeId, message);
        return;
      case 'checking-config':
      case 'disassociating':
        this.log.warn(
          { ...this.ids(), kind: message.kind, invokeId: data.invokeId, state: this.state },
          'ieee11073 invoke ignored in this state',
        );
        return;
      case 'unassociated':
      case 'associating':
      case 'disconnected':
        this.protocolViolation(`${message.kind} received in state ${this.state}`);
        return;
    }
  }

  private onResponse(invokeId: number, message: DataMessage): void {
    const outcome = this.tracker.settle(invokeId, message);
    if (outcome !== 'settled') {
      this.log.warn(
        { ...this.ids(), invokeId, kind: message.kind, outcome },
        'ieee11073 response ignored',
      );
    }
  }

  private onOperatingInvoke(invokeId: number, message: DataMessage): void {
    switch (message.kind) {
      case 'roiv-event-report':
      case 'roiv-confirmed-event-report':
        this.onEventReport(invokeId, message);
        return;
      case 'roiv-get':
      case 'roiv-confirmed-set':
      case 'roiv-confirmed-action':
        this.log.warn(
          { ...this.ids(), kind: message.kind, invokeId, reaction: 'rorj' },
          'ieee11073 agent invoked an operation the manager does not offer',
        );
        this.reject(invokeId, RorjProblem.unrecognizedOperation);
        return;
      case 'roiv-set':
      case 'roiv-action':
        this.log.warn(
          { ...this.ids(), kind: message.kind, invokeId },
          'ieee11073 unconfirmed operation ignored',
        );
        return;
      case 'rors-confirmed-event-report':
      case 'rors-get':
      case 'rors-confirmed-set':
      case 'rors-confirmed-action':
      case 'roer':
      case 'rorj':
        this.onResponse(invokeId, message);
        return;
    }
  }

  private onConfiguringInvoke(invokeId: number, message: DataMessage): void {
    if (
      message.kind === 'roiv-confirmed-event-report' &&
      message.eventInfo.kind === 'config-report'
    ) {
      void this.onConfigReport(invokeId, message, message.eventInfo);
      return;
    }
    if (message.kind === 'roiv-confirmed-event-report') {
      this.replyError(
        invokeId,
        RoerErrorValue.protocolViolation,
        'event report before configuration',
      );
      return;
    }
    if (
      message.kind === 'roiv-get' ||
      message.kind === 'roiv-confirmed-set' ||
      message.kind === 'roiv-confirmed-action'
    ) {
      this.reject(invokeId, RorjProblem.unrecognizedOperation);
      return;
    }
    this.log.warn(
      { ...this.ids(), kind: message.kind, invokeId },
      'ieee11073 invoke ignored before configuration',
    );
  }

  private async onConfigReport(
    invokeId: number,
    report: RoivEventReport,
    info: ConfigReportInfo,
  ): Promise<void> {
    const association = this.association;
    if (association === undefined) {
      return;
    }
    this.clearTimer();
    this.machine.transition('checking-config');
    const problems = checkConfiguration(info);
    if (info.configReportId !== association.devConfigId) {
      problems.push(
        `config-report-id 0x${info.configReportId.toString(16)} differs from the dev-config-id 0x${association.devConfigId.toString(16)} of the AARQ`,
      );
    }
    const reply = (result: number): void => {
      this.send(
        apdus.configReportResultApdu(
          invokeId,
          report.objHandle,
          report.eventTime,
          info.configReportId,
          result,
        ),
      );
    };
    if (problems.length > 0) {
      this.log.warn({ ...this.ids(), problems }, 'ieee11073 configuration unsupported');
      reply(ConfigResult.unsupportedConfig);
      this.machine.transition('waiting-for-config');
      this.startTimer('configuration', this.services.config.timeouts.configurationMs);
      return;
    }
    const configuration = configurationFromReport(info);
    try {
      await this.services.committer.submit({
        observations: [],
        operation: (transaction) =>
          this.services.repository.saveConfiguration(
            transaction,
            association.systemId,
            info,
            Date.now(),
          ),
      });
    } catch (error) {
      // The configuration still serves this association; the next one repeats the exchange.
      this.log.error({ ...this.ids(), err: error }, 'ieee11073 configuration not stored');
    }
    if (this.association !== association || this.state !== 'checking-config') {
      return;
    }
    this.services.configurations.remember(
      association.systemId,
      association.devConfigId,
      configuration,
    );
    association.configuration = configuration;
    reply(ConfigResult.acceptedConfig);
    this.log.info(
      { ...this.ids(), devConfigId: association.devConfigId, objects: info.configObjList.length },
      'ieee11073 configuration accepted',
    );
    this.enterOperating();
  }

  private onEventReport(invokeId: number, report: RoivEventReport): void {
    const confirmed = report.kind === 'roiv-confirmed-event-report';
    const info = report.eventInfo;
    const association = this.association;
    if (association?.configuration === undefined) {
      return;
    }
    // The association's PM-store transfer stores and acknowledges segment data (MDC_NOTI_SEGMENT_DATA).
    if (info.kind === 'segment-data') {
      this.onSegmentData(association, invokeId, report, info, confirmed);
      return;
    }
    if (info.kind === 'config-report' || info.kind === 'raw') {
      if (confirmed) {
        const errorValue =
          info.kind === 'config-report'
            ? RoerErrorValue.protocolViolation
            : RoerErrorValue.noSuchAction;
        this.replyError(
          invokeId,
          errorValue,
          `event type ${report.eventType} (${info.kind}) not handled while operating`,
        );
      }
      return;
    }
    const receivedAtMs = Date.now();
    let extracted: ReturnType<typeof extractObservations>;
    try {
      extracted = extractObservations(association.configuration, {
        objHandle: report.objHandle,
        eventInfo: info,
      });
    } catch (error) {
      // Values decoded outside the APDU carry no invoke id; the report's applies.
      this.onMalformed(error, undefined, {}, invokeId);
      return;
    }
    if (extracted.quirks.length > 0) {
      this.services.metrics.quirks.inc(extracted.quirks.length);
      this.log.debug(
        { ...this.ids(), quirks: extracted.quirks },
        'ieee11073 report quirks tolerated',
      );
    }
    void this.storeReport(
      association,
      invokeId,
      report,
      extracted.observations,
      receivedAtMs,
      confirmed,
    );
  }

  /**
   * Commits a report's observations and, for a confirmed report, sends the
   * RORS only after the commit. A report whose commit fails is not
   * acknowledged and the association is aborted, so the agent keeps the data
   * and sends it again in a later association.
   */
  private async storeReport(
    association: Association,
    invokeId: number,
    report: RoivEventReport,
    codecObservations: readonly CodecObservation[],
    receivedAtMs: number,
    confirmed: boolean,
  ): Promise<void> {
    if (confirmed) {
      this.pendingReports += 1;
      this.updateFlow();
    }
    try {
      if (association.mdsRead !== undefined) {
        await association.mdsRead;
      }
      if (association.ended) {
        return;
      }
      const { observations } = observationsFrom20601({
        observations: codecObservations,
        configuration: association.configuration ?? { devConfigId: 0, objects: [] },
        deviceSystemId: association.systemId,
        associationId: association.id,
        clock: association.clock,
        receivedAtMs,
        eventTime: report.eventTime,
      });
      await this.services.committer.submit({ observations });
      if (confirmed && isActive(association)) {
        this.send(
          apdus.eventReportResultApdu(
            invokeId,
            report.objHandle,
            report.eventTime,
            report.eventType,
          ),
        );
        this.recordAckLatency(receivedAtMs);
      }
    } catch (error) {
      this.onStoreFailed(association, error, confirmed);
    } finally {
      if (confirmed) {
        this.pendingReports -= 1;
        this.updateFlow();
      }
    }
  }

  /**
   * Hands a SegmentDataEvent to the PM-store transfer. While its entries
   * commit, it counts as a pending report for flow control, and a failed
   * commit aborts the association like that of a scan report.
   */
  private onSegmentData(
    association: Association,
    invokeId: number,
    report: RoivEventReport,
    info: SegmentDataEventInfo,
    confirmed: boolean,
  ): void {
    const transfer = association.pmStore;
    if (transfer === undefined) {
      if (confirmed) {
        this.replyError(
          invokeId,
          RoerErrorValue.noSuchObjectInstance,
          `segment data event from handle ${report.objHandle}, but the configuration has no PM-store`,
        );
      }
      return;
    }
    const stored = transfer.onSegmentData(invokeId, report, info, confirmed);
    if (stored === undefined) {
      return;
    }
    this.pendingReports += 1;
    this.updateFlow();
    stored
      .catch((error: unknown) => {
        this.onStoreFailed(association, error, true);
      })
      .finally(() => {
        this.pendingReports -= 1;
        this.updateFlow();
      });
  }

  private recordAckLatency(receivedAtMs: number): void {
    const elapsedMs = Date.now() - receivedAtMs;
    this.services.metrics.reportAckSeconds.observe(elapsedMs / 1000);
    if (elapsedMs > this.services.config.timeouts.confirmedReportMs) {
      this.services.metrics.lateAcks.inc();
    }
  }

  private onStoreFailed(association: Association, error: unknown, confirmed: boolean): void {
    if (isMedwardError(error) && error.code === 'IEEE11073_STORE_STOPPED') {
      return;
    }
    this.log.error(
      { ...this.ids(), err: error, confirmed },
      'ieee11073 observations not stored; report not acknowledged',
    );
    if (this.association === association) {
      this.abort(AbortReason.undefined, 'observations could not be stored');
    }
  }

  // ---- manager-initiated requests ----

  /** Reads every MDS attribute; reports wait for it so their times use the measured clock offsets. */
  private readMds(): void {
    const association = this.association;
    if (association === undefined) {
      return;
    }
    const sentAtMs = Date.now();
    const { invokeId, response } = this.tracker.start(
      'rors-get',
      this.services.config.timeouts.confirmedRequestMs,
    );
    this.services.associationEvents.expectOperating(association.id);
    this.send(apdus.mdsGetApdu(invokeId));
    association.mdsRead = response.then(
      (message) => {
        if (message.kind === 'rors-get') {
          this.applyMds(association, message.attributeList, (sentAtMs + Date.now()) / 2);
        }
      },
      (error: unknown) => {
        this.onRequestFailed(association, 'mds get', error);
        if (association.ended) {
          this.services.associationEvents.skipOperating(association.id);
        } else {
          this.services.associationEvents.operating(association, undefined);
        }
      },
    );
    void association.mdsRead.then(() => {
      if (!association.ended) {
        association.pmStore?.start(association.storedDataClock);
      }
    });
  }

  private applyMds(
    association: Association,
    attributes: Parameters<typeof summarizeMds>[0],
    gatewayMs: number,
  ): void {
    const summary = summarizeMds(attributes, gatewayMs);
    association.clock = summary.clock;
    // A copy, because setting the agent's clock changes `association.clock`.
    association.storedDataClock = { ...summary.clock };
    association.timeInfo = summary.timeInfo;
    if (summary.systemId !== undefined && summary.systemId !== association.systemId) {
      this.log.warn(
        { ...this.ids(), mdsSystemId: summary.systemId },
        'ieee11073 mds system id differs from the aarq system id',
      );
    }
    const record: AssociationPatch = {
      manufacturer: summary.manufacturer ?? null,
      model_number: summary.modelNumber ?? null,
      mds_json: JSON.stringify(summary.details),
      absolute_offset_ms: summary.clock.absoluteOffsetMs ?? null,
      relative_epoch_ms: summary.clock.relativeEpochMs ?? null,
    };
    const clock = settableClock(summary.timeInfo);
    if (this.services.config.setTimeOnAssociation && clock !== undefined) {
      // One write for both: the MDS facts and the outcome of Set-Time.
      this.setTime(association, record, clock);
    } else {
      this.persist(
        association,
        record,
        this.services.associationEvents.operatingOnCommit(association, record),
      );
    }
  }

  /** Sets the agent's `clock` to the gateway's time, then writes `record` with the outcome. */
  private setTime(association: Association, record: AssociationPatch, clock: SettableClock): void {
    const { invokeId, response } = this.tracker.start(
      'rors-confirmed-action',
      this.services.config.timeouts.confirmedRequestMs,
    );
    this.send(setClockApdu(clock, invokeId, new Date()));
    response.then(
      () => {
        const withTime = { ...record, ...recordClockSet(clock, association.clock) };
        this.persist(
          association,
          withTime,
          this.services.associationEvents.operatingOnCommit(association, withTime),
        );
        this.log.debug({ ...this.ids(), clock }, 'ieee11073 agent clock set');
      },
      (error: unknown) => {
        this.persist(
          association,
          record,
          this.services.associationEvents.operatingOnCommit(association, record),
        );
        this.onRequestFailed(association, 'set time', error);
      },
    );
  }

  /**
   * Handles a failed request: ABRT response-timeout after a timeout, a warning
   * when the agent rejected it, nothing when its association ended.
   */
  private onRequestFailed(association: Association, request: string, error: unknown): void {
    if (association.ended || !isMedwardError(error)) {
      return;
    }
    if (error.code === 'IEEE11073_RESPONSE_TIMEOUT') {
      this.log.warn(
        { ...this.ids(), request, err: error },
        'ieee11073 request timed out; association aborted',
      );
      this.abort(AbortReason.responseTimeout, `${request} timed out`);
    } else if (error.code === 'IEEE11073_REQUEST_FAILED') {
      this.log.warn({ ...this.ids(), request, err: error }, 'ieee11073 request rejected by agent');
    }
  }

  // ---- commands from outside the manager ----

  /**
   * Runs `command` on the operating association once its MDS is read.
   * Rejects with IEEE11073_AGENT_NOT_ASSOCIATED, IEEE11073_AGENT_CAPABILITY_MISSING
   * or the request's own error (timeout, ROER, RORJ).
   */
  async runCommand(command: AgentCommand): Promise<AgentCommandResult> {
    const association = this.association;
    if (association === undefined || this.state !== 'operating') {
      throw agentNotAssociated(this.deviceSystemId ?? this.transport.connectionId);
    }
    await association.mdsRead;
    if (association.ended) {
      throw agentNotAssociated(association.systemId);
    }
    const clock = settableClock(association.timeInfo);
    if (clock === undefined) {
      throw agentLacksCapability(association.systemId, command.kind);
    }
    const { invokeId, response } = this.tracker.start(
      'rors-confirmed-action',
      this.services.config.timeouts.confirmedRequestMs,
    );
    this.send(setClockApdu(clock, invokeId, new Date()));
    let message: DataMessage;
    try {
      message = await response;
    } catch (error) {
      // A timeout aborts the association, as for the manager's own requests.
      this.onRequestFailed(association, `${command.kind} command`, error);
      throw error;
    }
    this.persist(association, recordClockSet(clock, association.clock));
    return {
      systemId: association.systemId,
      command: command.kind,
      response: message.kind,
      completedAt: new Date().toISOString(),
    };
  }

  // ---- release and shutdown ----

  /** Sends RLRQ and waits up to the release timeout for the RLRE. */
  private release(): void {
    this.send(apdus.releaseRequestApdu());
    this.machine.transition('disassociating');
    this.startTimer('release', this.services.config.timeouts.releaseMs);
  }

  /** Stops reading new APDUs, so acknowledgements of what was read can be flushed. */
  pauseForShutdown(): void {
    this.shuttingDown = true;
    this.transport.pause();
    this.paused = true;
  }

  /**
   * Ends the connection for shutdown: an operating or configuring
   * association is released (ABRT when the RLRE does not come), any other
   * state closes. Resolves when the connection is closed.
   */
  shutdown(): Promise<void> {
    this.shuttingDown = true;
    try {
      this.paused = false;
      this.transport.resume();
      switch (this.state) {
        case 'operating':
        case 'waiting-for-config':
          this.log.info({ ...this.ids() }, 'ieee11073 releasing association for shutdown');
          this.release();
          break;
        case 'disassociating':
        case 'disconnected':
          break;
        case 'associating':
        case 'checking-config':
          this.abort(AbortReason.undefined, 'manager shutting down');
          break;
        case 'unassociated':
          this.clearTimer();
          this.transport.close();
          break;
      }
    } catch (error) {
      this.failInternally(error);
    }
    return this.closedPromise;
  }

  /** Drops the connection at once, for the end of a shutdown that waited long enough. */
  destroy(): void {
    this.transport.destroy();
  }

  // ---- timers, flow control, sending ----

  private startTimer(name: TimerName, timeoutMs: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      try {
        this.onTimer(name, timeoutMs);
      } catch (error) {
        this.failInternally(error);
      }
    }, timeoutMs);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private onTimer(name: TimerName, timeoutMs: number): void {
    switch (name) {
      case 'association':
        if (this.state === 'unassociated') {
          this.log.info({ ...this.ids(), timeoutMs }, 'ieee11073 no aarq in time; closing');
          this.transport.close();
        }
        return;
      case 'configuration':
        if (this.state === 'waiting-for-config') {
          this.log.warn(
            { ...this.ids(), timeoutMs },
            'ieee11073 configuration timed out; association aborted',
          );
          this.abort(AbortReason.configurationTimeout, 'no configuration report in time');
        }
        return;
      case 'release':
        if (this.state === 'disassociating') {
          this.log.warn(
            { ...this.ids(), timeoutMs },
            'ieee11073 release timed out; association aborted',
          );
          this.abort(AbortReason.responseTimeout, 'no RLRE in time');
        }
        return;
    }
  }

  /**
   * Pauses reading while the connection has too many reports waiting for
   * their commit or the agent does not read its acknowledgements.
   */
  private updateFlow(): void {
    if (this.shuttingDown || this.state === 'disconnected') {
      return;
    }
    const blocked =
      this.pendingReports >= this.services.config.maxPendingReportsPerConnection ||
      !this.transport.writable;
    if (blocked && !this.paused) {
      this.paused = true;
      this.transport.pause();
    } else if (!blocked && this.paused) {
      this.paused = false;
      this.transport.resume();
    }
  }

  private send(bytes: Uint8Array): void {
    this.transport.send(bytes);
    if (!this.transport.writable) {
      this.updateFlow();
    }
  }

  /** Handles a defect of medward itself: logs it, aborts the association and closes the connection without throwing. */
  private failInternally(error: unknown): void {
    this.log.error({ ...this.ids(), err: error, state: this.state }, 'ieee11073 session failed');
    try {
      if (isAssociated(this.state)) {
        this.send(apdus.abortApdu(AbortReason.undefined));
      }
      this.endAssociation('internal error');
    } catch (cleanupError) {
      this.log.error({ ...this.ids(), err: cleanupError }, 'ieee11073 session cleanup failed');
    }
    this.transport.destroy();
  }
}

/** Read through a function, because the flag changes while a report awaits its commit. */
function isActive(association: Association): boolean {
  return !association.ended;
}

function isResponse(message: DataMessage): boolean {
  return (
    message.kind === 'rors-confirmed-event-report' ||
    message.kind === 'rors-get' ||
    message.kind === 'rors-confirmed-set' ||
    message.kind === 'rors-confirmed-action' ||
    message.kind === 'roer' ||
    message.kind === 'rorj'
  );
}

/** Invoke id of a PRST APDU read from its raw bytes (offset 6), or 0 when too short. */
function invokeIdOf(bytes: Uint8Array | undefined): number {
  if (bytes === undefined || bytes.byteLength < 8) {
    return 0;
  }
  return (bytes[6] ?? 0) * 256 + (bytes[7] ?? 0);
}
