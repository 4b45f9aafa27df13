import { ErrorKind, MedwardError } from '../../core/errors.js';
import type { DeviceState } from '../../inventory/index.js';

/**
 * The onboarding state machine: for each state, the states a device may move
 * to. A device is seen on the provisioning network (provisioning) and proves
 * its birth identity (identity-verified). It is found on an authorisation
 * list (authorised) or not (rejected), receives its operational certificate
 * (enrolled), and registers and receives its configuration (configured). It
 * enters production once its segment move is confirmed. Suspended,
 * quarantined and decommissioned take it out, and decommissioned is final.
 */
export const lifecycleTransitions: Readonly<Record<DeviceState, readonly DeviceState[]>> = {
  unknown: ['provisioning', 'rejected', 'decommissioned'],
  provisioning: ['identity-verified', 'rejected', 'decommissioned'],
  'identity-verified': ['authorised', 'rejected', 'decommissioned'],
  authorised: ['enrolled', 'rejected', 'decommissioned'],
  rejected: ['provisioning', 'decommissioned'],
  enrolled: ['configured', 'rejected', 'suspended', 'quarantined', 'decommissioned'],
  configured: ['production', 'rejected', 'suspended', 'quarantined', 'decommissioned'],
  production: ['suspended', 'quarantined', 'decommissioned'],
  suspended: ['provisioning', 'production', 'decommissioned'],
  quarantined: ['production', 'suspended', 'decommissioned'],
  decommissioned: [],
};

/** States of a device on its way into production, which the stuck-state checker watches. */
export const onboardingStates: readonly DeviceState[] = [
  'provisioning',
  'identity-verified',
  'authorised',
  'enrolled',
  'configured',
];

export function isTransitionAllowed(from: DeviceState, to: DeviceState): boolean {
  return lifecycleTransitions[from].includes(to);
}

export function assertTransitionAllowed(
  deviceId: string,
  from: DeviceState,
  to: DeviceState,
): void {
  if (!isTransitionAllowed(from, to)) {
    const allowed = lifecycleTransitions[from];
    throw new MedwardError(
      ErrorKind.Conflict,
      'LIFECYCLE_TRANSITION_INVALID',
      `device ${deviceId} cannot move from ${from} to ${to}; from ${from} it may move to ` +
        (allowed.length === 0 ? 'no other state' : allowed.join(', ')),
      { details: { deviceId, from, to, allowed } },
    );
  }
}
