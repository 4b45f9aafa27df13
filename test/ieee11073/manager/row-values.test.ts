import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeviceObservation } from '../../../src/ieee11073/index.js';
import type { CompoundComponent } from '../../../src/ieee11073/store/model.js';
import {
  OBSERVATION_COLUMN_COUNT,
  appendObservationValues,
} from '../../../src/ieee11073/store/repository.js';

/** Index of value_json in the row; see OBSERVATION_COLUMNS in repository.ts. */
const VALUE_JSON = 11;

function compound(components: CompoundComponent[]): DeviceObservation {
  return {
    id: '019b76da-a800-7091-beaa-668abb9e9e3c',
    deviceSystemId: 'a1a2a3a4a5a6a7a8',
    associationId: 'association-1',
    handle: 1,
    type: 2 * 65536 + 18948,
    value: { kind: 'compound', components },
    timestamp: { clock: 'none', gatewayTime: '2026-03-01T00:00:00.000Z', offsetApplied: false },
    receivedAt: '2026-03-01T00:00:00.050Z',
  };
}

test('compound value json round-trips', () => {
  const cases: CompoundComponent[][] = [
    [],
    [{ decimal: '120', number: 120 }],
    [
      { decimal: '120', number: 120, code: 150021, unit: { code: 266016, ucum: 'mm[Hg]' } },
      { decimal: 'nres', number: null, special: 'nres', code: 150022 },
      { decimal: '93.5', number: 93.5, unit: { code: 266016 }, measurementStatus: 0x4000 },
    ],
    [{ code: 150021, decimal: '-0.25', number: -0.25, unit: { code: 1, ucum: 'a"b\\c' } }],
  ];
  for (const components of cases) {
    const values: unknown[] = [];
    appendObservationValues(values, compound(components));
    assert.equal(values.length, OBSERVATION_COLUMN_COUNT);
    const json = values[VALUE_JSON];
    assert.equal(typeof json, 'string');
    assert.deepEqual(JSON.parse(json as string), { components });
  }
});

test('compound value json matches JSON.stringify', () => {
  const components: CompoundComponent[] = [
    { decimal: '120', number: 120, code: 150021, unit: { code: 266016, ucum: 'mm[Hg]' } },
    { decimal: 'nan', number: null, special: 'nan', measurementStatus: 0x8000 },
  ];
  const values: unknown[] = [];
  appendObservationValues(values, compound(components));
  assert.equal(values[VALUE_JSON], JSON.stringify({ components }));
});
