import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ApduFramer } from '../../../src/ieee11073/transport/framer.js';
import { bytesOf, fixture } from '../support.js';

const runs = Math.min(Number(process.env.MEDWARD_FUZZ_RUNS ?? 500), 5000);

function collect(maxApduBytes: number): {
  framer: ApduFramer;
  apdus: Uint8Array[];
  oversize: number[];
} {
  const apdus: Uint8Array[] = [];
  const oversize: number[] = [];
  const framer = new ApduFramer(maxApduBytes, {
    apdu: (bytes) => apdus.push(bytes),
    oversize: (_header, announced) => oversize.push(announced),
  });
  return { framer, apdus, oversize };
}

/** Splits `bytes` at the given cut points. */
function segments(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.byteLength + 1)))].sort(
    (a, b) => a - b,
  );
  const parts: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.byteLength]) {
    parts.push(bytes.subarray(start, point));
    start = point;
  }
  return parts;
}

const vectorApdus = fixture.vectors.map((vector) => bytesOf(vector.hex));

describe('ieee11073 apdu framer', () => {
  test('any segmentation yields the apdus', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...vectorApdus), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (apdus, cuts) => {
          const stream = Buffer.concat(apdus);
          const { framer, apdus: out, oversize } = collect(65539);
          for (const part of segments(new Uint8Array(stream), cuts)) {
            framer.push(part);
          }
          assert.equal(oversize.length, 0);
          assert.deepEqual(
            out.map((bytes) => Buffer.from(bytes).toString('hex')),
            apdus.map((bytes) => Buffer.from(bytes).toString('hex')),
          );
          assert.equal(framer.bufferedBytes, 0);
        },
      ),
      { numRuns: runs },
    );
  });

  test('oversized header stops delivery', () => {
    const { framer, apdus, oversize } = collect(100);
    const small = bytesOf('e40000020000');
    framer.push(Buffer.concat([small, bytesOf('e7000100'), small]));
    assert.equal(apdus.length, 1);
    assert.deepEqual(oversize, [4 + 0x100]);
    framer.push(small);
    assert.equal(apdus.length, 1);
  });

  test('buffer bounded by the cap', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (bytes, cuts) => {
          const { framer } = collect(512);
          for (const part of segments(bytes, cuts)) {
            framer.push(part);
            assert.ok(framer.bufferedBytes < 512, `buffered ${framer.bufferedBytes}`);
          }
        },
      ),
      { numRuns: runs },
    );
  });

  test('delivered apdus are copies', () => {
    const { framer, apdus } = collect(100);
    const segment = bytesOf('e40000020000');
    framer.push(segment);
    segment.fill(0);
    assert.equal(Buffer.from(apdus[0] ?? []).toString('hex'), 'e40000020000');
  });
});
