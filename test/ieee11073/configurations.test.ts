import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeApdu,
  encodeApdu,
  extractObservations,
  findAttribute,
  MdcObject,
  specializationForDevConfigId,
  standardConfiguration,
  standardConfigurationIds,
  type Apdu,
} from '../../src/ieee11073/index.js';
import { hexOf } from './support.js';

function configReportApdu(devConfigId: number): Apdu {
  const configuration = standardConfiguration(devConfigId);
  assert.ok(configuration);
  return {
    kind: 'prst',
    data: {
      invokeId: 1,
      message: {
        kind: 'roiv-confirmed-event-report',
        objHandle: 0,
        eventTime: 0xffffffff,
        eventType: MdcObject.MDC_NOTI_CONFIG,
        eventInfo: {
          kind: 'config-report',
          configReportId: devConfigId,
          configObjList: [...configuration.objects],
        },
      },
    },
  };
}

describe('ieee11073 standard configurations', () => {
  test('confirmed configurations are present', () => {
    assert.deepEqual(standardConfigurationIds(), [0x0190, 0x02bc, 0x0320, 0x05dc, 0x06a4]);
    assert.equal(standardConfiguration(0x0191), undefined);
    assert.equal(standardConfiguration(0x4000), undefined);
  });

  for (const id of standardConfigurationIds()) {
    test(`configuration 0x${id.toString(16)} encodes as report`, () => {
      const apdu = configReportApdu(id);
      const bytes = encodeApdu(apdu);
      assert.deepEqual(decodeApdu(bytes).apdu, apdu);
      assert.ok(
        specializationForDevConfigId(id),
        `0x${id.toString(16)} lies in no specialization range`,
      );
    });

    test(`configuration 0x${id.toString(16)} has value maps`, () => {
      const configuration = standardConfiguration(id);
      assert.ok(configuration);
      assert.ok(Object.isFrozen(configuration.objects));
      for (const object of configuration.objects) {
        const map = findAttribute(object.attributes, MdcObject.MDC_ATTR_ATTRIBUTE_VAL_MAP);
        assert.equal(map?.kind, 'attr-val-map');
        assert.ok(map.value.length > 0);
      }
    });
  }

  test('blood pressure layout matches public sources', () => {
    const bytes = encodeApdu(configReportApdu(0x02bc));
    const objects = hexOf(bytes).slice(hexOf(bytes).indexOf('02bc0002') + 12);
    const expected = [
      // handle 1: 6 attributes in 56 bytes
      '0006 0001 0006 0038',
      '092f 0004 0002 4a04',
      '0a46 0002 f040',
      '0a73 0002 0303',
      '0a76 000a 0003 0006 4a05 4a06 4a07',
      '0996 0002 0f20',
      '0a55 000c 0002 0008 0a75 000a 0990 0008',
      // handle 2: 4 attributes in 36 bytes
      '0006 0002 0004 0024',
      '092f 0004 0002 482a',
      '0a46 0002 f040',
      '0996 0002 0aa0',
      '0a55 000c 0002 0008 0a4c 0002 0990 0008',
    ];
    assert.equal(objects, expected.join('').replaceAll(' ', ''));
  });

  test('pulse oximeter 400 reads continuous values', () => {
    const configuration = standardConfiguration(0x0190);
    assert.ok(configuration);
    const info = {
      kind: 'scan-fixed' as const,
      dataReqId: 0xf000,
      scanReportNo: 0,
      obsScanFixed: [
        { objHandle: 1, obsValData: new Uint8Array([0x00, 0x61]) },
        { objHandle: 10, obsValData: new Uint8Array([0x00, 0x41]) },
      ],
    };
    const { observations, quirks } = extractObservations(configuration, {
      objHandle: 0,
      eventInfo: info,
    });
    assert.deepEqual(quirks, []);
    assert.deepEqual(
      observations.map((entry) =>
        entry.value?.kind === 'numeric' && entry.value.value.kind === 'finite'
          ? entry.value.value.decimal
          : '',
      ),
      ['97', '65'],
    );
  });
});
