import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  listSpecializations,
  lookupTerm,
  lookupTermByReferenceId,
  mdcCode,
  MdcDimension,
  MdcObject,
  MdcPartition,
  MdcScada,
  referenceIdOf,
  specializationByStandard,
  specializationForDevConfigId,
  specializationsOf,
  typeCode,
  ucumForUnitCode,
} from '../../src/ieee11073/index.js';

describe('ieee11073 nomenclature', () => {
  test('codes combine partition and term', () => {
    assert.equal(mdcCode(MdcPartition.scada, MdcScada.MDC_MASS_BODY_ACTUAL), 188736);
    assert.equal(typeCode({ partition: 2, code: 0x4bb8 }), 150456);
    assert.equal(referenceIdOf(150456), 'MDC_PULS_OXIM_SAT_O2');
    assert.equal(referenceIdOf(mdcCode(MdcPartition.object, 3357)), 'MDC_NOTI_SCAN_REPORT_FIXED');
    assert.equal(referenceIdOf(1), undefined);
  });

  test('public MDC codes match', () => {
    const expected: [string, number][] = [
      ['MDC_PULS_OXIM_PULS_RATE', 149530],
      ['MDC_PRESS_BLD_NONINV', 150020],
      ['MDC_PULS_RATE_NON_INV', 149546],
      ['MDC_TEMP_BODY', 150364],
      ['MDC_TEMP_TYMP', 150392],
      ['MDC_TEMP_RECT', 188420],
      ['MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD', 160184],
      ['MDC_BODY_FAT', 188748],
      ['MDC_RATIO_MASS_BODY_LEN_SQ', 188752],
      ['MDC_DEV_SPEC_PROFILE_PULS_OXIM', 528388],
      ['MDC_DEV_SPEC_PROFILE_SCALE', 528399],
      ['MDC_DEV_SPEC_PROFILE_BCA', 528404],
      ['MDC_DIM_KILO_G', 263875],
    ];
    for (const [referenceId, code] of expected) {
      assert.equal(lookupTermByReferenceId(referenceId)?.code, code, referenceId);
    }
  });

  test('units map to UCUM', () => {
    const expected: [number, string][] = [
      [MdcDimension.MDC_DIM_PERCENT, '%'],
      [MdcDimension.MDC_DIM_BEAT_PER_MIN, '/min'],
      [MdcDimension.MDC_DIM_MMHG, 'mm[Hg]'],
      [MdcDimension.MDC_DIM_KILO_PASCAL, 'kPa'],
      [MdcDimension.MDC_DIM_DEGC, 'Cel'],
      [MdcDimension.MDC_DIM_FAHR, '[degF]'],
      [MdcDimension.MDC_DIM_KILO_G, 'kg'],
      [MdcDimension.MDC_DIM_LB, '[lb_av]'],
      [MdcDimension.MDC_DIM_CENTI_M, 'cm'],
      [MdcDimension.MDC_DIM_INCH, '[in_i]'],
      [MdcDimension.MDC_DIM_KG_PER_M_SQ, 'kg/m2'],
      [MdcDimension.MDC_DIM_MILLI_G_PER_DL, 'mg/dL'],
      [MdcDimension.MDC_DIM_MILLI_MOLE_PER_L, 'mmol/L'],
    ];
    for (const [unit, ucum] of expected) {
      assert.equal(ucumForUnitCode(unit), ucum, String(unit));
    }
    assert.equal(ucumForUnitCode(263875), 'kg');
    assert.equal(ucumForUnitCode(9999), undefined);
  });

  test('terms name their specializations', () => {
    const spo2 = lookupTerm(150456);
    assert.deepEqual(spo2?.specializations, ['10404']);
    assert.deepEqual(
      specializationsOf(188736).map((entry) => entry.standard),
      ['10415', '10420'],
    );
    assert.deepEqual(specializationsOf(mdcCode(MdcPartition.object, 3356)), []);
  });

  test('specializations cover the six standards', () => {
    assert.deepEqual(
      listSpecializations().map((entry) => entry.standard),
      ['10404', '10407', '10408', '10415', '10417', '10420'],
    );
    assert.equal(specializationByStandard('10407')?.profileCode, 528391);
    assert.equal(specializationForDevConfigId(0x02bc)?.standard, '10407');
    assert.equal(specializationForDevConfigId(1500)?.name, 'weighing scale');
    assert.equal(specializationForDevConfigId(0x4000), undefined);
  });

  test('every term code is unique', () => {
    const names = Object.keys(MdcObject);
    const codes = new Set(names.map((name) => lookupTermByReferenceId(name)?.code));
    assert.equal(codes.size, names.length);
  });
});
