/**
 * Property-based robustness tests: random and mutated APDUs through the
 * decoder and the observation extraction. The only error allowed to escape is
 * a MedwardError with an MDER_* code and a protocol reaction. Every accepted
 * input must encode back to the same bytes. MEDWARD_FUZZ_RUNS sets the runs
 * of each of the four properties (default 25000, 100000 cases in total).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MedwardError } from '../../src/core/errors.js';
import {
  configurationFromReport,
  decodeApdu,
  encodeApdu,
  extractObservations,
  reactionFor,
  standardConfiguration,
  type Apdu,
  type Configuration,
} from '../../src/ieee11073/index.js';
import { sampleApdus, sampleConfigReport } from './samples.js';
import { bytesOf, fixture, hexOf } from './support.js';

const runsPerProperty = Number(process.env.MEDWARD_FUZZ_RUNS ?? 25000);
/** Upper bound for one decode; a hang or quadratic blow-up would exceed it by far. */
const maxDecodeMs = 250;
const testTimeoutMs = 120_000;

const seeds: Uint8Array[] = [
  ...fixture.vectors.map((vector) => bytesOf(vector.hex)),
  ...fixture.malformed.map((vector) => bytesOf(vector.hex)),
  ...sampleApdus.map((sample) => encodeApdu(sample.apdu)),
];

function configurations(): Configuration[] {
  const list: Configuration[] = [];
  assert.equal(sampleConfigReport.kind, 'config-report');
  list.push(configurationFromReport(sampleConfigReport));
  for (const id of [0x0190, 0x02bc, 0x05dc, 0x06a4]) {
    const standard = standardConfiguration(id);
    assert.ok(standard);
    list.push(standard);
  }
  for (const vector of fixture.vectors.filter((entry) => entry.kind.includes('MDC_NOTI_CONFIG'))) {
    const apdu = decodeApdu(bytesOf(vector.hex)).apdu;
    if (apdu.kind === 'prst' && apdu.data.message.kind === 'roiv-confirmed-event-report') {
      const info = apdu.data.message.eventInfo;
      assert.equal(info.kind, 'config-report');
      list.push(configurationFromReport(info));
    }
  }
  return list;
}

const knownConfigurations = configurations();

function assertDecodeError(error: unknown): void {
  assert.ok(error instanceof MedwardError, `non-MedwardError escaped: ${String(error)}`);
  assert.ok(error.code.startsWith('MDER_'), `unexpected code ${error.code}`);
  assert.ok(reactionFor(error), `error ${error.code} lacks a reaction`);
}

function extractAll(apdu: Apdu): void {
  if (apdu.kind !== 'prst') {
    return;
  }
  const message = apdu.data.message;
  const source =
    message.kind === 'roiv-event-report' || message.kind === 'roiv-confirmed-event-report'
      ? message
      : message.kind === 'rors-confirmed-action' && message.actionInfoArgs.kind === 'data-response'
        ? { objHandle: message.objHandle, eventInfo: message.actionInfoArgs.eventInfo }
        : undefined;
  if (source === undefined) {
    return;
  }
  for (const configuration of knownConfigurations) {
    try {
      extractObservations(configuration, source);
    } catch (error) {
      assertDecodeError(error);
    }
  }
}

/** Decodes; accepted input must round-trip exactly, rejected input must fail with an MDER error. */
function checkDecode(bytes: Uint8Array): void {
  const started = performance.now();
  try {
    const { apdu } = decodeApdu(bytes);
    assert.equal(hexOf(encodeApdu(apdu)), hexOf(bytes));
    extractAll(apdu);
  } catch (error) {
    if (error instanceof assert.AssertionError) {
      throw error;
    }
    assertDecodeError(error);
  }
  assert.ok(performance.now() - started < maxDecodeMs, 'decode took too long');
}

type Mutation =
  | { kind: 'flip'; index: number; bit: number }
  | { kind: 'truncate'; length: number }
  | { kind: 'set-u16'; index: number; value: number }
  | { kind: 'shift-u16'; index: number; delta: number }
  | { kind: 'insert'; index: number; bytes: Uint8Array }
  | { kind: 'delete'; index: number; count: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    index: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), length: fc.nat() }),
  fc.record({
    kind: fc.constant('set-u16' as const),
    index: fc.nat(),
    value: fc.integer({ min: 0, max: 0xffff }),
  }),
  fc.record({
    kind: fc.constant('shift-u16' as const),
    index: fc.nat(),
    delta: fc.integer({ min: -4, max: 4 }),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    index: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    index: fc.nat(),
    count: fc.integer({ min: 1, max: 8 }),
  }),
);

function readU16(bytes: Uint8Array, index: number): number {
  return ((bytes[index] ?? 0) << 8) | (bytes[index + 1] ?? 0);
}

function writeU16(bytes: Uint8Array, index: number, value: number): void {
  if (index + 1 < bytes.length) {
    bytes[index] = (value >> 8) & 0xff;
    bytes[index + 1] = value & 0xff;
  }
}

function applyMutation(input: Uint8Array, change: Mutation): Uint8Array {
  const size = Math.max(input.length, 1);
  switch (change.kind) {
    case 'flip': {
      const output = input.slice();
      const index = change.index % size;
      if (index < output.length) {
        output[index] = (output[index] ?? 0) ^ (1 << change.bit);
      }
      return output;
    }
    case 'truncate':
      return input.slice(0, change.length % size);
    case 'set-u16': {
      const output = input.slice();
      writeU16(output, change.index % size, change.value);
      return output;
    }
    case 'shift-u16': {
      const output = input.slice();
      const index = change.index % size;
      writeU16(output, index, (readU16(output, index) + change.delta) & 0xffff);
      return output;
    }
    case 'insert': {
      const index = change.index % (input.length + 1);
      return new Uint8Array([
        ...input.subarray(0, index),
        ...change.bytes,
        ...input.subarray(index),
      ]);
    }
    case 'delete': {
      const index = change.index % size;
      return new Uint8Array([...input.subarray(0, index), ...input.subarray(index + change.count)]);
    }
  }
}

/** Rewrites the APDU and PRST lengths to match the bytes, so mutations reach the inner structures. */
function fixFraming(bytes: Uint8Array): Uint8Array {
  if (bytes.length >= 4) {
    writeU16(bytes, 2, bytes.length - 4);
  }
  if (bytes.length >= 6 && bytes[0] === 0xe7) {
    writeU16(bytes, 4, bytes.length - 6);
  }
  return bytes;
}

const apduTags = [0xe200, 0xe300, 0xe400, 0xe500, 0xe600, 0xe700];

describe('ieee11073 decoder fuzzing', { timeout: testTimeoutMs }, () => {
  test('random bytes never crash decoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        checkDecode(bytes);
      }),
      { numRuns: runsPerProperty },
    );
  });

  test('framed random bodies never crash', () => {
    fc.assert(
      fc.property(fc.constantFrom(...apduTags), fc.uint8Array({ maxLength: 300 }), (tag, body) => {
        const bytes = new Uint8Array(4 + body.length);
        writeU16(bytes, 0, tag);
        bytes.set(body, 4);
        checkDecode(fixFraming(bytes));
      }),
      { numRuns: runsPerProperty },
    );
  });

  test('mutated real APDUs never crash', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (seedIndex, mutations, reframe) => {
          let bytes = seeds[seedIndex] ?? new Uint8Array(0);
          for (const change of mutations) {
            bytes = applyMutation(bytes, change);
          }
          checkDecode(reframe ? fixFraming(bytes) : bytes);
        },
      ),
      { numRuns: runsPerProperty },
    );
  });

  test('random observation values never crash', () => {
    const handles = [0, 1, 2, 3, 4, 5, 6, 10, 99];
    const entry = fc.record({
      objHandle: fc.constantFrom(...handles),
      obsValData: fc.uint8Array({ maxLength: 24 }),
    });
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 6 }),
        fc.array(fc.uint8Array({ maxLength: 24 }), { maxLength: 3 }),
        (obsScanFixed, obsScanGrouped) => {
          const fixed = {
            kind: 'scan-fixed' as const,
            dataReqId: 0,
            scanReportNo: 0,
            obsScanFixed,
          };
          const grouped = {
            kind: 'scan-grouped' as const,
            dataReqId: 0,
            scanReportNo: 0,
            obsScanGrouped,
          };
          for (const configuration of knownConfigurations) {
            for (const source of [
              { objHandle: 0, eventInfo: fixed },
              { objHandle: 5, eventInfo: grouped },
            ]) {
              try {
                extractObservations(configuration, source);
              } catch (error) {
                assertDecodeError(error);
              }
            }
          }
        },
      ),
      { numRuns: runsPerProperty },
    );
  });
});
