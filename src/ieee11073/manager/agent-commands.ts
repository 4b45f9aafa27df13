/**
 * Commands a caller outside the manager (such as the oneM2M interworking)
 * can send to an associated agent by its system id.
 */
import { ErrorKind, MedwardError } from '../../core/errors.js';

/**
 * Set-Time: the confirmed ACTION MDC_ACT_SET_TIME with the gateway's current
 * UTC time, or MDC_ACT_SET_BO_TIME for an agent with a base-offset clock.
 */
export interface SetTimeCommand {
  kind: 'set-time';
}

export type AgentCommand = SetTimeCommand;

export interface AgentCommandResult {
  systemId: string;
  command: AgentCommand['kind'];
  /** The agent's response kind, for example `rors-confirmed-action`. */
  response: string;
  /** Time the agent's response arrived (ISO 8601 UTC). */
  completedAt: string;
}

export function agentNotAssociated(systemId: string): MedwardError {
  return new MedwardError(
    ErrorKind.NotFound,
    'IEEE11073_AGENT_NOT_ASSOCIATED',
    `agent ${systemId} has no operating association; wait until it associates and try again`,
    { details: { systemId } },
  );
}

export function agentLacksCapability(systemId: string, command: string): MedwardError {
  return new MedwardError(
    ErrorKind.Conflict,
    'IEEE11073_AGENT_CAPABILITY_MISSING',
    `agent ${systemId} does not offer ${command}: its Mds-Time-Info offers no clock the manager may set`,
    { details: { systemId, command } },
  );
}
