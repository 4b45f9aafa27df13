/**
 * Storage of the FHIR export: agents, observations and the outbox of
 * observations still to be sent. Inputs are stored as the JSON that was
 * validated on arrival and validated again when read.
 */
import type { Generated, Kysely } from 'kysely';
import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Storage } from '../core/storage/index.js';
import { PhdDeviceInput, PhdObservationInput, type PhdExportPayload } from './input.js';

type FhirDeviceTable = {
  system_id: string;
  input: string;
  updated_at: string;
};

type FhirObservationTable = {
  observation_id: string;
  device_system_id: string;
  received_at: string;
  input: string;
  created_at: string;
};

type FhirOutboxTable = {
  seq: Generated<number>;
  observation_id: string;
  state: string;
  attempts: number;
  last_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  outcome: string | null;
  created_at: string;
};

// A type alias, not an interface: Kysely's withTables needs an index-compatible type.
export type FhirTables = {
  fhir_device: FhirDeviceTable;
  fhir_observation: FhirObservationTable;
  fhir_outbox: FhirOutboxTable;
};

/**
 * State of an outbox row: `pending` waits for the next batch, `isolated`
 * belonged to a rejected batch and is sent alone to find the entry the
 * server rejects, `parked` was rejected on its own and waits for an operator.
 */
export type OutboxState = 'pending' | 'isolated' | 'parked';

export interface OutboxEntry {
  seq: number;
  observationId: string;
  state: OutboxState;
  attempts: number;
  input: PhdObservationInput;
}

export interface OutboxBatch {
  entries: OutboxEntry[];
  devices: Map<string, PhdDeviceInput>;
  /** Rows whose stored input no longer validates; the caller parks them. */
  unreadable: { observationId: string; problem: string }[];
}

export interface OutboxCounts {
  pending: number;
  isolated: number;
  parked: number;
}

export interface ObservationQuery {
  deviceSystemId?: string;
  /** Inclusive lower bound on the time the gateway received the observation. */
  from?: Date;
  /** Exclusive upper bound on the time the gateway received the observation. */
  to?: Date;
  limit: number;
}

export interface FailureRecord {
  status?: number;
  error: string;
  /** The server's OperationOutcome, as JSON text, for parked rows. */
  outcome?: string;
}

function checked<S extends TSchema>(schema: S, text: string): Static<S> | string {
  let data: unknown;
  try {
    data = JSON.parse(text) as unknown;
  } catch (error) {
    return `stored JSON is unreadable: ${(error as Error).message}`;
  }
  if (!Value.Check(schema, data)) {
    const first = [...Value.Errors(schema, data)][0];
    return `stored input no longer validates at ${first?.path ?? '/'}: ${first?.message ?? 'unknown'}`;
  }
  return data;
}

export class FhirStore {
  private readonly db: Kysely<FhirTables>;

  constructor(
    storage: Storage,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.db = storage.db.withTables<FhirTables>();
  }

  /**
   * Stores the agent and its observations and queues the new ones for
   * export, in one transaction. Observation ids already stored are skipped,
   * so a redelivered payload queues nothing twice.
   */
  async record(payload: PhdExportPayload): Promise<{ added: string[]; duplicates: string[] }> {
    const at = this.now().toISOString();
    const systemId = payload.device.systemId.toUpperCase();
    const device = { ...payload.device, systemId };
    return this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('fhir_device')
        .values({ system_id: systemId, input: JSON.stringify(device), updated_at: at })
        .onConflict((conflict) =>
          conflict
            .column('system_id')
            .doUpdateSet({ input: JSON.stringify(device), updated_at: at }),
        )
        .execute();
      const added: string[] = [];
      const duplicates: string[] = [];
      for (const observation of payload.observations) {
        const input = { ...observation, deviceSystemId: systemId };
        const inserted = await trx
          .insertInto('fhir_observation')
          .values({
            observation_id: input.observationId,
            device_system_id: systemId,
            received_at: new Date(input.gatewayReceivedAt).toISOString(),
            input: JSON.stringify(input),
            created_at: at,
          })
          .onConflict((conflict) => conflict.column('observation_id').doNothing())
          .returning('observation_id')
          .executeTakeFirst();
        if (inserted === undefined) {
          duplicates.push(input.observationId);
          continue;
        }
        await trx
          .insertInto('fhir_outbox')
          .values({
            observation_id: input.observationId,
            state: 'pending',
            attempts: 0,
            last_attempt_at: null,
            last_status: null,
            last_error: null,
            outcome: null,
            created_at: at,
          })
          .execute();
        added.push(input.observationId);
      }
      return { added, duplicates };
    });
  }

  /**
   * Returns the next rows to send: the oldest isolated row alone, or else up
   * to `batchSize` pending rows in arrival order, with their agents.
   */
  async nextBatch(batchSize: number): Promise<OutboxBatch> {
    const select = this.db
      .selectFrom('fhir_outbox')
      .innerJoin(
        'fhir_observation',
        'fhir_observation.observation_id',
        'fhir_outbox.observation_id',
      )
      .select([
        'fhir_outbox.seq',
        'fhir_outbox.observation_id',
        'fhir_outbox.state',
        'fhir_outbox.attempts',
        'fhir_observation.input',
        'fhir_observation.device_system_id',
      ])
      .orderBy('fhir_outbox.seq');
    let rows = await select.where('fhir_outbox.state', '=', 'isolated').limit(1).execute();
    if (rows.length === 0) {
      rows = await select.where('fhir_outbox.state', '=', 'pending').limit(batchSize).execute();
    }
    const batch: OutboxBatch = { entries: [], devices: new Map(), unreadable: [] };
    for (const row of rows) {
      const input = checked(PhdObservationInput, row.input);
      if (typeof input === 'string') {
        batch.unreadable.push({ observationId: row.observation_id, problem: input });
        continue;
      }
      batch.entries.push({
        seq: row.seq,
        observationId: row.observation_id,
        state: row.state as OutboxState,
        attempts: row.attempts,
        input,
      });
    }
    const systemIds = [...new Set(rows.map((row) => row.device_system_id))];
    await this.loadDevices(systemIds, batch.devices);
    return batch;
  }

  private async loadDevices(systemIds: string[], into: Map<string, PhdDeviceInput>): Promise<void> {
    if (systemIds.length === 0) {
      return;
    }
    const devices = await this.db
      .selectFrom('fhir_device')
      .select(['system_id', 'input'])
      .where('system_id', 'in', systemIds)
      .execute();
    for (const device of devices) {
      const input = checked(PhdDeviceInput, device.input);
      if (typeof input !== 'string') {
        into.set(device.system_id, input);
      }
    }
  }

  /** Deletes the outbox rows of observations the server accepted. */
  async markExported(observationIds: readonly string[]): Promise<void> {
    if (observationIds.length === 0) {
      return;
    }
    await this.db
      .deleteFrom('fhir_outbox')
      .where('observation_id', 'in', [...observationIds])
      .execute();
  }

  /** Counts a failed attempt and keeps the rows in their state for a retry. */
  async markRetry(observationIds: readonly string[], failure: FailureRecord): Promise<void> {
    await this.update(observationIds, failure, undefined);
  }

  /** Moves rows of a rejected batch to `isolated`, so each is sent alone next. */
  async isolate(observationIds: readonly string[], failure: FailureRecord): Promise<void> {
    await this.update(observationIds, failure, 'isolated');
  }

  /** Parks rows the server rejected; they stay until requeued. */
  async park(observationIds: readonly string[], failure: FailureRecord): Promise<void> {
    await this.update(observationIds, failure, 'parked');
  }

  private async update(
    observationIds: readonly string[],
    failure: FailureRecord,
    state: OutboxState | undefined,
  ): Promise<void> {
    if (observationIds.length === 0) {
      return;
    }
    await this.db
      .updateTable('fhir_outbox')
      .set((eb) => ({
        attempts: eb('attempts', '+', 1),
        last_attempt_at: this.now().toISOString(),
        last_status: failure.status ?? null,
        last_error: failure.error.slice(0, 2000),
        ...(failure.outcome === undefined ? {} : { outcome: failure.outcome.slice(0, 65536) }),
        ...(state === undefined ? {} : { state }),
      }))
      .where('observation_id', 'in', [...observationIds])
      .execute();
  }

  /** Returns parked rows (all, or those named) to `pending`; returns how many moved. */
  async requeueParked(observationIds?: readonly string[]): Promise<number> {
    let update = this.db
      .updateTable('fhir_outbox')
      .set({ state: 'pending', outcome: null })
      .where('state', '=', 'parked');
    if (observationIds !== undefined) {
      if (observationIds.length === 0) {
        return 0;
      }
      update = update.where('observation_id', 'in', [...observationIds]);
    }
    const result = await update.executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async outboxCounts(): Promise<OutboxCounts> {
    const rows = await this.db
      .selectFrom('fhir_outbox')
      .select((eb) => ['state', eb.fn.countAll<number>().as('count')])
      .groupBy('state')
      .execute();
    const counts: OutboxCounts = { pending: 0, isolated: 0, parked: 0 };
    for (const row of rows) {
      if (row.state === 'pending' || row.state === 'isolated' || row.state === 'parked') {
        counts[row.state] = row.count;
      }
    }
    return counts;
  }

  /** Outbox rows with their failure details, oldest first. */
  async outboxRows(limit = 1000): Promise<
    {
      observationId: string;
      state: OutboxState;
      attempts: number;
      lastStatus: number | null;
      lastError: string | null;
      outcome: string | null;
    }[]
  > {
    const rows = await this.db
      .selectFrom('fhir_outbox')
      .select(['observation_id', 'state', 'attempts', 'last_status', 'last_error', 'outcome'])
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      observationId: row.observation_id,
      state: row.state as OutboxState,
      attempts: row.attempts,
      lastStatus: row.last_status,
      lastError: row.last_error,
      outcome: row.outcome,
    }));
  }

  /** Stored observations in reception order, with their agents, for downloads. */
  async observations(query: ObservationQuery): Promise<{
    observations: PhdObservationInput[];
    devices: Map<string, PhdDeviceInput>;
    /** Rows left out because their stored input no longer validates. */
    unreadable: number;
  }> {
    let select = this.db
      .selectFrom('fhir_observation')
      .select(['input', 'device_system_id'])
      .orderBy('received_at')
      .orderBy('observation_id')
      .limit(query.limit);
    if (query.deviceSystemId !== undefined) {
      select = select.where('device_system_id', '=', query.deviceSystemId.toUpperCase());
    }
    if (query.from !== undefined) {
      select = select.where('received_at', '>=', query.from.toISOString());
    }
    if (query.to !== undefined) {
      select = select.where('received_at', '<', query.to.toISOString());
    }
    const rows = await select.execute();
    const observations: PhdObservationInput[] = [];
    let unreadable = 0;
    for (const row of rows) {
      const input = checked(PhdObservationInput, row.input);
      if (typeof input === 'string') {
        unreadable += 1;
      } else {
        observations.push(input);
      }
    }
    const devices = new Map<string, PhdDeviceInput>();
    await this.loadDevices([...new Set(rows.map((row) => row.device_system_id))], devices);
    return { observations, devices, unreadable };
  }
}
