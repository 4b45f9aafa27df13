/**
 * States of the manager side of one connection, after the manager state
 * machine of IEEE 11073-20601 clause 8. The standard's Associating state is
 * where a manager waits for an AARE after sending its own AARQ; medward never
 * initiates associations, so here `associating` is the step between receiving
 * an agent's AARQ and sending the AARE, while the configuration store is read
 * and the acceptance is written to the audit trail. Configuring has the two
 * sub-states of the standard.
 */
import { ErrorKind, MedwardError } from '../../core/errors.js';

export type ManagerState =
  | 'disconnected'
  | 'unassociated'
  | 'associating'
  | 'waiting-for-config'
  | 'checking-config'
  | 'operating'
  | 'disassociating';

const allowed: Readonly<Record<ManagerState, readonly ManagerState[]>> = {
  disconnected: [],
  unassociated: ['associating', 'disconnected'],
  associating: ['operating', 'waiting-for-config', 'unassociated', 'disconnected'],
  'waiting-for-config': ['checking-config', 'disassociating', 'unassociated', 'disconnected'],
  'checking-config': ['operating', 'waiting-for-config', 'unassociated', 'disconnected'],
  operating: ['disassociating', 'unassociated', 'disconnected'],
  disassociating: ['unassociated', 'disconnected'],
};

/** True in the states where an association exists (configuring, operating, disassociating). */
export function isAssociated(state: ManagerState): boolean {
  return (
    state === 'waiting-for-config' ||
    state === 'checking-config' ||
    state === 'operating' ||
    state === 'disassociating'
  );
}

/** True in the Configuring sub-states. */
export function isConfiguring(state: ManagerState): boolean {
  return state === 'waiting-for-config' || state === 'checking-config';
}

/** The state of one connection; a transition the table does not allow is a defect of medward. */
export class ManagerStateMachine {
  private current: ManagerState = 'unassociated';

  constructor(private readonly onChange?: (from: ManagerState, to: ManagerState) => void) {}

  get state(): ManagerState {
    return this.current;
  }

  /** Moves to `to`; throws IEEE11073_STATE_TRANSITION_INVALID when the table forbids it. */
  transition(to: ManagerState): void {
    const from = this.current;
    if (from === to) {
      return;
    }
    if (!allowed[from].includes(to)) {
      throw new MedwardError(
        ErrorKind.Internal,
        'IEEE11073_STATE_TRANSITION_INVALID',
        `manager state ${from} cannot change to ${to}`,
        { details: { from, to } },
      );
    }
    this.current = to;
    this.onChange?.(from, to);
  }
}
