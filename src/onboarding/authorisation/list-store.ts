import type { Executor } from '../../core/audit/index.js';
import { CompiledQueries } from '../../core/storage/compiled-queries.js';
import type { ListEntry, ListRevocation } from './list-schema.js';

export interface AuthorisationListTable {
  list_id: string;
  version: number;
  issued_at: string;
  expires_at: string;
  key_id: string;
  /** `authority`, `file` or `cache`. */
  source: string;
  etag: string | null;
  envelope: string;
  imported_at: string;
}

export interface AuthorisationEntryTable {
  list_id: string;
  entry_id: string;
  manufacturer: string;
  model: string;
  serial_number: string;
  valid_from: string | null;
  valid_until: string | null;
  /** The entry's JSON as listed. */
  entry: string;
}

export interface RevocationTable {
  manufacturer: string;
  model: string;
  serial_number: string;
  list_id: string;
  action: string;
  reason: string;
  revoked_at: string;
}

export interface BootstrapSecretTable {
  /** SHA-256 of the secret, lowercase hex. */
  secret_hash: string;
  list_id: string;
  entry_id: string;
  serial_number: string;
  issued_at: string;
  expires_at: string | null;
  consumed_at: string | null;
  consumed_by: string | null;
}

// A type alias, not an interface: Kysely's withTables needs an index-compatible type.
export type AuthorisationTables = {
  onboarding_authorisation_list: AuthorisationListTable;
  onboarding_authorisation_entry: AuthorisationEntryTable;
  onboarding_revocation: RevocationTable;
  onboarding_bootstrap_secret: BootstrapSecretTable;
};

/** The statements every enrolment runs, compiled once. */
const queries = new CompiledQueries();

/** List id of the entries operators add by approving a device that is on no list. */
export const MANUAL_LIST_ID = 'manual';

/** An entry as found for enrolment, with the expiry of the list it belongs to. */
export interface AuthorisedEntry {
  listId: string;
  entry: ListEntry;
  /** Null for entries added by manual approval, which no list expiry limits. */
  listExpiresAt: string | null;
}

function tables(executor: Executor<object>): Executor<AuthorisationTables> {
  return executor.withTables<AuthorisationTables>();
}

export async function currentListRow(
  executor: Executor<object>,
  listId: string,
): Promise<AuthorisationListTable | undefined> {
  return tables(executor)
    .selectFrom('onboarding_authorisation_list')
    .selectAll()
    .where('list_id', '=', listId)
    .executeTakeFirst();
}

export async function listRows(executor: Executor<object>): Promise<AuthorisationListTable[]> {
  return tables(executor)
    .selectFrom('onboarding_authorisation_list')
    .selectAll()
    .orderBy('list_id')
    .execute();
}

export async function replaceEntries(
  executor: Executor<object>,
  listId: string,
  entries: readonly ListEntry[],
): Promise<void> {
  const db = tables(executor);
  await db.deleteFrom('onboarding_authorisation_entry').where('list_id', '=', listId).execute();
  // Batches keep each statement below SQLite's limit of bound parameters.
  for (let start = 0; start < entries.length; start += 100) {
    await db
      .insertInto('onboarding_authorisation_entry')
      .values(entries.slice(start, start + 100).map((entry) => entryRow(listId, entry)))
      .execute();
  }
}

export async function insertEntry(
  executor: Executor<object>,
  listId: string,
  entry: ListEntry,
): Promise<void> {
  await tables(executor)
    .insertInto('onboarding_authorisation_entry')
    .values(entryRow(listId, entry))
    .execute();
}

function entryRow(listId: string, entry: ListEntry): AuthorisationEntryTable {
  return {
    list_id: listId,
    entry_id: entry.entryId,
    manufacturer: entry.manufacturer,
    model: entry.model,
    serial_number: entry.serialNumber,
    valid_from: entry.validFrom ?? null,
    valid_until: entry.validUntil ?? null,
    entry: JSON.stringify(entry),
  };
}

/** Entries for a serial number across all lists; manufacturer and model narrow it when given. */
export async function findEntries(
  executor: Executor<object>,
  identity: { serialNumber: string; manufacturer?: string; model?: string },
): Promise<AuthorisedEntry[]> {
  let query = tables(executor)
    .selectFrom('onboarding_authorisation_entry as e')
    .leftJoin('onboarding_authorisation_list as l', 'l.list_id', 'e.list_id')
    .select(['e.list_id', 'e.entry', 'l.expires_at'])
    .where('e.serial_number', '=', identity.serialNumber);
  if (identity.manufacturer !== undefined) {
    query = query.where('e.manufacturer', '=', identity.manufacturer);
  }
  if (identity.model !== undefined) {
    query = query.where('e.model', '=', identity.model);
  }
  const rows = await query.orderBy('e.list_id').execute();
  return rows.map((row) => ({
    listId: row.list_id,
    entry: JSON.parse(row.entry) as ListEntry,
    listExpiresAt: row.expires_at,
  }));
}

export async function findEntry(
  executor: Executor<object>,
  listId: string,
  entryId: string,
): Promise<AuthorisedEntry | undefined> {
  const row = await tables(executor)
    .selectFrom('onboarding_authorisation_entry as e')
    .leftJoin('onboarding_authorisation_list as l', 'l.list_id', 'e.list_id')
    .select(['e.list_id', 'e.entry', 'l.expires_at'])
    .where('e.list_id', '=', listId)
    .where('e.entry_id', '=', entryId)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : {
        listId: row.list_id,
        entry: JSON.parse(row.entry) as ListEntry,
        listExpiresAt: row.expires_at,
      };
}

/** An entry found for enrolment, with the revocation of its device if a list revoked it. */
export interface EnrolmentCandidate {
  found: AuthorisedEntry;
  revocation: Pick<RevocationTable, 'list_id' | 'reason'> | undefined;
}

interface CandidateRow {
  list_id: string;
  entry: string;
  expires_at: string | null;
  revocation_list_id: string | null;
  revocation_reason: string | null;
}

function toCandidate(row: CandidateRow): EnrolmentCandidate {
  return {
    found: {
      listId: row.list_id,
      entry: JSON.parse(row.entry) as ListEntry,
      listExpiresAt: row.expires_at,
    },
    revocation:
      row.revocation_list_id === null
        ? undefined
        : { list_id: row.revocation_list_id, reason: row.revocation_reason ?? '' },
  };
}

/**
 * Finds the entries for a serial number across all lists, each with the
 * expiry of its list and the revocation of its device, in one query.
 */
export async function findEnrolmentCandidates(
  executor: Executor<object>,
  serialNumber: string,
): Promise<EnrolmentCandidate[]> {
  const result = await queries.execute(executor, 'enrolment-candidates', [serialNumber], () =>
    tables(executor)
      .selectFrom('onboarding_authorisation_entry as e')
      .leftJoin('onboarding_authorisation_list as l', 'l.list_id', 'e.list_id')
      .leftJoin('onboarding_revocation as r', (join) =>
        join
          .onRef('r.manufacturer', '=', 'e.manufacturer')
          .onRef('r.model', '=', 'e.model')
          .onRef('r.serial_number', '=', 'e.serial_number'),
      )
      .select([
        'e.list_id',
        'e.entry',
        'l.expires_at',
        'r.list_id as revocation_list_id',
        'r.reason as revocation_reason',
      ])
      .where('e.serial_number', '=', serialNumber)
      .orderBy('e.list_id'),
  );
  return result.rows.map(toCandidate);
}

/**
 * Finds a stored bootstrap secret with the entry it was issued for
 * (undefined when that entry is gone), the entry's list expiry and its
 * device's revocation, in one query.
 */
export async function findSecretCandidate(
  executor: Executor<object>,
  secretHash: string,
): Promise<
  { secret: BootstrapSecretTable; candidate: EnrolmentCandidate | undefined } | undefined
> {
  const result = await queries.execute(executor, 'secret-candidate', [secretHash], () =>
    tables(executor)
      .selectFrom('onboarding_bootstrap_secret as s')
      .leftJoin('onboarding_authorisation_entry as e', (join) =>
        join.onRef('e.list_id', '=', 's.list_id').onRef('e.entry_id', '=', 's.entry_id'),
      )
      .leftJoin('onboarding_authorisation_list as l', 'l.list_id', 'e.list_id')
      .leftJoin('onboarding_revocation as r', (join) =>
        join
          .onRef('r.manufacturer', '=', 'e.manufacturer')
          .onRef('r.model', '=', 'e.model')
          .onRef('r.serial_number', '=', 'e.serial_number'),
      )
      .selectAll('s')
      .select([
        'e.entry',
        'l.expires_at as list_expires_at',
        'r.list_id as revocation_list_id',
        'r.reason as revocation_reason',
      ])
      .where('s.secret_hash', '=', secretHash),
  );
  const [row] = result.rows;
  if (row === undefined) {
    return undefined;
  }
  const secret: BootstrapSecretTable = {
    secret_hash: row.secret_hash,
    list_id: row.list_id,
    entry_id: row.entry_id,
    serial_number: row.serial_number,
    issued_at: row.issued_at,
    expires_at: row.expires_at,
    consumed_at: row.consumed_at,
    consumed_by: row.consumed_by,
  };
  return {
    secret,
    candidate:
      row.entry === null
        ? undefined
        : toCandidate({
            list_id: row.list_id,
            entry: row.entry,
            expires_at: row.list_expires_at,
            revocation_list_id: row.revocation_list_id,
            revocation_reason: row.revocation_reason,
          }),
  };
}

export async function upsertRevocation(
  executor: Executor<object>,
  listId: string,
  revocation: ListRevocation,
): Promise<void> {
  const db = tables(executor);
  await db
    .deleteFrom('onboarding_revocation')
    .where('manufacturer', '=', revocation.manufacturer)
    .where('model', '=', revocation.model)
    .where('serial_number', '=', revocation.serialNumber)
    .execute();
  await db
    .insertInto('onboarding_revocation')
    .values({
      manufacturer: revocation.manufacturer,
      model: revocation.model,
      serial_number: revocation.serialNumber,
      list_id: listId,
      action: revocation.action,
      reason: revocation.reason,
      revoked_at: revocation.revokedAt,
    })
    .execute();
}

export async function findRevocation(
  executor: Executor<object>,
  identity: { manufacturer: string; model: string; serialNumber: string },
): Promise<RevocationTable | undefined> {
  return tables(executor)
    .selectFrom('onboarding_revocation')
    .selectAll()
    .where('manufacturer', '=', identity.manufacturer)
    .where('model', '=', identity.model)
    .where('serial_number', '=', identity.serialNumber)
    .executeTakeFirst();
}

export async function findSecrets(
  executor: Executor<object>,
  hashes: readonly string[],
): Promise<BootstrapSecretTable[]> {
  if (hashes.length === 0) {
    return [];
  }
  const rows: BootstrapSecretTable[] = [];
  for (let start = 0; start < hashes.length; start += 500) {
    rows.push(
      ...(await tables(executor)
        .selectFrom('onboarding_bootstrap_secret')
        .selectAll()
        .where('secret_hash', 'in', hashes.slice(start, start + 500))
        .execute()),
    );
  }
  return rows;
}

export async function insertSecret(
  executor: Executor<object>,
  row: BootstrapSecretTable,
): Promise<void> {
  await tables(executor).insertInto('onboarding_bootstrap_secret').values(row).execute();
}

/**
 * Marks an unconsumed secret consumed by `deviceId`; returns false when it
 * was consumed before, so exactly one of two concurrent uses succeeds.
 */
export async function consumeSecret(
  executor: Executor<object>,
  secretHash: string,
  deviceId: string,
  nowIso: string,
): Promise<boolean> {
  const result = await queries.execute(
    executor,
    'consume-secret',
    [nowIso, deviceId, secretHash],
    () =>
      tables(executor)
        .updateTable('onboarding_bootstrap_secret')
        .set({ consumed_at: nowIso, consumed_by: deviceId })
        .where('secret_hash', '=', secretHash)
        .where('consumed_at', 'is', null),
  );
  return result.numAffectedRows === 1n;
}
