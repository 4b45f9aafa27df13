import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeApdu } from '../../../src/ieee11073/encode.js';
import { eventReportResultApdu } from '../../../src/ieee11073/manager/apdus.js';

test('report result matches encodeApdu', () => {
  const cases = [
    [0, 0, 0, 0],
    [1, 0, 0x00490050, 0x0d1d],
    [0xffff, 0xffff, 0xffffffff, 0xffff],
    [0x1234, 7, 123456789, 0x0d1f],
  ];
  for (const [invokeId = 0, objHandle = 0, eventTime = 0, eventType = 0] of cases) {
    const expected = encodeApdu({
      kind: 'prst',
      data: {
        invokeId,
        message: {
          kind: 'rors-confirmed-event-report',
          objHandle,
          currentTime: eventTime,
          eventType,
          eventReplyInfo: { kind: 'raw', bytes: new Uint8Array(0) },
        },
      },
    });
    const actual = eventReportResultApdu(invokeId, objHandle, eventTime, eventType);
    assert.deepEqual(new Uint8Array(actual), expected, `case ${[invokeId, objHandle].join(',')}`);
  }
});

test('report results do not share bytes', () => {
  const first = eventReportResultApdu(1, 0, 10, 0x0d1d);
  const second = eventReportResultApdu(2, 0, 20, 0x0d1d);
  assert.notDeepEqual(new Uint8Array(first), new Uint8Array(second));
  assert.equal(first[7], 1);
});
