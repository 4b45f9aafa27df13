/**
 * Lookups over the nomenclature terms of `nomenclature-table.ts`: reference id,
 * UCUM unit and device specializations by full MDC code
 * (partition * 65536 + term code).
 */
import type { TypeValue } from './apdu.js';
import {
  MdcDiseaseManagement,
  MdcDimension,
  MdcInfrastructure,
  MdcObject,
  MdcPartition,
  MdcScada,
  specializationRows,
  ucumByDimension,
} from './nomenclature-table.js';

export interface NomenclatureTerm {
  /** Full code: partition * 65536 + term. */
  code: number;
  partition: number;
  term: number;
  referenceId: string;
  /** UCUM unit, for units (partition 4) only. */
  ucum?: string;
  /** Specializations (for example '10415') that use the term. */
  specializations: readonly string[];
}

export interface Specialization {
  standard: string;
  name: string;
  /** Full code of the MDC_DEV_SPEC_PROFILE_* term. */
  profileCode: number;
  /** Inclusive dev-config-id range of the specialization's standard configurations. */
  configIdRange: readonly [number, number];
}

const PARTITION_FACTOR = 65536;

/** Returns the full MDC code of a term within a partition. */
export function mdcCode(partition: number, term: number): number {
  return partition * PARTITION_FACTOR + term;
}

/** Returns the full MDC code of a TYPE attribute value. */
export function typeCode(type: TypeValue): number {
  return mdcCode(type.partition, type.code);
}

const termsByCode = new Map<number, NomenclatureTerm>();
const termsByReferenceId = new Map<string, NomenclatureTerm>();
const standardsByReferenceId = new Map<string, string[]>();
const specializations: Specialization[] = [];

function collectStandards(): void {
  for (const row of specializationRows) {
    for (const referenceId of row.terms) {
      const standards = standardsByReferenceId.get(referenceId) ?? [];
      standards.push(row.standard);
      standardsByReferenceId.set(referenceId, standards);
    }
  }
}

function addPartition(partition: number, terms: Readonly<Record<string, number>>): void {
  const ucumTable: Readonly<Record<string, string>> = ucumByDimension;
  for (const [referenceId, term] of Object.entries(terms)) {
    const ucum = partition === MdcPartition.dimension ? ucumTable[referenceId] : undefined;
    const entry: NomenclatureTerm = {
      code: mdcCode(partition, term),
      partition,
      term,
      referenceId,
      ...(ucum === undefined ? {} : { ucum }),
      specializations: standardsByReferenceId.get(referenceId) ?? [],
    };
    termsByCode.set(entry.code, entry);
    termsByReferenceId.set(referenceId, entry);
  }
}

/** Builds the specialization list; throws at load time when a row names a missing term. */
function addSpecializations(): void {
  for (const row of specializationRows) {
    const profile = termsByReferenceId.get(row.profile);
    const missing = row.terms.find((referenceId) => !termsByReferenceId.has(referenceId));
    if (profile === undefined || missing !== undefined) {
      throw new Error(`nomenclature table lacks ${missing ?? row.profile} used by ${row.standard}`);
    }
    specializations.push({
      standard: row.standard,
      name: row.name,
      profileCode: profile.code,
      configIdRange: row.configIdRange,
    });
  }
}

collectStandards();
addPartition(MdcPartition.object, MdcObject);
addPartition(MdcPartition.scada, MdcScada);
addPartition(MdcPartition.dimension, MdcDimension);
addPartition(MdcPartition.infrastructure, MdcInfrastructure);
addPartition(MdcPartition.phdDiseaseManagement, MdcDiseaseManagement);
addSpecializations();

/** Returns the term with this full code, or undefined when medward's table lacks it. */
export function lookupTerm(code: number): NomenclatureTerm | undefined {
  return termsByCode.get(code);
}

export function lookupTermByReferenceId(referenceId: string): NomenclatureTerm | undefined {
  return termsByReferenceId.get(referenceId);
}

/** Returns the reference id (for example MDC_MASS_BODY_ACTUAL) of a full code. */
export function referenceIdOf(code: number): string | undefined {
  return termsByCode.get(code)?.referenceId;
}

/**
 * Returns the UCUM unit of a unit code. Unit-Code attributes carry the 16-bit
 * term of partition 4 (MDC_DIM_KILO_G is 1731); full codes (263875) work too.
 */
export function ucumForUnitCode(unitCode: number): string | undefined {
  const code = unitCode <= 0xffff ? mdcCode(MdcPartition.dimension, unitCode) : unitCode;
  return termsByCode.get(code)?.ucum;
}

/** Returns the specializations whose terms include this full code. */
export function specializationsOf(code: number): readonly Specialization[] {
  const standards = termsByCode.get(code)?.specializations ?? [];
  return specializations.filter((entry) => standards.includes(entry.standard));
}

export function specializationByStandard(standard: string): Specialization | undefined {
  return specializations.find((entry) => entry.standard === standard);
}

/** Returns the specialization whose standard configuration range contains `devConfigId`. */
export function specializationForDevConfigId(devConfigId: number): Specialization | undefined {
  return specializations.find(
    (entry) => devConfigId >= entry.configIdRange[0] && devConfigId <= entry.configIdRange[1],
  );
}

export function listSpecializations(): readonly Specialization[] {
  return specializations;
}
