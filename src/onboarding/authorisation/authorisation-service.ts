import { createHash, randomBytes } from 'node:crypto';
import type { AuditTrail, Executor } from '../../core/audit/index.js';
import type { EventBus } from '../../core/bus/index.js';
import {
  ErrorKind,
  MedwardError,
  conflict,
  isMedwardError,
  toMedwardError,
} from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Storage } from '../../core/storage/index.js';
import { ONBOARDING_ALERT_SUBJECT, type OnboardingAlert } from '../events.js';
import { CLOCK_SKEW_MS, checkListContents } from './list-checks.js';
import type { ListEntry, ListRevocation } from './list-schema.js';
import {
  MANUAL_LIST_ID,
  consumeSecret,
  currentListRow,
  findEnrolmentCandidates,
  findEntries,
  findEntry,
  findRevocation,
  findSecretCandidate,
  findSecrets,
  insertEntry,
  insertSecret,
  listRows,
  replaceEntries,
  upsertRevocation,
  type AuthorisationListTable,
  type AuthorisedEntry,
  type BootstrapSecretTable,
  type EnrolmentCandidate,
  type RevocationTable,
} from './list-store.js';
import { verifyEnvelope, type AuthorityKey, type VerifiedList } from './signature.js';

/** Origin of a list: the authority's URL, a file an operator imported, or the disk cache. */
export interface ListSource {
  kind: 'authority' | 'file' | 'cache';
  /** URL or file path, for audit records. */
  location: string;
  etag?: string;
}

export interface ImportResult {
  status: 'imported' | 'unchanged';
  listId: string;
  version: number;
  previousVersion: number | null;
  devices: number;
  revocations: number;
}

/** Changes one applied revocation made, as reported by the revocation handler. */
export interface RevocationEffect {
  deviceId: string;
  revocation: ListRevocation;
  fromState: string;
  toState: string;
  revokedCertificates: string[];
  /** Work the handler does once the import committed: events, segment moves. */
  afterCommit?: () => Promise<void>;
}

/**
 * Puts revocations into effect. applyRevocation runs inside the import
 * transaction, so a list is imported together with its revocations or not
 * at all. afterRevocations runs after the commit (segment moves, events).
 */
export interface RevocationHandler {
  applyRevocation(
    executor: Executor<object>,
    revocation: ListRevocation,
    listId: string,
  ): Promise<RevocationEffect | undefined>;
  afterRevocations(effects: readonly RevocationEffect[]): Promise<void>;
}

export interface AuthorisationServiceOptions {
  storage: Storage;
  audit: AuditTrail;
  logger: Logger;
  keys: readonly AuthorityKey[];
  bus?: EventBus;
  now?: () => Date;
}

/** Returns why an entry cannot be used now, or undefined when it can. */
export function entryUnusableReason(found: AuthorisedEntry, now: Date): string | undefined {
  const nowMs = now.getTime();
  if (found.listExpiresAt !== null && Date.parse(found.listExpiresAt) <= nowMs) {
    return `authorisation list ${found.listId} expired at ${found.listExpiresAt}`;
  }
  if (found.entry.validFrom !== undefined && Date.parse(found.entry.validFrom) > nowMs) {
    return `entry ${found.entry.entryId} is valid from ${found.entry.validFrom}`;
  }
  if (found.entry.validUntil !== undefined && Date.parse(found.entry.validUntil) <= nowMs) {
    return `entry ${found.entry.entryId} expired at ${found.entry.validUntil}`;
  }
  return undefined;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * The signed lists of expected devices. An import verifies the signature
 * against the configured authority keys and rejects expired lists and
 * versions lower than the stored one. It then replaces the list's entries,
 * stores its revocations and bootstrap secret hashes, and puts the
 * revocations into effect, all in one transaction with an audit record. A rejected list
 * changes nothing and leaves an audit record and an alert.
 */
export class AuthorisationService {
  private readonly storage: Storage;
  private readonly audit: AuditTrail;
  private readonly logger: Logger;
  private readonly keys: readonly AuthorityKey[];
  private readonly bus: EventBus | undefined;
  private readonly now: () => Date;
  private revocationHandler: RevocationHandler | undefined;
  private importing: Promise<unknown> = Promise.resolve();

  constructor(options: AuthorisationServiceOptions) {
    this.storage = options.storage;
    this.audit = options.audit;
    this.logger = options.logger;
    this.keys = options.keys;
    this.bus = options.bus;
    this.now = options.now ?? (() => new Date());
  }

  /** Sets who puts revocations into effect; lists with revocations are rejected until set. */
  setRevocationHandler(handler: RevocationHandler): void {
    this.revocationHandler = handler;
  }

  /** Imports a signed list (the envelope's JSON text); imports run one at a time. */
  importList(text: string, source: ListSource): Promise<ImportResult> {
    const run = this.importing.then(() => this.importNow(text, source));
    this.importing = run.catch(() => undefined);
    return run;
  }

  private async importNow(text: string, source: ListSource): Promise<ImportResult> {
    let verified: VerifiedList | undefined;
    try {
      verified = verifyEnvelope(text, this.keys);
      const list = verified.list;
      checkListContents(list);
      this.checkTimes(list.listId, list.version, list.issuedAt, list.expiresAt);
      const result = await this.storage.db
        .transaction()
        .execute((trx) => this.apply(trx, verified as VerifiedList, text, source));
      if (result.effects.length > 0 && this.revocationHandler !== undefined) {
        await this.revocationHandler.afterRevocations(result.effects);
      }
      this.logger.info(
        {
          listId: list.listId,
          version: list.version,
          status: result.result.status,
          source: source.kind,
        },
        'authorisation list processed',
      );
      return result.result;
    } catch (error) {
      const failure = toMedwardError(error);
      await this.recordRejection(failure, verified, source);
      throw failure;
    }
  }

  private checkTimes(listId: string, version: number, issuedAt: string, expiresAt: string): void {
    const nowMs = this.now().getTime();
    if (Date.parse(expiresAt) <= nowMs) {
      throw new MedwardError(
        ErrorKind.Invalid,
        'AUTHORISATION_LIST_EXPIRED',
        `authorisation list ${listId} version ${version} expired at ${expiresAt}; ask the authority for a current list`,
        { details: { listId, version, expiresAt } },
      );
    }
    if (Date.parse(issuedAt) > nowMs + CLOCK_SKEW_MS) {
      throw new MedwardError(
        ErrorKind.Invalid,
        'AUTHORISATION_LIST_NOT_YET_VALID',
        `authorisation list ${listId} version ${version} is issued at ${issuedAt}, in the future; check the clocks`,
        { details: { listId, version, issuedAt } },
      );
    }
  }

  private async apply(
    trx: Executor<object>,
    verified: VerifiedList,
    text: string,
    source: ListSource,
  ): Promise<{ result: ImportResult; effects: RevocationEffect[] }> {
    const list = verified.list;
    const revocations = list.revocations ?? [];
    const current = await currentListRow(trx, list.listId);
    const base = {
      listId: list.listId,
      version: list.version,
      previousVersion: current?.version ?? null,
      devices: list.devices.length,
      revocations: revocations.length,
    };
    if (current !== undefined && list.version < current.version) {
      throw conflict(
        'AUTHORISATION_LIST_VERSION_ROLLBACK',
        `authorisation list ${list.listId} version ${list.version} is older than the stored version ` +
          `${current.version}; versions never go back, so publish a higher version`,
        { listId: list.listId, version: list.version, storedVersion: current.version },
      );
    }
    if (current !== undefined && list.version === current.version) {
      const stored = verifyEnvelope(current.envelope, this.keys);
      if (stored.digest !== verified.digest) {
        throw conflict(
          'AUTHORISATION_LIST_VERSION_REUSED',
          `authorisation list ${list.listId} version ${list.version} differs from the stored list of the ` +
            'same version; the authority must publish changes under a higher version',
          { listId: list.listId, version: list.version },
        );
      }
      if (source.etag !== undefined && source.etag !== current.etag) {
        await trx
          .withTables<{ onboarding_authorisation_list: AuthorisationListTable }>()
          .updateTable('onboarding_authorisation_list')
          .set({ etag: source.etag })
          .where('list_id', '=', list.listId)
          .execute();
      }
      return { result: { ...base, status: 'unchanged' }, effects: [] };
    }
    if (revocations.length > 0 && this.revocationHandler === undefined) {
      throw new MedwardError(
        ErrorKind.Internal,
        'AUTHORISATION_REVOCATION_UNHANDLED',
        'authorisation list carries revocations but no revocation handler is installed',
      );
    }
    await this.storeList(trx, verified, text, source, current !== undefined);
    await replaceEntries(trx, list.listId, list.devices);
    await this.storeSecrets(trx, list.listId, list.devices, list.issuedAt);
    const effects: RevocationEffect[] = [];
    for (const revocation of revocations) {
      await upsertRevocation(trx, list.listId, revocation);
      const effect = await this.revocationHandler?.applyRevocation(trx, revocation, list.listId);
      if (effect !== undefined) {
        effects.push(effect);
      }
    }
    await this.audit.append(trx, {
      event: 'authorisation-list.import',
      action: current === undefined ? 'C' : 'U',
      outcome: 'success',
      target: { kind: 'authorisation-list', id: list.listId },
      reason: `imported version ${list.version} from ${source.kind} ${source.location}`,
      details: {
        ...base,
        keyId: verified.key.keyId,
        digest: verified.digest,
        expiresAt: list.expiresAt,
        source: source.kind,
        location: source.location,
        revoked: effects.map((effect) => ({ deviceId: effect.deviceId, toState: effect.toState })),
      },
    });
    return { result: { ...base, status: 'imported' }, effects };
  }

  private async storeList(
    trx: Executor<object>,
    verified: VerifiedList,
    text: string,
    source: ListSource,
    exists: boolean,
  ): Promise<void> {
    const list = verified.list;
    const row: AuthorisationListTable = {
      list_id: list.listId,
      version: list.version,
      issued_at: list.issuedAt,
      expires_at: new Date(Date.parse(list.expiresAt)).toISOString(),
      key_id: verified.key.keyId,
      source: source.kind,
      etag: source.etag ?? null,
      envelope: text,
      imported_at: this.now().toISOString(),
    };
    const db = trx.withTables<{ onboarding_authorisation_list: AuthorisationListTable }>();
    if (exists) {
      await db
        .updateTable('onboarding_authorisation_list')
        .set(row)
        .where('list_id', '=', list.listId)
        .execute();
    } else {
      await db.insertInto('onboarding_authorisation_list').values(row).execute();
    }
  }

  /**
   * Stores the bootstrap secret hashes of a list. A hash seen before keeps its
   * state, so a secret consumed under an earlier version stays consumed. A
   * hash that another entry already uses rejects the list.
   */
  private async storeSecrets(
    trx: Executor<object>,
    listId: string,
    entries: readonly ListEntry[],
    issuedAt: string,
  ): Promise<void> {
    const wanted = entries.flatMap((entry) =>
      entry.birthIdentity.kind === 'bootstrap-secret'
        ? [{ entry, hash: entry.birthIdentity.secretSha256 }]
        : [],
    );
    const existing = new Map(
      (
        await findSecrets(
          trx,
          wanted.map((item) => item.hash),
        )
      ).map((row) => [row.secret_hash, row]),
    );
    for (const { entry, hash } of wanted) {
      const known = existing.get(hash);
      if (known !== undefined) {
        if (known.list_id !== listId || known.entry_id !== entry.entryId) {
          throw new MedwardError(
            ErrorKind.Invalid,
            'AUTHORISATION_LIST_INVALID',
            `bootstrap secret of entry ${entry.entryId} is already issued to entry ${known.entry_id} of list ` +
              `${known.list_id}; every device needs its own secret`,
            { details: { listId, entryId: entry.entryId } },
          );
        }
        continue;
      }
      await insertSecret(trx, {
        secret_hash: hash,
        list_id: listId,
        entry_id: entry.entryId,
        serial_number: entry.serialNumber,
        issued_at: issuedAt,
        expires_at: entry.validUntil ?? null,
        consumed_at: null,
        consumed_by: null,
      });
    }
  }

  private async recordRejection(
    failure: MedwardError,
    verified: VerifiedList | undefined,
    source: ListSource,
  ): Promise<void> {
    const listId = verified?.list.listId ?? 'unknown';
    this.logger.warn(
      {
        listId,
        version: verified?.list.version,
        code: failure.code,
        source: source.kind,
        location: source.location,
      },
      'authorisation list rejected',
    );
    try {
      await this.audit.record({
        event: 'authorisation-list.reject',
        action: 'E',
        outcome: 'serious-failure',
        target: { kind: 'authorisation-list', id: listId },
        reason: failure.message,
        details: {
          code: failure.code,
          source: source.kind,
          location: source.location,
          version: verified?.list.version ?? null,
          keyId: verified?.key.keyId ?? null,
        },
      });
    } catch (error) {
      this.logger.error({ err: error, listId }, 'audit record of a rejected list failed');
    }
    await this.alert({
      kind: 'list-rejected',
      reason: failure.message,
      listId,
      code: failure.code,
    });
  }

  async alert(alert: Omit<OnboardingAlert, 'raisedAt'>): Promise<void> {
    if (this.bus === undefined) {
      return;
    }
    try {
      await this.bus.publish(ONBOARDING_ALERT_SUBJECT, {
        ...alert,
        raisedAt: this.now().toISOString(),
      });
    } catch (error) {
      this.logger.warn({ err: error, kind: alert.kind }, 'onboarding alert not published');
    }
  }

  /** Summaries of the stored lists. */
  async lists(): Promise<
    {
      listId: string;
      version: number;
      issuedAt: string;
      expiresAt: string;
      source: string;
      etag: string | null;
      importedAt: string;
    }[]
  > {
    const rows = await listRows(this.storage.db);
    return rows.map((row) => ({
      listId: row.list_id,
      version: row.version,
      issuedAt: row.issued_at,
      expiresAt: row.expires_at,
      source: row.source,
      etag: row.etag,
      importedAt: row.imported_at,
    }));
  }

  findEntries(
    executor: Executor<object>,
    identity: { serialNumber: string; manufacturer?: string; model?: string },
  ): Promise<AuthorisedEntry[]> {
    return findEntries(executor, identity);
  }

  /** Entries for a serial number, each with its device's revocation, in one read. */
  findEnrolmentCandidates(
    executor: Executor<object>,
    serialNumber: string,
  ): Promise<EnrolmentCandidate[]> {
    return findEnrolmentCandidates(executor, serialNumber);
  }

  /** A stored bootstrap secret with its entry and that device's revocation, in one read. */
  findSecretCandidate(
    executor: Executor<object>,
    secretHash: string,
  ): Promise<
    { secret: BootstrapSecretTable; candidate: EnrolmentCandidate | undefined } | undefined
  > {
    return findSecretCandidate(executor, secretHash);
  }

  findEntry(
    executor: Executor<object>,
    listId: string,
    entryId: string,
  ): Promise<AuthorisedEntry | undefined> {
    return findEntry(executor, listId, entryId);
  }

  findRevocation(
    executor: Executor<object>,
    identity: { manufacturer: string; model: string; serialNumber: string },
  ): Promise<RevocationTable | undefined> {
    return findRevocation(executor, identity);
  }

  /** The stored bootstrap secret with this SHA-256, consumed or not. */
  async findSecret(
    executor: Executor<object>,
    secretHash: string,
  ): Promise<BootstrapSecretTable | undefined> {
    const [row] = await findSecrets(executor, [secretHash]);
    return row;
  }

  consumeSecret(
    executor: Executor<object>,
    secretHash: string,
    deviceId: string,
  ): Promise<boolean> {
    return consumeSecret(executor, secretHash, deviceId, this.now().toISOString());
  }

  /** Adds an entry of the manual list, for a device an operator approved. */
  addManualEntry(executor: Executor<object>, entry: ListEntry): Promise<void> {
    return insertEntry(executor, MANUAL_LIST_ID, entry);
  }

  /**
   * Creates a one-time bootstrap secret (32 random bytes, base64url) for a
   * manual entry, stores its hash and returns the secret, which medward keeps
   * nowhere else.
   */
  async issueSecret(
    executor: Executor<object>,
    entry: { entryId: string; serialNumber: string },
    lifetimeMs: number,
  ): Promise<{ secret: string; expiresAt: string }> {
    const secret = randomBytes(32).toString('base64url');
    const now = this.now();
    const expiresAt = new Date(now.getTime() + lifetimeMs).toISOString();
    await insertSecret(executor, {
      secret_hash: hashSecret(secret),
      list_id: MANUAL_LIST_ID,
      entry_id: entry.entryId,
      serial_number: entry.serialNumber,
      issued_at: now.toISOString(),
      expires_at: expiresAt,
      consumed_at: null,
      consumed_by: null,
    });
    return { secret, expiresAt };
  }

  /** Raises an alert for every stored list that has expired; returns their ids. */
  async checkExpiry(alerted: Set<string>): Promise<string[]> {
    const expired: string[] = [];
    for (const row of await listRows(this.storage.db)) {
      if (Date.parse(row.expires_at) > this.now().getTime()) {
        continue;
      }
      expired.push(row.list_id);
      const key = `${row.list_id}:${row.version}`;
      if (!alerted.has(key)) {
        alerted.add(key);
        this.logger.warn(
          { listId: row.list_id, version: row.version, expiresAt: row.expires_at },
          'authorisation list expired',
        );
        await this.alert({
          kind: 'list-expired',
          listId: row.list_id,
          reason: `authorisation list ${row.list_id} version ${row.version} expired at ${row.expires_at}; no device on it can enrol`,
        });
      }
    }
    return expired;
  }
}

export function isListRejection(error: unknown): boolean {
  return isMedwardError(error) && error.code.startsWith('AUTHORISATION_LIST_');
}
