import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isMedwardError } from '../../src/core/errors.js';
import { FhirDecimal, parsePhdExportPayload, serializeFhirJson } from '../../src/fhir/index.js';
import { decimalString } from '../../src/ieee11073/index.js';
import { agentList, vectorAgents } from './vectors.js';

describe('fhir json', () => {
  test('decimal text written verbatim', () => {
    const text = serializeFhirJson({
      value: new FhirDecimal('98.0'),
      list: [new FhirDecimal('2.00')],
    });
    assert.equal(text, '{"value":98.0,"list":[2.00]}');
  });

  test('decimal rejects non-numbers', () => {
    for (const bad of ['', '1e5', '01', '.5', '5.', 'NaN', '-', '1,0']) {
      assert.throws(() => new FhirDecimal(bad), TypeError, bad);
    }
  });

  test('every MDER decimal round trips', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -0x800000, max: 0x7fffff }),
        fc.integer({ min: -12, max: 6 }),
        (mantissa, exponent) => {
          const decimal = decimalString(mantissa, exponent);
          const text = serializeFhirJson({ value: new FhirDecimal(decimal) });
          assert.equal(text, `{"value":${decimal}}`);
          const parsed = JSON.parse(text) as { value: number };
          assert.equal(parsed.value, Number(decimal));
        },
      ),
    );
  });

  test('plain JSON matches JSON.stringify', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        assert.equal(serializeFhirJson(value), JSON.stringify(value));
        assert.deepEqual(
          JSON.parse(serializeFhirJson(value, 2)),
          JSON.parse(JSON.stringify(value)),
        );
      }),
    );
  });

  test('fromNumber keeps integers exact', () => {
    assert.equal(FhirDecimal.fromNumber(1_000_000).text, '1000000');
    assert.equal(FhirDecimal.fromNumber(15.2587890625).text, '15.258789');
    assert.equal(FhirDecimal.fromNumber(-0.0000001).text, '0');
  });
});

describe('fhir payload parser', () => {
  const agents = vectorAgents();

  test('vector payloads parse', () => {
    for (const [, inputs] of agentList(agents)) {
      const payload = { device: inputs.device, observations: inputs.observations };
      assert.deepEqual(parsePhdExportPayload(JSON.parse(JSON.stringify(payload))), payload);
    }
  });

  test('arbitrary input rejected cleanly', () => {
    fc.assert(
      fc.property(fc.anything(), (data) => {
        try {
          parsePhdExportPayload(data);
          assert.fail('an arbitrary value parsed as a payload');
        } catch (error) {
          assert.ok(isMedwardError(error), String(error));
          assert.equal(error.code, 'FHIR_PAYLOAD_INVALID');
        }
      }),
    );
  });

  test('mutated payloads never crash', () => {
    const base = JSON.parse(
      JSON.stringify({
        device: agents.bloodPressure.device,
        observations: agents.bloodPressure.observations,
      }),
    ) as Record<string, unknown>;
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 3 }), { minLength: 1, maxLength: 4 }),
        fc.jsonValue(),
        (path, replacement) => {
          const mutated = structuredClone(base);
          let target: Record<string, unknown> = mutated;
          for (const key of path.slice(0, -1)) {
            const next = target[key];
            if (typeof next !== 'object' || next === null) {
              break;
            }
            target = next as Record<string, unknown>;
          }
          target[path.at(-1) ?? ''] = replacement;
          try {
            parsePhdExportPayload(mutated);
          } catch (error) {
            assert.ok(isMedwardError(error), String(error));
          }
        },
      ),
    );
  });
});
