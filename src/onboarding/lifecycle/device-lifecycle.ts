import type { AuditEntry, AuditTrail, Executor } from '../../core/audit/index.js';
import type { EventBus } from '../../core/bus/index.js';
import { currentContext, systemActor, type Actor } from '../../core/context.js';
import type { Logger } from '../../core/logger.js';
import type { Storage } from '../../core/storage/index.js';
import { transitionDeviceStates } from '../../inventory/device-state-transition.js';
import type { Device, DeviceState } from '../../inventory/index.js';
import { ONBOARDING_STATE_SUBJECT, type DeviceStateChanged } from '../events.js';
import { assertTransitionAllowed } from './transitions.js';

export interface TransitionRequest {
  deviceId: string;
  /** The version the caller read; the change fails with INVENTORY_VERSION_CONFLICT otherwise. */
  expectedVersion: number;
  to: DeviceState;
  /** Why, in words an auditor can read. */
  reason: string;
  /** Evidence the decision rests on (certificate fingerprints, list entries, approvals), never a secret. */
  evidence: Record<string, unknown>;
  /** The acting identity; the current context's actor when omitted. */
  actor?: Actor;
  set?: {
    segment?: string | null;
    certificateFingerprint?: string | null;
    firmwareVersion?: string | null;
  };
  /**
   * Accepts `to` equal to the current state, to record a change of the `set`
   * columns (a renewed certificate) with its own version and audit record.
   */
  allowSameState?: boolean;
  /** The device as this transaction last wrote it, to skip reading it again. */
  known?: Device;
}

/** One step of a TransitionSequence. */
export interface TransitionStep {
  to: DeviceState;
  reason: string;
  /** Evidence the decision rests on, never a secret. */
  evidence: Record<string, unknown>;
  set?: TransitionRequest['set'];
  allowSameState?: boolean;
}

/** Consecutive transitions of one device by one actor, written together. */
export interface TransitionSequence {
  deviceId: string;
  /** The version the caller read; the change fails with INVENTORY_VERSION_CONFLICT otherwise. */
  expectedVersion: number;
  steps: readonly TransitionStep[];
  actor?: Actor;
  known?: Device;
}

export interface TransitionResult {
  device: Device;
  from: DeviceState;
  to: DeviceState;
  actor: Actor;
  reason: string;
}

export interface DeviceLifecycleOptions {
  storage: Storage;
  audit: AuditTrail;
  logger: Logger;
  bus?: EventBus;
  now?: () => Date;
}

/**
 * Moves devices through the onboarding state machine. Each transition checks
 * the state machine and the expected version, writes the new state and an
 * audit record (`device.lifecycle`, with actor and evidence) in one
 * transaction, so two events racing for one device leave exactly one change.
 * State changes are published on the bus after the commit.
 */
export class DeviceLifecycle {
  private readonly storage: Storage;
  private readonly audit: AuditTrail;
  private readonly logger: Logger;
  private readonly bus: EventBus | undefined;
  private readonly now: () => Date;

  constructor(options: DeviceLifecycleOptions) {
    this.storage = options.storage;
    this.audit = options.audit;
    this.logger = options.logger;
    this.bus = options.bus;
    this.now = options.now ?? (() => new Date());
  }

  /** Applies one transition inside the caller's transaction; publish the result after commit. */
  async transitionIn(
    executor: Executor<object>,
    request: TransitionRequest,
  ): Promise<TransitionResult> {
    const { deviceId, expectedVersion, actor, known, ...step } = request;
    const { results, auditEntries } = await this.prepareTransitionsIn(executor, {
      deviceId,
      expectedVersion,
      steps: [step],
      ...(actor === undefined ? {} : { actor }),
      ...(known === undefined ? {} : { known }),
    });
    await this.audit.appendMany(executor, auditEntries);
    return results[0] as TransitionResult;
  }

  /**
   * Applies consecutive transitions of one device inside the caller's
   * transaction, checking each against the state machine and writing the
   * device row once. Returns the results, to publish after commit, and one
   * `device.lifecycle` audit entry per step, which the caller must append
   * (AuditTrail.appendMany) in the same transaction.
   */
  async prepareTransitionsIn(
    executor: Executor<object>,
    sequence: TransitionSequence,
  ): Promise<{ results: TransitionResult[]; auditEntries: AuditEntry[] }> {
    const actor = sequence.actor ?? currentContext()?.actor ?? systemActor;
    const states = await transitionDeviceStates(
      executor,
      {
        deviceId: sequence.deviceId,
        expectedVersion: sequence.expectedVersion,
        ...(sequence.known === undefined ? {} : { known: sequence.known }),
        steps: sequence.steps.map((step) => ({
          to: step.to,
          ...(step.set === undefined ? {} : { set: step.set }),
          guard: (device: Device) => {
            if (step.allowSameState !== true || device.state !== step.to) {
              assertTransitionAllowed(sequence.deviceId, device.state, step.to);
            }
          },
        })),
      },
      this.now(),
    );
    const results: TransitionResult[] = [];
    const auditEntries: AuditEntry[] = [];
    sequence.steps.forEach((step, index) => {
      const before = states[index] as Device;
      const after = states[index + 1] as Device;
      auditEntries.push({
        event: 'device.lifecycle',
        action: 'U',
        outcome: 'success',
        actor,
        target: { kind: 'device', id: sequence.deviceId },
        reason: step.reason,
        details: {
          from: before.state,
          to: after.state,
          fromVersion: before.version,
          toVersion: after.version,
          evidence: step.evidence,
          ...(step.set === undefined ? {} : { set: step.set }),
        },
      });
      results.push({
        device: after,
        from: before.state,
        to: after.state,
        actor,
        reason: step.reason,
      });
    });
    return { results, auditEntries };
  }

  /** Applies one transition in a transaction of its own and publishes it. */
  async transition(request: TransitionRequest): Promise<Device> {
    const result = await this.storage.db
      .transaction()
      .execute((trx) => this.transitionIn(trx, request));
    await this.publish([result]);
    return result.device;
  }

  /** Publishes committed transitions as `onboarding.device.state-changed`; failures are logged. */
  async publish(results: readonly TransitionResult[]): Promise<void> {
    for (const result of results) {
      this.logger.info(
        {
          deviceId: result.device.id,
          from: result.from,
          to: result.to,
          version: result.device.version,
        },
        'device state changed',
      );
      if (this.bus === undefined) {
        continue;
      }
      const event: DeviceStateChanged = {
        deviceId: result.device.id,
        from: result.from,
        to: result.to,
        version: result.device.version,
        actor: { kind: result.actor.kind, id: result.actor.id },
        reason: result.reason,
        changedAt: result.device.updatedAt,
      };
      try {
        await this.bus.publish(ONBOARDING_STATE_SUBJECT, event, {
          msgId: `lifecycle:${result.device.id}:${result.device.version}`,
        });
      } catch (error) {
        this.logger.warn(
          { err: error, deviceId: result.device.id },
          'state change event not published',
        );
      }
    }
  }
}
