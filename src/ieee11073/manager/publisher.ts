/**
 * Publishes committed observations on the event bus.
 */
import type { EventBus } from '../../core/bus/index.js';
import type { Logger } from '../../core/logger.js';
import type { Observation, ObservationValue } from '../store/model.js';
import type { ManagerMetrics } from './metrics.js';
import { TrackedPublishes } from './tracked-publishes.js';

export const OBSERVATION_COMMITTED_SUBJECT = 'ieee11073.observation.committed';

/** Observations per bus message, which keeps a message far below the bus's 1 MiB cap. */
const OBSERVATIONS_PER_MESSAGE = 200;

/**
 * One committed observation as the event carries it: six flat fields, the
 * value as text. The full observation (kind, status, device time, association,
 * supplemental types, component codes) is in the repository, by device and
 * time. The event stays this small because the bus validates every JSON value
 * it carries, at a cost per value that adds up at thousands of observations a
 * second.
 */
export interface CommittedObservation {
  id: string;
  deviceSystemId: string;
  /** Full MDC code of the observation type. */
  type: number;
  /**
   * The value as text: the decimal of a numeric, the component decimals of a
   * compound joined by '/', an enumeration's code, bits or text. Absent for
   * sample arrays.
   */
  value?: string;
  /** UCUM unit, when known. */
  unit?: string;
  /** Gateway UTC time of the measurement (ISO 8601). */
  time: string;
}

/** Payload of `ieee11073.observation.committed`. */
export interface ObservationCommittedEvent {
  observations: CommittedObservation[];
}

function valueText(value: ObservationValue): string | undefined {
  switch (value.kind) {
    case 'numeric':
      return value.decimal;
    case 'compound':
      return value.components.map((component) => component.decimal).join('/');
    case 'enumeration':
      return value.text ?? (value.code ?? value.bits)?.toString();
    case 'sample-array':
      return undefined;
  }
}

/** Returns the event form of an observation. */
export function committedObservation(observation: Observation): CommittedObservation {
  const event: CommittedObservation = {
    id: observation.id,
    deviceSystemId: observation.deviceSystemId,
    type: observation.type,
    time: observation.timestamp.gatewayTime,
  };
  const value = valueText(observation.value);
  if (value !== undefined) {
    event.value = value;
  }
  if (observation.unit?.ucum !== undefined) {
    event.unit = observation.unit.ucum;
  }
  return event;
}

/**
 * Publishes each committed batch after its commit, in messages of up to 200
 * observations in their compact event form. A message's msgId is `ieee11073-observation:<id>` of its first
 * observation: every observation belongs to one message, so the id is unique
 * and a repeated publish of the same message is dropped by the bus.
 * NOTE: publishing follows the commit and is not part of it, so observations
 * committed just before a crash may never be published; consumers that need
 * every observation read them from the repository.
 */
export class ObservationPublisher {
  private readonly publishes: TrackedPublishes;

  constructor(bus: EventBus, logger: Logger, metrics: ManagerMetrics) {
    this.publishes = new TrackedPublishes(
      bus,
      logger,
      'ieee11073 committed observations not published',
      () => {
        metrics.publishFailures.inc();
      },
    );
  }

  publish(observations: readonly Observation[]): void {
    for (let start = 0; start < observations.length; start += OBSERVATIONS_PER_MESSAGE) {
      const chunk = observations.slice(start, start + OBSERVATIONS_PER_MESSAGE);
      const first = chunk[0];
      if (first === undefined) {
        continue;
      }
      const event: ObservationCommittedEvent = { observations: chunk.map(committedObservation) };
      this.publishes.publish(
        OBSERVATION_COMMITTED_SUBJECT,
        event,
        `ieee11073-observation:${first.id}`,
        { observations: chunk.length },
      );
    }
  }

  /** Resolves when every publish started so far has settled. */
  drain(): Promise<void> {
    return this.publishes.drain();
  }
}
