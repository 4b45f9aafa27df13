/**
 * medward's internal observation model, shaped on the concepts of IEEE
 * 11073-10206 (ACOM, the abstract content model of personal health devices):
 * an observation has a type (MDC code), a value of one of the kinds numeric,
 * compound, enumeration or sample array, a time stamp with the kind of clock
 * that produced it, a measurement status and supplemental types. IEEE
 * 11073-20601 is one decoder that feeds it; other protocols can map onto the
 * same shape.
 */

/** Kind of device clock a time stamp came from. */
export type ClockType = 'absolute' | 'base-offset' | 'relative' | 'none';

export interface ObservationTimestamp {
  clock: ClockType;
  /**
   * The device's own reading of the time stamp as it sent it: the absolute
   * time as `2007-02-01T12:10:00.00` (local time of the device, no zone), a
   * base-offset time as ISO 8601 with its offset, a relative time in ticks of
   * 1/8 ms, or undefined for `none`.
   */
  deviceTime?: string;
  /**
   * UTC time of the measurement on the gateway's clock: the device time
   * corrected by the offset recorded for the association, or the time of
   * receipt when the device gave no usable time stamp.
   */
  gatewayTime: string;
  /** Whether `gatewayTime` used a device clock offset that the gateway measured. */
  offsetApplied: boolean;
}

/** A decimal value: the exact decimal text and its nearest JS number. */
export interface DecimalValue {
  /** Decimal string with the precision the device sent ("62.4", "2.00"), or a special value name. */
  decimal: string;
  /** Nearest JS number, or null for NaN, NRes, infinities and reserved values. */
  number: number | null;
  /** Set for FLOAT/SFLOAT special values: nan, nres, positive-infinity, negative-infinity, reserved. */
  special?: string;
}

export interface Unit {
  /** Full MDC code of the unit (partition 4). */
  code: number;
  /** UCUM code when medward's nomenclature table maps the unit. */
  ucum?: string;
}

export interface CompoundComponent extends DecimalValue {
  /** Full MDC code of the component, for example MDC_PRESS_BLD_NONINV_SYS. */
  code?: number;
  unit?: Unit;
  measurementStatus?: number;
}

export type ObservationValue =
  | ({ kind: 'numeric' } & DecimalValue)
  | { kind: 'compound'; components: CompoundComponent[] }
  | {
      kind: 'enumeration';
      /** Full MDC code of an enumerated term (OID-Type value). */
      code?: number;
      /** Bit-string value and its width. */
      bits?: number;
      bitsWidth?: 16 | 32;
      /** Text value. */
      text?: string;
    }
  | {
      kind: 'sample-array';
      /** The samples as sent, base64; scale and period come from the object's configuration. */
      samplesBase64: string;
      sampleCount?: number;
    };

export type ObservationKind = ObservationValue['kind'];

/** MeasurementStatus bits of IEEE 11073-20601 (BITS-16, bit 0 the most significant). */
export const MeasurementStatusBits = {
  invalid: 0x8000,
  questionable: 0x4000,
  'not-available': 0x2000,
  'calibration-ongoing': 0x1000,
  'test-data': 0x0800,
  'demo-data': 0x0400,
  'validated-data': 0x0080,
  'early-indication': 0x0040,
  'msmt-ongoing': 0x0020,
  'msmt-state-in-alarm': 0x0002,
  'msmt-state-al-inhibited': 0x0001,
} as const;

/** Returns the names of the MeasurementStatus bits that are set. */
export function measurementStatusFlags(status: number): string[] {
  return Object.entries(MeasurementStatusBits)
    .filter(([, bit]) => (status & bit) !== 0)
    .map(([name]) => name);
}

export interface Observation {
  /** Time-ordered UUID (version 7) given by the gateway. */
  id: string;
  /** EUI-64 system id of the device as 16 lowercase hex digits. */
  deviceSystemId: string;
  /** The association (one protocol session) that delivered the observation. */
  associationId: string;
  /** Object handle of the metric in the device's configuration. */
  handle: number;
  /** Person id of multi-person devices. */
  personId?: number;
  /** Full MDC code of the observation type. */
  type: number;
  /** Nomenclature reference id of the type, such as MDC_MASS_BODY_ACTUAL. */
  typeReferenceId?: string;
  unit?: Unit;
  value: ObservationValue;
  timestamp: ObservationTimestamp;
  /** MeasurementStatus bits when the device sent them. */
  measurementStatus?: number;
  /** Full MDC codes of the object's supplemental types (for example a body site or modality). */
  supplementalTypes?: number[];
  /** UTC time at which the gateway received the report. */
  receivedAt: string;
}
