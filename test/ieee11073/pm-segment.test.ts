/**
 * PM-segment entries: the SegmentDataEvent and SegmentDataResult codec, the
 * entry layout of a PM-Segment-Entry-Map, the entry decoder with its defects,
 * and properties that feed random and mutated segment data through it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  MdcDimension as D,
  MdcObject as O,
  MdcPartition,
  MdcScada as S,
  SegmEntryHeader,
  SegmEvtStatus,
  configurationFromReport,
  decodeApdu,
  decodeSegmentEntries,
  encodeApdu,
  encodeSegmentEntries,
  finiteNumber,
  segmentEntryLayout,
  segmentEntryObservations,
  type Apdu,
  type Ava,
  type PmSegmentEntryMap,
  type SegmDataEventDescr,
  type SegmentEntry,
} from '../../src/ieee11073/index.js';
import { sampleConfigReport } from './samples.js';

assert.equal(sampleConfigReport.kind, 'config-report');
/** The sample configuration, whose PM-store map refers to its numeric 1. */
const sampleConfiguration = configurationFromReport(sampleConfigReport);
import { hexOf } from './support.js';

const runs = Number(process.env.MEDWARD_FUZZ_RUNS ?? 25000) / 5;

const glucoseType = { partition: MdcPartition.scada, code: S.MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD };

/** Entries of an absolute time and one SFLOAT glucose value of handle 1: 10 bytes each. */
const glucoseMap: PmSegmentEntryMap = {
  segmEntryHeader: SegmEntryHeader.absoluteTime,
  segmEntryElemList: [
    {
      classId: O.MDC_MOC_VMO_METRIC_NU,
      metricType: glucoseType,
      handle: 1,
      attrValMap: [{ attributeId: O.MDC_ATTR_NU_VAL_OBS_BASIC, attributeLen: 2 }],
    },
  ],
};

const glucoseConfiguration = configurationFromReport({
  kind: 'config-report',
  configReportId: 0x4000,
  configObjList: [
    {
      objClass: O.MDC_MOC_VMO_METRIC_NU,
      objHandle: 1,
      attributes: [
        { attributeId: O.MDC_ATTR_ID_TYPE, value: { kind: 'type', value: glucoseType } },
        {
          attributeId: O.MDC_ATTR_UNIT_CODE,
          value: { kind: 'u16', value: D.MDC_DIM_MILLI_G_PER_DL },
        },
      ],
    },
  ],
});

function glucoseEntry(minute: number, tenths: number): Pick<SegmentEntry, 'times' | 'elements'> {
  return {
    times: {
      absoluteTime: {
        century: 20,
        year: 26,
        month: 3,
        day: 4,
        hour: 5,
        minute,
        second: 0,
        secFractions: 0,
      },
    },
    elements: [
      {
        handle: 1,
        classId: O.MDC_MOC_VMO_METRIC_NU,
        metricType: glucoseType,
        attributes: [
          {
            attributeId: O.MDC_ATTR_NU_VAL_OBS_BASIC,
            value: { kind: 'sfloat', value: finiteNumber(tenths, -1) },
          },
        ],
      },
    ],
  };
}

function descr(index: number, count: number, status = 0): SegmDataEventDescr {
  return {
    segmInstance: 0,
    segmEvtEntryIndex: index,
    segmEvtEntryCount: count,
    segmEvtStatus: status,
  };
}

function segmentEvent(entries: Uint8Array, eventDescr: SegmDataEventDescr): Apdu {
  return {
    kind: 'prst',
    data: {
      invokeId: 0x31,
      message: {
        kind: 'roiv-confirmed-event-report',
        objHandle: 100,
        eventTime: 0x4000,
        eventType: O.MDC_NOTI_SEGMENT_DATA,
        eventInfo: {
          kind: 'segment-data',
          segmDataEventDescr: eventDescr,
          segmDataEventEntries: entries,
        },
      },
    },
  };
}

describe('ieee11073 segment data codec', () => {
  test('segment data event round trip', () => {
    const entries = encodeSegmentEntries(glucoseMap, [glucoseEntry(1, 1054), glucoseEntry(2, 987)]);
    const apdu = segmentEvent(
      entries,
      descr(0, 2, SegmEvtStatus.firstEntry | SegmEvtStatus.lastEntry),
    );
    const bytes = encodeApdu(apdu);
    const decoded = decodeApdu(bytes);
    assert.deepEqual(decoded.quirks, []);
    assert.deepEqual(decoded.apdu, apdu);
    assert.equal(hexOf(encodeApdu(decoded.apdu)), hexOf(bytes));
  });

  test('segment data result encodes the descriptor', () => {
    const bytes = encodeApdu({
      kind: 'prst',
      data: {
        invokeId: 0x31,
        message: {
          kind: 'rors-confirmed-event-report',
          objHandle: 100,
          currentTime: 0x4000,
          eventType: O.MDC_NOTI_SEGMENT_DATA,
          eventReplyInfo: {
            kind: 'segment-data-result',
            segmDataEventDescr: descr(
              25,
              10,
              SegmEvtStatus.lastEntry | SegmEvtStatus.managerConfirm,
            ),
          },
        },
      },
    });
    // PRST, invoke id, RORS choice, handle 100, current-time, MDC_NOTI_SEGMENT_DATA (0x0d21),
    // reply length 12: instance 0, index 25, count 10, status 0x4080.
    assert.equal(
      hexOf(bytes),
      'e700001e001c003102010016006400004000' +
        '0d21000c' +
        '0000' +
        '00000019' +
        '0000000a' +
        '4080',
    );
    const decoded = decodeApdu(bytes).apdu;
    assert.equal(decoded.kind, 'prst');
    assert.equal(hexOf(encodeApdu(decoded)), hexOf(bytes));
  });

  test('trailing event bytes kept', () => {
    const entries = encodeSegmentEntries(glucoseMap, [glucoseEntry(1, 1054)]);
    const bytes = encodeApdu(segmentEvent(entries, descr(0, 1)));
    // Two bytes more inside the event-info length, the message length and the APDU lengths.
    const longer = new Uint8Array([...bytes, 0xab, 0xcd]);
    const view = new DataView(longer.buffer);
    for (const offset of [2, 4, 10, 20]) {
      view.setUint16(offset, view.getUint16(offset) + 2);
    }
    const decoded = decodeApdu(longer);
    assert.deepEqual(
      decoded.quirks.map((quirk) => quirk.code),
      ['EVENT_INFO_TRAILING_BYTES'],
    );
    assert.equal(hexOf(encodeApdu(decoded.apdu)), hexOf(longer));
  });
});

describe('ieee11073 segment entry layout', () => {
  test('header bits add their sizes', () => {
    const all =
      SegmEntryHeader.absoluteTime |
      SegmEntryHeader.relativeTime |
      SegmEntryHeader.highResRelativeTime |
      SegmEntryHeader.baseOffsetTime;
    const located = segmentEntryLayout({ ...glucoseMap, segmEntryHeader: all });
    assert.deepEqual(located, { layout: { headerBytes: 28, entryBytes: 30 } });
  });

  test('unknown header bit has no layout', () => {
    const located = segmentEntryLayout({ ...glucoseMap, segmEntryHeader: 0x8001 });
    assert.ok('problem' in located);
    assert.match(located.problem, /0x1/);
  });

  test('empty entries have no layout', () => {
    const located = segmentEntryLayout({ segmEntryHeader: 0, segmEntryElemList: [] });
    assert.ok('problem' in located);
  });
});

describe('ieee11073 segment entry decoder', () => {
  test('every header time decodes', () => {
    const map: PmSegmentEntryMap = {
      ...glucoseMap,
      segmEntryHeader:
        SegmEntryHeader.absoluteTime |
        SegmEntryHeader.relativeTime |
        SegmEntryHeader.highResRelativeTime |
        SegmEntryHeader.baseOffsetTime,
    };
    const entry = {
      ...glucoseEntry(7, 1200),
      times: {
        ...glucoseEntry(7, 1200).times,
        relativeTime: 0x01020304,
        highResRelativeTime: 0x0102030405060708n,
        baseOffsetTime: { boSeconds: 1767225600, boFraction: 0x8000, boTimeOffset: -300 },
      },
    };
    const bytes = encodeSegmentEntries(map, [entry]);
    assert.equal(bytes.byteLength, 30);
    const decoded = decodeSegmentEntries(map, descr(4, 1), bytes);
    assert.deepEqual(decoded.defects, []);
    const [decodedEntry] = decoded.entries;
    assert.equal(decoded.entries.length, 1);
    assert.ok(decodedEntry);
    assert.equal(decodedEntry.index, 4);
    assert.deepEqual(decodedEntry.times, entry.times);
    assert.deepEqual(decodedEntry.elements, entry.elements);
  });

  test('truncated entries keep whole ones', () => {
    const bytes = encodeSegmentEntries(glucoseMap, [glucoseEntry(1, 1000), glucoseEntry(2, 1001)]);
    const decoded = decodeSegmentEntries(glucoseMap, descr(0, 3), bytes.subarray(0, 15));
    assert.equal(decoded.entries.length, 1);
    assert.deepEqual(
      decoded.defects.map((defect) => [defect.code, defect.index]),
      [['ENTRIES_TRUNCATED', undefined]],
    );
  });

  test('bytes after declared entries flagged', () => {
    const bytes = encodeSegmentEntries(glucoseMap, [glucoseEntry(1, 1000), glucoseEntry(2, 1001)]);
    const decoded = decodeSegmentEntries(glucoseMap, descr(0, 1), bytes);
    assert.equal(decoded.entries.length, 1);
    assert.deepEqual(
      decoded.defects.map((defect) => defect.code),
      ['ENTRIES_TRAILING_BYTES'],
    );
  });

  test('malformed entry skipped alone', () => {
    const bytes = encodeSegmentEntries(glucoseMap, [
      glucoseEntry(1, 1000),
      glucoseEntry(2, 1001),
      glucoseEntry(3, 1002),
    ]);
    // The month of the second entry: 0xaa is no BCD digit pair.
    bytes[12] = 0xaa;
    const decoded = decodeSegmentEntries(glucoseMap, descr(10, 3), bytes);
    assert.deepEqual(
      decoded.entries.map((entry) => entry.index),
      [10, 12],
    );
    assert.deepEqual(
      decoded.defects.map((defect) => [defect.code, defect.index]),
      [['ENTRY_MALFORMED', 11]],
    );
    assert.match(decoded.defects[0]?.message ?? '', /BCD/);
  });

  test('value shorter than its map flagged', () => {
    // A FLOAT attribute mapped with 3 bytes cannot fill its declared length.
    const map: PmSegmentEntryMap = {
      segmEntryHeader: 0,
      segmEntryElemList: [
        {
          classId: O.MDC_MOC_VMO_METRIC_NU,
          metricType: glucoseType,
          handle: 1,
          attrValMap: [{ attributeId: O.MDC_ATTR_NU_VAL_OBS_SIMP, attributeLen: 3 }],
        },
      ],
    };
    const decoded = decodeSegmentEntries(map, descr(0, 2), new Uint8Array(6));
    assert.equal(decoded.entries.length, 0);
    assert.deepEqual(
      decoded.defects.map((defect) => defect.index),
      [0, 1],
    );
  });

  test('unusable map yields no entries', () => {
    const decoded = decodeSegmentEntries(
      { ...glucoseMap, segmEntryHeader: 0x0001 },
      descr(0, 1),
      new Uint8Array(10),
    );
    assert.equal(decoded.entries.length, 0);
    assert.deepEqual(
      decoded.defects.map((defect) => defect.code),
      ['ENTRY_MAP_INVALID'],
    );
  });

  test('huge count stops at the bytes', () => {
    const bytes = encodeSegmentEntries(glucoseMap, [glucoseEntry(1, 1000)]);
    const decoded = decodeSegmentEntries(glucoseMap, descr(0, 0xffffffff), bytes);
    assert.equal(decoded.entries.length, 1);
    assert.equal(decoded.defects[0]?.code, 'ENTRIES_TRUNCATED');
  });

  test('encoder rejects entries unlike the map', () => {
    const entry = glucoseEntry(1, 1000);
    assert.throws(
      () =>
        encodeSegmentEntries({ ...glucoseMap, segmEntryHeader: SegmEntryHeader.relativeTime }, [
          entry,
        ]),
      /relative time/,
    );
    const wide: PmSegmentEntryMap = {
      ...glucoseMap,
      segmEntryElemList: glucoseMap.segmEntryElemList.map((element) => ({
        ...element,
        attrValMap: [{ attributeId: O.MDC_ATTR_NU_VAL_OBS_BASIC, attributeLen: 4 }],
      })),
    };
    assert.throws(() => encodeSegmentEntries(wide, [entry]), /encodes to 2 bytes/);
  });
});

describe('ieee11073 segment entry observations', () => {
  test('header time stamps each element', () => {
    const bytes = encodeSegmentEntries(glucoseMap, [glucoseEntry(1, 1054)]);
    const { entries } = decodeSegmentEntries(glucoseMap, descr(0, 1), bytes);
    const result = segmentEntryObservations(glucoseConfiguration, entries, 3);
    assert.deepEqual(result.quirks, []);
    const [observation] = result.observations;
    assert.ok(observation);
    assert.equal(observation.handle, 1);
    assert.equal(observation.personId, 3);
    assert.equal(
      observation.type,
      MdcPartition.scada * 65536 + S.MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD,
    );
    assert.equal(observation.unitCode, D.MDC_DIM_MILLI_G_PER_DL);
    assert.deepEqual(observation.value, { kind: 'numeric', value: finiteNumber(1054, -1) });
    assert.equal(observation.absoluteTime?.minute, 1);
  });

  test('element time stamp wins', () => {
    const map: PmSegmentEntryMap = {
      ...glucoseMap,
      segmEntryElemList: glucoseMap.segmEntryElemList.map((element) => ({
        ...element,
        attrValMap: [
          ...element.attrValMap,
          { attributeId: O.MDC_ATTR_TIME_STAMP_ABS, attributeLen: 8 },
        ],
      })),
    };
    const entry = glucoseEntry(1, 1054);
    const own: Ava = {
      attributeId: O.MDC_ATTR_TIME_STAMP_ABS,
      value: { kind: 'absolute-time', value: { ...entry.times.absoluteTime!, minute: 9 } },
    };
    const element = entry.elements[0]!;
    const withOwnTime = {
      ...entry,
      elements: [{ ...element, attributes: [...element.attributes, own] }],
    };
    const { entries } = decodeSegmentEntries(
      map,
      descr(0, 1),
      encodeSegmentEntries(map, [withOwnTime]),
    );
    const [observation] = segmentEntryObservations(glucoseConfiguration, entries).observations;
    assert.equal(observation?.absoluteTime?.minute, 9);
  });

  test('unconfigured handle skipped with quirk', () => {
    const map: PmSegmentEntryMap = {
      ...glucoseMap,
      segmEntryElemList: glucoseMap.segmEntryElemList.map((element) => ({ ...element, handle: 9 })),
    };
    const entry = glucoseEntry(1, 1054);
    const moved = {
      ...entry,
      elements: entry.elements.map((element) => ({ ...element, handle: 9 })),
    };
    const { entries } = decodeSegmentEntries(map, descr(0, 1), encodeSegmentEntries(map, [moved]));
    const result = segmentEntryObservations(glucoseConfiguration, entries);
    assert.equal(result.observations.length, 0);
    assert.deepEqual(
      result.quirks.map((quirk) => quirk.code),
      ['HANDLE_NOT_IN_CONFIGURATION'],
    );
  });
});

/** Attribute ids a random map may use: typed values of several sizes and an id the codec keeps raw. */
const mapAttributeIds = [
  O.MDC_ATTR_NU_VAL_OBS_BASIC,
  O.MDC_ATTR_NU_VAL_OBS_SIMP,
  O.MDC_ATTR_NU_CMPD_VAL_OBS_BASIC,
  O.MDC_ATTR_TIME_STAMP_ABS,
  O.MDC_ATTR_ENUM_OBS_VAL_SIMP_OID,
  O.MDC_ATTR_MSMT_STAT,
  0xf00d,
];

const randomMap: fc.Arbitrary<PmSegmentEntryMap> = fc.record({
  segmEntryHeader: fc.oneof(
    fc.constantFrom(0, 0x8000, 0x4000, 0x2000, 0x1000, 0xc000, 0xf000),
    fc.integer({ min: 0, max: 0xffff }),
  ),
  segmEntryElemList: fc.array(
    fc.record({
      classId: fc.constant(O.MDC_MOC_VMO_METRIC_NU),
      metricType: fc.constant(glucoseType),
      handle: fc.constantFrom(1, 2, 3, 9),
      attrValMap: fc.array(
        fc.record({
          attributeId: fc.constantFrom(...mapAttributeIds),
          attributeLen: fc.integer({ min: 0, max: 12 }),
        }),
        { maxLength: 3 },
      ),
    }),
    { maxLength: 3 },
  ),
});

function isInside(view: Uint8Array, container: Uint8Array): boolean {
  return (
    view.buffer === container.buffer &&
    view.byteOffset >= container.byteOffset &&
    view.byteOffset + view.byteLength <= container.byteOffset + container.byteLength
  );
}

describe('ieee11073 segment data properties', () => {
  test('random segment data never crashes', () => {
    fc.assert(
      fc.property(
        randomMap,
        fc.uint8Array({ maxLength: 200 }),
        fc.nat({ max: 40 }),
        fc.nat(),
        (map, bytes, count, index) => {
          const decoded = decodeSegmentEntries(map, descr(index, count), bytes);
          const located = segmentEntryLayout(map);
          assert.ok(decoded.entries.length <= count);
          for (const entry of decoded.entries) {
            assert.ok(isInside(entry.bytes, bytes), 'entry bytes outside the event');
            assert.ok('layout' in located);
            assert.equal(entry.bytes.byteLength, located.layout.entryBytes);
          }
          if ('layout' in located) {
            const present = Math.min(
              count,
              Math.floor(bytes.byteLength / located.layout.entryBytes),
            );
            const entryDefects = decoded.defects.filter((defect) => defect.index !== undefined);
            assert.equal(decoded.entries.length + entryDefects.length, present);
          } else {
            assert.equal(decoded.entries.length, 0);
          }
          segmentEntryObservations(glucoseConfiguration, decoded.entries);
        },
      ),
      { numRuns: runs },
    );
  });

  test('encoded entries decode exactly', () => {
    const reading = fc.record({
      minute: fc.integer({ min: 0, max: 59 }),
      tenths: fc.integer({ min: -2048, max: 2047 }),
      relative: fc.nat({ max: 0xffffffff }),
    });
    const map: PmSegmentEntryMap = {
      ...glucoseMap,
      segmEntryHeader: SegmEntryHeader.absoluteTime | SegmEntryHeader.relativeTime,
    };
    fc.assert(
      fc.property(
        fc.array(reading, { maxLength: 30 }),
        fc.nat({ max: 1000 }),
        (readings, index) => {
          const entries = readings.map(({ minute, tenths, relative }) => {
            const entry = glucoseEntry(minute, tenths);
            return { ...entry, times: { ...entry.times, relativeTime: relative } };
          });
          const bytes = encodeSegmentEntries(map, entries);
          const decoded = decodeSegmentEntries(map, descr(index, entries.length), bytes);
          assert.deepEqual(decoded.defects, []);
          assert.deepEqual(
            decoded.entries.map((entry) => ({ times: entry.times, elements: entry.elements })),
            entries,
          );
          assert.deepEqual(
            decoded.entries.map((entry) => entry.index),
            entries.map((_, position) => index + position),
          );
          assert.equal(hexOf(encodeSegmentEntries(map, decoded.entries)), hexOf(bytes));
        },
      ),
      { numRuns: runs },
    );
  });

  test('mutated segment data never crashes', () => {
    const entries = encodeSegmentEntries(
      glucoseMap,
      Array.from({ length: 6 }, (_, minute) => glucoseEntry(minute, 1000 + minute)),
    );
    const seed = encodeApdu(
      segmentEvent(entries, descr(0, 6, SegmEvtStatus.firstEntry | SegmEvtStatus.lastEntry)),
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            index: fc.nat({ max: seed.length - 1 }),
            value: fc.integer({ min: 0, max: 255 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        fc.nat({ max: seed.length }),
        (changes, cut) => {
          const bytes = new Uint8Array(seed);
          for (const { index, value } of changes) {
            bytes[index] = value;
          }
          let apdu: Apdu;
          try {
            apdu = decodeApdu(bytes.subarray(0, Math.max(cut, 22))).apdu;
          } catch {
            return;
          }
          if (
            apdu.kind !== 'prst' ||
            apdu.data.message.kind !== 'roiv-confirmed-event-report' ||
            apdu.data.message.eventInfo.kind !== 'segment-data'
          ) {
            return;
          }
          const info = apdu.data.message.eventInfo;
          const decoded = decodeSegmentEntries(
            glucoseMap,
            info.segmDataEventDescr,
            info.segmDataEventEntries,
          );
          for (const entry of decoded.entries) {
            assert.ok(isInside(entry.bytes, info.segmDataEventEntries));
          }
          segmentEntryObservations(glucoseConfiguration, decoded.entries);
          segmentEntryObservations(sampleConfiguration, decoded.entries);
        },
      ),
      { numRuns: runs },
    );
  });
});
