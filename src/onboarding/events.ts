/** Bus subjects and payloads the onboarding context publishes. */

/** Alerts for operators: rejected or expired lists, stuck devices, failed segment moves. */
export const ONBOARDING_ALERT_SUBJECT = 'onboarding.alert';
/** A device seen on the provisioning network that is on no authorisation list. */
export const ONBOARDING_UNLISTED_SUBJECT = 'onboarding.device.unlisted';
/** A device's lifecycle state changed. */
export const ONBOARDING_STATE_SUBJECT = 'onboarding.device.state-changed';
/** A device reported a configuration or firmware other than the ledger's. */
export const ONBOARDING_DRIFT_SUBJECT = 'onboarding.device.drift';

export type OnboardingAlertKind =
  | 'list-rejected'
  | 'list-expired'
  | 'stuck-state'
  | 'segment-move-failed'
  | 'authority-unreachable';

export interface OnboardingAlert {
  kind: OnboardingAlertKind;
  /** Description of the problem and the next step, in words an operator can act on. */
  reason: string;
  listId?: string;
  deviceId?: string;
  state?: string;
  code?: string;
  raisedAt: string;
}

export interface DeviceStateChanged {
  deviceId: string;
  from: string;
  to: string;
  version: number;
  actor: { kind: string; id: string };
  reason: string;
  changedAt: string;
}

export interface UnlistedDeviceSeen {
  sightingId: string;
  /** Identity the device claimed, from its certificate subject or its HTTP Basic user name. */
  manufacturer: string | null;
  model: string | null;
  serialNumber: string | null;
  certificateFingerprint: string | null;
  sourceAddress: string | null;
  reason: string;
  timesSeen: number;
  seenAt: string;
}

export interface DriftDetected {
  deviceId: string;
  kind: 'configuration' | 'firmware';
  expected: string | null;
  reported: string;
  configurationVersion: number | null;
  detectedAt: string;
}
