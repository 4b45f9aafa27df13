import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../../../src/core/audit/canonical-json.js';

/** Orders strings by UTF-16 code units, as canonical JSON sorts keys. */
function compareCodeUnits(a: string, b: string): number {
  if (a === b) {
    return 0;
  }
  return a < b ? -1 : 1;
}

/** Sorts object keys by UTF-16 code units at every level, as canonical JSON orders them. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(sortedKeys);
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  const object = value as Record<string, unknown>;
  // No prototype, so a key named __proto__ stays an own member as JSON.parse makes it.
  const sorted = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(object).sort(compareCodeUnits)) {
    sorted[key] = sortedKeys(object[key]);
  }
  return sorted;
}

test('canonical JSON equals sorted stringify', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      // JSON.stringify writes integer-like keys first whatever the order, so compare parsed values too.
      const text = canonicalJson(value);
      assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)));
      assert.equal(text, canonicalJson(JSON.parse(text)));
      if (!JSON.stringify(value).match(/"\d+":/)) {
        assert.equal(text, JSON.stringify(sortedKeys(value)));
      }
    }),
    { numRuns: 2000 },
  );
});
