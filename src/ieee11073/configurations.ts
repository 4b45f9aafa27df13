/**
 * Standard configurations of the device specializations: the object lists an
 * agent using a standard dev-config-id never sends, because the manager has
 * them built in. Each is laid out exactly like a decoded MDC_NOTI_CONFIG report, so it
 * can be passed to `extractObservations` or encoded as a configuration report.
 *
 * Sources: the object lists below agree with two independent open-source
 * 20601 managers, Antidote (signove, src/specializations) and universAAL lddi
 * (ieee.x73.std p104zz classes), and the 0x02BC and 0x06A4 ones decode the
 * published 10407 and 10417 example scan reports.
 * NOTE: 0x0191 (pulse oximeter 401) and any body composition (10420) standard
 * configuration are left out: no source at hand gave their object lists.
 */
import type { AttributeValue, ConfigObject } from './apdu.js';
import {
  MdcDimension as D,
  MdcObject as O,
  MdcPartition,
  MdcScada as S,
} from './nomenclature-table.js';
import type { Configuration } from './scan-report.js';

/** MetricSpecSmall bits (BITS-16, bit 0 is the most significant). */
export const MetricSpecSmall = {
  availIntermittent: 0x8000,
  availStoredData: 0x4000,
  updAperiodic: 0x2000,
  msmtAperiodic: 0x1000,
  msmtPhysEvId: 0x0800,
  msmtBtbMetric: 0x0400,
  accManagerInitiated: 0x0080,
  accAgentInitiated: 0x0040,
  catManual: 0x0008,
  catSetting: 0x0004,
  catCalculation: 0x0002,
} as const;

/** ms-struct values of MetricStructureSmall. */
export const MetricStructure = { simple: 0, compound: 1, compoundFix: 3 } as const;

/** Intermittent, stored, aperiodic, agent-initiated: the spot measurements of 10407, 10408, 10415, 10417. */
const spotMetric =
  MetricSpecSmall.availIntermittent |
  MetricSpecSmall.availStoredData |
  MetricSpecSmall.updAperiodic |
  MetricSpecSmall.msmtAperiodic |
  MetricSpecSmall.accAgentInitiated;

/** Stored, agent-initiated, periodic: the continuous measurements of 10404 configuration 400. */
const continuousMetric = MetricSpecSmall.availStoredData | MetricSpecSmall.accAgentInitiated;

interface NumericSpec {
  handle: number;
  /** Term code in partition SCADA. */
  type: number;
  metricSpecSmall: number;
  unitCode: number;
  valueMap: readonly (readonly [attributeId: number, attributeLen: number])[];
  /** Component terms of a compound numeric of fixed size. */
  components?: readonly number[];
}

function ava(
  attributeId: number,
  value: AttributeValue,
): { attributeId: number; value: AttributeValue } {
  return { attributeId, value };
}

function numericObject(spec: NumericSpec): ConfigObject {
  const compound =
    spec.components === undefined
      ? []
      : [
          ava(O.MDC_ATTR_METRIC_STRUCT_SMALL, {
            kind: 'metric-structure-small',
            value: { msStruct: MetricStructure.compoundFix, msCompNo: spec.components.length },
          }),
          ava(O.MDC_ATTR_ID_PHYSIO_LIST, { kind: 'u16-list', value: [...spec.components] }),
        ];
  const valueMap = spec.valueMap.map(([attributeId, attributeLen]) => ({
    attributeId,
    attributeLen,
  }));
  return {
    objClass: O.MDC_MOC_VMO_METRIC_NU,
    objHandle: spec.handle,
    attributes: [
      ava(O.MDC_ATTR_ID_TYPE, {
        kind: 'type',
        value: { partition: MdcPartition.scada, code: spec.type },
      }),
      ava(O.MDC_ATTR_METRIC_SPEC_SMALL, { kind: 'u16', value: spec.metricSpecSmall }),
      ...compound,
      ava(O.MDC_ATTR_UNIT_CODE, { kind: 'u16', value: spec.unitCode }),
      ava(O.MDC_ATTR_ATTRIBUTE_VAL_MAP, { kind: 'attr-val-map', value: valueMap }),
    ],
  };
}

const basicWithTime = [
  [O.MDC_ATTR_NU_VAL_OBS_BASIC, 2],
  [O.MDC_ATTR_TIME_STAMP_ABS, 8],
] as const;

const specs: readonly (readonly [devConfigId: number, objects: readonly NumericSpec[]])[] = [
  [
    0x0190,
    [
      {
        handle: 1,
        type: S.MDC_PULS_OXIM_SAT_O2,
        metricSpecSmall: continuousMetric,
        unitCode: D.MDC_DIM_PERCENT,
        valueMap: [[O.MDC_ATTR_NU_VAL_OBS_BASIC, 2]],
      },
      {
        handle: 10,
        type: S.MDC_PULS_OXIM_PULS_RATE,
        metricSpecSmall: continuousMetric,
        unitCode: D.MDC_DIM_BEAT_PER_MIN,
        valueMap: [[O.MDC_ATTR_NU_VAL_OBS_BASIC, 2]],
      },
    ],
  ],
  [
    0x02bc,
    [
      {
        handle: 1,
        type: S.MDC_PRESS_BLD_NONINV,
        metricSpecSmall: spotMetric,
        unitCode: D.MDC_DIM_MMHG,
        valueMap: [
          [O.MDC_ATTR_NU_CMPD_VAL_OBS_BASIC, 10],
          [O.MDC_ATTR_TIME_STAMP_ABS, 8],
        ],
        components: [
          S.MDC_PRESS_BLD_NONINV_SYS,
          S.MDC_PRESS_BLD_NONINV_DIA,
          S.MDC_PRESS_BLD_NONINV_MEAN,
        ],
      },
      {
        handle: 2,
        type: S.MDC_PULS_RATE_NON_INV,
        metricSpecSmall: spotMetric,
        unitCode: D.MDC_DIM_BEAT_PER_MIN,
        valueMap: basicWithTime,
      },
    ],
  ],
  [
    0x0320,
    [
      {
        handle: 1,
        type: S.MDC_TEMP_BODY,
        metricSpecSmall: spotMetric,
        unitCode: D.MDC_DIM_DEGC,
        valueMap: basicWithTime,
      },
    ],
  ],
  [
    0x05dc,
    [
      {
        handle: 1,
        type: S.MDC_MASS_BODY_ACTUAL,
        metricSpecSmall: spotMetric,
        unitCode: D.MDC_DIM_KILO_G,
        valueMap: [
          [O.MDC_ATTR_NU_VAL_OBS_SIMP, 4],
          [O.MDC_ATTR_TIME_STAMP_ABS, 8],
        ],
      },
    ],
  ],
  [
    0x06a4,
    [
      {
        handle: 1,
        type: S.MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD,
        metricSpecSmall: spotMetric,
        unitCode: D.MDC_DIM_MILLI_G_PER_DL,
        valueMap: basicWithTime,
      },
    ],
  ],
];

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) {
      deepFreeze(inner);
    }
  }
  return value;
}

const configurations = new Map<number, Configuration>(
  specs.map(([devConfigId, objects]) => [
    devConfigId,
    deepFreeze({ devConfigId, objects: objects.map(numericObject) }),
  ]),
);

/** Returns the standard configuration of a dev-config-id, or undefined when medward has none for it. */
export function standardConfiguration(devConfigId: number): Configuration | undefined {
  return configurations.get(devConfigId);
}

/** Returns the dev-config-ids of all standard configurations medward has. */
export function standardConfigurationIds(): number[] {
  return [...configurations.keys()];
}
