import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isMedwardError } from '../../src/core/errors.js';
import {
  cseIdentity,
  httpPathToTarget,
  idToMqttTopicPart,
  parseTargetAddress,
} from '../../src/onem2m/address.js';
import {
  parseFilterCriteria,
  parseJsonBody,
  parseRequestPrimitive,
  recoverRequestId,
} from '../../src/onem2m/primitive.js';
import { rscOf } from '../../src/onem2m/status.js';
import { formatTimestamp, parseDuration, parseTimestamp } from '../../src/onem2m/time.js';

const identity = cseIdentity('/id-medward', 'medward', 'medward.local');

function rscOfThrown(action: () => unknown): number {
  try {
    action();
  } catch (error) {
    assert.ok(isMedwardError(error), `expected a MedwardError, got ${String(error)}`);
    return rscOf(error);
  }
  assert.fail('expected an error');
}

describe('request primitive parser', () => {
  test('accepts a full create primitive', () => {
    const request = parseRequestPrimitive({
      op: 1,
      to: 'medward',
      fr: 'C1',
      rqi: 'r1',
      rvi: '3',
      ty: 2,
      pc: { 'm2m:ae': {} },
      rcn: 1,
      ot: '20250101T120000',
      rt: { rtv: 3 },
    });
    assert.equal(request.op, 1);
    assert.equal(request.ty, 2);
    assert.equal(request.rt, 3);
    assert.equal(request.ot, '20250101T120000');
  });

  test('unwraps m2m:rqp', () => {
    const request = parseRequestPrimitive({ 'm2m:rqp': { op: 2, to: 'x', fr: 'C', rqi: 'r' } });
    assert.equal(request.to, 'x');
  });

  test('missing rqi is 4000', () => {
    assert.equal(
      rscOfThrown(() => parseRequestPrimitive({ op: 2, to: 'x', fr: 'C' })),
      4000,
    );
  });

  test('unknown release version is 4001', () => {
    assert.equal(
      rscOfThrown(() => parseRequestPrimitive({ op: 2, to: 'x', fr: 'C', rqi: 'r', rvi: '9' })),
      4001,
    );
  });

  test('operation out of range is 4000', () => {
    assert.equal(
      rscOfThrown(() => parseRequestPrimitive({ op: 7, to: 'x', rqi: 'r' })),
      4000,
    );
  });

  test('unknown parameter is 4000', () => {
    assert.equal(
      rscOfThrown(() => parseRequestPrimitive({ op: 2, to: 'x', rqi: 'r', evil: 1 })),
      4000,
    );
  });

  test('content must be an object', () => {
    assert.equal(
      rscOfThrown(() => parseRequestPrimitive({ op: 1, to: 'x', rqi: 'r', pc: 'text' })),
      4000,
    );
  });

  test('recovers rqi from invalid primitives', () => {
    assert.equal(recoverRequestId({ rqi: 'abc', op: 'nonsense' }), 'abc');
    assert.equal(recoverRequestId({ 'm2m:rqp': { rqi: 'x' } }), 'x');
    assert.equal(recoverRequestId([1, 2]), undefined);
    assert.equal(recoverRequestId({ rqi: 5 }), undefined);
  });

  test('filter criteria reject unsupported keys', () => {
    assert.equal(
      rscOfThrown(() => parseFilterCriteria({ fu: 1, smf: 'x' })),
      4000,
    );
  });

  test('filter criteria accept single ty and lbl', () => {
    const criteria = parseFilterCriteria({ fu: 1, ty: 4, lbl: 'a', lim: 3, lvl: 2 });
    assert.deepEqual(criteria.ty, [4]);
    assert.deepEqual(criteria.lbl, ['a']);
    assert.equal(criteria.lvl, 2);
  });

  test('filter criteria reject bad timestamps', () => {
    assert.equal(
      rscOfThrown(() => parseFilterCriteria({ cra: '2025-01-01' })),
      4000,
    );
  });

  test('json body over the limit is 4000', () => {
    assert.equal(
      rscOfThrown(() => parseJsonBody('{"a":"' + 'x'.repeat(100) + '"}', 50)),
      4000,
    );
  });

  test('malformed json body is 4000', () => {
    assert.equal(
      rscOfThrown(() => parseJsonBody('{"a":', 1000)),
      4000,
    );
  });

  test('random values never escape as non-oneM2M errors', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        try {
          const request = parseRequestPrimitive(value);
          assert.equal(typeof request.rqi, 'string');
          assert.ok(request.op >= 1);
          assert.ok(request.op <= 5);
          assert.equal(typeof request.to, 'string');
        } catch (error) {
          assert.ok(isMedwardError(error), String(error));
          assert.ok([4000, 4001].includes(rscOf(error)), `rsc ${rscOf(error)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('random primitive-shaped objects parse or fail cleanly', () => {
    const primitive = fc.record(
      {
        op: fc.oneof(fc.integer({ min: -2, max: 8 }), fc.string()),
        to: fc.oneof(fc.string(), fc.constant('medward/x')),
        fr: fc.oneof(fc.string(), fc.integer()),
        rqi: fc.oneof(fc.string(), fc.constant('r1')),
        rvi: fc.oneof(fc.constantFrom('2a', '3', '4', '5', '9'), fc.string()),
        ty: fc.oneof(fc.integer(), fc.string()),
        rcn: fc.integer({ min: -1, max: 14 }),
        fc: fc.oneof(
          fc.record({ fu: fc.integer({ min: 0, max: 4 }), lbl: fc.array(fc.string()) }),
          fc.anything(),
        ),
        pc: fc.oneof(fc.object(), fc.anything()),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(primitive, (value) => {
        try {
          parseRequestPrimitive(value);
        } catch (error) {
          assert.ok(isMedwardError(error), String(error));
          assert.ok([4000, 4001].includes(rscOf(error)));
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('random bytes as json bodies fail cleanly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          parseRequestPrimitive(parseJsonBody(bytes, 1000));
        } catch (error) {
          assert.ok(isMedwardError(error), String(error));
          assert.equal(rscOf(error), 4000);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('target address parser', () => {
  test('cse-relative structured', () => {
    assert.deepEqual(parseTargetAddress('medward/ae1/cnt', identity), {
      kind: 'structured',
      segments: ['ae1', 'cnt'],
    });
  });

  test('cse-relative unstructured with virtual', () => {
    assert.deepEqual(parseTargetAddress('cnt123/la', identity), {
      kind: 'unstructured',
      ri: 'cnt123',
      rest: ['la'],
    });
  });

  test('sp-relative structured and dash', () => {
    assert.deepEqual(parseTargetAddress('/id-medward/medward/ae1', identity), {
      kind: 'structured',
      segments: ['ae1'],
    });
    assert.deepEqual(parseTargetAddress('/id-medward/-/ae1', identity), {
      kind: 'structured',
      segments: ['ae1'],
    });
  });

  test('sp-relative cse id alone is the CSEBase', () => {
    assert.deepEqual(parseTargetAddress('/id-medward', identity), {
      kind: 'unstructured',
      ri: 'id-medward',
      rest: [],
    });
  });

  test('absolute address', () => {
    assert.deepEqual(parseTargetAddress('//medward.local/id-medward/cnt1', identity), {
      kind: 'unstructured',
      ri: 'cnt1',
      rest: [],
    });
  });

  test('other CSE is 5103', () => {
    assert.equal(
      rscOfThrown(() => parseTargetAddress('/id-other/x', identity)),
      5103,
    );
    assert.equal(
      rscOfThrown(() => parseTargetAddress('//sp2/id-medward/x', identity)),
      5103,
    );
  });

  test('bad segments are 4000', () => {
    for (const to of ['', 'medward//x', 'medward/a b', "medward/x'--", 'a/%00']) {
      assert.equal(
        rscOfThrown(() => parseTargetAddress(to, identity)),
        4000,
        to,
      );
    }
  });

  test('http paths map per TS-0009', () => {
    assert.equal(httpPathToTarget('/~/id-medward/medward/ae'), '/id-medward/medward/ae');
    assert.equal(httpPathToTarget('/_/sp/id-medward/cnt1'), '//sp/id-medward/cnt1');
    assert.equal(httpPathToTarget('/medward/ae%2Dx'), 'medward/ae-x');
    assert.equal(
      rscOfThrown(() => httpPathToTarget('/medward/%E0%A4%A')),
      4000,
    );
  });

  test('mqtt topic ids', () => {
    assert.equal(idToMqttTopicPart('/id-medward'), 'id-medward');
    assert.equal(idToMqttTopicPart('/id-medward/Cae1'), 'id-medward:Cae1');
    assert.equal(idToMqttTopicPart('Cae1'), 'Cae1');
  });

  test('random addresses parse or fail cleanly', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9._~-]{1,8}$/);
    const address = fc.oneof(
      fc.string(),
      fc.array(fc.oneof(segment, fc.string()), { maxLength: 6 }).map((parts) => parts.join('/')),
      fc.array(segment, { maxLength: 5 }).map((parts) => `/id-medward/${parts.join('/')}`),
      fc
        .array(segment, { maxLength: 5 })
        .map((parts) => `//medward.local/id-medward/${parts.join('/')}`),
    );
    fc.assert(
      fc.property(address, (to) => {
        try {
          const parsed = parseTargetAddress(to, identity);
          const segments =
            parsed.kind === 'structured' ? parsed.segments : [parsed.ri, ...parsed.rest];
          for (const part of segments) {
            assert.match(part, /^[A-Za-z0-9._~-]+$/);
          }
        } catch (error) {
          assert.ok(isMedwardError(error), String(error));
          assert.ok([4000, 5103].includes(rscOf(error)));
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('random http paths map or fail cleanly', () => {
    fc.assert(
      fc.property(fc.string(), (path) => {
        try {
          assert.equal(typeof httpPathToTarget(`/${path}`), 'string');
        } catch (error) {
          assert.ok(isMedwardError(error));
          assert.equal(rscOf(error), 4000);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('timestamps and durations', () => {
  test('format and parse round trip', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4102444800000 }), (ms) => {
        assert.equal(parseTimestamp(formatTimestamp(ms)), ms);
      }),
    );
  });

  test('formatted timestamps sort in time order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4102444800000 }),
        fc.integer({ min: 0, max: 4102444800000 }),
        (a, b) => {
          assert.equal(formatTimestamp(a) < formatTimestamp(b), a < b);
        },
      ),
    );
  });

  test('invalid dates are rejected', () => {
    assert.equal(parseTimestamp('20250231T000000'), undefined);
    assert.equal(parseTimestamp('20250101T250000'), undefined);
    assert.equal(parseTimestamp('2025-01-01T00:00:00'), undefined);
  });

  test('durations', () => {
    assert.equal(parseDuration('PT5S'), 5000);
    assert.equal(parseDuration('P1DT1H'), 90000000);
    assert.equal(parseDuration('PT0.5S'), 500);
    assert.equal(parseDuration('P'), undefined);
    assert.equal(parseDuration('PT'), undefined);
    assert.equal(parseDuration('5S'), undefined);
  });
});
