/**
 * Validation of the manager's association events, which the interworking
 * receives from the bus as untrusted JSON.
 */
import { Value } from '@sinclair/typebox/value';
import { ErrorKind, MedwardError } from '../core/errors.js';
import {
  ASSOCIATION_ENDED_SUBJECT,
  ASSOCIATION_OPERATING_SUBJECT,
  AssociationDescription,
  AssociationEndedEvent,
} from '../ieee11073/index.js';

export type AssociationEvent =
  | { kind: 'operating'; description: AssociationDescription }
  | { kind: 'ended'; ended: AssociationEndedEvent };

function invalidEvent(
  subject: string,
  data: unknown,
  schema: typeof AssociationEndedEvent | typeof AssociationDescription,
): MedwardError {
  const first = Value.Errors(schema, data).First();
  const where = first === undefined ? '' : ` at ${first.path || '/'}: ${first.message}`;
  return new MedwardError(
    ErrorKind.Invalid,
    'INTERWORKING_EVENT_INVALID',
    `${subject} event is invalid${where}`,
    { details: { subject } },
  );
}

/**
 * Validates the payload of an association event by its subject. Returns
 * undefined for a subject of another association event, which this version
 * does not handle; throws INTERWORKING_EVENT_INVALID for a malformed payload.
 */
export function parseAssociationEvent(
  subject: string,
  data: unknown,
): AssociationEvent | undefined {
  if (subject === ASSOCIATION_OPERATING_SUBJECT) {
    if (!Value.Check(AssociationDescription, data)) {
      throw invalidEvent(subject, data, AssociationDescription);
    }
    return { kind: 'operating', description: data };
  }
  if (subject === ASSOCIATION_ENDED_SUBJECT) {
    if (!Value.Check(AssociationEndedEvent, data)) {
      throw invalidEvent(subject, data, AssociationEndedEvent);
    }
    return { kind: 'ended', ended: data };
  }
  return undefined;
}
