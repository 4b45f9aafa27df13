import { randomUUID, X509Certificate } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import type { AuditTrail, Executor } from '../../core/audit/index.js';
import type { EventBus } from '../../core/bus/index.js';
import { ActorKind, type Actor } from '../../core/context.js';
import { ErrorKind, MedwardError, conflict, invalid, notFound } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Storage } from '../../core/storage/index.js';
import { hashSecret, type AuthorisationService } from '../authorisation/authorisation-service.js';
import type { BirthIdentity, ListEntry } from '../authorisation/list-schema.js';
import { MANUAL_LIST_ID } from '../authorisation/list-store.js';
import type { SightingsConfig } from '../config.js';
import { ONBOARDING_UNLISTED_SUBJECT, type UnlistedDeviceSeen } from '../events.js';
import { SourceRateLimiter } from './source-rate-limiter.js';

/** Code of the error a report beyond the rate limit of its source address raises. */
export const SIGHTING_RATE_LIMITED = 'EST_SIGHTING_RATE_LIMITED';

/** Log lines about rate-limited reports per minute, across all source addresses. */
const LOGGED_LIMITS_PER_MINUTE = 10;

export interface SightingTable {
  id: string;
  /** `certificate:<sha256>` or `claim:<JSON of manufacturer, model, serial>`. */
  identity_key: string;
  manufacturer: string | null;
  model: string | null;
  serial_number: string | null;
  certificate_fingerprint: string | null;
  /** Base64 DER of the certificate the device presented, if any. */
  certificate_der: string | null;
  source_address: string | null;
  reason: string;
  first_seen_at: string;
  last_seen_at: string;
  times_seen: number;
  /** `pending`, `approved` or `dismissed`. */
  status: string;
  decided_by: string | null;
  decided_at: string | null;
}

// A type alias, not an interface: Kysely's withTables needs an index-compatible type.
export type SightingTables = { onboarding_sighting: SightingTable };

/** Identity a device showed on the provisioning network when it was on no list. */
export interface SightingReport {
  manufacturer?: string | undefined;
  model?: string | undefined;
  serialNumber?: string | undefined;
  certificateDer?: Buffer | undefined;
  certificateFingerprint?: string | undefined;
  sourceAddress?: string | undefined;
  reason: string;
}

export interface Sighting {
  id: string;
  manufacturer: string | null;
  model: string | null;
  serialNumber: string | null;
  certificateFingerprint: string | null;
  sourceAddress: string | null;
  reason: string;
  firstSeenAt: string;
  lastSeenAt: string;
  timesSeen: number;
  status: 'pending' | 'approved' | 'dismissed';
  decidedBy: string | null;
  decidedAt: string | null;
}

export interface ApprovalInput {
  /** Required when the sighting did not reveal them. */
  manufacturer?: string;
  model?: string;
  serialNumber?: string;
  deviceClass: string;
  productionSegment?: string;
  lifeSustaining: boolean;
  criticality: 'low' | 'moderate' | 'high' | 'critical';
  hostnames?: string[];
  reason: string;
}

export interface ApprovalResult {
  sighting: Sighting;
  entry: ListEntry;
  /** Issued when the device showed no certificate to pin; returned once and stored only as a hash. */
  bootstrapSecret?: { secret: string; expiresAt: string };
}

export interface SightingRegistryOptions {
  storage: Storage;
  audit: AuditTrail;
  logger: Logger;
  authorisation: AuthorisationService;
  /** Lifetime of bootstrap secrets issued on approval. */
  bootstrapSecretLifetimeMs: number;
  /** Reports accepted per source address (onboarding.sightings). */
  rateLimit: SightingsConfig;
  bus?: EventBus;
  metrics?: Registry;
  now?: () => Date;
}

const PEOPLE: readonly string[] = [ActorKind.User, ActorKind.ApiToken];

function toSighting(row: SightingTable): Sighting {
  return {
    id: row.id,
    manufacturer: row.manufacturer,
    model: row.model,
    serialNumber: row.serial_number,
    certificateFingerprint: row.certificate_fingerprint,
    sourceAddress: row.source_address,
    reason: row.reason,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    timesSeen: row.times_seen,
    status: row.status as Sighting['status'],
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
  };
}

/**
 * Devices seen on the provisioning network that are on no authorisation
 * list. The first sighting of an identity is audited
 * (`onboarding.device-unlisted`) and published on
 * `onboarding.device.unlisted`; repeats only count. A person may approve a
 * sighting, which adds an entry to the manual list: the certificate the
 * device showed is pinned as its birth identity, or else a one-time
 * bootstrap secret is issued for it.
 *
 * Reports are rate-limited per source address by a token bucket
 * (onboarding.sightings). A report beyond the limit writes nothing and
 * raises EST_SIGHTING_RATE_LIMITED. It is counted in
 * `medward_onboarding_sightings_rate_limited_total`, the first of a run of
 * rejections from one address is audited as `onboarding.sighting-rate-limit`,
 * and log lines about them are themselves limited per minute.
 */
export class SightingRegistry {
  private readonly options: SightingRegistryOptions;
  private readonly now: () => Date;
  private readonly limiter: SourceRateLimiter;
  private readonly rateLimited: Counter | undefined;
  private logWindow = { startMs: 0, logged: 0, suppressed: 0 };

  constructor(options: SightingRegistryOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
    this.limiter = new SourceRateLimiter(
      {
        ratePerMinute: options.rateLimit.ratePerMinute,
        burst: options.rateLimit.burst,
        maxTrackedSources: options.rateLimit.maxTrackedAddresses,
      },
      () => this.now().getTime(),
    );
    this.rateLimited =
      options.metrics === undefined
        ? undefined
        : new Counter({
            name: 'medward_onboarding_sightings_rate_limited_total',
            help: 'Reports of unlisted devices rejected because their source address exceeded onboarding.sightings.',
            registers: [options.metrics],
          });
  }

  /**
   * Records that a device on no list contacted the provisioning listener.
   * Raises EST_SIGHTING_RATE_LIMITED, writing nothing, when the source
   * address exceeded its rate.
   */
  async report(report: SightingReport): Promise<Sighting> {
    await this.takeToken(report.sourceAddress);
    const identityKey =
      report.certificateFingerprint !== undefined
        ? `certificate:${report.certificateFingerprint}`
        : `claim:${JSON.stringify([report.manufacturer ?? null, report.model ?? null, report.serialNumber ?? null])}`;
    const nowIso = this.now().toISOString();
    const result = await this.options.storage.db.transaction().execute(async (trx) => {
      const db = trx.withTables<SightingTables>();
      const existing = await db
        .selectFrom('onboarding_sighting')
        .selectAll()
        .where('identity_key', '=', identityKey)
        .executeTakeFirst();
      if (existing !== undefined) {
        const updated = { ...existing, last_seen_at: nowIso, times_seen: existing.times_seen + 1 };
        await db
          .updateTable('onboarding_sighting')
          .set({
            last_seen_at: nowIso,
            times_seen: updated.times_seen,
            source_address: report.sourceAddress ?? existing.source_address,
          })
          .where('id', '=', existing.id)
          .execute();
        return { row: updated, first: false };
      }
      const row: SightingTable = {
        id: randomUUID(),
        identity_key: identityKey,
        manufacturer: report.manufacturer ?? null,
        model: report.model ?? null,
        serial_number: report.serialNumber ?? null,
        certificate_fingerprint: report.certificateFingerprint ?? null,
        certificate_der: report.certificateDer?.toString('base64') ?? null,
        source_address: report.sourceAddress ?? null,
        reason: report.reason,
        first_seen_at: nowIso,
        last_seen_at: nowIso,
        times_seen: 1,
        status: 'pending',
        decided_by: null,
        decided_at: null,
      };
      await db.insertInto('onboarding_sighting').values(row).execute();
      await this.options.audit.append(trx, {
        event: 'onboarding.device-unlisted',
        action: 'E',
        outcome: 'minor-failure',
        target: { kind: 'sighting', id: row.id },
        reason: report.reason,
        ...(report.sourceAddress === undefined ? {} : { sourceAddress: report.sourceAddress }),
        details: {
          manufacturer: row.manufacturer,
          model: row.model,
          serialNumber: row.serial_number,
          certificateFingerprint: row.certificate_fingerprint,
        },
      });
      return { row, first: true };
    });
    const sighting = toSighting(result.row);
    if (result.first) {
      this.options.logger.warn(
        {
          sightingId: sighting.id,
          serialNumber: sighting.serialNumber,
          sourceAddress: sighting.sourceAddress,
        },
        'unlisted device seen on the provisioning network',
      );
      await this.publish(sighting);
    }
    return sighting;
  }

  /** Takes a token for the source address or raises EST_SIGHTING_RATE_LIMITED. */
  private async takeToken(sourceAddress: string | undefined): Promise<void> {
    const source = sourceAddress ?? 'unknown';
    const outcome = this.limiter.take(source);
    if (outcome.allowed) {
      return;
    }
    const retryAfterSeconds = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
    const { ratePerMinute, burst } = this.options.rateLimit;
    this.rateLimited?.inc();
    this.logRateLimited(source, retryAfterSeconds);
    if (outcome.firstRejection) {
      try {
        await this.options.audit.record({
          event: 'onboarding.sighting-rate-limit',
          action: 'E',
          outcome: 'minor-failure',
          target: { kind: 'source-address', id: source },
          reason: `source address ${source} reported more unlisted devices than onboarding.sightings allows; further reports are rejected until its rate recovers`,
          ...(sourceAddress === undefined ? {} : { sourceAddress }),
          details: { ratePerMinute, burst, retryAfterSeconds },
        });
      } catch (error) {
        this.options.logger.error(
          { err: error, sourceAddress: source },
          'audit of a sighting rate limit failed',
        );
      }
    }
    throw new MedwardError(
      ErrorKind.RateLimited,
      SIGHTING_RATE_LIMITED,
      `too many unlisted devices reported from ${source} (at most ${burst} at once and ` +
        `${ratePerMinute} per minute); retry after ${retryAfterSeconds} s, or have an operator add the devices to a list`,
      { details: { sourceAddress: source, retryAfterSeconds } },
    );
  }

  /**
   * Logs a rejected report, at most LOGGED_LIMITS_PER_MINUTE times a minute.
   * The first rejection of a later minute logs how many lines were left out.
   */
  private logRateLimited(sourceAddress: string, retryAfterSeconds: number): void {
    const nowMs = this.now().getTime();
    const window = this.logWindow;
    if (nowMs - window.startMs >= 60_000) {
      if (window.suppressed > 0) {
        this.options.logger.warn(
          { suppressed: window.suppressed },
          'sighting rate limit rejections not logged',
        );
      }
      this.logWindow = { startMs: nowMs, logged: 0, suppressed: 0 };
    }
    if (this.logWindow.logged >= LOGGED_LIMITS_PER_MINUTE) {
      this.logWindow.suppressed += 1;
      return;
    }
    this.logWindow.logged += 1;
    this.options.logger.warn(
      { sourceAddress, retryAfterSeconds },
      'unlisted device report rejected by the sighting rate limit',
    );
  }

  private async publish(sighting: Sighting): Promise<void> {
    if (this.options.bus === undefined) {
      return;
    }
    const event: UnlistedDeviceSeen = {
      sightingId: sighting.id,
      manufacturer: sighting.manufacturer,
      model: sighting.model,
      serialNumber: sighting.serialNumber,
      certificateFingerprint: sighting.certificateFingerprint,
      sourceAddress: sighting.sourceAddress,
      reason: sighting.reason,
      timesSeen: sighting.timesSeen,
      seenAt: sighting.lastSeenAt,
    };
    try {
      await this.options.bus.publish(ONBOARDING_UNLISTED_SUBJECT, event, {
        msgId: `sighting:${sighting.id}`,
      });
    } catch (error) {
      this.options.logger.warn(
        { err: error, sightingId: sighting.id },
        'unlisted device event not published',
      );
    }
  }

  async list(status: Sighting['status'] | undefined, limit = 100): Promise<Sighting[]> {
    let query = this.options.storage.db
      .withTables<SightingTables>()
      .selectFrom('onboarding_sighting')
      .selectAll()
      .orderBy('last_seen_at', 'desc')
      .limit(limit);
    if (status !== undefined) {
      query = query.where('status', '=', status);
    }
    return (await query.execute()).map(toSighting);
  }

  async get(id: string): Promise<Sighting> {
    return toSighting(await this.row(this.options.storage.db, id));
  }

  private async row(executor: Executor<object>, id: string): Promise<SightingTable> {
    const row = await executor
      .withTables<SightingTables>()
      .selectFrom('onboarding_sighting')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (row === undefined) {
      throw notFound('ONBOARDING_SIGHTING_NOT_FOUND', `sighting ${id} does not exist`, {
        sightingId: id,
      });
    }
    return row;
  }

  /**
   * Approves a pending sighting on behalf of a person: adds an entry to the
   * manual list and, for a device that showed no certificate, issues a
   * one-time bootstrap secret. Audited as `onboarding.device-approve`.
   */
  async approve(id: string, input: ApprovalInput, approver: Actor): Promise<ApprovalResult> {
    if (!PEOPLE.includes(approver.kind)) {
      throw new MedwardError(
        ErrorKind.Forbidden,
        'ONBOARDING_APPROVAL_FORBIDDEN',
        `actor ${approver.kind}:${approver.id} cannot approve a device; a user or API token must approve`,
        { details: { sightingId: id } },
      );
    }
    const lifetimeMs = this.options.bootstrapSecretLifetimeMs;
    return this.options.storage.db.transaction().execute(async (trx) => {
      const row = await this.row(trx, id);
      if (row.status !== 'pending') {
        throw conflict('ONBOARDING_SIGHTING_DECIDED', `sighting ${id} was already ${row.status}`, {
          sightingId: id,
        });
      }
      const manufacturer = input.manufacturer ?? row.manufacturer;
      const model = input.model ?? row.model;
      const serialNumber = input.serialNumber ?? row.serial_number;
      if (manufacturer === null || model === null || serialNumber === null) {
        throw invalid(
          'ONBOARDING_APPROVAL_IDENTITY_MISSING',
          `sighting ${id} did not reveal manufacturer, model and serial number; give them in the approval`,
          { sightingId: id },
        );
      }
      const nowIso = this.now().toISOString();
      const entryId = `sighting:${id}`;
      let bootstrapSecret: ApprovalResult['bootstrapSecret'];
      let birthIdentity: BirthIdentity;
      if (row.certificate_der === null) {
        bootstrapSecret = await this.options.authorisation.issueSecret(
          trx,
          { entryId, serialNumber },
          lifetimeMs,
        );
        birthIdentity = {
          kind: 'bootstrap-secret',
          secretSha256: hashSecret(bootstrapSecret.secret),
        };
      } else {
        birthIdentity = { kind: 'public-key', publicKey: publicKeyPemOf(row.certificate_der) };
      }
      const entry: ListEntry = {
        entryId,
        manufacturer,
        model,
        serialNumber,
        birthIdentity,
        deviceClass: input.deviceClass,
        lifeSustaining: input.lifeSustaining,
        criticality: input.lifeSustaining ? 'critical' : input.criticality,
        validFrom: nowIso,
        ...(input.productionSegment === undefined
          ? {}
          : { productionSegment: input.productionSegment }),
        ...(input.hostnames === undefined ? {} : { hostnames: input.hostnames }),
      };
      await this.options.authorisation.addManualEntry(trx, entry);
      await trx
        .withTables<SightingTables>()
        .updateTable('onboarding_sighting')
        .set({
          status: 'approved',
          decided_by: `${approver.kind}:${approver.id}`,
          decided_at: nowIso,
        })
        .where('id', '=', id)
        .execute();
      await this.options.audit.append(trx, {
        event: 'onboarding.device-approve',
        action: 'C',
        outcome: 'success',
        actor: approver,
        target: { kind: 'sighting', id },
        reason: input.reason,
        details: {
          listId: MANUAL_LIST_ID,
          entryId: entry.entryId,
          manufacturer,
          model,
          serialNumber,
          deviceClass: input.deviceClass,
          birthIdentity: entry.birthIdentity.kind,
          certificateFingerprint: row.certificate_fingerprint,
          bootstrapSecretExpiresAt: bootstrapSecret?.expiresAt ?? null,
        },
      });
      const sighting = toSighting({
        ...row,
        status: 'approved',
        decided_by: `${approver.kind}:${approver.id}`,
        decided_at: nowIso,
      });
      return { sighting, entry, ...(bootstrapSecret === undefined ? {} : { bootstrapSecret }) };
    });
  }

  /** Closes a pending sighting without authorising the device; audited. */
  async dismiss(id: string, actor: Actor, reason: string): Promise<Sighting> {
    return this.options.storage.db.transaction().execute(async (trx) => {
      const row = await this.row(trx, id);
      if (row.status !== 'pending') {
        throw conflict('ONBOARDING_SIGHTING_DECIDED', `sighting ${id} was already ${row.status}`, {
          sightingId: id,
        });
      }
      const nowIso = this.now().toISOString();
      await trx
        .withTables<SightingTables>()
        .updateTable('onboarding_sighting')
        .set({ status: 'dismissed', decided_by: `${actor.kind}:${actor.id}`, decided_at: nowIso })
        .where('id', '=', id)
        .execute();
      await this.options.audit.append(trx, {
        event: 'onboarding.device-dismiss',
        action: 'U',
        outcome: 'success',
        actor,
        target: { kind: 'sighting', id },
        reason,
        details: {
          serialNumber: row.serial_number,
          certificateFingerprint: row.certificate_fingerprint,
        },
      });
      return toSighting({
        ...row,
        status: 'dismissed',
        decided_by: `${actor.kind}:${actor.id}`,
        decided_at: nowIso,
      });
    });
  }
}

function publicKeyPemOf(certificateBase64: string): string {
  const certificate = new X509Certificate(Buffer.from(certificateBase64, 'base64'));
  return certificate.publicKey.export({ type: 'spki', format: 'pem' }).toString();
}
