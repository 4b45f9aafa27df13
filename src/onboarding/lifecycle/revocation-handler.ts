import type { Executor } from '../../core/audit/index.js';
import { ActorKind } from '../../core/context.js';
import type { Logger } from '../../core/logger.js';
import { DeviceRepository, type DeviceState } from '../../inventory/index.js';
import type {
  RevocationEffect,
  RevocationHandler,
} from '../authorisation/authorisation-service.js';
import type { ListRevocation } from '../authorisation/list-schema.js';
import type { CertificateAuthority } from '../ca/certificate-authority.js';
import { CrlReason } from '../ca/x509.js';
import type { DeviceLifecycle, TransitionResult } from './device-lifecycle.js';
import { isTransitionAllowed } from './transitions.js';

const beforeEnrolment: ReadonlySet<DeviceState> = new Set([
  'unknown',
  'provisioning',
  'identity-verified',
  'authorised',
  'rejected',
]);

/**
 * Returns the state a revoked device moves to: rejected before it has an
 * operational certificate, and for `reject` while it is not yet in
 * production, else suspended.
 */
export function revocationTarget(
  state: DeviceState,
  action: ListRevocation['action'],
): DeviceState {
  if (beforeEnrolment.has(state)) {
    return 'rejected';
  }
  if (action === 'reject' && (state === 'enrolled' || state === 'configured')) {
    return 'rejected';
  }
  return 'suspended';
}

export interface ListRevocationHandlerOptions {
  lifecycle: DeviceLifecycle;
  ca: CertificateAuthority;
  logger: Logger;
  /** Called after commit for each device that was suspended, to take it out of its segment. */
  onSuspended?: (deviceId: string, reason: string) => Promise<void>;
}

/**
 * Puts list revocations into effect inside the import transaction. The
 * device moves to rejected or suspended, and every certificate issued to it
 * is revoked, so it appears on the next CRL. Devices not yet seen are only
 * recorded as revoked, which stops them from enrolling.
 */
export class ListRevocationHandler implements RevocationHandler {
  private readonly repository = new DeviceRepository();

  constructor(private readonly options: ListRevocationHandlerOptions) {}

  async applyRevocation(
    executor: Executor<object>,
    revocation: ListRevocation,
    listId: string,
  ): Promise<RevocationEffect | undefined> {
    const deviceId = await this.repository.findIdBySerial(executor, revocation);
    if (deviceId === undefined) {
      return undefined;
    }
    const device = await this.repository.findById(executor, deviceId);
    if (device === undefined || device.state === 'decommissioned') {
      return undefined;
    }
    const reason = `revoked by authorisation list ${listId}: ${revocation.reason}`;
    const target = revocationTarget(device.state, revocation.action);
    let transition: TransitionResult | undefined;
    if (target !== device.state && isTransitionAllowed(device.state, target)) {
      transition = await this.options.lifecycle.transitionIn(executor, {
        deviceId,
        expectedVersion: device.version,
        to: target,
        reason,
        evidence: { listId, revocation },
        actor: { kind: ActorKind.System, id: `authorisation-list:${listId}` },
      });
    }
    const revokedCertificates = await this.options.ca.revokeDeviceCertificates(
      executor,
      deviceId,
      CrlReason.PrivilegeWithdrawn,
      reason,
    );
    if (transition === undefined && revokedCertificates.length === 0) {
      return undefined;
    }
    const toState = transition?.to ?? device.state;
    return {
      deviceId,
      revocation,
      fromState: device.state,
      toState,
      revokedCertificates,
      afterCommit: async () => {
        if (transition !== undefined) {
          await this.options.lifecycle.publish([transition]);
        }
        if (toState === 'suspended' && this.options.onSuspended !== undefined) {
          await this.options.onSuspended(deviceId, reason);
        }
      },
    };
  }

  async afterRevocations(effects: readonly RevocationEffect[]): Promise<void> {
    for (const effect of effects) {
      try {
        await effect.afterCommit?.();
      } catch (error) {
        this.options.logger.error(
          { err: error, deviceId: effect.deviceId },
          'revocation follow-up failed',
        );
      }
    }
  }
}
