/**
 * The PHD Observation.identifier: the conditional-create key that makes a
 * re-uploaded measurement match the copy already on the server. The guide
 * (1.1.0) builds it by joining with dashes:
 *
 *   device-patient-type-value[-units]-timestamp[-supplemental types]
 *
 * - device: the EUI-64 system id as 16 upper-case hex digits, as in the
 *   guide's examples (74E8FFFEFF051C00);
 * - patient: "identifier value-identifier system", or the logical id the
 *   service gave; empty when medward knows no patient;
 * - type: the MDC code of Observation.code;
 * - value: the decimal text of the value or the data-absent-reason code
 *   (numerics), each component's in order (compounds), the 32-bit code
 *   (coded enumerations), the raw integer (BITs), or the text;
 * - units: the UCUM code (numerics and compounds); a compound whose entries
 *   carry their own units writes each entry's value followed by its unit;
 * - timestamp: the agent's own time stamp, never the corrected effective
 *   time, so two gateways produce the same key;
 * - supplemental types: the 32-bit codes.
 */
import type { PhdPatient } from './input.js';

export interface PhdIdentifierParts {
  deviceSystemId: string;
  patient: PhdPatient | undefined;
  type: number;
  /** Value and unit entries in order, already as text. */
  valueParts: readonly string[];
  timestamp: string;
  supplementalTypes: readonly number[];
}

export function patientPart(patient: PhdPatient | undefined): string {
  if (patient === undefined) {
    return '';
  }
  return 'logicalId' in patient ? patient.logicalId : `${patient.value}-${patient.system}`;
}

export function composePhdIdentifier(parts: PhdIdentifierParts): string {
  return [
    parts.deviceSystemId.toUpperCase(),
    patientPart(parts.patient),
    String(parts.type),
    ...parts.valueParts,
    parts.timestamp,
    ...parts.supplementalTypes.map(String),
  ].join('-');
}

/** Escapes a token search value as FHIR search requires (\ , $ | get a backslash). */
export function escapeSearchValue(value: string): string {
  return value.replace(/[\\,$|]/g, (character) => `\\${character}`);
}

/** Builds a `identifier=system|value` search for conditional requests, percent-encoded. */
export function identifierSearch(system: string | undefined, value: string): string {
  const token =
    system === undefined
      ? escapeSearchValue(value)
      : `${escapeSearchValue(system)}|${escapeSearchValue(value)}`;
  return `identifier=${encodeURIComponent(token)}`;
}
