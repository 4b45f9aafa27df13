import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentKinds, createScenario, encodeApdu } from '../../src/ieee11073/index.js';
import type { ScenarioOptions } from '../../src/ieee11073/simulator/scenarios.js';

const optionSets: ScenarioOptions[] = [
  {},
  { measurementsPerReport: 3 },
  { extended: true },
  { reportStyle: 'variable' },
  { reportStyle: 'fixed', extended: true, measurementsPerReport: 2 },
];

/** Report numbers and agent times, across a day, a year and the 16-bit scan report number. */
const reports = [
  { invokeId: 0, eventTime: 0, sequence: 0, measuredAtMs: Date.UTC(2026, 0, 2, 3, 4, 5, 678) },
  { invokeId: 7, eventTime: 123456, sequence: 1, measuredAtMs: Date.UTC(2026, 0, 2, 3, 4, 5, 679) },
  {
    invokeId: 0xffff,
    eventTime: 0xfffffffe,
    sequence: 70000,
    measuredAtMs: Date.UTC(2026, 11, 31, 23, 59, 59, 999),
  },
  { invokeId: 300, eventTime: 42, sequence: 12345, measuredAtMs: Date.UTC(2027, 0, 1) },
];

test('encoded report matches encodeApdu', () => {
  for (const kind of agentKinds) {
    for (const options of optionSets) {
      const scenario = createScenario(kind, options);
      for (const { invokeId, eventTime, sequence, measuredAtMs } of reports) {
        const { eventType, eventInfo } = scenario.measurement(sequence, new Date(measuredAtMs));
        const expected = encodeApdu({
          kind: 'prst',
          data: {
            invokeId,
            message: {
              kind: 'roiv-confirmed-event-report',
              objHandle: 0,
              eventTime,
              eventType,
              eventInfo,
            },
          },
        });
        const actual = scenario.encodeReport(invokeId, eventTime, sequence, measuredAtMs);
        assert.deepEqual(
          new Uint8Array(actual),
          expected,
          `${kind} ${JSON.stringify(options)} report ${sequence}`,
        );
      }
    }
  }
});
