/**
 * Entries of PM-segments: the bytes of a SegmentDataEvent
 * (MDC_NOTI_SEGMENT_DATA) laid out by the segment's PM-Segment-Entry-Map.
 * Every entry has the same size: first the time stamps its segm-entry-header
 * selects, then the values of each element of segm-entry-elem-list, each laid
 * out by the element's attribute-value-map.
 *
 * The decoder reads each entry through a reader bounded to that entry, so a
 * hostile map or count can never make it read past the entry or the event. It
 * decodes the entries that are well formed and reports the rest as defects.
 */
import type {
  Ava,
  PmSegmentEntryMap,
  SegmDataEventDescr,
  SegmEntryElem,
  TypeValue,
} from './apdu.js';
import { writeAttributeValue } from './attribute-values.js';
import { MderReader, MderWriter, type Quirk } from './mder.js';
import { encodeError } from './mder-error.js';
import { typeCode } from './nomenclature.js';
import { MdcObject as O } from './nomenclature-table.js';
import { buildObservation, type Observation } from './observations.js';
import { configuredMetric, readMappedValues, type Configuration } from './scan-report.js';
import {
  ABSOLUTE_TIME_BYTES,
  BASE_OFFSET_TIME_BYTES,
  readAbsoluteTime,
  readBaseOffsetTime,
  writeAbsoluteTime,
  writeBaseOffsetTime,
  type AbsoluteTime,
  type BaseOffsetTime,
} from './time.js';

/**
 * SegmEntryHeader bits (BITS-16, bit 0 the most significant). The time stamps
 * they select start each entry in the order of the bits.
 * NOTE: bits 0 to 2 agree with the ASN.1 definitions in the open-source
 * manager Antidote, which predate base-offset time. Bit 3 for base-offset
 * time is the one IEEE 11073-20601 added with it, as medward's authors know
 * it. No source at hand confirmed bit 3.
 */
export const SegmEntryHeader = {
  absoluteTime: 0x8000,
  relativeTime: 0x4000,
  highResRelativeTime: 0x2000,
  baseOffsetTime: 0x1000,
} as const;

/** PM-Store-Capab bits (BITS-16, bit 0 the most significant), as the open-source manager Antidote defines them. */
export const PmStoreCapab = {
  varNoOfSegm: 0x8000,
  epiSegEntries: 0x0800,
  periSegEntries: 0x0400,
  absTimeSelect: 0x0200,
  clearSegmByListSup: 0x0100,
  clearSegmByTimeSup: 0x0080,
  clearSegmRemove: 0x0040,
  multiPerson: 0x0008,
} as const;

const RELATIVE_TIME_BYTES = 4;
const HIGH_RES_RELATIVE_TIME_BYTES = 8;

const knownHeaderBits =
  SegmEntryHeader.absoluteTime |
  SegmEntryHeader.relativeTime |
  SegmEntryHeader.highResRelativeTime |
  SegmEntryHeader.baseOffsetTime;

/** Sizes of the parts of every entry of a segment. */
export interface SegmentEntryLayout {
  /** Bytes of the time stamps at the start of each entry. */
  headerBytes: number;
  /** Bytes of one whole entry. */
  entryBytes: number;
}

/** Returns the layout of a map's entries, or why its entries cannot be located. */
export function segmentEntryLayout(
  map: PmSegmentEntryMap,
): { layout: SegmentEntryLayout } | { problem: string } {
  const header = map.segmEntryHeader;
  const unknownBits = header & ~knownHeaderBits & 0xffff;
  if (unknownBits !== 0) {
    return {
      problem: `segm-entry-header 0x${header.toString(16).padStart(4, '0')} sets bits 0x${unknownBits.toString(16)} whose time stamp size is unknown`,
    };
  }
  let headerBytes = 0;
  if ((header & SegmEntryHeader.absoluteTime) !== 0) {
    headerBytes += ABSOLUTE_TIME_BYTES;
  }
  if ((header & SegmEntryHeader.relativeTime) !== 0) {
    headerBytes += RELATIVE_TIME_BYTES;
  }
  if ((header & SegmEntryHeader.highResRelativeTime) !== 0) {
    headerBytes += HIGH_RES_RELATIVE_TIME_BYTES;
  }
  if ((header & SegmEntryHeader.baseOffsetTime) !== 0) {
    headerBytes += BASE_OFFSET_TIME_BYTES;
  }
  let entryBytes = headerBytes;
  for (const element of map.segmEntryElemList) {
    for (const { attributeLen } of element.attrValMap) {
      entryBytes += attributeLen;
    }
  }
  if (entryBytes === 0) {
    return { problem: 'PM-Segment-Entry-Map gives entries of 0 bytes' };
  }
  return { layout: { headerBytes, entryBytes } };
}

/** The time stamps at the start of an entry, as its segm-entry-header selects them. */
export interface SegmentEntryTimes {
  absoluteTime?: AbsoluteTime;
  /** RelativeTime in 1/8 ms ticks. */
  relativeTime?: number;
  /** HighResRelativeTime in microseconds. */
  highResRelativeTime?: bigint;
  baseOffsetTime?: BaseOffsetTime;
}

/** The values of one element of an entry, in the order of its attribute-value-map. */
export interface SegmentEntryElement {
  handle: number;
  classId: number;
  metricType: TypeValue;
  attributes: Ava[];
}

export interface SegmentEntry {
  /** Index of the entry in its PM-segment: segm-evt-entry-index plus its place in the event. */
  index: number;
  /** The entry as sent, a view into the event's bytes. */
  bytes: Uint8Array;
  times: SegmentEntryTimes;
  elements: SegmentEntryElement[];
}

export type SegmentEntryDefectCode =
  /** The map gives no usable entry layout. */
  | 'ENTRY_MAP_INVALID'
  /** The event's bytes end before its declared count of entries. */
  | 'ENTRIES_TRUNCATED'
  /** The event carries bytes after its declared count of entries. */
  | 'ENTRIES_TRAILING_BYTES'
  /** One entry has the declared size but a value that does not decode. */
  | 'ENTRY_MALFORMED';

export interface SegmentEntryDefect {
  code: SegmentEntryDefectCode;
  message: string;
  /** Segment index of the entry; absent for defects of the event as a whole. */
  index?: number;
}

export interface DecodedSegmentEntries {
  /** Entries that decoded, in segment order. */
  entries: SegmentEntry[];
  defects: SegmentEntryDefect[];
}

function readTimes(reader: MderReader, header: number): SegmentEntryTimes {
  const times: SegmentEntryTimes = {};
  if ((header & SegmEntryHeader.absoluteTime) !== 0) {
    times.absoluteTime = readAbsoluteTime(reader);
  }
  if ((header & SegmEntryHeader.relativeTime) !== 0) {
    times.relativeTime = reader.u32('segm-entry-header.relative-time');
  }
  if ((header & SegmEntryHeader.highResRelativeTime) !== 0) {
    times.highResRelativeTime = reader.u64('segm-entry-header.hires-relative-time');
  }
  if ((header & SegmEntryHeader.baseOffsetTime) !== 0) {
    times.baseOffsetTime = readBaseOffsetTime(reader);
  }
  return times;
}

function readEntry(
  bytes: Uint8Array,
  index: number,
  header: number,
  elements: readonly SegmEntryElem[],
): SegmentEntry {
  const reader = new MderReader(bytes);
  const times = readTimes(reader, header);
  const values = elements.map((element) => ({
    handle: element.handle,
    classId: element.classId,
    metricType: element.metricType,
    attributes: readMappedValues(reader, element.attrValMap, element.handle),
  }));
  return { index, bytes, times, elements: values };
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Decodes the entries of one SegmentDataEvent under its segment's map. Returns
 * the entries that decoded and a defect for everything else: an unusable map,
 * fewer or more bytes than the declared entry count takes, and single entries
 * whose values do not decode. Never throws for any input.
 */
export function decodeSegmentEntries(
  map: PmSegmentEntryMap,
  descr: SegmDataEventDescr,
  bytes: Uint8Array,
): DecodedSegmentEntries {
  const result: DecodedSegmentEntries = { entries: [], defects: [] };
  const located = segmentEntryLayout(map);
  if ('problem' in located) {
    result.defects.push({ code: 'ENTRY_MAP_INVALID', message: located.problem });
    return result;
  }
  const size = located.layout.entryBytes;
  const declared = descr.segmEvtEntryCount;
  const present = Math.floor(bytes.byteLength / size);
  if (present < declared) {
    result.defects.push({
      code: 'ENTRIES_TRUNCATED',
      message: `segm-evt-entry-count ${declared} needs ${declared * size} bytes of ${size}-byte entries but the event carries ${bytes.byteLength}`,
    });
  } else if (bytes.byteLength > declared * size) {
    result.defects.push({
      code: 'ENTRIES_TRAILING_BYTES',
      message: `event carries ${bytes.byteLength - declared * size} bytes after its ${declared} declared ${size}-byte entries`,
    });
  }
  const count = Math.min(declared, present);
  for (let position = 0; position < count; position += 1) {
    const index = descr.segmEvtEntryIndex + position;
    const entryBytes = bytes.subarray(position * size, (position + 1) * size);
    try {
      result.entries.push(readEntry(entryBytes, index, map.segmEntryHeader, map.segmEntryElemList));
    } catch (error) {
      result.defects.push({ code: 'ENTRY_MALFORMED', message: describeError(error), index });
    }
  }
  return result;
}

function writeTimes(writer: MderWriter, header: number, times: SegmentEntryTimes): void {
  const missing = (name: string): Error =>
    encodeError(`segm-entry-header selects ${name} but the entry has none`, 'segm-entry-header');
  if ((header & SegmEntryHeader.absoluteTime) !== 0) {
    if (times.absoluteTime === undefined) {
      throw missing('an absolute time');
    }
    writeAbsoluteTime(writer, times.absoluteTime);
  }
  if ((header & SegmEntryHeader.relativeTime) !== 0) {
    if (times.relativeTime === undefined) {
      throw missing('a relative time');
    }
    writer.u32(times.relativeTime, 'segm-entry-header.relative-time');
  }
  if ((header & SegmEntryHeader.highResRelativeTime) !== 0) {
    if (times.highResRelativeTime === undefined) {
      throw missing('a high-resolution relative time');
    }
    writer.u64(times.highResRelativeTime, 'segm-entry-header.hires-relative-time');
  }
  if ((header & SegmEntryHeader.baseOffsetTime) !== 0) {
    if (times.baseOffsetTime === undefined) {
      throw missing('a base-offset time');
    }
    writeBaseOffsetTime(writer, times.baseOffsetTime);
  }
}

function writeElement(
  writer: MderWriter,
  element: SegmEntryElem,
  attributes: readonly Ava[] | undefined,
): void {
  const map = element.attrValMap;
  if (attributes?.length !== map.length) {
    throw encodeError(
      `element of handle ${element.handle} needs ${map.length} values for its attribute-value-map`,
      'segm-data-event-entries',
      element.handle,
    );
  }
  map.forEach((entry, position) => {
    const ava = attributes[position];
    const start = writer.pos;
    if (ava?.attributeId !== entry.attributeId) {
      throw encodeError(
        `value ${position} of handle ${element.handle} must be attribute ${entry.attributeId}`,
        'segm-data-event-entries',
        ava?.attributeId,
      );
    }
    writeAttributeValue(writer, ava.value);
    if (writer.pos - start !== entry.attributeLen) {
      throw encodeError(
        `attribute ${entry.attributeId} of handle ${element.handle} encodes to ${writer.pos - start} bytes, not the ${entry.attributeLen} of its attribute-value-map`,
        'segm-data-event-entries',
        entry.attributeId,
      );
    }
  });
}

/**
 * Encodes entries in the layout of `map`, the inverse of
 * `decodeSegmentEntries`. Each entry's elements follow the map's element
 * list. Throws MDER_ENCODE_INVALID for an entry that does not fit the map.
 */
export function encodeSegmentEntries(
  map: PmSegmentEntryMap,
  entries: readonly Pick<SegmentEntry, 'times' | 'elements'>[],
): Uint8Array {
  const writer = new MderWriter();
  for (const entry of entries) {
    writeTimes(writer, map.segmEntryHeader, entry.times);
    if (entry.elements.length !== map.segmEntryElemList.length) {
      throw encodeError(
        `entry has ${entry.elements.length} elements but the map lists ${map.segmEntryElemList.length}`,
        'segm-data-event-entries',
      );
    }
    map.segmEntryElemList.forEach((element, position) => {
      writeElement(writer, element, entry.elements[position]?.attributes);
    });
  }
  return writer.finish();
}

/** Time stamp attributes that carry an entry's header times into its observations. */
function timeAttributes(times: SegmentEntryTimes): Ava[] {
  const attributes: Ava[] = [];
  if (times.absoluteTime !== undefined) {
    attributes.push({
      attributeId: O.MDC_ATTR_TIME_STAMP_ABS,
      value: { kind: 'absolute-time', value: times.absoluteTime },
    });
  }
  if (times.baseOffsetTime !== undefined) {
    attributes.push({
      attributeId: O.MDC_ATTR_TIME_STAMP_BO,
      value: { kind: 'base-offset-time', value: times.baseOffsetTime },
    });
  }
  if (times.relativeTime !== undefined) {
    attributes.push({
      attributeId: O.MDC_ATTR_TIME_STAMP_REL,
      value: { kind: 'relative-time', value: times.relativeTime },
    });
  }
  if (times.highResRelativeTime !== undefined) {
    attributes.push({
      attributeId: O.MDC_ATTR_TIME_STAMP_REL_HI_RES,
      value: { kind: 'high-res-relative-time', value: times.highResRelativeTime },
    });
  }
  return attributes;
}

export interface SegmentObservations {
  observations: Observation[];
  quirks: Quirk[];
}

/**
 * Returns an observation for each element of each entry. An element takes the
 * type and unit that the configuration gives its handle, and the TYPE of the
 * map where the configuration has none. The entry's header times stamp every
 * element that carries no time stamp of its own. Elements whose handle the
 * configuration lacks are skipped with a quirk.
 */
export function segmentEntryObservations(
  configuration: Configuration,
  entries: readonly SegmentEntry[],
  personId?: number,
): SegmentObservations {
  const result: SegmentObservations = { observations: [], quirks: [] };
  for (const entry of entries) {
    const times = timeAttributes(entry.times);
    for (const element of entry.elements) {
      const configured = configuredMetric(configuration, element.handle);
      if (configured === undefined) {
        result.quirks.push({
          code: 'HANDLE_NOT_IN_CONFIGURATION',
          message: `PM-segment element handle ${element.handle} is not an object of the configuration; its values are skipped`,
          handle: element.handle,
        });
        continue;
      }
      const metric = { ...configured, type: configured.type ?? typeCode(element.metricType) };
      // The element's own time stamps come later in the list, so they win over the header's.
      const attributes = [...times, ...element.attributes];
      result.observations.push(
        buildObservation(element.handle, metric, attributes, result.quirks, personId),
      );
    }
  }
  return result;
}
