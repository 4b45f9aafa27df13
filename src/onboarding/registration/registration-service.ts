import { createHash, randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { AuditTrail, Executor } from '../../core/audit/index.js';
import { canonicalJson } from '../../core/audit/canonical-json.js';
import type { EventBus } from '../../core/bus/index.js';
import { ActorKind, systemActor } from '../../core/context.js';
import { ErrorKind, MedwardError, invalid, toMedwardError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Storage } from '../../core/storage/index.js';
import type { EnforcedDevice, FlowRule, SegmentEnforcer } from '../../enforcement/index.js';
import { updateRegisteredDeviceFacts } from '../../inventory/device-registration-update.js';
import type { Device, DeviceState, InventoryService } from '../../inventory/index.js';
import {
  entryUnusableReason,
  type AuthorisationService,
} from '../authorisation/authorisation-service.js';
import type { CertificateAuthority } from '../ca/certificate-authority.js';
import type { ProfileConfigEntry } from '../config.js';
import {
  auditRejection,
  deviceActor,
  type DeviceCredential,
  type RequestScope,
} from '../est/credentials.js';
import {
  ONBOARDING_ALERT_SUBJECT,
  ONBOARDING_DRIFT_SUBJECT,
  type DriftDetected,
  type OnboardingAlert,
} from '../events.js';
import type { DeviceLifecycle, TransitionResult } from '../lifecycle/device-lifecycle.js';
import { readSbom, type SbomLimits } from '../sbom/index.js';
import { parseFactSheet, softwareComponentsOf, type FactSheet } from './fact-sheet.js';
import { ConfigurationLedger, type ConfigurationTable, type DriftFinding } from './ledger.js';
import { resolveConfiguration, type DeviceConfiguration } from './profiles.js';

export interface SegmentMoveOutcome {
  status: 'in-force' | 'pending-approval' | 'overruled' | 'failed';
  segment: string | null;
  reason: string | null;
}

export interface RegistrationResult {
  deviceId: string;
  state: DeviceState;
  configurationVersion: number;
  configurationSha256: string;
  configuration: DeviceConfiguration;
  /** The configuration signed by the CA, compact JWS. */
  jws: string;
  segmentMove: SegmentMoveOutcome;
  drift: Omit<DriftFinding, 'id'>[];
}

export interface ReportResult {
  deviceId: string;
  configurationVersion: number | null;
  drift: Omit<DriftFinding, 'id'>[];
}

export interface RegistrationServiceOptions {
  storage: Storage;
  audit: AuditTrail;
  logger: Logger;
  inventory: InventoryService;
  lifecycle: DeviceLifecycle;
  ca: CertificateAuthority;
  authorisation: AuthorisationService;
  /** Moves the device from the provisioning segment to its production segment. */
  enforcement: SegmentEnforcer;
  profiles: readonly ProfileConfigEntry[];
  siteId: string;
  sbomLimits: SbomLimits;
  renewalWindowHours: number;
  bus?: EventBus;
  now?: () => Date;
}

const ReportSchema = Type.Object(
  {
    configurationSha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    firmwareVersion: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    firmwareSha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  },
  { additionalProperties: false },
);
const reportCheck = TypeCompiler.Compile(ReportSchema);

interface PreparedRegistration {
  deviceId: string;
  configuration: DeviceConfiguration;
  /** Audit record the segment move names as its cause. */
  configurationAuditId: string;
  result: Omit<RegistrationResult, 'state' | 'segmentMove'>;
}

const registrableStates: ReadonlySet<DeviceState> = new Set([
  'enrolled',
  'configured',
  'production',
]);

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Registration after enrolment. The device sends its fact sheet over mutual
 * TLS with its operational certificate. medward records its interfaces,
 * firmware and SBOM, resolves its configuration from the profiles, signs it,
 * keeps it in the configuration ledger and moves the device to configured.
 * Then it requests the enforcement service to move the device to its production
 * segment, and marks it production only once that move is in force. A move
 * that fails leaves the device configured, with the reason audited and
 * alerted. Devices later report their configuration and firmware hashes, and
 * a hash other than the ledger's is a drift finding.
 */
export class RegistrationService {
  private readonly options: RegistrationServiceOptions;
  private readonly ledger = new ConfigurationLedger();
  private readonly now: () => Date;

  constructor(options: RegistrationServiceOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  get configurationLedger(): ConfigurationLedger {
    return this.ledger;
  }

  async register(credential: DeviceCredential, body: unknown): Promise<RegistrationResult> {
    let prepared: PreparedRegistration;
    const scope: RequestScope = {};
    try {
      prepared = await this.registerNow(credential, body, scope);
    } catch (error) {
      throw await auditRejection(
        this.options.audit,
        this.options.logger,
        'onboarding.register',
        credential,
        error,
        scope.deviceId,
      );
    }
    const segmentMove = await this.moveToProduction(
      prepared.deviceId,
      prepared.configuration,
      prepared.configurationAuditId,
    );
    const device = await this.options.inventory.get(prepared.deviceId);
    return { ...prepared.result, state: device.state, segmentMove };
  }

  async report(credential: DeviceCredential, body: unknown): Promise<ReportResult> {
    const scope: RequestScope = {};
    try {
      return await this.reportNow(credential, body, scope);
    } catch (error) {
      throw await auditRejection(
        this.options.audit,
        this.options.logger,
        'onboarding.report',
        credential,
        error,
        scope.deviceId,
      );
    }
  }

  /** Returns the device of a current operational certificate: issued here, valid now, not revoked. */
  private async authenticate(credential: DeviceCredential): Promise<Device> {
    const { ca, storage, inventory } = this.options;
    if (credential.kind !== 'client-certificate' || !ca.issued(credential.presented.leaf)) {
      throw new MedwardError(
        ErrorKind.Unauthenticated,
        'REGISTRATION_CERTIFICATE_REQUIRED',
        'registration needs the operational certificate medward issued at enrolment, presented over mutual TLS',
      );
    }
    const leaf = credential.presented.leaf;
    const record = await ca.findByFingerprint(storage.db, leaf.fingerprint);
    const now = this.now();
    if (record?.device_id === null || record === undefined || record.kind !== 'device') {
      throw new MedwardError(
        ErrorKind.Unauthenticated,
        'REGISTRATION_CERTIFICATE_REQUIRED',
        'the client certificate was not issued to a device',
      );
    }
    if (record.status !== 'valid') {
      throw new MedwardError(
        ErrorKind.Unauthenticated,
        'REGISTRATION_CERTIFICATE_REVOKED',
        `certificate ${record.serial_number} is revoked`,
        {
          details: { deviceId: record.device_id },
        },
      );
    }
    if (now < leaf.notBefore || now > leaf.notAfter) {
      throw new MedwardError(
        ErrorKind.Unauthenticated,
        'REGISTRATION_CERTIFICATE_EXPIRED',
        `certificate ${record.serial_number} is not valid now (it expired at ${leaf.notAfter.toISOString()}); renew it with /simplereenroll`,
        { details: { deviceId: record.device_id } },
      );
    }
    return inventory.get(record.device_id);
  }

  private async registerNow(
    credential: DeviceCredential,
    body: unknown,
    scope: RequestScope,
  ): Promise<PreparedRegistration> {
    const { storage, authorisation, lifecycle, ca } = this.options;
    const device = await this.authenticate(credential);
    scope.deviceId = device.id;
    const facts = parseFactSheet(body);
    if (!registrableStates.has(device.state)) {
      throw new MedwardError(
        ErrorKind.Conflict,
        'REGISTRATION_STATE_INVALID',
        `device ${device.id} is ${device.state}; only enrolled, configured or production devices register`,
        { details: { deviceId: device.id, state: device.state } },
      );
    }
    if (facts.model !== device.model) {
      throw invalid(
        'REGISTRATION_IDENTITY_MISMATCH',
        `fact sheet names model ${facts.model}, but device ${device.id} is authorised as ${device.model}`,
        { deviceId: device.id },
      );
    }
    const revocation = await authorisation.findRevocation(storage.db, device);
    if (revocation !== undefined) {
      throw new MedwardError(
        ErrorKind.Forbidden,
        'REGISTRATION_DEVICE_REVOKED',
        `device was revoked by list ${revocation.list_id}: ${revocation.reason}`,
        {
          details: { deviceId: device.id },
        },
      );
    }
    const entries = await authorisation.findEntries(storage.db, device);
    const found = entries.find(
      (candidate) => entryUnusableReason(candidate, this.now()) === undefined,
    );
    if (found === undefined) {
      throw new MedwardError(
        ErrorKind.Forbidden,
        'REGISTRATION_NOT_AUTHORISED',
        `device ${device.id} is on no current authorisation list entry`,
        { details: { deviceId: device.id } },
      );
    }
    const sbom =
      facts.sbom === undefined
        ? undefined
        : readSbom({ json: facts.sbom }, this.options.sbomLimits);
    const software =
      sbom === undefined
        ? { components: device.softwareComponents, omitted: 0 }
        : softwareComponentsOf(sbom);
    const configuration = resolveConfiguration(this.options.profiles, {
      deviceId: device.id,
      site: this.options.siteId,
      deviceClass: found.entry.deviceClass,
      manufacturer: device.manufacturer,
      model: device.model,
      productionSegment: found.entry.productionSegment,
      classification: device.classification,
      renewBeforeHours: this.options.renewalWindowHours,
    });
    const configurationSha256 = sha256(canonicalJson(configuration));
    const nowIso = this.now().toISOString();
    const actor = deviceActor(device.id);

    const outcome = await storage.db.transaction().execute(async (trx) => {
      const latest = await this.ledger.latest(trx, device.id);
      const drift = this.driftOf(
        device.id,
        latest,
        facts.configurationSha256,
        facts.firmwareVersion,
        facts.firmwareSha256,
        nowIso,
      );
      const changed =
        latest === undefined ||
        latest.configuration_sha256 !== configurationSha256 ||
        latest.firmware_version !== facts.firmwareVersion ||
        latest.firmware_sha256 !== (facts.firmwareSha256 ?? null);
      let version = 1;
      if (latest !== undefined) {
        version = changed ? latest.version + 1 : latest.version;
      }
      const jws =
        latest !== undefined && !changed
          ? latest.jws
          : ca.signJws({
              deviceId: device.id,
              version,
              configurationSha256,
              issuedAt: nowIso,
              configuration,
            });
      const updated = await updateRegisteredDeviceFacts(
        trx,
        {
          deviceId: device.id,
          expectedVersion: device.version,
          macAddresses: facts.interfaces.map((item) => item.mac),
          firmwareVersion: facts.firmwareVersion,
          softwareComponents: software.components,
        },
        this.now(),
      );
      if (updated.changed.length > 0) {
        await this.options.audit.append(trx, {
          event: 'device.update',
          action: 'U',
          outcome: 'success',
          actor,
          target: { kind: 'device', id: device.id },
          reason: 'facts reported at registration',
          details: {
            fromVersion: updated.before.version,
            toVersion: updated.after.version,
            changed: updated.changed,
            before: pickFacts(updated.before, updated.changed),
            after: pickFacts(updated.after, updated.changed),
          },
        });
      }
      let configurationAuditId: string;
      if (changed) {
        configurationAuditId = await this.appendLedger(
          trx,
          device.id,
          version,
          configuration,
          configurationSha256,
          latest,
          facts,
          jws,
          nowIso,
        );
      } else {
        configurationAuditId = (
          await this.options.audit.append(trx, {
            event: 'configuration.reissue',
            action: 'R',
            outcome: 'success',
            actor,
            target: { kind: 'device', id: device.id },
            reason: 'device registered again; its configuration is unchanged',
            details: { version, configurationSha256 },
          })
        ).id;
      }
      await this.ledger.saveRegistration(trx, {
        device_id: device.id,
        fact_sheet: JSON.stringify({ ...facts, sbom: undefined }),
        sbom_summary:
          sbom === undefined
            ? null
            : JSON.stringify({
                format: sbom.format,
                specVersion: sbom.specVersion,
                serialNumber: sbom.serialNumber,
                subject:
                  sbom.subject === null
                    ? null
                    : { name: sbom.subject.name, version: sbom.subject.version },
                components: sbom.components.length,
                services: sbom.services.length,
                omittedFromInventory: software.omitted,
                findings: sbom.findings.slice(0, 50),
                findingCount: sbom.findings.length,
              }),
        registered_at: nowIso,
      });
      await this.recordDrift(trx, drift);
      const transitions: TransitionResult[] = [];
      if (updated.after.state === 'enrolled') {
        transitions.push(
          await lifecycle.transitionIn(trx, {
            deviceId: device.id,
            expectedVersion: updated.after.version,
            to: 'configured',
            reason: `configuration version ${version} issued from profiles ${configuration.profiles.join(', ')}`,
            evidence: {
              configurationVersion: version,
              configurationSha256,
              profiles: configuration.profiles,
            },
            actor,
          }),
        );
      }
      return { version, jws, drift, transitions, configurationAuditId };
    });
    await lifecycle.publish(outcome.transitions);
    await this.publishDrift(outcome.drift);
    this.options.logger.info(
      { deviceId: device.id, configurationVersion: outcome.version },
      'device registered',
    );
    const result: Omit<RegistrationResult, 'state' | 'segmentMove'> = {
      deviceId: device.id,
      configurationVersion: outcome.version,
      configurationSha256,
      configuration,
      jws: outcome.jws,
      drift: outcome.drift,
    };
    return {
      deviceId: device.id,
      configuration,
      configurationAuditId: outcome.configurationAuditId,
      result,
    };
  }

  private async appendLedger(
    trx: Executor<object>,
    deviceId: string,
    version: number,
    configuration: DeviceConfiguration,
    configurationSha256: string,
    latest: ConfigurationTable | undefined,
    facts: FactSheet,
    jws: string,
    nowIso: string,
  ): Promise<string> {
    const reason =
      latest === undefined
        ? `first configuration, resolved from profiles ${configuration.profiles.join(', ')} at registration`
        : latest.configuration_sha256 !== configurationSha256
          ? `configuration changed at registration (profiles ${configuration.profiles.join(', ')})`
          : `firmware changed at registration to ${facts.firmwareVersion}`;
    await this.ledger.append(trx, {
      device_id: deviceId,
      version,
      configuration: canonicalJson(configuration),
      configuration_sha256: configurationSha256,
      previous_sha256: latest?.configuration_sha256 ?? null,
      firmware_version: facts.firmwareVersion,
      firmware_sha256: facts.firmwareSha256 ?? null,
      changed_by_kind: ActorKind.Device,
      changed_by_id: deviceId,
      cause: 'registration',
      reason,
      jws,
      created_at: nowIso,
    });
    const record = await this.options.audit.append(trx, {
      event: 'configuration.issue',
      action: latest === undefined ? 'C' : 'U',
      outcome: 'success',
      actor: deviceActor(deviceId),
      target: { kind: 'device', id: deviceId },
      reason,
      details: {
        version,
        configurationSha256,
        previousSha256: latest?.configuration_sha256 ?? null,
        before: latest === undefined ? null : (JSON.parse(latest.configuration) as unknown),
        after: configuration,
        firmwareVersion: facts.firmwareVersion,
      },
    });
    return record.id;
  }

  private driftOf(
    deviceId: string,
    latest: ConfigurationTable | undefined,
    configurationSha256: string | undefined,
    firmwareVersion: string | undefined,
    firmwareSha256: string | undefined,
    nowIso: string,
  ): Omit<DriftFinding, 'id'>[] {
    if (latest === undefined) {
      return [];
    }
    const drift: Omit<DriftFinding, 'id'>[] = [];
    const base = { deviceId, configurationVersion: latest.version, detectedAt: nowIso };
    if (configurationSha256 !== undefined && configurationSha256 !== latest.configuration_sha256) {
      drift.push({
        ...base,
        kind: 'configuration',
        expected: latest.configuration_sha256,
        reported: configurationSha256,
      });
    }
    if (
      firmwareSha256 !== undefined &&
      latest.firmware_sha256 !== null &&
      firmwareSha256 !== latest.firmware_sha256
    ) {
      drift.push({
        ...base,
        kind: 'firmware',
        expected: latest.firmware_sha256,
        reported: firmwareSha256,
      });
    } else if (
      firmwareVersion !== undefined &&
      latest.firmware_version !== null &&
      firmwareVersion !== latest.firmware_version
    ) {
      drift.push({
        ...base,
        kind: 'firmware',
        expected: latest.firmware_version,
        reported: firmwareVersion,
      });
    }
    return drift;
  }

  private async recordDrift(
    trx: Executor<object>,
    drift: readonly Omit<DriftFinding, 'id'>[],
  ): Promise<void> {
    for (const finding of drift) {
      await this.ledger.addDrift(trx, {
        device_id: finding.deviceId,
        kind: finding.kind,
        expected: finding.expected,
        reported: finding.reported,
        configuration_version: finding.configurationVersion,
        detected_at: finding.detectedAt,
      });
      await this.options.audit.append(trx, {
        event: 'configuration.drift',
        action: 'E',
        outcome: 'minor-failure',
        actor: deviceActor(finding.deviceId),
        target: { kind: 'device', id: finding.deviceId },
        reason: `device reported ${finding.kind} ${finding.reported}, the ledger expects ${finding.expected ?? '(none)'}`,
        details: { ...finding },
      });
    }
  }

  private async publishDrift(drift: readonly Omit<DriftFinding, 'id'>[]): Promise<void> {
    for (const finding of drift) {
      this.options.logger.warn(
        { deviceId: finding.deviceId, kind: finding.kind },
        'configuration drift detected',
      );
      if (this.options.bus === undefined) {
        continue;
      }
      const event: DriftDetected = { ...finding };
      try {
        await this.options.bus.publish(ONBOARDING_DRIFT_SUBJECT, event);
      } catch (error) {
        this.options.logger.warn(
          { err: error, deviceId: finding.deviceId },
          'drift event not published',
        );
      }
    }
  }

  private async reportNow(
    credential: DeviceCredential,
    body: unknown,
    scope: RequestScope,
  ): Promise<ReportResult> {
    const device = await this.authenticate(credential);
    scope.deviceId = device.id;
    if (!reportCheck.Check(body)) {
      const first = [...reportCheck.Errors(body)][0];
      throw invalid(
        'REGISTRATION_REPORT_INVALID',
        `report is invalid at ${first?.path ?? '/'}: ${first?.message ?? ''}`,
        {
          deviceId: device.id,
        },
      );
    }
    const nowIso = this.now().toISOString();
    const drift = await this.options.storage.db.transaction().execute(async (trx) => {
      const latest = await this.ledger.latest(trx, device.id);
      const findings = this.driftOf(
        device.id,
        latest,
        body.configurationSha256,
        body.firmwareVersion,
        body.firmwareSha256,
        nowIso,
      );
      await this.recordDrift(trx, findings);
      return { findings, version: latest?.version ?? null };
    });
    await this.publishDrift(drift.findings);
    return { deviceId: device.id, configurationVersion: drift.version, drift: drift.findings };
  }

  /**
   * Asks the enforcement service to put a configured device into its
   * production segment and marks it production once the move is in force.
   * Any other outcome leaves the device where it was, audited as
   * `onboarding.segment-move` with the reason, and raises an alert.
   */
  async moveToProduction(
    deviceId: string,
    configuration: DeviceConfiguration,
    causeAuditId: string,
  ): Promise<SegmentMoveOutcome> {
    const { enforcement, inventory, ledger } = { ...this.options, ledger: this.ledger };
    const device = await inventory.get(deviceId);
    if (device.state !== 'configured' && device.state !== 'production') {
      return this.segmentMoveFailed(device, 'failed', `device is ${device.state}, not configured`);
    }
    const registration = await ledger.registration(this.options.storage.db, deviceId);
    const facts =
      registration === undefined ? undefined : (JSON.parse(registration.fact_sheet) as FactSheet);
    const interfaces = (facts?.interfaces ?? []).map((item) => ({
      mac: item.mac.toLowerCase(),
      kind: item.kind,
      ...(item.name === undefined ? {} : { name: item.name }),
    }));
    const enforced: EnforcedDevice = {
      id: deviceId,
      macs: interfaces.map((item) => item.mac),
      interfaces,
      productionSegment: configuration.productionSegment,
      lifeSustaining: device.lifeSustaining,
      profile: {
        allowedFlows: configuration.allowedPeers.map((peer): Omit<FlowRule, 'source'> => ({
          direction: 'from-device',
          protocol: peer.protocol,
          peer: peer.address,
          ports: { first: peer.port, last: peer.port },
        })),
      },
    };
    const current = enforcement.describe().devices.find((item) => item.deviceId === deviceId);
    let outcome;
    try {
      outcome = await enforcement.apply({
        id: `onboarding:${randomUUID()}`,
        device: enforced,
        target: 'production',
        reason: `device ${deviceId} completed onboarding with configuration of class ${configuration.deviceClass}`,
        cause: { kind: 'audit-record', id: causeAuditId },
        actor: systemActor,
        ...(current === undefined ? {} : { supersedes: current.decisionId }),
      });
    } catch (error) {
      return this.segmentMoveFailed(device, 'failed', toMedwardError(error).message);
    }
    if (outcome.status !== 'in-force') {
      return this.segmentMoveFailed(
        device,
        outcome.status,
        outcome.status === 'overruled'
          ? `enforcement kept the device in ${outcome.segmentName} under decision ${outcome.inForceDecisionId}`
          : 'the move waits for a person to approve it in the enforcement service',
      );
    }
    if (device.state === 'production' && device.segment === outcome.segmentName) {
      return { status: 'in-force', segment: outcome.segmentName, reason: null };
    }
    try {
      const moved = await this.options.lifecycle.transition({
        deviceId,
        expectedVersion: device.version,
        to: 'production',
        allowSameState: device.state === 'production',
        reason: `enforcement confirmed the move to production segment ${outcome.segmentName}`,
        evidence: { decisionId: outcome.decisionId, segment: outcome.segmentName },
        actor: systemActor,
        set: { segment: outcome.segmentName },
      });
      return { status: 'in-force', segment: moved.segment, reason: null };
    } catch (error) {
      return this.segmentMoveFailed(
        device,
        'failed',
        `the segment move is in force but the state change failed: ${toMedwardError(error).message}`,
      );
    }
  }

  /**
   * Retries the production move of a configured device with its latest
   * configuration, for an operator after a failed move.
   */
  async retrySegmentMove(deviceId: string): Promise<SegmentMoveOutcome> {
    const latest = await this.ledger.latest(this.options.storage.db, deviceId);
    if (latest === undefined) {
      throw new MedwardError(
        ErrorKind.Conflict,
        'REGISTRATION_NOT_REGISTERED',
        `device ${deviceId} has not registered, so it has no configuration to move with`,
        { details: { deviceId } },
      );
    }
    const record = await this.options.audit.record({
      event: 'onboarding.segment-move-retry',
      action: 'E',
      outcome: 'success',
      target: { kind: 'device', id: deviceId },
      reason: `retry of the production move with configuration version ${latest.version}`,
      details: { configurationVersion: latest.version },
    });
    return this.moveToProduction(
      deviceId,
      JSON.parse(latest.configuration) as DeviceConfiguration,
      record.id,
    );
  }

  /**
   * Moves a suspended device that enforcement has placed in a segment to the
   * quarantine segment. Devices enforcement never placed are left alone.
   */
  async quarantine(deviceId: string, reason: string): Promise<void> {
    const { enforcement } = this.options;
    const current = enforcement.describe().devices.find((item) => item.deviceId === deviceId);
    if (current === undefined) {
      return;
    }
    const device = await this.options.inventory.get(deviceId);
    const registration = await this.ledger.registration(this.options.storage.db, deviceId);
    const facts =
      registration === undefined ? undefined : (JSON.parse(registration.fact_sheet) as FactSheet);
    const latest = await this.ledger.latest(this.options.storage.db, deviceId);
    const configuration =
      latest === undefined ? undefined : (JSON.parse(latest.configuration) as DeviceConfiguration);
    const outcome = await enforcement.apply({
      id: `onboarding:${randomUUID()}`,
      device: {
        id: deviceId,
        macs: current.macs,
        interfaces: (facts?.interfaces ?? []).map((item) => ({
          mac: item.mac.toLowerCase(),
          kind: item.kind,
        })),
        productionSegment: configuration?.productionSegment ?? current.segmentName,
        lifeSustaining: device.lifeSustaining,
      },
      target: 'quarantine',
      reason,
      cause: { kind: 'decision', id: current.decisionId },
      actor: systemActor,
    });
    this.options.logger.info(
      { deviceId, status: outcome.status, segment: outcome.segmentName },
      'suspended device sent to quarantine',
    );
  }

  private async segmentMoveFailed(
    device: Device,
    status: SegmentMoveOutcome['status'],
    reason: string,
  ): Promise<SegmentMoveOutcome> {
    this.options.logger.warn(
      { deviceId: device.id, status, reason },
      'segment move to production failed',
    );
    await this.options.audit.record({
      event: 'onboarding.segment-move',
      action: 'E',
      outcome: status === 'failed' ? 'serious-failure' : 'minor-failure',
      target: { kind: 'device', id: device.id },
      reason: `device stays ${device.state}: ${reason}`,
      details: { status, state: device.state },
    });
    if (this.options.bus !== undefined) {
      const alert: OnboardingAlert = {
        kind: 'segment-move-failed',
        deviceId: device.id,
        state: device.state,
        reason: `device ${device.id} stays ${device.state}: ${reason}`,
        raisedAt: this.now().toISOString(),
      };
      try {
        await this.options.bus.publish(ONBOARDING_ALERT_SUBJECT, alert);
      } catch (error) {
        this.options.logger.warn(
          { err: error, deviceId: device.id },
          'segment move alert not published',
        );
      }
    }
    return { status, segment: null, reason };
  }
}

function pickFacts(device: Device, fields: readonly string[]): Record<string, unknown> {
  const facts: Record<string, unknown> = {
    macAddresses: device.macAddresses,
    firmwareVersion: device.firmwareVersion,
    softwareComponents: device.softwareComponents.length,
  };
  return Object.fromEntries(Object.entries(facts).filter(([key]) => fields.includes(key)));
}
