import type { AuditRecord, AuditOutcome } from './types.js';

/** FHIR R4 AuditEvent.outcome codes. */
const outcomeCode: Readonly<Record<AuditOutcome, string>> = {
  success: '0',
  'minor-failure': '4',
  'serious-failure': '8',
  'major-failure': '12',
};

const actionDisplay: Readonly<Record<string, string>> = {
  C: 'Create',
  R: 'Read/View/Print',
  U: 'Update',
  D: 'Delete',
  E: 'Execute',
};

/** Code system for medward's own event names, which no FHIR value set covers. */
export const MEDWARD_AUDIT_EVENT_SYSTEM = 'urn:medward:audit-event';

export interface FhirAuditEvent {
  resourceType: 'AuditEvent';
  id: string;
  type: { system: string; code: string; display?: string };
  subtype: { system: string; code: string }[];
  action: string;
  recorded: string;
  outcome: string;
  outcomeDesc?: string;
  agent: Record<string, unknown>[];
  source: Record<string, unknown>;
  entity: Record<string, unknown>[];
}

/**
 * Maps an audit record to a FHIR R4 AuditEvent. The event type uses the
 * DICOM codes where one fits (110114 User Authentication for `auth.*`,
 * 110113 Security Alert for `security.*`) and the REST type for the rest;
 * medward's own event name goes in the subtype. The chain hashes travel as
 * entity details so an exported Bundle can still be checked.
 */
export function toFhirAuditEvent(record: AuditRecord): FhirAuditEvent {
  const entity: Record<string, unknown>[] = [];
  const chainDetail = [
    { type: 'seq', valueString: String(record.seq) },
    { type: 'hash', valueString: record.hash },
    { type: 'prevHash', valueString: record.prevHash },
    { type: 'correlationId', valueString: record.correlationId },
    { type: 'details', valueString: JSON.stringify(record.details) },
  ];
  if (record.targetKind !== null && record.targetId !== null) {
    entity.push({
      what: { identifier: { system: `urn:medward:${record.targetKind}`, value: record.targetId } },
      type: { system: 'urn:medward:entity-kind', code: record.targetKind },
    });
  }
  entity.push({ description: 'medward audit chain', detail: chainDetail });

  const agent: Record<string, unknown> = {
    type: { coding: [{ system: 'urn:medward:actor-kind', code: record.actorKind }] },
    who: {
      identifier: { system: `urn:medward:${record.actorKind}`, value: record.actorId },
      ...(record.actorDisplay === null ? {} : { display: record.actorDisplay }),
    },
    requestor: true,
  };
  if (record.sourceAddress !== null) {
    // network.type 2 is an IP address (FHIR network-type value set).
    agent.network = { address: record.sourceAddress, type: '2' };
  }

  return {
    resourceType: 'AuditEvent',
    id: record.id,
    type: eventType(record.event),
    subtype: [{ system: MEDWARD_AUDIT_EVENT_SYSTEM, code: record.event }],
    action: record.action,
    recorded: record.recordedAt,
    outcome: outcomeCode[record.outcome],
    ...(record.reason === null ? {} : { outcomeDesc: record.reason }),
    agent: [agent],
    source: {
      site: record.siteId,
      observer: { display: 'medward' },
      type: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
          code: '4',
          display: 'Application Server',
        },
      ],
    },
    entity,
  };
}

function eventType(event: string): FhirAuditEvent['type'] {
  if (event.startsWith('auth.')) {
    return {
      system: 'http://dicom.nema.org/resources/ontology/DCM',
      code: '110114',
      display: 'User Authentication',
    };
  }
  if (event.startsWith('security.')) {
    return {
      system: 'http://dicom.nema.org/resources/ontology/DCM',
      code: '110113',
      display: 'Security Alert',
    };
  }
  return {
    system: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
    code: 'rest',
    display: 'RESTful Operation',
  };
}

export function actionName(action: string): string {
  return actionDisplay[action] ?? action;
}
