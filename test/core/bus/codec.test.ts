import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decodeData, encodeData } from '../../../src/core/bus/codec.js';
import { isMedwardError } from '../../../src/core/errors.js';

void describe('message codec', () => {
  void test('JSON values round trip', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const expected = JSON.parse(JSON.stringify(value)) as unknown;
        assert.deepEqual(decodeData(encodeData(value)), expected);
      }),
      { numRuns: 500 },
    );
  });

  void test('arbitrary bytes decode or reject', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeData(bytes);
        } catch (error) {
          assert.ok(isMedwardError(error));
          assert.equal(error.code, 'BUS_UNDECODABLE_MESSAGE');
        }
      }),
      { numRuns: 2_000 },
    );
  });

  void test('invalid UTF-8 rejected', () => {
    assert.throws(
      () => decodeData(new Uint8Array([0x22, 0xff, 0x22])),
      (error: unknown) => {
        assert.ok(isMedwardError(error));
        assert.equal(error.code, 'BUS_UNDECODABLE_MESSAGE');
        return true;
      },
    );
  });

  void test('non-JSON path named in error', () => {
    assert.throws(
      () => encodeData({ reading: { at: new Date(0) } }),
      (error: unknown) => {
        assert.ok(isMedwardError(error));
        assert.equal(error.code, 'BUS_INVALID_PAYLOAD');
        assert.equal(error.details.path, '$.reading.at');
        assert.match(error.message, /instance of Date/u);
        return true;
      },
    );
  });
});
