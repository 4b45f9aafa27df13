import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortReason,
  decodeApdu,
  encodeApdu,
  extractObservations,
  reactionFor,
  RorjProblem,
  standardConfiguration,
  type DecodeOptions,
  type MderReaction,
} from '../../src/ieee11073/index.js';
import { bytesOf, hexOf, infoOf, vectorById } from './support.js';

interface Expected {
  code: string;
  reaction: MderReaction;
  offset?: number;
  field?: string;
  value?: number;
}

function expectError(hex: string | Uint8Array, expected: Expected, options?: DecodeOptions): void {
  const bytes = typeof hex === 'string' ? bytesOf(hex.replaceAll(' ', '')) : hex;
  assert.throws(
    () => decodeApdu(bytes, options),
    (error: unknown) => {
      const { code, details } = error as { code: string; details: Record<string, unknown> };
      assert.equal(code, expected.code);
      assert.deepEqual(reactionFor(error), expected.reaction);
      for (const key of ['offset', 'field', 'value'] as const) {
        if (expected[key] !== undefined) {
          assert.equal(details[key], expected[key], `details.${key}`);
        }
      }
      return true;
    },
  );
}

const abortUndefined: MderReaction = { kind: 'abort', reason: AbortReason.undefined };

function rejectBadly(invokeId: number): MderReaction {
  return { kind: 'reject', problem: RorjProblem.badlyStructuredApdu, invokeId };
}

describe('ieee11073 malformed framing', () => {
  test('empty input is truncated', () => {
    expectError('', { code: 'MDER_TRUNCATED', reaction: abortUndefined, offset: 0 });
    expectError('e700', { code: 'MDER_TRUNCATED', reaction: abortUndefined, offset: 2 });
  });

  test('unknown APDU choice aborts', () => {
    expectError('e8000002 0000', {
      code: 'MDER_UNKNOWN_APDU',
      reaction: abortUndefined,
      offset: 0,
      value: 0xe800,
    });
  });

  test('buffer above maximum aborts', () => {
    const bytes = new Uint8Array(63 * 1024 + 1);
    bytes.set([0xe7, 0x00, 0xfc, 0x00]);
    expectError(bytes, {
      code: 'MDER_TOO_LARGE',
      reaction: { kind: 'abort', reason: AbortReason.bufferOverflow },
      value: bytes.byteLength,
    });
  });

  test('declared size above option aborts', () => {
    expectError(
      'e7000400 0000',
      { code: 'MDER_TOO_LARGE', reaction: { kind: 'abort', reason: AbortReason.bufferOverflow } },
      { maxApduBytes: 896 },
    );
  });

  test('option admits an APDU of its size', () => {
    const vector = vectorById('scan-fixed-glucose');
    const size = vector.hex.length / 2;
    assert.equal(decodeApdu(bytesOf(vector.hex), { maxApduBytes: size }).apdu.kind, 'prst');
    expectError(
      vector.hex,
      { code: 'MDER_TOO_LARGE', reaction: { kind: 'abort', reason: 1 } },
      { maxApduBytes: size - 1 },
    );
  });

  test('bytes after the APDU abort', () => {
    expectError('e4000002 0000 00', {
      code: 'MDER_LENGTH_MISMATCH',
      reaction: abortUndefined,
      offset: 6,
    });
  });

  test('PRST length disagreement aborts', () => {
    expectError('e7000008 0004 1234 0400 0002', {
      code: 'MDER_LENGTH_MISMATCH',
      reaction: abortUndefined,
      offset: 4,
      field: 'prst',
    });
  });

  test('release with extra content aborts', () => {
    expectError('e4000004 0000 0000', {
      code: 'MDER_LENGTH_MISMATCH',
      reaction: abortUndefined,
      field: 'apdu',
    });
  });

  test('truncated AARQ aborts', () => {
    const vector = vectorById('aarq-annex-ext-config');
    const bytes = bytesOf(vector.hex);
    bytes[15] = 0x30;
    expectError(bytes, {
      code: 'MDER_LENGTH_MISMATCH',
      reaction: abortUndefined,
      field: 'data-proto-info',
    });
  });
});

describe('ieee11073 reaction lookup', () => {
  test('other errors have no reaction', () => {
    assert.equal(reactionFor(new Error('boom')), undefined);
    assert.equal(reactionFor('text'), undefined);
    assert.throws(
      () => encodeApdu({ kind: 'rlrq', reason: -1 }),
      (error: unknown) => {
        assert.equal(reactionFor(error), undefined);
        return true;
      },
    );
  });
});

describe('ieee11073 malformed DataApdu', () => {
  test('unknown message choice is rejected', () => {
    expectError('e700000a 0008 1234 0999 0002 0000', {
      code: 'MDER_UNKNOWN_CHOICE',
      reaction: { kind: 'reject', problem: RorjProblem.unrecognizedApdu, invokeId: 0x1234 },
      offset: 8,
      value: 0x0999,
    });
  });

  test('huge list count fails fast', () => {
    expectError('e7000012 0010 3456 0103 000a 0000 ffff 0004 0001 0002', {
      code: 'MDER_COUNT_MISMATCH',
      reaction: rejectBadly(0x3456),
      value: 0xffff,
      field: 'attribute-id-list',
    });
  });

  test('list with spare bytes is rejected', () => {
    expectError('e7000012 0010 3456 0103 000a 0000 0001 0004 0001 0002', {
      code: 'MDER_LENGTH_MISMATCH',
      reaction: rejectBadly(0x3456),
      field: 'attribute-id-list',
    });
  });

  test('message shorter than its length is rejected', () => {
    expectError('e700000c 000a 1234 0400 0004 0002 0000', {
      code: 'MDER_LENGTH_MISMATCH',
      reaction: rejectBadly(0x1234),
      field: 'message',
    });
  });

  test('message length beyond APDU is rejected', () => {
    expectError('e700000a 0008 1234 0400 0010 0002', {
      code: 'MDER_LENGTH_MISMATCH',
      reaction: rejectBadly(0x1234),
      field: 'message',
      value: 0x10,
    });
  });

  test('attribute value longer than its type is rejected', () => {
    expectError('e700001b 0019 0001 0203 0013 0000 0001 000d 0987 0009 2007020112050000 00', {
      code: 'MDER_LENGTH_MISMATCH',
      reaction: rejectBadly(1),
      field: 'attribute-value',
    });
  });

  test('attribute length beyond its list is rejected', () => {
    expectError('e700001a 0018 0001 0203 0012 0000 0001 000c 0987 0010 2007020112050000', {
      code: 'MDER_LENGTH_MISMATCH',
      reaction: rejectBadly(1),
      field: 'attribute-value',
      value: 0x10,
    });
  });

  test('invalid BCD names its offset', () => {
    expectError('e700001a 0018 0001 0203 0012 0000 0001 000c 0987 0008 2007020112a50000', {
      code: 'MDER_INVALID_BCD',
      reaction: rejectBadly(1),
      offset: 27,
      value: 0xa5,
      field: 'absolute-time.minute',
    });
  });

  test('short config reply is rejected', () => {
    expectError('e7000014 0012 4321 0201 000c 0000 00000000 0d1c 0002 4000', {
      code: 'MDER_TRUNCATED',
      reaction: rejectBadly(0x4321),
      field: 'config-result',
    });
  });

  test('decoder stays inside its view', () => {
    const vector = vectorById('scan-fixed-glucose');
    const full = bytesOf(vector.hex);
    const backing = new Uint8Array(full.byteLength + 16);
    backing.set(full);
    const view = backing.subarray(0, full.byteLength - 4);
    expectError(view, { code: 'MDER_TRUNCATED', reaction: abortUndefined });
  });
});

describe('ieee11073 tolerated quirks', () => {
  const glucoseWithTrailing =
    'e700002a 0028 1236 0101 0022 0000 00000000 0d1d 0018 f000 0000 0001 000e 0001 000a f352 2007120612100000 abcd';

  test('event info trailing bytes are flagged', () => {
    const bytes = bytesOf(glucoseWithTrailing.replaceAll(' ', ''));
    const { apdu, quirks } = decodeApdu(bytes);
    assert.deepEqual(
      quirks.map((quirk) => [quirk.code, quirk.bytes]),
      [['EVENT_INFO_TRAILING_BYTES', 2]],
    );
    const info = infoOf(apdu, 'scan-fixed');
    assert.equal(hexOf(info.trailing ?? new Uint8Array(0)), 'abcd');
    assert.equal(hexOf(encodeApdu(apdu)), hexOf(bytes));
  });

  test('trailing bytes keep the observations', () => {
    const { apdu } = decodeApdu(bytesOf(glucoseWithTrailing.replaceAll(' ', '')));
    assert.equal(apdu.kind, 'prst');
    const message = apdu.data.message;
    assert.equal(message.kind, 'roiv-confirmed-event-report');
    const configuration = standardConfiguration(0x06a4);
    assert.ok(configuration);
    const { observations } = extractObservations(configuration, message);
    assert.equal(observations.length, 1);
  });

  test('unknown attribute ids are skipped raw', () => {
    const hex = 'e700001b 0019 0001 0203 0013 0000 0002 000d f00f 0003 010203 0a44 0002 4000';
    const bytes = bytesOf(hex.replaceAll(' ', ''));
    const { apdu } = decodeApdu(bytes);
    assert.equal(apdu.kind, 'prst');
    assert.equal(apdu.data.message.kind, 'rors-get');
    assert.deepEqual(apdu.data.message.attributeList, [
      { attributeId: 0xf00f, value: { kind: 'raw', bytes: bytesOf('010203') } },
      { attributeId: 0x0a44, value: { kind: 'u16', value: 0x4000 } },
    ]);
    assert.equal(hexOf(encodeApdu(apdu)), hexOf(bytes));
  });
});
