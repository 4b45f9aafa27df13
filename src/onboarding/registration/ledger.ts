import type { Generated } from 'kysely';
import type { Executor } from '../../core/audit/index.js';

export interface ConfigurationTable {
  device_id: string;
  version: number;
  /** Canonical JSON of the DeviceConfiguration. */
  configuration: string;
  configuration_sha256: string;
  /** Hash of the version before, null for the first. */
  previous_sha256: string | null;
  firmware_version: string | null;
  firmware_sha256: string | null;
  changed_by_kind: string;
  changed_by_id: string;
  /** Cause of the version: `registration`, `profile-change`, `operator`. */
  cause: string;
  reason: string;
  /** The signed configuration as issued (compact JWS). */
  jws: string;
  created_at: string;
}

export interface RegistrationTable {
  device_id: string;
  /** The last fact sheet, without its SBOM. */
  fact_sheet: string;
  sbom_summary: string | null;
  registered_at: string;
}

export interface DriftFindingTable {
  id: Generated<number>;
  device_id: string;
  /** `configuration` or `firmware`. */
  kind: string;
  expected: string | null;
  reported: string;
  configuration_version: number | null;
  detected_at: string;
}

// A type alias, not an interface: Kysely's withTables needs an index-compatible type.
export type RegistrationTables = {
  onboarding_configuration: ConfigurationTable;
  onboarding_registration: RegistrationTable;
  onboarding_drift_finding: DriftFindingTable;
};

/** One version of a device's configuration as the ledger keeps it. */
export interface LedgerEntry {
  deviceId: string;
  version: number;
  configuration: unknown;
  configurationSha256: string;
  previousSha256: string | null;
  before: unknown;
  firmwareVersion: string | null;
  firmwareSha256: string | null;
  changedBy: { kind: string; id: string };
  cause: string;
  reason: string;
  jws: string;
  createdAt: string;
}

export interface DriftFinding {
  id: number;
  deviceId: string;
  kind: 'configuration' | 'firmware';
  expected: string | null;
  reported: string;
  configurationVersion: number | null;
  detectedAt: string;
}

function tables(executor: Executor<object>): Executor<RegistrationTables> {
  return executor.withTables<RegistrationTables>();
}

/**
 * The configuration ledger: every configuration version issued to a device,
 * with who or what caused it and why, never updated or deleted. `before` of
 * an entry is the configuration of the version preceding it.
 */
export class ConfigurationLedger {
  async latest(
    executor: Executor<object>,
    deviceId: string,
  ): Promise<ConfigurationTable | undefined> {
    return tables(executor)
      .selectFrom('onboarding_configuration')
      .selectAll()
      .where('device_id', '=', deviceId)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  async append(executor: Executor<object>, row: ConfigurationTable): Promise<void> {
    await tables(executor).insertInto('onboarding_configuration').values(row).execute();
  }

  /** Every version of a device's configuration, oldest first, each with the one before it. */
  async history(executor: Executor<object>, deviceId: string): Promise<LedgerEntry[]> {
    const rows = await tables(executor)
      .selectFrom('onboarding_configuration')
      .selectAll()
      .where('device_id', '=', deviceId)
      .orderBy('version')
      .execute();
    return rows.map((row, index) => ({
      deviceId: row.device_id,
      version: row.version,
      configuration: JSON.parse(row.configuration) as unknown,
      configurationSha256: row.configuration_sha256,
      previousSha256: row.previous_sha256,
      before:
        index === 0 ? null : (JSON.parse(rows[index - 1]?.configuration ?? 'null') as unknown),
      firmwareVersion: row.firmware_version,
      firmwareSha256: row.firmware_sha256,
      changedBy: { kind: row.changed_by_kind, id: row.changed_by_id },
      cause: row.cause,
      reason: row.reason,
      jws: row.jws,
      createdAt: row.created_at,
    }));
  }

  async saveRegistration(executor: Executor<object>, row: RegistrationTable): Promise<void> {
    const db = tables(executor);
    await db.deleteFrom('onboarding_registration').where('device_id', '=', row.device_id).execute();
    await db.insertInto('onboarding_registration').values(row).execute();
  }

  async registration(
    executor: Executor<object>,
    deviceId: string,
  ): Promise<RegistrationTable | undefined> {
    return tables(executor)
      .selectFrom('onboarding_registration')
      .selectAll()
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
  }

  async addDrift(
    executor: Executor<object>,
    finding: Omit<DriftFindingTable, 'id'>,
  ): Promise<void> {
    await tables(executor).insertInto('onboarding_drift_finding').values(finding).execute();
  }

  async driftFindings(executor: Executor<object>, deviceId: string): Promise<DriftFinding[]> {
    const rows = await tables(executor)
      .selectFrom('onboarding_drift_finding')
      .selectAll()
      .where('device_id', '=', deviceId)
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      deviceId: row.device_id,
      kind: row.kind as DriftFinding['kind'],
      expected: row.expected,
      reported: row.reported,
      configurationVersion: row.configuration_version,
      detectedAt: row.detected_at,
    }));
  }
}
