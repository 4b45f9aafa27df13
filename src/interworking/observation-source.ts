/**
 * Loads the full observations behind a committed-observation event, with the
 * association that delivered them, from the manager's repository. The event
 * carries six flat fields, and the oneM2M and FHIR mappings need the rest
 * (agent time stamp, measurement status, unit code, MDS facts).
 */
import type {
  CommittedObservation,
  DeviceObservation,
  Ieee11073Repository,
} from '../ieee11073/index.js';
import { ErrorKind, MedwardError } from '../core/errors.js';

/** Association row as the repository stores it. */
export type AssociationRecord = NonNullable<
  Awaited<ReturnType<Ieee11073Repository['getAssociation']>>
>;

export interface DeviceObservations {
  deviceSystemId: string;
  observations: DeviceObservation[];
  /** Associations by id, for the observations that name one the repository has. */
  associations: Map<string, AssociationRecord>;
}

const PAGE_LIMIT = 1000;

/** Returns true when a JSON value has the shape of one CommittedObservation. */
function isCommittedObservation(value: unknown): value is CommittedObservation {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const record = value as Record<string, unknown>;
  return (
    typeof record.id === 'string' &&
    typeof record.deviceSystemId === 'string' &&
    /^[0-9a-f]{16}$/.test(record.deviceSystemId) &&
    typeof record.type === 'number' &&
    typeof record.time === 'string' &&
    Number.isFinite(Date.parse(record.time))
  );
}

/** Validates the payload of `ieee11073.observation.committed`; throws INTERWORKING_EVENT_INVALID. */
export function parseCommittedEvent(data: unknown): CommittedObservation[] {
  const observations =
    typeof data === 'object' && data !== null
      ? (data as Record<string, unknown>).observations
      : undefined;
  if (!Array.isArray(observations) || !observations.every(isCommittedObservation)) {
    throw new MedwardError(
      ErrorKind.Invalid,
      'INTERWORKING_EVENT_INVALID',
      'committed-observation event is invalid: expected { observations: CommittedObservation[] }',
    );
  }
  return observations;
}

export class ObservationSource {
  private readonly associations = new Map<string, AssociationRecord>();

  constructor(private readonly repository: Ieee11073Repository) {}

  /**
   * Reads the stored observations of `events`, grouped by device in event
   * order. Throws INTERWORKING_OBSERVATION_MISSING when one is not stored,
   * so the bus redelivers the event.
   */
  async load(events: readonly CommittedObservation[]): Promise<DeviceObservations[]> {
    const byDevice = new Map<string, CommittedObservation[]>();
    for (const event of events) {
      const list = byDevice.get(event.deviceSystemId) ?? [];
      list.push(event);
      byDevice.set(event.deviceSystemId, list);
    }
    const result: DeviceObservations[] = [];
    for (const [deviceSystemId, deviceEvents] of byDevice) {
      const observations = await this.read(deviceSystemId, deviceEvents);
      const associations = new Map<string, AssociationRecord>();
      for (const observation of observations) {
        const association = await this.association(observation.associationId);
        if (association !== undefined) {
          associations.set(association.id, association);
        }
      }
      result.push({ deviceSystemId, observations, associations });
    }
    return result;
  }

  private async association(id: string): Promise<AssociationRecord | undefined> {
    const cached = this.associations.get(id);
    // The MDS facts arrive after the association starts, so a row without them is read again.
    if (cached !== undefined && cached.mds_json !== null) {
      return cached;
    }
    const row = await this.repository.getAssociation(id);
    if (row !== undefined) {
      this.associations.set(id, row);
    }
    return row;
  }

  private async read(
    deviceSystemId: string,
    events: readonly CommittedObservation[],
  ): Promise<DeviceObservation[]> {
    const times = events.map((event) => Date.parse(event.time));
    const from = new Date(Math.min(...times));
    const to = new Date(Math.max(...times) + 1);
    const wanted = new Set(events.map((event) => event.id));
    const found = new Map<string, DeviceObservation>();
    let cursor: string | undefined;
    do {
      const page = await this.repository.listObservations({
        deviceSystemId,
        from,
        to,
        limit: PAGE_LIMIT,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const observation of page.observations) {
        if (wanted.has(observation.id)) {
          found.set(observation.id, observation);
        }
      }
      cursor = found.size === wanted.size ? undefined : page.nextCursor;
    } while (cursor !== undefined);
    const missing = events.filter((event) => !found.has(event.id));
    if (missing.length > 0) {
      throw new MedwardError(
        ErrorKind.Unavailable,
        'INTERWORKING_OBSERVATION_MISSING',
        `${missing.length} committed observations of device ${deviceSystemId} are not in the repository yet`,
        { details: { deviceSystemId, observationIds: missing.slice(0, 5).map((e) => e.id) } },
      );
    }
    return events.flatMap((event) => {
      const observation = found.get(event.id);
      return observation === undefined ? [] : [observation];
    });
  }
}
