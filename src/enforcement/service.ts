import type { Registry } from 'prom-client';
import { Counter, Histogram } from 'prom-client';
import type { AuditEntry, AuditTrail } from '../core/audit/index.js';
import type { EventBus } from '../core/bus/index.js';
import { ActorKind, type Actor } from '../core/context.js';
import { ErrorKind, MedwardError, invalid, notFound, toMedwardError } from '../core/errors.js';
import type { Component } from '../core/lifecycle.js';
import type { Logger } from '../core/logger.js';
import type { Storage } from '../core/storage/index.js';
import type { RetryConfig } from './config.js';
import { retryWithBackoff } from './retry.js';
import type { SegmentModel } from './segments.js';
import { validateDevice } from './segments.js';
import { EnforcementStore, type StoredEnforcement } from './store.js';
import {
  SegmentKind,
  segmentRestriction,
  type DecisionOutcome,
  type DeviceEnforcement,
  type EnforcementDecision,
  type EnforcementDescription,
  type EnforcementPoint,
  type EnforcementState,
  type SegmentEnforcer,
} from './types.js';

export const ENFORCEMENT_ALERT_SUBJECT = 'enforcement.alert';

/** Payload of `enforcement.alert` bus events. */
export interface EnforcementAlert {
  kind: 'pending-approval' | 'action-failed' | 'restore-failed';
  deviceId?: string;
  decisionId?: string;
  target?: SegmentKind;
  reason: string;
  raisedAt: string;
}

export interface EnforcementServiceOptions {
  storage: Storage;
  audit: AuditTrail;
  bus: EventBus;
  logger: Logger;
  metrics: Registry;
  model: SegmentModel;
  /** Enforcement points; a change is in force once every point confirmed it. */
  points: readonly EnforcementPoint[];
  retry: RetryConfig;
  now?: () => Date;
}

const DECISION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PEOPLE: readonly string[] = [ActorKind.User, ActorKind.ApiToken];

function isPerson(actor: Actor): boolean {
  return PEOPLE.includes(actor.kind);
}

function isCutOff(kind: SegmentKind): boolean {
  return kind === SegmentKind.Quarantine || kind === SegmentKind.Isolation;
}

function sameMacs(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((mac) => b.includes(mac));
}

/**
 * medward's segment enforcer: resolves conflicting decisions, keeps decisions
 * that would cut off a life-sustaining device pending until a person approves them,
 * puts decisions in force on every enforcement point with retries, and
 * stores and audits each change in one transaction.
 *
 * Conflict rule: a decision that would leave a device less restricted than the
 * segment now decided for it (isolation > quarantine > provisioning >
 * production) is overruled, unless it names the decision in force in
 * `supersedes`. Decisions for one device run one at a time, so concurrent
 * decisions end in the most restrictive segment among them.
 */
export class EnforcementService implements SegmentEnforcer, Component {
  readonly name = 'enforcement';
  private readonly store: EnforcementStore;
  private readonly devices = new Map<string, StoredEnforcement>();
  private readonly pending = new Map<string, EnforcementDecision>();
  private readonly deviceQueues = new Map<string, Promise<unknown>>();
  private readonly now: () => Date;
  private readonly actions: Counter<'action' | 'outcome'>;
  private readonly applySeconds: Histogram<'point'>;
  private reconcileTimer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  private started = false;

  constructor(private readonly options: EnforcementServiceOptions) {
    this.store = new EnforcementStore(options.storage);
    this.now = options.now ?? (() => new Date());
    this.actions = new Counter({
      name: 'medward_enforcement_actions_total',
      help: 'Enforcement actions by action (apply, remove, restore, approve) and outcome.',
      labelNames: ['action', 'outcome'],
      registers: [options.metrics],
    });
    this.applySeconds = new Histogram({
      name: 'medward_enforcement_confirm_seconds',
      help: 'Time from an enforcement request to its confirmation by one enforcement point.',
      labelNames: ['point'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [options.metrics],
    });
  }

  /** Starts the points and puts the stored state in force on them. */
  async start(): Promise<void> {
    for (const point of this.options.points) {
      await point.start();
    }
    this.started = true;
    const stored = await this.store.list();
    for (const enforcement of stored) {
      this.devices.set(enforcement.device.id, enforcement);
    }
    for (const { decision } of await this.store.listPending()) {
      this.pending.set(decision.id, decision);
    }
    try {
      await this.putStateInForce({ devices: stored });
      await this.recordAll(stored, 'in-force', {
        event: 'enforcement.restore',
        action: 'E',
        outcome: 'success',
        reason: `restored ${stored.length} device enforcement(s) at startup`,
        details: { devices: stored.length, points: this.pointNames() },
      });
    } catch (error) {
      this.options.logger.error(
        { err: error, devices: stored.length },
        'enforcement restore failed',
      );
      await this.recordAll(stored, 'failed', {
        event: 'enforcement.restore',
        action: 'E',
        outcome: 'serious-failure',
        reason: `restoring stored enforcement failed: ${(error as Error).message}`,
        details: { devices: stored.length, points: this.pointNames() },
      });
      await this.raiseAlert({ kind: 'restore-failed', reason: (error as Error).message });
    }
    this.reconcileTimer = setInterval(() => {
      this.reconciling ??= this.reconcile().finally(() => {
        this.reconciling = undefined;
      });
    }, this.options.retry.reconcileIntervalMs);
    this.reconcileTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.reconcileTimer);
    await this.reconciling;
    await Promise.allSettled([...this.deviceQueues.values()]);
    for (const point of [...this.options.points].reverse()) {
      await point.stop();
    }
    this.started = false;
  }

  apply(decision: EnforcementDecision): Promise<DecisionOutcome> {
    let checked: EnforcementDecision;
    try {
      checked = this.validateDecision(decision);
    } catch (error) {
      return Promise.reject(toMedwardError(error));
    }
    return this.serialize(checked.device.id, () => this.applyLocked(checked));
  }

  /** Puts a decision held for approval in force; only a person may approve. */
  approve(decisionId: string, approver: Actor): Promise<DecisionOutcome> {
    if (!isPerson(approver)) {
      return Promise.reject(
        new MedwardError(
          ErrorKind.Forbidden,
          'ENFORCEMENT_APPROVAL_FORBIDDEN',
          `actor ${approver.kind}:${approver.id} cannot approve decision ${decisionId}; a user or API token must approve`,
          { details: { decisionId, actorKind: approver.kind } },
        ),
      );
    }
    const decision = this.pending.get(decisionId);
    if (decision === undefined) {
      return Promise.reject(
        notFound(
          'ENFORCEMENT_DECISION_NOT_PENDING',
          `decision ${decisionId} is not pending approval`,
          { decisionId },
        ),
      );
    }
    return this.serialize(decision.device.id, async () => {
      if (!this.pending.has(decisionId)) {
        throw notFound(
          'ENFORCEMENT_DECISION_NOT_PENDING',
          `decision ${decisionId} is not pending approval`,
          { decisionId },
        );
      }
      return this.decideLocked(decision, { approver, pendingDecisionId: decisionId });
    });
  }

  /** Drops a decision held for approval, with an audit record naming who declined it. */
  declinePending(decisionId: string, actor: Actor, reason: string): Promise<void> {
    const decision = this.pending.get(decisionId);
    if (decision === undefined) {
      return Promise.reject(
        notFound(
          'ENFORCEMENT_DECISION_NOT_PENDING',
          `decision ${decisionId} is not pending approval`,
          { decisionId },
        ),
      );
    }
    return this.serialize(decision.device.id, async () => {
      await this.options.storage.db.transaction().execute(async (trx) => {
        await this.store.deletePending(trx, decisionId);
        await this.options.audit.append(trx, {
          event: 'enforcement.decline',
          action: 'U',
          outcome: 'success',
          actor,
          target: { kind: 'device', id: decision.device.id },
          reason,
          details: { decisionId, target: decision.target },
        });
      });
      this.pending.delete(decisionId);
    });
  }

  remove(deviceId: string): Promise<void> {
    return this.serialize(deviceId, async () => {
      await this.withRetries('remove', deviceId, undefined, (point) => point.remove(deviceId));
      await this.options.storage.db.transaction().execute(async (trx) => {
        await this.store.delete(trx, deviceId);
        await this.options.audit.append(trx, {
          event: 'enforcement.remove',
          action: 'D',
          outcome: 'success',
          target: { kind: 'device', id: deviceId },
          reason: 'device removed from enforcement',
          details: { points: this.pointNames() },
        });
      });
      this.devices.delete(deviceId);
      for (const [id, decision] of this.pending) {
        if (decision.device.id === deviceId) {
          this.pending.delete(id);
        }
      }
      this.actions.inc({ action: 'remove', outcome: 'success' });
    });
  }

  async restore(state: EnforcementState): Promise<void> {
    const devices = state.devices.map((item) => ({ ...item, device: validateDevice(item.device) }));
    await this.putStateInForce({ devices });
    const stored = devices.map((item) => ({ ...item, status: 'in-force' as const }));
    await this.options.storage.db.transaction().execute(async (trx) => {
      for (const existing of this.devices.keys()) {
        if (!devices.some((item) => item.device.id === existing)) {
          await this.store.delete(trx, existing);
        }
      }
      for (const item of stored) {
        await this.store.save(trx, item, 'in-force');
      }
      await this.options.audit.append(trx, {
        event: 'enforcement.restore',
        action: 'E',
        outcome: 'success',
        reason: `restored ${devices.length} device enforcement(s)`,
        details: {
          devices: devices.map((item) => ({
            deviceId: item.device.id,
            segment: item.segmentName,
            decisionId: item.decisionId,
          })),
        },
      });
    });
    this.devices.clear();
    for (const item of stored) {
      this.devices.set(item.device.id, item);
    }
  }

  describe(): EnforcementDescription {
    return {
      points: this.pointNames(),
      devices: [...this.devices.values()].map((item) => ({
        deviceId: item.device.id,
        segment: item.segment,
        segmentName: item.segmentName,
        decisionId: item.decisionId,
        macs: item.device.macs,
        status: item.status,
      })),
      pendingApprovals: [...this.pending.values()].map((decision) => ({
        decisionId: decision.id,
        deviceId: decision.device.id,
        target: decision.target,
      })),
    };
  }

  private async applyLocked(decision: EnforcementDecision): Promise<DecisionOutcome> {
    const device = decision.device;
    if (device.lifeSustaining && isCutOff(decision.target) && !isPerson(decision.actor)) {
      return this.holdForApproval(decision);
    }
    return this.decideLocked(decision, {});
  }

  private async decideLocked(
    decision: EnforcementDecision,
    approval: { approver?: Actor; pendingDecisionId?: string },
  ): Promise<DecisionOutcome> {
    const current = this.devices.get(decision.device.id);
    if (
      current !== undefined &&
      segmentRestriction[decision.target] < segmentRestriction[current.segment] &&
      decision.supersedes !== current.decisionId
    ) {
      return this.overrule(decision, current, approval.pendingDecisionId);
    }
    const segment = this.options.model.segmentFor(decision.device, decision.target);
    const enforcement: DeviceEnforcement = {
      device: decision.device,
      segment: decision.target,
      segmentName: segment.name,
      decisionId: decision.id,
      reason: decision.reason,
      cause: decision.cause,
      actor: decision.actor,
      appliedAt: this.now().toISOString(),
    };
    await this.enforceAndRecord(enforcement, decision, approval);
    return {
      status: 'in-force',
      decisionId: decision.id,
      deviceId: decision.device.id,
      segment: decision.target,
      segmentName: segment.name,
      inForceDecisionId: decision.id,
    };
  }

  private async enforceAndRecord(
    enforcement: DeviceEnforcement,
    decision: EnforcementDecision,
    approval: { approver?: Actor; pendingDecisionId?: string },
  ): Promise<void> {
    const previous = this.devices.get(enforcement.device.id);
    const details = {
      decisionId: decision.id,
      cause: decision.cause,
      from: previous?.segmentName ?? null,
      to: enforcement.segmentName,
      macs: enforcement.device.macs,
      lifeSustaining: enforcement.device.lifeSustaining,
      points: this.pointNames(),
      ...(decision.supersedes === undefined ? {} : { supersedes: decision.supersedes }),
      ...(approval.approver === undefined
        ? {}
        : { approvedBy: { kind: approval.approver.kind, id: approval.approver.id } }),
    };
    try {
      await this.withRetries('apply', enforcement.device.id, decision.id, (point) =>
        point.enforce(enforcement),
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.options.storage.db.transaction().execute(async (trx) => {
        if (approval.pendingDecisionId !== undefined) {
          await this.store.deletePending(trx, approval.pendingDecisionId);
        }
        await this.store.save(trx, enforcement, 'failed');
        await this.options.audit.append(trx, {
          event: 'enforcement.apply',
          action: 'U',
          outcome: 'serious-failure',
          actor: decision.actor,
          target: { kind: 'device', id: enforcement.device.id },
          reason: `moving device to ${enforcement.segmentName} failed: ${message}`,
          details,
        });
      });
      this.devices.set(enforcement.device.id, { ...enforcement, status: 'failed' });
      if (approval.pendingDecisionId !== undefined) {
        this.pending.delete(approval.pendingDecisionId);
      }
      this.actions.inc({ action: 'apply', outcome: 'failure' });
      await this.raiseAlert({
        kind: 'action-failed',
        deviceId: enforcement.device.id,
        decisionId: decision.id,
        target: decision.target,
        reason: message,
      });
      throw new MedwardError(
        ErrorKind.Unavailable,
        'ENFORCEMENT_FAILED',
        `decision ${decision.id} could not be put in force for device ${enforcement.device.id}: ${message}; medward keeps retrying every ${this.options.retry.reconcileIntervalMs} ms`,
        { cause: error, details: { decisionId: decision.id, deviceId: enforcement.device.id } },
      );
    }
    await this.options.storage.db.transaction().execute(async (trx) => {
      if (approval.pendingDecisionId !== undefined) {
        await this.store.deletePending(trx, approval.pendingDecisionId);
      }
      await this.store.save(trx, enforcement, 'in-force');
      await this.options.audit.append(trx, {
        event: approval.approver === undefined ? 'enforcement.apply' : 'enforcement.approve',
        action: 'U',
        outcome: 'success',
        actor: approval.approver ?? decision.actor,
        target: { kind: 'device', id: enforcement.device.id },
        reason: decision.reason,
        details,
      });
    });
    this.devices.set(enforcement.device.id, { ...enforcement, status: 'in-force' });
    if (approval.pendingDecisionId !== undefined) {
      this.pending.delete(approval.pendingDecisionId);
    }
    this.actions.inc({
      action: approval.approver === undefined ? 'apply' : 'approve',
      outcome: 'success',
    });
  }

  private async overrule(
    decision: EnforcementDecision,
    current: StoredEnforcement,
    pendingDecisionId: string | undefined,
  ): Promise<DecisionOutcome> {
    // The device record may carry new MACs; the segment in force must cover them.
    const refreshed = !sameMacs(current.device.macs, decision.device.macs);
    const enforcement: DeviceEnforcement = { ...current, device: decision.device };
    if (refreshed) {
      await this.withRetries('apply', current.device.id, current.decisionId, (point) =>
        point.enforce(enforcement),
      );
    }
    await this.options.storage.db.transaction().execute(async (trx) => {
      if (pendingDecisionId !== undefined) {
        await this.store.deletePending(trx, pendingDecisionId);
      }
      if (refreshed) {
        await this.store.save(trx, enforcement, current.status);
      }
      await this.options.audit.append(trx, {
        event: 'enforcement.overrule',
        action: 'E',
        outcome: 'success',
        actor: decision.actor,
        target: { kind: 'device', id: decision.device.id },
        reason: `decision for ${decision.target} is less restrictive than ${current.segmentName} from decision ${current.decisionId} and does not supersede it`,
        details: {
          decisionId: decision.id,
          cause: decision.cause,
          requested: decision.target,
          inForce: current.segmentName,
          inForceDecisionId: current.decisionId,
          macsUpdated: refreshed,
        },
      });
    });
    if (refreshed) {
      this.devices.set(current.device.id, { ...enforcement, status: current.status });
    }
    if (pendingDecisionId !== undefined) {
      this.pending.delete(pendingDecisionId);
    }
    this.actions.inc({ action: 'apply', outcome: 'overruled' });
    return {
      status: 'overruled',
      decisionId: decision.id,
      deviceId: decision.device.id,
      segment: current.segment,
      segmentName: current.segmentName,
      inForceDecisionId: current.decisionId,
    };
  }

  private async holdForApproval(decision: EnforcementDecision): Promise<DecisionOutcome> {
    const requestedAt = this.now().toISOString();
    await this.options.storage.db.transaction().execute(async (trx) => {
      await this.store.addPending(trx, decision, requestedAt);
      await this.options.audit.append(trx, {
        event: 'enforcement.hold',
        action: 'E',
        outcome: 'success',
        actor: decision.actor,
        target: { kind: 'device', id: decision.device.id },
        reason: `device is life-sustaining, so moving it to ${decision.target} waits for a person's approval: ${decision.reason}`,
        details: { decisionId: decision.id, cause: decision.cause, target: decision.target },
      });
    });
    this.pending.set(decision.id, decision);
    this.actions.inc({ action: 'apply', outcome: 'pending-approval' });
    await this.raiseAlert({
      kind: 'pending-approval',
      deviceId: decision.device.id,
      decisionId: decision.id,
      target: decision.target,
      reason: decision.reason,
    });
    const current = this.devices.get(decision.device.id);
    const currentSegment = current?.segment ?? decision.target;
    return {
      status: 'pending-approval',
      decisionId: decision.id,
      deviceId: decision.device.id,
      segment: currentSegment,
      segmentName:
        current?.segmentName ?? this.options.model.segmentFor(decision.device, currentSegment).name,
      inForceDecisionId: current?.decisionId ?? decision.id,
    };
  }

  /** Retries enforcement of devices whose decided segment could not be put in force. */
  async reconcile(): Promise<void> {
    for (const item of [...this.devices.values()].filter((entry) => entry.status === 'failed')) {
      await this.serialize(item.device.id, async () => {
        const current = this.devices.get(item.device.id);
        if (current?.status !== 'failed' || current.decisionId !== item.decisionId) {
          return;
        }
        try {
          await this.withRetries('reconcile', item.device.id, item.decisionId, (point) =>
            point.enforce(item),
          );
        } catch (error) {
          this.options.logger.warn(
            { err: error, deviceId: item.device.id, decisionId: item.decisionId },
            'enforcement retry failed',
          );
          return;
        }
        await this.options.storage.db.transaction().execute(async (trx) => {
          await this.store.save(trx, item, 'in-force');
          await this.options.audit.append(trx, {
            event: 'enforcement.apply',
            action: 'U',
            outcome: 'success',
            actor: item.actor,
            target: { kind: 'device', id: item.device.id },
            reason: `retry put ${item.segmentName} in force: ${item.reason}`,
            details: {
              decisionId: item.decisionId,
              cause: item.cause,
              to: item.segmentName,
              retried: true,
            },
          });
        });
        this.devices.set(item.device.id, { ...item, status: 'in-force' });
        this.actions.inc({ action: 'reconcile', outcome: 'success' });
      });
    }
  }

  private async putStateInForce(state: EnforcementState): Promise<void> {
    await this.withRetries('restore', undefined, undefined, (point) => point.restore(state));
  }

  private async recordAll(
    stored: readonly StoredEnforcement[],
    status: 'in-force' | 'failed',
    entry: AuditEntry,
  ): Promise<void> {
    await this.options.storage.db.transaction().execute(async (trx) => {
      for (const item of stored) {
        if (item.status !== status) {
          await this.store.save(trx, item, status);
        }
      }
      await this.options.audit.append(trx, entry);
    });
    for (const item of stored) {
      this.devices.set(item.device.id, { ...item, status });
    }
  }

  private async withRetries(
    action: string,
    deviceId: string | undefined,
    decisionId: string | undefined,
    operation: (point: EnforcementPoint) => Promise<void>,
  ): Promise<void> {
    if (!this.started) {
      throw new MedwardError(
        ErrorKind.Unavailable,
        'ENFORCEMENT_NOT_STARTED',
        'enforcement is not started; start it before applying decisions',
      );
    }
    for (const point of this.options.points) {
      const startedAt = performance.now();
      await retryWithBackoff(
        () => operation(point),
        this.options.retry,
        (error, attempt, delayMs) => {
          this.options.logger.warn(
            {
              err: error,
              point: point.name,
              action,
              deviceId,
              decisionId,
              attempt,
              retryInMs: delayMs,
            },
            delayMs === undefined
              ? 'enforcement action failed, attempts exhausted'
              : 'enforcement action failed, retrying',
          );
        },
      );
      this.applySeconds.observe({ point: point.name }, (performance.now() - startedAt) / 1000);
    }
  }

  private async raiseAlert(alert: Omit<EnforcementAlert, 'raisedAt'>): Promise<void> {
    const payload: EnforcementAlert = { ...alert, raisedAt: this.now().toISOString() };
    try {
      await this.options.bus.publish(ENFORCEMENT_ALERT_SUBJECT, payload);
    } catch (error) {
      this.options.logger.error(
        { err: error, alert: payload },
        'enforcement alert could not be published',
      );
    }
  }

  private serialize<T>(deviceId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.deviceQueues.get(deviceId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    const tail = next.catch(() => undefined);
    this.deviceQueues.set(deviceId, tail);
    void tail.then(() => {
      if (this.deviceQueues.get(deviceId) === tail) {
        this.deviceQueues.delete(deviceId);
      }
    });
    return next;
  }

  private validateDecision(decision: EnforcementDecision): EnforcementDecision {
    if (!DECISION_ID.test(decision.id)) {
      throw invalid(
        'ENFORCEMENT_DECISION_ID_INVALID',
        `decision id ${JSON.stringify(decision.id)} must be 1 to 128 letters, digits, '.', '_', ':' or '-'`,
        {
          decisionId: decision.id,
        },
      );
    }
    if (!Object.values(SegmentKind).includes(decision.target)) {
      throw invalid(
        'ENFORCEMENT_TARGET_INVALID',
        `decision ${decision.id} targets ${JSON.stringify(decision.target)}; use production, provisioning, quarantine or isolation`,
        {
          decisionId: decision.id,
        },
      );
    }
    if (decision.reason.trim() === '' || decision.cause.id.trim() === '') {
      throw invalid(
        'ENFORCEMENT_DECISION_INCOMPLETE',
        `decision ${decision.id} needs a reason and a cause id for the audit trail`,
        {
          decisionId: decision.id,
        },
      );
    }
    if (
      this.pending.has(decision.id) ||
      this.devices.get(decision.device.id)?.decisionId === decision.id
    ) {
      throw invalid(
        'ENFORCEMENT_DECISION_DUPLICATE',
        `decision ${decision.id} was already received; give each decision a new id`,
        {
          decisionId: decision.id,
        },
      );
    }
    const device = validateDevice(decision.device);
    this.options.model.segmentFor(device, decision.target);
    return { ...decision, device };
  }

  private pointNames(): string[] {
    return this.options.points.map((point) => point.name);
  }
}
