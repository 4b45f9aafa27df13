import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  configurationFromReport,
  decodeApdu,
  encodeApdu,
  extractObservations,
  formatAbsoluteTime,
  mdcCode,
  MdcDimension as D,
  MdcPartition,
  MdcScada as S,
  reactionFor,
  RorjProblem,
  type Apdu,
  type EventInfo,
  type Observation,
  type ObservedValue,
  type ScanReportSource,
} from '../../src/ieee11073/index.js';
import { bytesOf } from './support.js';
import { sampleApdus, sampleConfigReport } from './samples.js';

assert.equal(sampleConfigReport.kind, 'config-report');
const configuration = configurationFromReport(sampleConfigReport);

/** Decodes the encoded sample, so extraction runs on decoder output. */
function sampleReport(name: string): ScanReportSource {
  const sample = sampleApdus.find((entry) => entry.name === name);
  assert.ok(sample, `no sample ${name}`);
  const apdu: Apdu = decodeApdu(encodeApdu(sample.apdu)).apdu;
  assert.equal(apdu.kind, 'prst');
  const message = apdu.data.message;
  if (message.kind === 'rors-confirmed-action' && message.actionInfoArgs.kind === 'data-response') {
    return { objHandle: message.objHandle, eventInfo: message.actionInfoArgs.eventInfo };
  }
  assert.ok(message.kind === 'roiv-event-report' || message.kind === 'roiv-confirmed-event-report');
  return message;
}

function decimalOf(value: ObservedValue | undefined): string {
  assert.equal(value?.kind, 'numeric');
  return value.value.kind === 'finite' ? value.value.decimal : value.value.kind;
}

function fixedInfo(entries: { objHandle: number; hex: string }[]): EventInfo {
  return {
    kind: 'scan-fixed',
    dataReqId: 0xf000,
    scanReportNo: 0,
    obsScanFixed: entries.map(({ objHandle, hex }) => ({ objHandle, obsValData: bytesOf(hex) })),
  };
}

function byHandle(observations: Observation[], handle: number): Observation {
  const observation = observations.find((entry) => entry.handle === handle);
  assert.ok(observation, `no observation for handle ${handle}`);
  return observation;
}

describe('ieee11073 fixed scan extraction', () => {
  const { observations, quirks } = extractObservations(
    configuration,
    sampleReport('scan fixed report'),
  );

  test('fixed report has no quirks', () => {
    assert.deepEqual(quirks, []);
    assert.deepEqual(
      observations.map((entry) => entry.handle),
      [1, 2, 3, 4],
    );
  });

  test('fixed numeric takes type and unit', () => {
    const weight = byHandle(observations, 1);
    assert.equal(decimalOf(weight.value), '76.2');
    assert.equal(weight.type, mdcCode(MdcPartition.scada, S.MDC_MASS_BODY_ACTUAL));
    assert.equal(weight.unitCode, D.MDC_DIM_KILO_G);
    assert.ok(weight.absoluteTime);
    assert.equal(formatAbsoluteTime(weight.absoluteTime), '2024-03-05T06:07:08.45');
  });

  test('fixed compound names components', () => {
    const pressure = byHandle(observations, 2);
    assert.equal(pressure.value?.kind, 'compound');
    assert.deepEqual(
      pressure.value.components.map((component) => component.metricId),
      [S.MDC_PRESS_BLD_NONINV_SYS, S.MDC_PRESS_BLD_NONINV_DIA, S.MDC_PRESS_BLD_NONINV_MEAN].map(
        (term) => mdcCode(MdcPartition.scada, term),
      ),
    );
  });

  test('fixed relative time and enum', () => {
    const temperature = byHandle(observations, 3);
    assert.equal(decimalOf(temperature.value), '36.7');
    assert.equal(temperature.relativeTime, 8000);
    assert.deepEqual(byHandle(observations, 4).value, {
      kind: 'enum-bits',
      bits: 0x8001,
      width: 16,
    });
  });
});

describe('ieee11073 variable scan extraction', () => {
  const { observations, quirks } = extractObservations(
    configuration,
    sampleReport('scan var report'),
  );

  test('var report values are typed', () => {
    assert.deepEqual(quirks, []);
    const weight = byHandle(observations, 1);
    assert.equal(decimalOf(weight.value), '76.2');
    assert.equal(weight.measurementStatus, 0x0400);
    const pressure = byHandle(observations, 2);
    assert.equal(pressure.value?.kind, 'compound');
    assert.equal(pressure.value.components[1]?.value.kind, 'nan');
    assert.equal(pressure.highResRelativeTime, 123456789n);
  });

  test('nu-obs-value carries its own unit', () => {
    const temperature = byHandle(observations, 3);
    assert.equal(temperature.value?.kind, 'numeric');
    assert.equal(temperature.value.unitCode, D.MDC_DIM_FAHR);
    assert.equal(temperature.value.metricId, mdcCode(MdcPartition.scada, S.MDC_TEMP_BODY));
    assert.deepEqual(temperature.baseOffsetTime, { boSeconds: 1, boFraction: 2, boTimeOffset: 60 });
  });

  test('last value attribute wins', () => {
    const status = byHandle(observations, 4);
    assert.equal(status.value?.kind, 'compound');
    assert.equal(status.attributes.length, 2);
  });
});

describe('ieee11073 grouped and multi-person extraction', () => {
  test('grouped report follows scanner map', () => {
    const { observations, quirks } = extractObservations(
      configuration,
      sampleReport('buffered grouped report'),
    );
    assert.deepEqual(quirks, []);
    assert.deepEqual(
      observations.map((entry) => entry.handle),
      [1, 3, 1, 3],
    );
    assert.deepEqual(
      observations.map((entry) => decimalOf(entry.value)),
      ['76.2', '36.7', '76.2', '36.7'],
    );
  });

  test('multi-person reports keep person ids', () => {
    const fixed = extractObservations(configuration, sampleReport('multi-person fixed report'));
    assert.deepEqual(
      fixed.observations.map((entry) => entry.personId),
      [1, 2],
    );
    const grouped = extractObservations(configuration, sampleReport('multi-person grouped report'));
    assert.deepEqual(
      grouped.observations.map((entry) => entry.personId),
      [4, 4],
    );
    const variable = extractObservations(configuration, sampleReport('multi-person var report'));
    assert.deepEqual(
      variable.observations.map((entry) => entry.personId),
      [3, 3],
    );
  });

  test('data response yields observations', () => {
    const { observations } = extractObservations(
      configuration,
      sampleReport('data response action'),
    );
    assert.equal(observations.length, 1);
    assert.equal(decimalOf(observations[0]?.value), '76.2');
  });

  test('other event information yields none', () => {
    const result = extractObservations(configuration, {
      objHandle: 0,
      eventInfo: sampleConfigReport,
    });
    assert.deepEqual(result, { observations: [], quirks: [] });
  });
});

describe('ieee11073 extraction quirks', () => {
  test('value longer than map is flagged', () => {
    const info = fixedInfo([{ objHandle: 1, hex: 'ff0002fa2024030506070845beef' }]);
    const { observations, quirks } = extractObservations(configuration, {
      objHandle: 0,
      eventInfo: info,
    });
    assert.equal(decimalOf(observations[0]?.value), '76.2');
    assert.deepEqual(
      quirks.map((quirk) => [quirk.code, quirk.handle, quirk.bytes]),
      [['VALUE_LONGER_THAN_MAP', 1, 2]],
    );
  });

  test('unknown handle is flagged and skipped', () => {
    const info = fixedInfo([
      { objHandle: 99, hex: '0102' },
      { objHandle: 5, hex: '0102' },
      { objHandle: 4, hex: '0001' },
    ]);
    const { observations, quirks } = extractObservations(configuration, {
      objHandle: 0,
      eventInfo: info,
    });
    assert.deepEqual(
      observations.map((entry) => entry.handle),
      [4],
    );
    assert.deepEqual(
      quirks.map((quirk) => quirk.code),
      ['HANDLE_NOT_IN_CONFIGURATION', 'VALUE_MAP_MISSING'],
    );
  });

  test('grouped without scanner map is flagged', () => {
    const info: EventInfo = {
      kind: 'scan-grouped',
      dataReqId: 0,
      scanReportNo: 0,
      obsScanGrouped: [bytesOf('00')],
    };
    const { observations, quirks } = extractObservations(configuration, {
      objHandle: 1,
      eventInfo: info,
    });
    assert.deepEqual(observations, []);
    assert.deepEqual(
      quirks.map((quirk) => quirk.code),
      ['SCANNER_NOT_IN_CONFIGURATION'],
    );
  });

  test('grouped extra bytes are flagged', () => {
    const info: EventInfo = {
      kind: 'scan-grouped',
      dataReqId: 0,
      scanReportNo: 0,
      obsScanGrouped: [bytesOf('ff0002faf16f00')],
    };
    const { observations, quirks } = extractObservations(configuration, {
      objHandle: 5,
      eventInfo: info,
    });
    assert.equal(observations.length, 2);
    assert.deepEqual(
      quirks.map((quirk) => [quirk.code, quirk.bytes]),
      [['VALUE_LONGER_THAN_MAP', 1]],
    );
  });

  test('zero and impossible time stamps are flagged', () => {
    const info = fixedInfo([
      { objHandle: 1, hex: 'ff0002fa0000000000000000' },
      { objHandle: 1, hex: 'ff0002fa2024023006070845' },
    ]);
    const { observations, quirks } = extractObservations(configuration, {
      objHandle: 0,
      eventInfo: info,
    });
    assert.equal(observations.length, 2);
    assert.deepEqual(
      quirks.map((quirk) => quirk.code),
      ['ZERO_TIME_STAMP', 'INVALID_TIME_STAMP'],
    );
  });
});

describe('ieee11073 extraction errors', () => {
  test('value shorter than map is rejected', () => {
    const info = fixedInfo([{ objHandle: 1, hex: 'ff0002fa20240305' }]);
    assert.throws(
      () => extractObservations(configuration, { objHandle: 0, eventInfo: info }),
      (error: unknown) => {
        assert.equal((error as { code: string }).code, 'MDER_TRUNCATED');
        assert.deepEqual(reactionFor(error), {
          kind: 'reject',
          problem: RorjProblem.badlyStructuredApdu,
        });
        return true;
      },
    );
  });

  test('invalid BCD time stamp is rejected', () => {
    const info = fixedInfo([{ objHandle: 1, hex: 'ff0002fa20240305060f0845' }]);
    assert.throws(
      () => extractObservations(configuration, { objHandle: 0, eventInfo: info }),
      (error: unknown) => {
        assert.equal((error as { code: string }).code, 'MDER_INVALID_BCD');
        assert.equal((error as { details: { offset: number } }).details.offset, 9);
        return true;
      },
    );
  });
});
