/**
 * Code systems, profiles and codes of the HL7 FHIR Personal Health Device
 * implementation guide, version 1.1.0 (STU 1.1, FHIR R4), which maps
 * IEEE 11073-20601 agents to FHIR. Codes are full MDC codes
 * (partition * 65536 + term code), written in FHIR as decimal strings.
 */
import {
  MdcInfrastructure,
  MdcObject,
  MdcPartition,
  MdcScada,
  mdcCode,
  referenceIdOf,
} from '../ieee11073/index.js';

export const FhirSystem = {
  mdc: 'urn:iso:std:iso:11073:10101',
  loinc: 'http://loinc.org',
  ucum: 'http://unitsofmeasure.org',
  observationCategory: 'http://terminology.hl7.org/CodeSystem/observation-category',
  dataAbsentReason: 'http://terminology.hl7.org/CodeSystem/data-absent-reason',
  /** Measurement-status interpretations of the Point-of-Care Device guide, used by the PHD guide. */
  measurementStatus: 'http://hl7.org/fhir/uv/pocd/CodeSystem/measurement-status',
  actReason: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  /** "MDC code.bit" codes for BITS-16 and BITS-32 values. */
  asn1ToHl7: 'http://hl7.org/fhir/uv/phd/CodeSystem/ASN1ToHL7',
  /** Y and N of HL7 v2 table 0136, for set and cleared bits. */
  yesNo: 'http://terminology.hl7.org/CodeSystem/v2-0136',
  continuaDeviceIdentifiers: 'http://hl7.org/fhir/uv/phd/CodeSystem/ContinuaDeviceIdentifiers',
  continuaPhd: 'http://hl7.org/fhir/uv/phd/CodeSystem/ContinuaPHD',
  /** Identifier system of IEEE 11073-20601 EUI-64 system ids. */
  ieeeSystemId: 'urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680',
  /**
   * medward's own observation ids. Every Observation carries one, and
   * observations without a PHD identifier (no time stamp, coincident time
   * stamps) use it as their conditional-create key, so a resent batch never
   * creates a second copy.
   */
  medwardObservation: 'urn:medward:phd-observation',
} as const;

const profileBase = 'http://hl7.org/fhir/uv/phd/StructureDefinition/';

export const PhdProfile = {
  numeric: `${profileBase}PhdNumericObservation`,
  compoundNumeric: `${profileBase}PhdCompoundNumericObservation`,
  codedEnumeration: `${profileBase}PhdCodedEnumerationObservation`,
  bitsEnumeration: `${profileBase}PhdBitsEnumerationObservation`,
  stringEnumeration: `${profileBase}PhdStringEnumerationObservation`,
  coincidentTimeStamp: `${profileBase}PhdCoincidentTimeStampObservation`,
  phdDevice: `${profileBase}PhdDevice`,
  phgDevice: `${profileBase}PhgDevice`,
} as const;

/** R4 core extension that references the gateway Device from an Observation. */
export const GATEWAY_DEVICE_EXTENSION =
  'http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice';

const objectCode = (term: number): number => mdcCode(MdcPartition.object, term);
const infraCode = (term: number): number => mdcCode(MdcPartition.infrastructure, term);

/** MDC codes the guide uses for attributes, device types and properties. */
export const PhdCode = {
  supplementalTypes: objectCode(MdcObject.MDC_ATTR_SUPPLEMENTAL_TYPES),
  relativeTimeStamp: objectCode(MdcObject.MDC_ATTR_TIME_STAMP_REL),
  highResRelativeTimeStamp: objectCode(MdcObject.MDC_ATTR_TIME_STAMP_REL_HI_RES),
  accuracy: objectCode(MdcObject.MDC_ATTR_NU_ACCUR_MSMT),
  /** Coincident time stamp code of an agent with an absolute (Date-and-Time) clock. */
  absoluteClock: objectCode(MdcObject.MDC_ATTR_TIME_ABS),
  /**
   * Coincident time stamp code of an agent with a base-offset clock, as the
   * guide's table gives it. NOTE: under 20601 numbering 68226 is the term
   * MDC_ATTR_TIME_STAMP_BO; MDC_ATTR_TIME_BO would be 68225.
   */
  baseOffsetClock: 68226,
  relativeClock: objectCode(MdcObject.MDC_ATTR_TIME_REL),
  highResRelativeClock: objectCode(MdcObject.MDC_ATTR_TIME_REL_HI_RES),
  /** Device.type of a personal health device (MDC_MOC_VMS_MDS_SIMP). */
  phdDeviceType: objectCode(MdcObject.MDC_MOC_VMS_MDS_SIMP),
  /** Device.type of a personal health gateway (MDC_MOC_VMS_MDS_AHD). */
  phgDeviceType: 531981,
  /** MDC_DEV_SPEC_PROFILE_GENERIC: any 20601 agent. */
  genericSpecialization: infraCode(4169),
  /** MDC_ID_PROD_SPEC_UNSPECIFIED; the code of spec-type n is this plus n. */
  productionSpecBase: 531971,
  continuaVersion: 532352,
  continuaCertifiedDevices: 532353,
  continuaRegulationStatus: 532354,
  timeCapabilities: 68219,
  timeSyncProtocol: 68220,
  timeSyncAccuracy: 68221,
  absoluteTimeResolution: 68222,
  relativeTimeResolution: 68223,
  highResRelativeTimeResolution: 68224,
  /** The guide's code for the base-offset clock resolution (MDC_TIME_RES_BO). */
  baseOffsetTimeResolution: 68226,
  /** MDC_TIME_SYNC_NONE: an unsynchronised local clock. */
  timeSyncNone: infraCode(MdcInfrastructure.MDC_TIME_SYNC_NONE),
} as const;

/** Reference ids of the codes above that the codec's nomenclature table lacks. */
const extraReferenceIds: Readonly<Record<number, string>> = {
  [PhdCode.phgDeviceType]: 'MDC_MOC_VMS_MDS_AHD',
  [PhdCode.genericSpecialization]: 'MDC_DEV_SPEC_PROFILE_GENERIC',
  531969: 'MDC_ID_MODEL_NUMBER',
  531970: 'MDC_ID_MODEL_MANUFACTURER',
  531971: 'MDC_ID_PROD_SPEC_UNSPECIFIED',
  531972: 'MDC_ID_PROD_SPEC_SERIAL',
  531973: 'MDC_ID_PROD_SPEC_PART',
  531974: 'MDC_ID_PROD_SPEC_HW',
  531975: 'MDC_ID_PROD_SPEC_SW',
  531976: 'MDC_ID_PROD_SPEC_FW',
  531977: 'MDC_ID_PROD_SPEC_PROTOCOL',
  531978: 'MDC_ID_PROD_SPEC_GMDN',
  532352: 'MDC_REG_CERT_DATA_CONTINUA_VERSION',
  532353: 'MDC_REG_CERT_DATA_CONTINUA_CERT_DEV_LIST',
  68219: 'MDC_TIME_CAP_STATE',
  68220: 'MDC_TIME_SYNC_PROTOCOL',
  68221: 'MDC_TIME_SYNC_ACCURACY',
  68222: 'MDC_TIME_RES_ABS',
  68223: 'MDC_TIME_RES_REL',
  68224: 'MDC_TIME_RES_REL_HI_RES',
};

/**
 * Returns the MDC reference id of a full code, or undefined when neither
 * table has it. 68226 gets none: the guide uses it for the base-offset clock,
 * which the 20601 term of that number (MDC_ATTR_TIME_STAMP_BO) is not.
 */
export function mdcReferenceId(code: number): string | undefined {
  if (code === PhdCode.baseOffsetClock) {
    return undefined;
  }
  return referenceIdOf(code) ?? extraReferenceIds[code];
}

export interface LoincCoding {
  code: string;
  display: string;
}

export interface LoincMapping {
  codings: readonly LoincCoding[];
  /** True when the code is one of the FHIR R4 vital-signs codes, so the category applies. */
  vitalSign: boolean;
}

const scada = (term: number): number => mdcCode(MdcPartition.scada, term);

const heartRate = { code: '8867-4', display: 'Heart rate' };

/**
 * LOINC translations of MDC measurement codes. The vital-signs codes are
 * those of the FHIR R4 vital-signs profiles, which the guide requires next to
 * the MDC code; only terms with a one-to-one LOINC concept are listed.
 */
const loincByMdc = new Map<number, LoincMapping>([
  [scada(MdcScada.MDC_PULS_OXIM_PULS_RATE), { codings: [heartRate], vitalSign: true }],
  [scada(MdcScada.MDC_PULS_RATE_NON_INV), { codings: [heartRate], vitalSign: true }],
  [
    scada(MdcScada.MDC_PULS_OXIM_SAT_O2),
    {
      codings: [
        { code: '2708-6', display: 'Oxygen saturation in Arterial blood' },
        { code: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry' },
      ],
      vitalSign: true,
    },
  ],
  [
    scada(MdcScada.MDC_PRESS_BLD_NONINV),
    {
      codings: [{ code: '85354-9', display: 'Blood pressure panel with all children optional' }],
      vitalSign: true,
    },
  ],
  [
    scada(MdcScada.MDC_PRESS_BLD_NONINV_SYS),
    { codings: [{ code: '8480-6', display: 'Systolic blood pressure' }], vitalSign: true },
  ],
  [
    scada(MdcScada.MDC_PRESS_BLD_NONINV_DIA),
    { codings: [{ code: '8462-4', display: 'Diastolic blood pressure' }], vitalSign: true },
  ],
  [
    scada(MdcScada.MDC_PRESS_BLD_NONINV_MEAN),
    { codings: [{ code: '8478-0', display: 'Mean blood pressure' }], vitalSign: false },
  ],
  [
    scada(MdcScada.MDC_TEMP_BODY),
    { codings: [{ code: '8310-5', display: 'Body temperature' }], vitalSign: true },
  ],
  [
    scada(MdcScada.MDC_MASS_BODY_ACTUAL),
    { codings: [{ code: '29463-7', display: 'Body weight' }], vitalSign: true },
  ],
  [
    scada(MdcScada.MDC_LEN_BODY_ACTUAL),
    { codings: [{ code: '8302-2', display: 'Body height' }], vitalSign: true },
  ],
  [
    scada(MdcScada.MDC_RATIO_MASS_BODY_LEN_SQ),
    { codings: [{ code: '39156-5', display: 'Body mass index (BMI) [Ratio]' }], vitalSign: true },
  ],
]);

export function loincFor(code: number): LoincMapping | undefined {
  return loincByMdc.get(code);
}

/** Observation.dataAbsentReason codes of the FLOAT and SFLOAT special values, as the guide maps them. */
export const specialValueReason = {
  nan: 'not-a-number',
  'positive-infinity': 'positive-infinity',
  'negative-infinity': 'negative-infinity',
  nres: 'error',
  reserved: 'error',
} as const;

/** Measurement-Status bits, numbered as MDER numbers them: bit 0 is the most significant. */
export type MeasurementStatusEffect =
  | { element: 'dataAbsentReason'; code: string }
  | { element: 'interpretation'; code: string }
  | { element: 'security'; code: string };

/** The guide's mapping of each defined Measurement-Status bit to an Observation element. */
export const measurementStatusEffects: ReadonlyMap<number, MeasurementStatusEffect> = new Map([
  [0, { element: 'dataAbsentReason', code: 'error' }],
  [1, { element: 'interpretation', code: 'questionable' }],
  [2, { element: 'dataAbsentReason', code: 'not-performed' }],
  [3, { element: 'interpretation', code: 'calibration-ongoing' }],
  [4, { element: 'security', code: 'HTEST' }],
  [5, { element: 'security', code: 'HTEST' }],
  [8, { element: 'interpretation', code: 'validated-data' }],
  [9, { element: 'interpretation', code: 'early-indication' }],
  [10, { element: 'dataAbsentReason', code: 'temp-unknown' }],
  [14, { element: 'interpretation', code: 'in-alarm' }],
  [15, { element: 'interpretation', code: 'alarm-inhibited' }],
]);

/** Returns whether MDER bit `bit` (0 = most significant) is set in a BITS value of `width` bits. */
export function mderBitSet(value: number, bit: number, width: 16 | 32): boolean {
  const mask = 2 ** (width - 1 - bit);
  return Math.floor(value / mask) % 2 === 1;
}
