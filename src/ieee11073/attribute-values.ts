/**
 * MDER codecs of the attribute value types of IEEE 11073-20601 (the values
 * carried in AVA-Type, attribute-value-maps and observation scans). Each
 * reader consumes exactly one value from the current reader range.
 */
import type {
  AttrValMapEntry,
  AttributeValue,
  AttributeValueKind,
  EnumObsValue,
  EnumVal,
  HandleAttrValMapEntry,
  MdsTimeInfo,
  NuObsValue,
  PmSegmentEntryMap,
  ProdSpecEntry,
  RegCertData,
  ScaleRangeSpec,
  SegmEntryElem,
  TypeValue,
  TypeVer,
} from './apdu.js';
import { decodeFloat, decodeSfloat, encodeFloat, encodeSfloat, type MderNumber } from './float.js';
import type { MderReader, MderWriter } from './mder.js';
import { MdcObject } from './nomenclature-table.js';
import {
  readAbsoluteTime,
  readBaseOffsetTime,
  writeAbsoluteTime,
  writeBaseOffsetTime,
} from './time.js';

/** EnumVal CHOICE tags. */
const EnumValTag = { objId: 1, textString: 2, bitStr: 16 } as const;

const VALUE = 'attribute-value';

export function readFloat(reader: MderReader, field: string): MderNumber {
  return decodeFloat(reader.u32(field));
}

export function readSfloat(reader: MderReader, field: string): MderNumber {
  return decodeSfloat(reader.u16(field));
}

export function writeFloat(writer: MderWriter, value: MderNumber, field: string): void {
  writer.u32(encodeFloat(value), field);
}

export function writeSfloat(writer: MderWriter, value: MderNumber, field: string): void {
  writer.u16(encodeSfloat(value), field);
}

export function readTypeValue(reader: MderReader, field: string): TypeValue {
  const partition = reader.u16(field);
  return { partition, code: reader.u16(field) };
}

export function writeTypeValue(writer: MderWriter, value: TypeValue, field: string): void {
  writer.u16(value.partition, field);
  writer.u16(value.code, field);
}

/** Reads a SEQUENCE OF INT-U16 (HANDLEList, MetricIdList, AttributeIdList). */
export function readU16List(reader: MderReader, field: string): number[] {
  const count = reader.beginList(2, field);
  const list: number[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    list.push(reader.u16(field));
  }
  reader.leave(field);
  return list;
}

export function writeU16List(writer: MderWriter, list: readonly number[], field: string): void {
  const at = writer.beginList(list.length, field);
  for (const value of list) {
    writer.u16(value, field);
  }
  writer.endLength(at, field);
}

export function readAttrValMap(reader: MderReader): AttrValMapEntry[] {
  const field = 'attr-val-map';
  const count = reader.beginList(4, field);
  const entries: AttrValMapEntry[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    const attributeId = reader.u16(field);
    entries.push({ attributeId, attributeLen: reader.u16(field) });
  }
  reader.leave(field);
  return entries;
}

export function writeAttrValMap(writer: MderWriter, entries: readonly AttrValMapEntry[]): void {
  const field = 'attr-val-map';
  const at = writer.beginList(entries.length, field);
  for (const entry of entries) {
    writer.u16(entry.attributeId, field);
    writer.u16(entry.attributeLen, field);
  }
  writer.endLength(at, field);
}

function readTypeList(reader: MderReader): TypeValue[] {
  const field = 'type-list';
  const count = reader.beginList(4, field);
  const list: TypeValue[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    list.push(readTypeValue(reader, field));
  }
  reader.leave(field);
  return list;
}

function readNumberList(reader: MderReader, short: boolean): MderNumber[] {
  const field = short ? 'basic-nu-obs-value-cmp' : 'simple-nu-obs-value-cmp';
  const count = reader.beginList(short ? 2 : 4, field);
  const list: MderNumber[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    list.push(short ? readSfloat(reader, field) : readFloat(reader, field));
  }
  reader.leave(field);
  return list;
}

function readNuObsValue(reader: MderReader): NuObsValue {
  const field = 'nu-obs-value';
  const metricId = reader.u16(field);
  const state = reader.u16(field);
  const unitCode = reader.u16(field);
  return { metricId, state, unitCode, value: readFloat(reader, field) };
}

function readNuObsValueList(reader: MderReader): NuObsValue[] {
  const field = 'nu-obs-value-cmp';
  const count = reader.beginList(10, field);
  const list: NuObsValue[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    list.push(readNuObsValue(reader));
  }
  reader.leave(field);
  return list;
}

function readEnumVal(reader: MderReader): EnumVal {
  const field = 'enum-val';
  const tag = reader.u16(field);
  const length = reader.u16(field);
  reader.enter(length, field);
  let value: EnumVal;
  if (tag === EnumValTag.objId) {
    value = { choice: 'enum-obj-id', value: reader.u16(field) };
  } else if (tag === EnumValTag.textString) {
    value = { choice: 'enum-text-string', value: reader.octetString(field) };
  } else if (tag === EnumValTag.bitStr) {
    value = { choice: 'enum-bit-str', value: reader.u32(field) };
  } else {
    value = { choice: 'unknown', tag, bytes: reader.take(reader.remaining, field) };
  }
  reader.leave(field);
  return value;
}

function readEnumObsValue(reader: MderReader): EnumObsValue {
  const field = 'enum-obs-value';
  const metricId = reader.u16(field);
  const state = reader.u16(field);
  return { metricId, state, value: readEnumVal(reader) };
}

function readHandleAttrValMap(reader: MderReader): HandleAttrValMapEntry[] {
  const field = 'handle-attr-val-map';
  const count = reader.beginList(6, field);
  const list: HandleAttrValMapEntry[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    const objHandle = reader.u16(field);
    list.push({ objHandle, attrValMap: readAttrValMap(reader) });
  }
  reader.leave(field);
  return list;
}

function readProductionSpec(reader: MderReader): ProdSpecEntry[] {
  const field = 'production-spec';
  const count = reader.beginList(6, field);
  const list: ProdSpecEntry[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    const specType = reader.u16(field);
    const componentId = reader.u16(field);
    list.push({ specType, componentId, prodSpec: reader.octetString(field) });
  }
  reader.leave(field);
  return list;
}

function readTypeVerList(reader: MderReader): TypeVer[] {
  const field = 'type-ver-list';
  const count = reader.beginList(4, field);
  const list: TypeVer[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    const type = reader.u16(field);
    list.push({ type, version: reader.u16(field) });
  }
  reader.leave(field);
  return list;
}

function readRegCertDataList(reader: MderReader): RegCertData[] {
  const field = 'reg-cert-data-list';
  const count = reader.beginList(4, field);
  const list: RegCertData[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    const authBody = reader.u8(field);
    const authBodyStrucType = reader.u8(field);
    list.push({ authBody, authBodyStrucType, authBodyData: reader.octetString(field) });
  }
  reader.leave(field);
  return list;
}

function readMdsTimeInfo(reader: MderReader): MdsTimeInfo {
  const field = 'mds-time-info';
  return {
    mdsTimeCapState: reader.u16(field),
    timeSyncProtocol: reader.u16(field),
    timeSyncAccuracy: reader.u32(field),
    timeResolutionAbsTime: reader.u16(field),
    timeResolutionRelTime: reader.u16(field),
    timeResolutionHighResTime: reader.u32(field),
  };
}

function scaledBitsOf(attributeId: number): 8 | 16 | 32 {
  if (attributeId === MdcObject.MDC_ATTR_SCALE_SPECN_I8) {
    return 8;
  }
  return attributeId === MdcObject.MDC_ATTR_SCALE_SPECN_I16 ? 16 : 32;
}

function readScaled(reader: MderReader, bits: 8 | 16 | 32, field: string): number {
  if (bits === 8) {
    return reader.u8(field);
  }
  return bits === 16 ? reader.u16(field) : reader.u32(field);
}

function readScaleRangeSpec(reader: MderReader, attributeId: number): ScaleRangeSpec {
  const field = 'scale-range-spec';
  const scaledBits = scaledBitsOf(attributeId);
  return {
    scaledBits,
    lowerAbsoluteValue: readFloat(reader, field),
    upperAbsoluteValue: readFloat(reader, field),
    lowerScaledValue: readScaled(reader, scaledBits, field),
    upperScaledValue: readScaled(reader, scaledBits, field),
  };
}

function readPmSegmentEntryMap(reader: MderReader): PmSegmentEntryMap {
  const field = 'pm-segment-entry-map';
  const segmEntryHeader = reader.u16(field);
  const count = reader.beginList(12, field);
  const segmEntryElemList: SegmEntryElem[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    const classId = reader.u16(field);
    const metricType = readTypeValue(reader, field);
    const handle = reader.u16(field);
    segmEntryElemList.push({ classId, metricType, handle, attrValMap: readAttrValMap(reader) });
  }
  reader.leave(field);
  return { segmEntryHeader, segmEntryElemList };
}

function readMetricStructureSmall(reader: MderReader): AttributeValue {
  const msStruct = reader.u8(VALUE);
  return { kind: 'metric-structure-small', value: { msStruct, msCompNo: reader.u8(VALUE) } };
}

function readSystemModel(reader: MderReader): AttributeValue {
  const manufacturer = reader.octetString(VALUE);
  return { kind: 'system-model', value: { manufacturer, modelNumber: reader.octetString(VALUE) } };
}

function readSaSpec(reader: MderReader): AttributeValue {
  const arraySize = reader.u16(VALUE);
  const sampleSize = reader.u8(VALUE);
  const significantBits = reader.u8(VALUE);
  return {
    kind: 'sa-spec',
    value: { arraySize, sampleSize, significantBits, flags: reader.u16(VALUE) },
  };
}

function readBatMeasure(reader: MderReader): AttributeValue {
  const value = readFloat(reader, VALUE);
  return { kind: 'bat-measure', value: { value, unit: reader.u16(VALUE) } };
}

type ValueReader = (reader: MderReader, attributeId: number) => AttributeValue;

/** Reader of each value type; the mapped type makes the table cover every kind. */
const valueReaders: { readonly [K in AttributeValueKind]: ValueReader } = {
  raw: (reader) => ({ kind: 'raw', bytes: reader.take(reader.remaining, VALUE) }),
  u16: (reader) => ({ kind: 'u16', value: reader.u16(VALUE) }),
  u32: (reader) => ({ kind: 'u32', value: reader.u32(VALUE) }),
  'relative-time': (reader) => ({ kind: 'relative-time', value: reader.u32(VALUE) }),
  'high-res-relative-time': (reader) => ({
    kind: 'high-res-relative-time',
    value: reader.u64(VALUE),
  }),
  'absolute-time': (reader) => ({ kind: 'absolute-time', value: readAbsoluteTime(reader) }),
  'base-offset-time': (reader) => ({ kind: 'base-offset-time', value: readBaseOffsetTime(reader) }),
  'octet-string': (reader) => ({ kind: 'octet-string', value: reader.octetString(VALUE) }),
  type: (reader) => ({ kind: 'type', value: readTypeValue(reader, VALUE) }),
  'type-list': (reader) => ({ kind: 'type-list', value: readTypeList(reader) }),
  'u16-list': (reader) => ({ kind: 'u16-list', value: readU16List(reader, 'u16-list') }),
  float: (reader) => ({ kind: 'float', value: readFloat(reader, VALUE) }),
  sfloat: (reader) => ({ kind: 'sfloat', value: readSfloat(reader, VALUE) }),
  'float-list': (reader) => ({ kind: 'float-list', value: readNumberList(reader, false) }),
  'sfloat-list': (reader) => ({ kind: 'sfloat-list', value: readNumberList(reader, true) }),
  'nu-obs-value': (reader) => ({ kind: 'nu-obs-value', value: readNuObsValue(reader) }),
  'nu-obs-value-list': (reader) => ({
    kind: 'nu-obs-value-list',
    value: readNuObsValueList(reader),
  }),
  'enum-obs-value': (reader) => ({ kind: 'enum-obs-value', value: readEnumObsValue(reader) }),
  'attr-val-map': (reader) => ({ kind: 'attr-val-map', value: readAttrValMap(reader) }),
  'handle-attr-val-map': (reader) => ({
    kind: 'handle-attr-val-map',
    value: readHandleAttrValMap(reader),
  }),
  'metric-structure-small': readMetricStructureSmall,
  'system-model': readSystemModel,
  'production-spec': (reader) => ({ kind: 'production-spec', value: readProductionSpec(reader) }),
  'type-ver-list': (reader) => ({ kind: 'type-ver-list', value: readTypeVerList(reader) }),
  'reg-cert-data-list': (reader) => ({
    kind: 'reg-cert-data-list',
    value: readRegCertDataList(reader),
  }),
  'mds-time-info': (reader) => ({ kind: 'mds-time-info', value: readMdsTimeInfo(reader) }),
  'sa-spec': readSaSpec,
  'scale-range-spec': (reader, attributeId) => ({
    kind: 'scale-range-spec',
    value: readScaleRangeSpec(reader, attributeId),
  }),
  'bat-measure': readBatMeasure,
  'pm-segment-entry-map': (reader) => ({
    kind: 'pm-segment-entry-map',
    value: readPmSegmentEntryMap(reader),
  }),
};

/** Reads one attribute value of `kind`; the caller checks that it used the declared length. */
export function readAttributeValue(
  reader: MderReader,
  kind: AttributeValueKind,
  attributeId: number,
): AttributeValue {
  return valueReaders[kind](reader, attributeId);
}

function writeList<T>(
  writer: MderWriter,
  list: readonly T[],
  field: string,
  writeElement: (writer: MderWriter, element: T) => void,
): void {
  const at = writer.beginList(list.length, field);
  for (const element of list) {
    writeElement(writer, element);
  }
  writer.endLength(at, field);
}

function writeNuObsValue(writer: MderWriter, value: NuObsValue): void {
  const field = 'nu-obs-value';
  writer.u16(value.metricId, field);
  writer.u16(value.state, field);
  writer.u16(value.unitCode, field);
  writeFloat(writer, value.value, field);
}

function writeEnumVal(writer: MderWriter, value: EnumVal): void {
  const field = 'enum-val';
  switch (value.choice) {
    case 'enum-obj-id':
      writer.u16(EnumValTag.objId, field);
      writer.u16(2, field);
      writer.u16(value.value, field);
      return;
    case 'enum-text-string':
      writer.u16(EnumValTag.textString, field);
      writer.u16(value.value.byteLength + 2, field);
      writer.octetString(value.value, field);
      return;
    case 'enum-bit-str':
      writer.u16(EnumValTag.bitStr, field);
      writer.u16(4, field);
      writer.u32(value.value, field);
      return;
    case 'unknown':
      writer.u16(value.tag, field);
      writer.octetString(value.bytes, field);
      return;
  }
}

function writeScaleRangeSpec(writer: MderWriter, value: ScaleRangeSpec): void {
  const field = 'scale-range-spec';
  writeFloat(writer, value.lowerAbsoluteValue, field);
  writeFloat(writer, value.upperAbsoluteValue, field);
  for (const scaled of [value.lowerScaledValue, value.upperScaledValue]) {
    if (value.scaledBits === 8) {
      writer.u8(scaled, field);
    } else if (value.scaledBits === 16) {
      writer.u16(scaled, field);
    } else {
      writer.u32(scaled, field);
    }
  }
}

function writeMdsTimeInfo(writer: MderWriter, value: MdsTimeInfo): void {
  const field = 'mds-time-info';
  writer.u16(value.mdsTimeCapState, field);
  writer.u16(value.timeSyncProtocol, field);
  writer.u32(value.timeSyncAccuracy, field);
  writer.u16(value.timeResolutionAbsTime, field);
  writer.u16(value.timeResolutionRelTime, field);
  writer.u32(value.timeResolutionHighResTime, field);
}

function writePmSegmentEntryMap(writer: MderWriter, value: PmSegmentEntryMap): void {
  const field = 'pm-segment-entry-map';
  writer.u16(value.segmEntryHeader, field);
  writeList(writer, value.segmEntryElemList, field, (w, elem) => {
    w.u16(elem.classId, field);
    writeTypeValue(w, elem.metricType, field);
    w.u16(elem.handle, field);
    writeAttrValMap(w, elem.attrValMap);
  });
}

type ValueWriters = {
  readonly [K in AttributeValueKind]: (
    writer: MderWriter,
    value: Extract<AttributeValue, { kind: K }>,
  ) => void;
};

function writeProdSpecEntry(writer: MderWriter, entry: ProdSpecEntry): void {
  writer.u16(entry.specType, VALUE);
  writer.u16(entry.componentId, VALUE);
  writer.octetString(entry.prodSpec, VALUE);
}

function writeRegCertData(writer: MderWriter, entry: RegCertData): void {
  writer.u8(entry.authBody, VALUE);
  writer.u8(entry.authBodyStrucType, VALUE);
  writer.octetString(entry.authBodyData, VALUE);
}

function writeHandleAttrValMapEntry(writer: MderWriter, entry: HandleAttrValMapEntry): void {
  writer.u16(entry.objHandle, VALUE);
  writeAttrValMap(writer, entry.attrValMap);
}

function writeTypeVer(writer: MderWriter, entry: TypeVer): void {
  writer.u16(entry.type, VALUE);
  writer.u16(entry.version, VALUE);
}

/** Writer of each value type, the inverse of `valueReaders`. */
const valueWriters: ValueWriters = {
  raw: (writer, { bytes }) => {
    writer.bytes(bytes);
  },
  u16: (writer, { value }) => {
    writer.u16(value, VALUE);
  },
  u32: (writer, { value }) => {
    writer.u32(value, VALUE);
  },
  'relative-time': (writer, { value }) => {
    writer.u32(value, VALUE);
  },
  'high-res-relative-time': (writer, { value }) => {
    writer.u64(value, VALUE);
  },
  'absolute-time': (writer, { value }) => {
    writeAbsoluteTime(writer, value);
  },
  'base-offset-time': (writer, { value }) => {
    writeBaseOffsetTime(writer, value);
  },
  'octet-string': (writer, { value }) => {
    writer.octetString(value, VALUE);
  },
  type: (writer, { value }) => {
    writeTypeValue(writer, value, VALUE);
  },
  'type-list': (writer, { value }) => {
    writeList(writer, value, VALUE, (w, type) => {
      writeTypeValue(w, type, VALUE);
    });
  },
  'u16-list': (writer, { value }) => {
    writeU16List(writer, value, 'u16-list');
  },
  float: (writer, { value }) => {
    writeFloat(writer, value, VALUE);
  },
  sfloat: (writer, { value }) => {
    writeSfloat(writer, value, VALUE);
  },
  'float-list': (writer, { value }) => {
    writeList(writer, value, VALUE, (w, n) => {
      writeFloat(w, n, VALUE);
    });
  },
  'sfloat-list': (writer, { value }) => {
    writeList(writer, value, VALUE, (w, n) => {
      writeSfloat(w, n, VALUE);
    });
  },
  'nu-obs-value': (writer, { value }) => {
    writeNuObsValue(writer, value);
  },
  'nu-obs-value-list': (writer, { value }) => {
    writeList(writer, value, VALUE, writeNuObsValue);
  },
  'enum-obs-value': (writer, { value }) => {
    writer.u16(value.metricId, VALUE);
    writer.u16(value.state, VALUE);
    writeEnumVal(writer, value.value);
  },
  'attr-val-map': (writer, { value }) => {
    writeAttrValMap(writer, value);
  },
  'handle-attr-val-map': (writer, { value }) => {
    writeList(writer, value, VALUE, writeHandleAttrValMapEntry);
  },
  'metric-structure-small': (writer, { value }) => {
    writer.u8(value.msStruct, VALUE);
    writer.u8(value.msCompNo, VALUE);
  },
  'system-model': (writer, { value }) => {
    writer.octetString(value.manufacturer, VALUE);
    writer.octetString(value.modelNumber, VALUE);
  },
  'production-spec': (writer, { value }) => {
    writeList(writer, value, VALUE, writeProdSpecEntry);
  },
  'type-ver-list': (writer, { value }) => {
    writeList(writer, value, VALUE, writeTypeVer);
  },
  'reg-cert-data-list': (writer, { value }) => {
    writeList(writer, value, VALUE, writeRegCertData);
  },
  'mds-time-info': (writer, { value }) => {
    writeMdsTimeInfo(writer, value);
  },
  'sa-spec': (writer, { value }) => {
    writer.u16(value.arraySize, VALUE);
    writer.u8(value.sampleSize, VALUE);
    writer.u8(value.significantBits, VALUE);
    writer.u16(value.flags, VALUE);
  },
  'scale-range-spec': (writer, { value }) => {
    writeScaleRangeSpec(writer, value);
  },
  'bat-measure': (writer, { value }) => {
    writeFloat(writer, value.value, VALUE);
    writer.u16(value.unit, VALUE);
  },
  'pm-segment-entry-map': (writer, { value }) => {
    writePmSegmentEntryMap(writer, value);
  },
};

/** Writes one attribute value in the layout `readAttributeValue` reads. */
export function writeAttributeValue(writer: MderWriter, value: AttributeValue): void {
  // The table is keyed by kind, so the writer found for value.kind takes this value.
  const write = valueWriters[value.kind] as (writer: MderWriter, value: AttributeValue) => void;
  write(writer, value);
}
