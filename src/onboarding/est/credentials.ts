import type { AuditOutcome, AuditTrail } from '../../core/audit/index.js';
import { ActorKind, type Actor } from '../../core/context.js';
import { ErrorKind, toMedwardError, type MedwardError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { SIGHTING_RATE_LIMITED } from '../lifecycle/sightings.js';
import type { PresentedCertificate } from './birth-identity.js';

/** The credential a client on the provisioning listener authenticated with. */
export type DeviceCredential =
  | { kind: 'client-certificate'; presented: PresentedCertificate; sourceAddress?: string }
  | {
      kind: 'bootstrap-secret';
      secret: string;
      /** The HTTP Basic user name, which must be the device's serial number when given. */
      claimedSerialNumber?: string;
      sourceAddress?: string;
    }
  | { kind: 'none'; sourceAddress?: string };

/** URN naming a device in the certificates medward issues to it. */
export function deviceUrn(deviceId: string): string {
  return `urn:medward:device:${deviceId}`;
}

export function deviceActor(deviceId: string): Actor {
  return { kind: ActorKind.Device, id: deviceId };
}

/** Rejections auditRejection recorded, so the listener does not record them twice. */
export const auditedRejections = new WeakSet<MedwardError>();

/** The device a request turned out to concern, once known; its rejection audit record names it. */
export interface RequestScope {
  deviceId?: string;
}

/** Rates a rejected request: failed authentication is serious, malformed input minor. */
function outcomeOf(error: MedwardError): AuditOutcome {
  if (error.kind === 'internal' || error.kind === 'unavailable' || error.kind === 'timeout') {
    return 'major-failure';
  }
  if (error.kind === 'unauthenticated' || error.kind === 'forbidden') {
    return 'serious-failure';
  }
  return 'minor-failure';
}

/** Describes the client for a rejection's audit record; never with the secret itself. */
export function describeCredential(credential: DeviceCredential): Record<string, unknown> {
  switch (credential.kind) {
    case 'client-certificate':
      return {
        method: 'client-certificate',
        certificateFingerprint: credential.presented.leaf.fingerprint,
        certificateSerialNumber: credential.presented.leaf.serialNumberHex,
      };
    case 'bootstrap-secret':
      return {
        method: 'bootstrap-secret',
        claimedSerialNumber: credential.claimedSerialNumber ?? null,
      };
    case 'none':
      return { method: 'none' };
  }
}

/**
 * Appends the audit record of a rejected provisioning request in a
 * transaction of its own (the request's own changes were rolled back) and
 * returns the error as a MedwardError for the caller to raise. Rejections by
 * the sighting rate limit are not audited one by one, because that would
 * add the records the limit keeps out: SightingRegistry counts, logs and
 * audits them itself.
 */
export async function auditRejection(
  audit: AuditTrail,
  logger: Logger,
  event: string,
  credential: DeviceCredential,
  error: unknown,
  knownDeviceId?: string,
): Promise<MedwardError> {
  const failure = toMedwardError(error);
  auditedRejections.add(failure);
  if (failure.code === SIGHTING_RATE_LIMITED) {
    return failure;
  }
  const deviceId =
    knownDeviceId ??
    (typeof failure.details.deviceId === 'string' ? failure.details.deviceId : undefined);
  const clientId =
    credential.kind === 'client-certificate'
      ? credential.presented.leaf.fingerprint
      : credential.kind === 'bootstrap-secret'
        ? (credential.claimedSerialNumber ?? credential.sourceAddress ?? 'unknown')
        : (credential.sourceAddress ?? 'unknown');
  if (failure.kind === 'internal') {
    logger.error({ err: error, event, deviceId }, 'provisioning request failed');
  } else {
    // Failed credentials and CSRs from another session may be an attack, so
    // they are warnings that name the identity the client claimed.
    const suspicious =
      failure.kind === ErrorKind.Unauthenticated ||
      failure.kind === ErrorKind.Forbidden ||
      failure.code.startsWith('EST_CSR_CHANNEL_BINDING');
    logger[suspicious ? 'warn' : 'info'](
      { code: failure.code, event, deviceId, clientId, sourceAddress: credential.sourceAddress },
      'provisioning request rejected',
    );
  }
  try {
    await audit.record({
      event,
      action: 'E',
      outcome: outcomeOf(failure),
      target:
        deviceId === undefined
          ? { kind: 'est-client', id: clientId }
          : { kind: 'device', id: deviceId },
      reason: failure.message,
      ...(credential.sourceAddress === undefined
        ? {}
        : { sourceAddress: credential.sourceAddress }),
      details: { code: failure.code, ...describeCredential(credential) },
    });
  } catch (auditError) {
    logger.error({ err: auditError, event }, 'audit record of a rejected request failed');
  }
  return failure;
}
