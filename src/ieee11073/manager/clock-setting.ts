/**
 * Setting an agent's clock to the gateway's time: the ACTION for the clock
 * that its Mds-Time-Info offers, and what the manager records once the agent
 * confirmed it.
 */
import type { ClockReference } from '../store/from-20601.js';
import type { AssociationTable } from '../store/tables.js';
import * as apdus from './apdus.js';
import type { SettableClock } from './mds.js';

/**
 * Builds the ACTION that sets `clock` to `date`: Set-Time with the UTC
 * wall-clock time, or Set-Base-Offset-Time with the UTC instant and the
 * gateway host's offset from UTC.
 */
export function setClockApdu(clock: SettableClock, invokeId: number, date: Date): Uint8Array {
  if (clock === 'absolute') {
    return apdus.setTimeApdu(invokeId, date);
  }
  // getTimezoneOffset is UTC minus local time, in minutes.
  const offsetMinutes = 0 - date.getTimezoneOffset();
  return apdus.setBaseOffsetTimeApdu(invokeId, date, offsetMinutes);
}

/**
 * Records that `clock` now reads the gateway's time: sets its offset in
 * `reference` to 0 and returns the association columns to write.
 * NOTE: measurements the agent stored before this moment keep time stamps of
 * its old clock but are now read with offset 0.
 */
export function recordClockSet(
  clock: SettableClock,
  reference: ClockReference,
): Partial<Pick<AssociationTable, 'time_set' | 'absolute_offset_ms'>> {
  if (clock === 'absolute') {
    reference.absoluteOffsetMs = 0;
    return { time_set: 1, absolute_offset_ms: 0 };
  }
  // The association row has no column for the base-offset clock's offset.
  reference.baseOffsetOffsetMs = 0;
  return { time_set: 1 };
}
