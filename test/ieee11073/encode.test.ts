import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeApdu,
  encodeApdu,
  finiteNumber,
  MdcObject as O,
  peekApduLength,
  type Apdu,
} from '../../src/ieee11073/index.js';
import { bytesOf, hexOf } from './support.js';
import { sampleApdus } from './samples.js';

function roundTrip(apdu: Apdu): Apdu {
  const bytes = encodeApdu(apdu);
  const decoded = decodeApdu(bytes);
  assert.deepEqual(decoded.quirks, []);
  assert.equal(hexOf(encodeApdu(decoded.apdu)), hexOf(bytes));
  return decoded.apdu;
}

describe('ieee11073 encoder', () => {
  for (const sample of sampleApdus) {
    test(`sample ${sample.name} round trip`, () => {
      assert.deepEqual(roundTrip(sample.apdu), sample.apdu);
    });
  }

  test('release and abort encode', () => {
    assert.equal(hexOf(encodeApdu({ kind: 'rlrq', reason: 0 })), 'e40000020000');
    assert.equal(hexOf(encodeApdu({ kind: 'rlre', reason: 0 })), 'e50000020000');
    assert.equal(hexOf(encodeApdu({ kind: 'abrt', reason: 3 })), 'e60000020003');
  });

  test('config response encodes like the standard', () => {
    const bytes = encodeApdu({
      kind: 'prst',
      data: {
        invokeId: 0x4321,
        message: {
          kind: 'rors-confirmed-event-report',
          objHandle: 0,
          currentTime: 0,
          eventType: O.MDC_NOTI_CONFIG,
          eventReplyInfo: { kind: 'config-report-rsp', configReportId: 0x4000, configResult: 0 },
        },
      },
    });
    assert.equal(hexOf(bytes), 'e7000016001443210201000e0000000000000d1c000440000000');
  });

  test('large APDU grows the writer', () => {
    const label = new Uint8Array(5000).fill(0x41);
    const apdu: Apdu = {
      kind: 'prst',
      data: {
        invokeId: 1,
        message: {
          kind: 'rors-get',
          objHandle: 0,
          attributeList: [
            {
              attributeId: O.MDC_ATTR_ID_LABEL_STRING,
              value: { kind: 'octet-string', value: label },
            },
          ],
        },
      },
    };
    const bytes = encodeApdu(apdu);
    assert.equal(bytes.byteLength, 5000 + 24);
    assert.equal(peekApduLength(bytes), bytes.byteLength);
    assert.deepEqual(decodeApdu(bytes).apdu, apdu);
  });

  test('peek needs a whole header', () => {
    assert.equal(peekApduLength(bytesOf('e700')), undefined);
    assert.equal(peekApduLength(bytesOf('e7000010')), 20);
  });
});

describe('ieee11073 encoder errors', () => {
  test('value out of range is rejected', () => {
    assert.throws(() => encodeApdu({ kind: 'rlrq', reason: 0x10000 }), {
      code: 'MDER_ENCODE_INVALID',
    });
    assert.throws(() => encodeApdu({ kind: 'abrt', reason: -1 }), { code: 'MDER_ENCODE_INVALID' });
  });

  test('attribute kind mismatch is rejected', () => {
    const apdu: Apdu = {
      kind: 'prst',
      data: {
        invokeId: 1,
        message: {
          kind: 'rors-get',
          objHandle: 0,
          attributeList: [{ attributeId: O.MDC_ATTR_TIME_ABS, value: { kind: 'u16', value: 1 } }],
        },
      },
    };
    assert.throws(() => encodeApdu(apdu), { code: 'MDER_ENCODE_INVALID' });
  });

  test('raw bytes fit any attribute', () => {
    const apdu: Apdu = {
      kind: 'prst',
      data: {
        invokeId: 1,
        message: {
          kind: 'rors-get',
          objHandle: 0,
          attributeList: [
            {
              attributeId: O.MDC_ATTR_DEV_CONFIG_ID,
              value: { kind: 'raw', bytes: bytesOf('4000') },
            },
          ],
        },
      },
    };
    const decoded = decodeApdu(encodeApdu(apdu)).apdu;
    assert.equal(decoded.kind, 'prst');
    assert.equal(decoded.data.message.kind, 'rors-get');
    assert.deepEqual(decoded.data.message.attributeList[0]?.value, { kind: 'u16', value: 0x4000 });
  });

  test('event info kind mismatch is rejected', () => {
    const apdu: Apdu = {
      kind: 'prst',
      data: {
        invokeId: 1,
        message: {
          kind: 'roiv-event-report',
          objHandle: 0,
          eventTime: 0,
          eventType: O.MDC_NOTI_CONFIG,
          eventInfo: { kind: 'scan-fixed', dataReqId: 0, scanReportNo: 0, obsScanFixed: [] },
        },
      },
    };
    assert.throws(() => encodeApdu(apdu), { code: 'MDER_ENCODE_INVALID' });
  });

  test('action argument mismatch is rejected', () => {
    const apdu: Apdu = {
      kind: 'prst',
      data: {
        invokeId: 1,
        message: {
          kind: 'roiv-confirmed-action',
          objHandle: 0,
          actionType: O.MDC_ACT_DATA_REQUEST,
          actionInfoArgs: { kind: 'trig-segm-data-xfer-req', segInstNo: 0 },
        },
      },
    };
    assert.throws(() => encodeApdu(apdu), { code: 'MDER_ENCODE_INVALID' });
  });

  test('oversized content is rejected', () => {
    const apdu: Apdu = {
      kind: 'prst',
      data: {
        invokeId: 1,
        message: {
          kind: 'rors-get',
          objHandle: 0,
          attributeList: [
            {
              attributeId: O.MDC_ATTR_ID_LABEL_STRING,
              value: { kind: 'raw', bytes: new Uint8Array(70000) },
            },
          ],
        },
      },
    };
    assert.throws(() => encodeApdu(apdu), { code: 'MDER_ENCODE_INVALID' });
  });

  test('bad float in attribute is rejected', () => {
    const apdu: Apdu = {
      kind: 'prst',
      data: {
        invokeId: 1,
        message: {
          kind: 'rors-get',
          objHandle: 0,
          attributeList: [
            {
              attributeId: O.MDC_ATTR_NU_VAL_OBS_BASIC,
              value: { kind: 'sfloat', value: finiteNumber(5000, 0) },
            },
          ],
        },
      },
    };
    assert.throws(() => encodeApdu(apdu), { code: 'MDER_ENCODE_INVALID' });
  });
});
