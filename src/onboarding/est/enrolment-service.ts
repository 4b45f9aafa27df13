import { randomUUID } from 'node:crypto';
import type { AuditEntry, AuditTrail, Executor } from '../../core/audit/index.js';
import type { EventBus } from '../../core/bus/index.js';
import { currentContext } from '../../core/context.js';
import { ErrorKind, MedwardError, conflict, isMedwardError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Storage } from '../../core/storage/index.js';
import { insertDeviceInTransaction } from '../../inventory/device-insert.js';
import {
  DeviceRepository,
  type Device,
  type DeviceState,
  type InventoryService,
} from '../../inventory/index.js';
import {
  entryUnusableReason,
  hashSecret,
  type AuthorisationService,
} from '../authorisation/authorisation-service.js';
import type { AuthorisedEntry, EnrolmentCandidate } from '../authorisation/list-store.js';
import type { CertificateAuthority, IssuedCertificate } from '../ca/certificate-authority.js';
import { CrlReason, oid, type ParsedCsr } from '../ca/x509.js';
import type {
  DeviceLifecycle,
  TransitionResult,
  TransitionStep,
} from '../lifecycle/device-lifecycle.js';
import type { SightingRegistry } from '../lifecycle/sightings.js';
import { subjectSerialNumber, verifyBirthIdentity } from './birth-identity.js';
import {
  auditRejection,
  deviceActor,
  deviceUrn,
  type DeviceCredential,
  type RequestScope,
} from './credentials.js';
import {
  checkChannelBinding,
  type ChannelBinding,
  type ChannelBindingPolicy,
} from './channel-binding.js';
import { checkInitialIdentity, checkRenewalIdentity, parseAndCheckCsr } from './csr-policy.js';
import type { TransactionBatcher } from '../transaction-batcher.js';

export interface EnrolmentResult {
  deviceId: string;
  certificate: IssuedCertificate;
  state: DeviceState;
}

export interface EnrolmentServiceOptions {
  storage: Storage;
  /** Shares enrolment transactions between concurrent requests. */
  batcher: TransactionBatcher;
  bus?: EventBus;
  audit: AuditTrail;
  logger: Logger;
  inventory: InventoryService;
  lifecycle: DeviceLifecycle;
  ca: CertificateAuthority;
  authorisation: AuthorisationService;
  sightings: SightingRegistry;
  /** Policy for matching a CSR's challengePassword to its TLS session; see channel-binding.ts. */
  channelBinding?: ChannelBindingPolicy;
  now?: () => Date;
}

/** The authenticated identity of an enrolling device. */
interface Authentication {
  found: AuthorisedEntry;
  /** The revocation of the device by a list, read together with its entry. */
  revocation: EnrolmentCandidate['revocation'];
  method: 'idevid' | 'pinned-public-key' | 'bootstrap-secret';
  evidence: Record<string, unknown>;
  secretHash?: string;
}

/** States from which /simpleenroll may (re)issue a certificate. */
const enrolableStates: ReadonlySet<DeviceState> = new Set([
  'unknown',
  'provisioning',
  'identity-verified',
  'authorised',
  'rejected',
  'enrolled',
  'configured',
]);

/** States from which /simplereenroll renews. */
const renewableStates: ReadonlySet<DeviceState> = new Set([
  'enrolled',
  'configured',
  'production',
  'quarantined',
]);

const SECRET = /^[\x21-\x7e]{16,512}$/;

/** Raised when the device changed between the enrolment's read and its write. */
function enrolmentConflict(authentication: Authentication): MedwardError {
  return rejection(
    ErrorKind.Conflict,
    'EST_ENROLMENT_CONFLICT',
    `device ${authentication.found.entry.serialNumber} changed during enrolment; retry the request`,
  );
}

function rejection(
  kind: ErrorKind,
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): MedwardError {
  return new MedwardError(kind, code, message, { details });
}

/**
 * Lists the transitions that bring a device from `from` to authorised on an
 * enrolment, with the state it reaches. A device already authorised or
 * beyond needs none.
 */
function stepsToAuthorised(
  from: DeviceState,
  authentication: Authentication,
  sourceAddress: string | undefined,
): { steps: TransitionStep[]; state: DeviceState } {
  const { found } = authentication;
  const steps: TransitionStep[] = [];
  let state = from;
  if (state === 'rejected') {
    steps.push({
      to: 'provisioning',
      reason: 'device contacted the provisioning listener again after rejection',
      evidence: { sourceAddress: sourceAddress ?? null },
    });
    state = 'provisioning';
  }
  if (state === 'unknown') {
    steps.push({
      to: 'provisioning',
      reason: 'device contacted the provisioning listener',
      evidence: { sourceAddress: sourceAddress ?? null, method: authentication.method },
    });
    state = 'provisioning';
  }
  if (state === 'provisioning') {
    steps.push({
      to: 'identity-verified',
      reason: `birth identity verified by ${authentication.method}`,
      evidence: authentication.evidence,
    });
    state = 'identity-verified';
  }
  if (state === 'identity-verified') {
    steps.push({
      to: 'authorised',
      reason: `device is entry ${found.entry.entryId} of authorisation list ${found.listId}`,
      evidence: {
        listId: found.listId,
        entryId: found.entry.entryId,
        deviceClass: found.entry.deviceClass,
      },
    });
    state = 'authorised';
  }
  return { steps, state };
}

/**
 * EST enrolment (RFC 7030 simpleenroll and simplereenroll) behind the
 * provisioning listener. A device authenticates with the birth identity an
 * authorisation list entry names: an IDevID or a pinned key over mutual
 * TLS, or a one-time bootstrap secret. Its CSR must request exactly the
 * authorised identity. The device then moves through identity-verified and
 * authorised to enrolled, and its certificate is recorded, in one
 * transaction with the audit records. Every rejection changes nothing and
 * is audited as `est.enroll` or `est.reenroll`.
 */
export class EnrolmentService {
  private readonly options: EnrolmentServiceOptions;
  private readonly repository = new DeviceRepository();
  private readonly now: () => Date;

  constructor(options: EnrolmentServiceOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  /** `connection` is the channel binding of the TLS session that carried the request. */
  async enroll(
    credential: DeviceCredential,
    csrDer: Uint8Array,
    connection?: ChannelBinding,
  ): Promise<EnrolmentResult> {
    const scope: RequestScope = {};
    try {
      return await this.enrollNow(credential, csrDer, connection, scope);
    } catch (error) {
      throw await auditRejection(
        this.options.audit,
        this.options.logger,
        'est.enroll',
        credential,
        error,
        scope.deviceId,
      );
    }
  }

  async reenroll(
    credential: DeviceCredential,
    csrDer: Uint8Array,
    connection?: ChannelBinding,
  ): Promise<EnrolmentResult> {
    const scope: RequestScope = {};
    try {
      return await this.reenrollNow(credential, csrDer, connection, scope);
    } catch (error) {
      throw await auditRejection(
        this.options.audit,
        this.options.logger,
        'est.reenroll',
        credential,
        error,
        scope.deviceId,
      );
    }
  }

  private async enrollNow(
    credential: DeviceCredential,
    csrDer: Uint8Array,
    connection: ChannelBinding | undefined,
    scope: RequestScope,
  ): Promise<EnrolmentResult> {
    const { storage } = this.options;
    const authentication = await this.authenticate(credential);
    const entry = authentication.found.entry;
    this.assertAuthorisedNow(authentication);
    const csr = parseAndCheckCsr(csrDer);
    checkChannelBinding(csr, connection, this.options.channelBinding ?? 'optional');
    const existing = await this.repository.findBySerial(storage.db, entry);
    if (existing !== undefined) {
      scope.deviceId = existing.id;
      this.assertEnrolable(existing);
    }
    checkInitialIdentity(csr, {
      manufacturer: entry.manufacturer,
      serialNumber: entry.serialNumber,
      hostnames: entry.hostnames ?? [],
      uris: existing === undefined ? [] : [deviceUrn(existing.id)],
    });
    const deviceId = existing?.id ?? randomUUID();
    const issued = this.sign(deviceId, csr);
    const outcome = await this.options.batcher.run((trx) =>
      this.recordEnrolment(
        trx,
        deviceId,
        existing,
        authentication,
        issued,
        credential.sourceAddress,
      ),
    );
    if (outcome.created !== undefined) {
      await this.publishCreated(outcome.created);
    }
    await this.options.lifecycle.publish(outcome.transitions);
    const state = outcome.transitions.at(-1)?.to ?? existing?.state ?? 'enrolled';
    this.options.logger.info(
      { deviceId, method: authentication.method, serialNumber: issued.parsed.serialNumberHex },
      'device enrolled',
    );
    return { deviceId, certificate: issued, state };
  }

  private async authenticate(credential: DeviceCredential): Promise<Authentication> {
    if (credential.kind === 'none') {
      throw rejection(
        ErrorKind.Unauthenticated,
        'EST_AUTHENTICATION_REQUIRED',
        'enrolment needs the device birth certificate (mutual TLS) or its bootstrap secret (HTTP Basic)',
      );
    }
    if (credential.kind === 'bootstrap-secret') {
      return this.authenticateSecret(
        credential.secret,
        credential.claimedSerialNumber,
        credential.sourceAddress,
      );
    }
    const leaf = credential.presented.leaf;
    if (this.options.ca.issued(leaf)) {
      throw rejection(
        ErrorKind.Conflict,
        'EST_USE_REENROLL',
        'the client certificate is an operational certificate from medward; renew it with /simplereenroll',
      );
    }
    const claimed =
      subjectSerialNumber(leaf) ??
      leaf.subject.find((attribute) => attribute.type === oid.commonName)?.value;
    const candidates =
      claimed === undefined
        ? []
        : (
            await this.options.authorisation.findEnrolmentCandidates(
              this.options.storage.db,
              claimed,
            )
          ).filter((candidate) => candidate.found.entry.birthIdentity.kind !== 'bootstrap-secret');
    if (candidates.length === 0) {
      const sighting = await this.options.sightings.report({
        manufacturer: leaf.subject.find((attribute) => attribute.type === oid.organizationName)
          ?.value,
        model: leaf.subject.find((attribute) => attribute.type === oid.organizationalUnitName)
          ?.value,
        serialNumber: claimed,
        certificateDer: leaf.der,
        certificateFingerprint: leaf.fingerprint,
        sourceAddress: credential.sourceAddress,
        reason: `device certificate for serial number ${claimed ?? '(none)'} matches no authorisation list entry`,
      });
      throw rejection(
        ErrorKind.Forbidden,
        'EST_DEVICE_NOT_LISTED',
        `device ${claimed ?? leaf.fingerprint} is on no authorisation list; it was reported to operators ` +
          `as sighting ${sighting.id} and can enrol once approved`,
        { sightingId: sighting.id },
      );
    }
    const reasons: string[] = [];
    for (const { found, revocation } of candidates) {
      const check = verifyBirthIdentity(
        credential.presented,
        found.entry.birthIdentity,
        found.entry.serialNumber,
        this.now(),
      );
      if (check.verified) {
        return {
          found,
          revocation,
          method: found.entry.birthIdentity.kind === 'idevid' ? 'idevid' : 'pinned-public-key',
          evidence: { ...check.evidence, listId: found.listId, entryId: found.entry.entryId },
        };
      }
      reasons.push(`${found.listId}/${found.entry.entryId}: ${check.reason}`);
    }
    throw rejection(
      ErrorKind.Unauthenticated,
      'EST_BIRTH_IDENTITY_INVALID',
      `device certificate does not prove the birth identity of serial number ${claimed ?? '?'}: ${reasons.join('; ')}`,
      { certificateFingerprint: leaf.fingerprint },
    );
  }

  private async authenticateSecret(
    secret: string,
    claimedSerialNumber: string | undefined,
    sourceAddress: string | undefined,
  ): Promise<Authentication> {
    const { authorisation, storage } = this.options;
    if (!SECRET.test(secret)) {
      throw rejection(
        ErrorKind.Unauthenticated,
        'EST_BOOTSTRAP_SECRET_INVALID',
        'bootstrap secret must be 16 to 512 printable ASCII characters',
      );
    }
    const hash = hashSecret(secret);
    const stored = await authorisation.findSecretCandidate(storage.db, hash);
    if (stored === undefined) {
      const listed =
        claimedSerialNumber === undefined
          ? []
          : await authorisation.findEntries(storage.db, { serialNumber: claimedSerialNumber });
      if (claimedSerialNumber !== undefined && listed.length === 0) {
        await this.options.sightings.report({
          serialNumber: claimedSerialNumber,
          sourceAddress,
          reason: `bootstrap secret for serial number ${claimedSerialNumber} matches no authorisation list entry`,
        });
      }
      throw rejection(
        ErrorKind.Unauthenticated,
        'EST_BOOTSTRAP_SECRET_INVALID',
        'bootstrap secret is not known; use the secret issued for this device',
      );
    }
    const row = stored.secret;
    if (row.consumed_at !== null) {
      throw rejection(
        ErrorKind.Unauthenticated,
        'EST_BOOTSTRAP_SECRET_REPLAYED',
        `bootstrap secret was already used at ${row.consumed_at} and is valid once; ` +
          'renew with /simplereenroll or ask an operator for a new secret',
        { deviceId: row.consumed_by, listId: row.list_id, entryId: row.entry_id },
      );
    }
    if (row.expires_at !== null && Date.parse(row.expires_at) <= this.now().getTime()) {
      throw rejection(
        ErrorKind.Unauthenticated,
        'EST_BOOTSTRAP_SECRET_EXPIRED',
        `bootstrap secret expired at ${row.expires_at}; ask an operator for a new secret`,
        { listId: row.list_id, entryId: row.entry_id },
      );
    }
    const found = stored.candidate?.found;
    const identity = found?.entry.birthIdentity;
    if (
      found === undefined ||
      identity?.kind !== 'bootstrap-secret' ||
      identity.secretSha256 !== hash
    ) {
      throw rejection(
        ErrorKind.Forbidden,
        'EST_DEVICE_NOT_AUTHORISED',
        `the entry ${row.entry_id} this secret was issued for is no longer on list ${row.list_id}`,
        { listId: row.list_id, entryId: row.entry_id },
      );
    }
    if (claimedSerialNumber !== undefined && claimedSerialNumber !== found.entry.serialNumber) {
      throw rejection(
        ErrorKind.Unauthenticated,
        'EST_IDENTITY_MISMATCH',
        `HTTP Basic user name ${claimedSerialNumber} is not the serial number the secret was issued for`,
      );
    }
    return {
      found,
      revocation: stored.candidate?.revocation,
      method: 'bootstrap-secret',
      evidence: { method: 'bootstrap-secret', listId: found.listId, entryId: found.entry.entryId },
      secretHash: hash,
    };
  }

  /**
   * Rejects an entry whose list or validity period has run out, or whose
   * device is revoked. The revocation was read with the entry, in the same
   * query, so a revocation committed before the request is seen.
   */
  private assertAuthorisedNow(authentication: Authentication): void {
    const { found, revocation } = authentication;
    const unusable = entryUnusableReason(found, this.now());
    if (unusable !== undefined) {
      throw rejection(
        ErrorKind.Forbidden,
        'EST_AUTHORISATION_EXPIRED',
        `device is not authorised now: ${unusable}`,
        {
          listId: found.listId,
          entryId: found.entry.entryId,
        },
      );
    }
    if (revocation !== undefined) {
      throw rejection(
        ErrorKind.Forbidden,
        'EST_DEVICE_REVOKED',
        `device ${found.entry.serialNumber} was revoked by list ${revocation.list_id}: ${revocation.reason}`,
        { listId: revocation.list_id },
      );
    }
  }

  private assertEnrolable(device: Device): void {
    if (enrolableStates.has(device.state)) {
      return;
    }
    if (device.state === 'production') {
      throw rejection(
        ErrorKind.Conflict,
        'EST_USE_REENROLL',
        `device ${device.id} is in production; renew its certificate with /simplereenroll`,
        { deviceId: device.id },
      );
    }
    throw rejection(
      ErrorKind.Forbidden,
      'EST_DEVICE_STATE_FORBIDS_ENROLMENT',
      `device ${device.id} is ${device.state} and cannot enrol; an operator must reinstate it first`,
      { deviceId: device.id, state: device.state },
    );
  }

  /**
   * Inserts the device of an entry, already in state provisioning because
   * it is being seen on the provisioning network, in the enrolment
   * transaction, and returns it with its `device.create` audit entry.
   * Devices registered in the inventory beforehand start in unknown and move
   * to provisioning by a transition instead.
   */
  private async createDeviceIn(
    trx: Executor<object>,
    deviceId: string,
    authentication: Authentication,
    sourceAddress: string | undefined,
  ): Promise<{ device: Device; auditEntry: AuditEntry }> {
    const { found } = authentication;
    const entry = found.entry;
    const lifeSustaining = entry.lifeSustaining ?? false;
    const device = await insertDeviceInTransaction(
      trx,
      {
        manufacturer: entry.manufacturer,
        model: entry.model,
        serialNumber: entry.serialNumber,
        state: 'provisioning',
        lifeSustaining,
        criticality: lifeSustaining ? 'critical' : (entry.criticality ?? 'moderate'),
        ...(entry.classification === undefined ? {} : { classification: entry.classification }),
        ...(entry.udiDeviceIdentifier === undefined
          ? {}
          : { udiDeviceIdentifier: entry.udiDeviceIdentifier }),
        ...(entry.udiProductionIdentifier === undefined
          ? {}
          : { udiProductionIdentifier: entry.udiProductionIdentifier }),
        ...(entry.systemId === undefined ? {} : { systemId: entry.systemId }),
      },
      this.now(),
      deviceId,
    );
    const auditEntry: AuditEntry = {
      event: 'device.create',
      action: 'C',
      outcome: 'success',
      actor: deviceActor(deviceId),
      target: { kind: 'device', id: deviceId },
      reason: `device of entry ${entry.entryId} of authorisation list ${found.listId} first seen on the provisioning network`,
      details: {
        after: { ...device },
        evidence: { sourceAddress: sourceAddress ?? null, method: authentication.method },
      },
    };
    return { device, auditEntry };
  }

  /** Publishes `inventory.device.created` as InventoryService.create does, after the enrolment commit. */
  private async publishCreated(device: Device): Promise<void> {
    const bus = this.options.bus;
    if (bus === undefined) {
      return;
    }
    try {
      await bus.publish(
        'inventory.device.created',
        {
          device,
          actor: deviceActor(device.id),
          correlationId: currentContext()?.correlationId ?? null,
        },
        { msgId: `device:${device.id}:${device.version}` },
      );
    } catch (error) {
      this.options.logger.warn({ err: error, deviceId: device.id }, 'device event not published');
    }
  }

  private sign(deviceId: string, csr: ParsedCsr): IssuedCertificate {
    return this.options.ca.signDeviceCertificate({
      subject: csr.subject,
      subjectAltNames: { uri: [deviceUrn(deviceId)], dns: csr.subjectAltNames.dns },
      subjectPublicKeyInfoDer: csr.subjectPublicKeyInfoDer,
      publicKey: csr.publicKey,
    });
  }

  /**
   * Moves the device to enrolled, consumes its bootstrap secret and records
   * its certificate, in the caller's transaction: the device row is written
   * once for all its transitions, and the audit records are appended
   * together. `existing` is the device as read before the transaction. The
   * write requires its version still, so a concurrent change fails the
   * enrolment instead of being overwritten. Returns the transitions to
   * publish after commit.
   */
  private async recordEnrolment(
    trx: Executor<object>,
    deviceId: string,
    existing: Device | undefined,
    authentication: Authentication,
    issued: IssuedCertificate,
    sourceAddress: string | undefined,
  ): Promise<{ transitions: TransitionResult[]; created: Device | undefined }> {
    const { lifecycle, ca, authorisation } = this.options;
    const auditEntries: AuditEntry[] = [];
    // Consumed first, so that of concurrent requests with one secret all but
    // one are rejected as replays, whatever else they race for.
    if (authentication.secretHash !== undefined) {
      const consumed = await authorisation.consumeSecret(trx, authentication.secretHash, deviceId);
      if (!consumed) {
        throw rejection(
          ErrorKind.Unauthenticated,
          'EST_BOOTSTRAP_SECRET_REPLAYED',
          'bootstrap secret was used by a concurrent request and is valid once',
          { deviceId },
        );
      }
    }
    let created: Device | undefined;
    let device: Device;
    if (existing === undefined) {
      try {
        const creation = await this.createDeviceIn(trx, deviceId, authentication, sourceAddress);
        created = creation.device;
        auditEntries.push(creation.auditEntry);
      } catch (error) {
        // A concurrent enrolment of the same device created it first.
        if (isMedwardError(error) && error.code === 'INVENTORY_IDENTITY_CONFLICT') {
          throw enrolmentConflict(authentication);
        }
        throw error;
      }
      device = created;
    } else {
      device = existing;
    }
    const { found } = authentication;
    const { steps, state } = stepsToAuthorised(device.state, authentication, sourceAddress);
    // Revocations append their own audit records. They happen only on a
    // repeated enrolment, which has no transition before this point.
    const superseded =
      state === 'authorised'
        ? []
        : await ca.revokeDeviceCertificates(
            trx,
            deviceId,
            CrlReason.Superseded,
            'device enrolled again with its birth identity',
          );
    const issueEntry = await ca.storeIssued(trx, issued, {
      deviceId,
      kind: 'device',
      details: {
        method: authentication.method,
        listId: found.listId,
        entryId: found.entry.entryId,
        superseded,
      },
    });
    const certificateEvidence = {
      serialNumber: issued.parsed.serialNumberHex,
      certificateFingerprint: issued.parsed.fingerprint,
      notAfter: issued.parsed.notAfter.toISOString(),
    };
    steps.push(
      state === 'authorised'
        ? {
            to: 'enrolled',
            reason: 'operational certificate issued',
            evidence: certificateEvidence,
            set: { certificateFingerprint: issued.parsed.fingerprint },
          }
        : {
            to: state,
            reason: 'operational certificate issued again after a repeated enrolment',
            evidence: certificateEvidence,
            set: { certificateFingerprint: issued.parsed.fingerprint },
            allowSameState: true,
          },
    );
    let prepared: Awaited<ReturnType<DeviceLifecycle['prepareTransitionsIn']>>;
    try {
      prepared = await lifecycle.prepareTransitionsIn(trx, {
        deviceId,
        expectedVersion: device.version,
        known: device,
        steps,
        actor: deviceActor(deviceId),
      });
    } catch (error) {
      if (isMedwardError(error) && error.code === 'INVENTORY_VERSION_CONFLICT') {
        throw enrolmentConflict(authentication);
      }
      throw error;
    }
    const { results, auditEntries: transitionEntries } = prepared;
    auditEntries.push(
      ...transitionEntries.slice(0, -1),
      issueEntry,
      ...transitionEntries.slice(-1),
    );
    await this.options.audit.appendMany(trx, auditEntries);
    return { transitions: results, created };
  }

  private async reenrollNow(
    credential: DeviceCredential,
    csrDer: Uint8Array,
    connection: ChannelBinding | undefined,
    scope: RequestScope,
  ): Promise<EnrolmentResult> {
    const { storage, ca, inventory } = this.options;
    if (credential.kind !== 'client-certificate') {
      throw rejection(
        ErrorKind.Unauthenticated,
        'EST_REENROLL_CERTIFICATE_REQUIRED',
        're-enrolment needs the operational certificate medward issued, presented over mutual TLS',
      );
    }
    const leaf = credential.presented.leaf;
    if (!ca.issued(leaf)) {
      throw rejection(
        ErrorKind.Unauthenticated,
        'EST_REENROLL_CERTIFICATE_UNKNOWN',
        'the client certificate was not issued by this medward CA; enrol with /simpleenroll',
      );
    }
    const record = await ca.findByFingerprint(storage.db, leaf.fingerprint);
    if (record?.device_id !== null && record?.device_id !== undefined) {
      scope.deviceId = record.device_id;
    }
    const { expired } = ca.checkRenewal(record);
    const deviceId = record?.device_id ?? '';
    const device = await inventory.get(deviceId);
    if (!renewableStates.has(device.state)) {
      throw rejection(
        ErrorKind.Forbidden,
        'EST_DEVICE_STATE_FORBIDS_ENROLMENT',
        `device ${device.id} is ${device.state} and cannot renew its certificate`,
        { deviceId, state: device.state },
      );
    }
    const revocation = await this.options.authorisation.findRevocation(storage.db, device);
    if (revocation !== undefined) {
      throw rejection(
        ErrorKind.Forbidden,
        'EST_DEVICE_REVOKED',
        `device was revoked by list ${revocation.list_id}: ${revocation.reason}`,
        {
          deviceId,
        },
      );
    }
    const csr = parseAndCheckCsr(csrDer);
    checkChannelBinding(csr, connection, this.options.channelBinding ?? 'optional');
    checkRenewalIdentity(csr, {
      subject: leaf.subject,
      dns: leaf.subjectAltNames.dns,
      uris: leaf.subjectAltNames.uri,
    });
    const issued = ca.signDeviceCertificate({
      subject: leaf.subject,
      subjectAltNames: { uri: leaf.subjectAltNames.uri, dns: leaf.subjectAltNames.dns },
      subjectPublicKeyInfoDer: csr.subjectPublicKeyInfoDer,
      publicKey: csr.publicKey,
    });
    const transition = await storage.db.transaction().execute(async (trx) => {
      const current = await this.repository.findById(trx, deviceId);
      if (current === undefined) {
        throw conflict('EST_DEVICE_GONE', `device ${deviceId} disappeared during re-enrolment`, {
          deviceId,
        });
      }
      await ca.record(trx, issued, {
        deviceId,
        kind: 'device',
        details: { renewalOf: leaf.serialNumberHex, afterExpiry: expired },
      });
      if (expired) {
        await this.options.audit.append(trx, {
          event: 'certificate.renew-after-expiry',
          action: 'E',
          outcome: 'success',
          actor: deviceActor(deviceId),
          target: { kind: 'device', id: deviceId },
          reason: `certificate ${leaf.serialNumberHex} expired at ${leaf.notAfter.toISOString()} and was renewed, as onboarding.certificates.allowRenewAfterExpiry permits`,
          details: {
            expiredSerialNumber: leaf.serialNumberHex,
            newSerialNumber: issued.parsed.serialNumberHex,
          },
        });
      }
      return this.options.lifecycle.transitionIn(trx, {
        deviceId,
        expectedVersion: current.version,
        to: current.state,
        allowSameState: true,
        reason: expired
          ? 'operational certificate renewed after expiry'
          : 'operational certificate renewed',
        evidence: {
          previousSerialNumber: leaf.serialNumberHex,
          serialNumber: issued.parsed.serialNumberHex,
          notAfter: issued.parsed.notAfter.toISOString(),
        },
        actor: deviceActor(deviceId),
        set: { certificateFingerprint: issued.parsed.fingerprint },
      });
    });
    await this.options.lifecycle.publish([transition]);
    this.options.logger.info(
      { deviceId, serialNumber: issued.parsed.serialNumberHex, afterExpiry: expired },
      'device certificate renewed',
    );
    return { deviceId, certificate: issued, state: transition.to };
  }
}
