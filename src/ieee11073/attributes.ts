/**
 * Attribute lists (AttributeList, a SEQUENCE OF AVA-Type) and the table that
 * gives each attribute id its value type. Values of ids outside the table are
 * kept as raw bytes and skipped by their declared length.
 */
import type { Ava, AttributeModEntry, AttributeValue, AttributeValueKind } from './apdu.js';
import { readAttributeValue, writeAttributeValue } from './attribute-values.js';
import type { MderReader, MderWriter } from './mder.js';
import { encodeError } from './mder-error.js';
import { MdcObject as O } from './nomenclature-table.js';

const kindRows: readonly (readonly [AttributeValueKind, readonly number[]])[] = [
  [
    'u16',
    [
      O.MDC_ATTR_ID_HANDLE,
      O.MDC_ATTR_ID_INSTNO,
      O.MDC_ATTR_DEV_CONFIG_ID,
      O.MDC_ATTR_SOURCE_HANDLE_REF,
      O.MDC_ATTR_UNIT_CODE,
      O.MDC_ATTR_ID_PHYSIO,
      O.MDC_ATTR_METRIC_ID_PART,
      O.MDC_ATTR_ENUM_OBS_VAL_PART,
      O.MDC_ATTR_ENUM_OBS_VAL_SIMP_OID,
      O.MDC_ATTR_ENUM_OBS_VAL_BASIC_BIT_STR,
      O.MDC_ATTR_METRIC_SPEC_SMALL,
      O.MDC_ATTR_MSMT_STAT,
      O.MDC_ATTR_CONFIRM_MODE,
      O.MDC_ATTR_TX_WIND,
      O.MDC_ATTR_OP_STAT,
      O.MDC_ATTR_POWER_STAT,
      O.MDC_ATTR_VAL_BATT_CHARGE,
      O.MDC_ATTR_PM_STORE_CAPAB,
      O.MDC_ATTR_METRIC_STORE_SAMPLE_ALG,
      O.MDC_ATTR_NUM_SEG,
      O.MDC_ATTR_PM_SEG_PERSON_ID,
    ],
  ],
  [
    'u32',
    [
      O.MDC_ATTR_METRIC_STORE_CAPAC_CNT,
      O.MDC_ATTR_METRIC_STORE_USAGE_CNT,
      O.MDC_ATTR_SEG_USAGE_CNT,
      O.MDC_ATTR_ENUM_OBS_VAL_SIMP_BIT_STR,
    ],
  ],
  [
    'relative-time',
    [
      O.MDC_ATTR_CONFIRM_TIMEOUT,
      O.MDC_ATTR_TIME_REL,
      O.MDC_ATTR_TIME_STAMP_REL,
      O.MDC_ATTR_SCAN_REP_PD,
      O.MDC_ATTR_SCAN_REP_PD_MIN,
      O.MDC_ATTR_TIME_PD_SAMP,
      O.MDC_ATTR_CLEAR_TIMEOUT,
      O.MDC_ATTR_TRANSFER_TIMEOUT,
    ],
  ],
  ['high-res-relative-time', [O.MDC_ATTR_TIME_REL_HI_RES, O.MDC_ATTR_TIME_STAMP_REL_HI_RES]],
  [
    'absolute-time',
    [
      O.MDC_ATTR_TIME_ABS,
      O.MDC_ATTR_TIME_STAMP_ABS,
      O.MDC_ATTR_TIME_START_SEG,
      O.MDC_ATTR_TIME_END_SEG,
    ],
  ],
  [
    'base-offset-time',
    [
      O.MDC_ATTR_TIME_BO,
      O.MDC_ATTR_TIME_STAMP_BO,
      O.MDC_ATTR_TIME_START_SEG_BO,
      O.MDC_ATTR_TIME_END_SEG_BO,
    ],
  ],
  [
    'octet-string',
    [
      O.MDC_ATTR_SYS_ID,
      O.MDC_ATTR_ID_LABEL_STRING,
      O.MDC_ATTR_UNIT_LABEL_STRING,
      O.MDC_ATTR_ENUM_OBS_VAL_SIMP_STR,
      O.MDC_ATTR_PM_STORE_LABEL_STRING,
      O.MDC_ATTR_PM_SEG_LABEL_STRING,
      O.MDC_ATTR_SIMP_SA_OBS_VAL,
    ],
  ],
  ['type', [O.MDC_ATTR_ID_TYPE, O.MDC_ATTR_SYS_TYPE]],
  ['type-list', [O.MDC_ATTR_SUPPLEMENTAL_TYPES]],
  ['u16-list', [O.MDC_ATTR_ID_PHYSIO_LIST, O.MDC_ATTR_SCAN_HANDLE_LIST]],
  ['float', [O.MDC_ATTR_NU_VAL_OBS_SIMP, O.MDC_ATTR_NU_ACCUR_MSMT, O.MDC_ATTR_TIME_PD_MSMT_ACTIVE]],
  ['sfloat', [O.MDC_ATTR_NU_VAL_OBS_BASIC]],
  ['float-list', [O.MDC_ATTR_NU_CMPD_VAL_OBS_SIMP]],
  ['sfloat-list', [O.MDC_ATTR_NU_CMPD_VAL_OBS_BASIC]],
  ['nu-obs-value', [O.MDC_ATTR_NU_VAL_OBS]],
  ['nu-obs-value-list', [O.MDC_ATTR_NU_CMPD_VAL_OBS]],
  ['enum-obs-value', [O.MDC_ATTR_VAL_ENUM_OBS]],
  ['attr-val-map', [O.MDC_ATTR_ATTRIBUTE_VAL_MAP]],
  ['handle-attr-val-map', [O.MDC_ATTR_SCAN_HANDLE_ATTR_VAL_MAP]],
  ['metric-structure-small', [O.MDC_ATTR_METRIC_STRUCT_SMALL]],
  ['system-model', [O.MDC_ATTR_ID_MODEL]],
  ['production-spec', [O.MDC_ATTR_ID_PROD_SPECN]],
  ['type-ver-list', [O.MDC_ATTR_SYS_TYPE_SPEC_LIST]],
  ['reg-cert-data-list', [O.MDC_ATTR_REG_CERT_DATA_LIST]],
  ['mds-time-info', [O.MDC_ATTR_MDS_TIME_INFO]],
  ['sa-spec', [O.MDC_ATTR_SA_SPECN]],
  [
    'scale-range-spec',
    [O.MDC_ATTR_SCALE_SPECN_I8, O.MDC_ATTR_SCALE_SPECN_I16, O.MDC_ATTR_SCALE_SPECN_I32],
  ],
  ['bat-measure', [O.MDC_ATTR_TIME_BATT_REMAIN]],
  ['pm-segment-entry-map', [O.MDC_ATTR_PM_SEG_MAP]],
];

const kindById = new Map<number, AttributeValueKind>();
for (const [kind, ids] of kindRows) {
  for (const id of ids) {
    kindById.set(id, kind);
  }
}

/** Returns the value type of an attribute id; 'raw' for ids the codec does not interpret. */
export function attributeValueKind(attributeId: number): AttributeValueKind {
  return kindById.get(attributeId) ?? 'raw';
}

/** Reads one AVA-Type: attribute id, 16-bit length and a value that must use exactly that length. */
export function readAva(reader: MderReader): Ava {
  const attributeId = reader.u16('attribute-id');
  const length = reader.u16('attribute-value');
  reader.enter(length, 'attribute-value');
  const value = readAttributeValue(reader, attributeValueKind(attributeId), attributeId);
  reader.leave('attribute-value');
  return { attributeId, value };
}

/** Reads an AttributeList. */
export function readAttributeList(reader: MderReader): Ava[] {
  const field = 'attribute-list';
  const count = reader.beginList(4, field);
  const list: Ava[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    list.push(readAva(reader));
  }
  reader.leave(field);
  return list;
}

export function writeAva(writer: MderWriter, ava: Ava): void {
  checkKind(ava.attributeId, ava.value);
  writer.u16(ava.attributeId, 'attribute-id');
  const at = writer.beginLength();
  writeAttributeValue(writer, ava.value);
  writer.endLength(at, 'attribute-value');
}

export function writeAttributeList(writer: MderWriter, list: readonly Ava[]): void {
  const at = writer.beginList(list.length, 'attribute-list');
  for (const ava of list) {
    writeAva(writer, ava);
  }
  writer.endLength(at, 'attribute-list');
}

/** Reads a ModificationList of a SET invoke. */
export function readModificationList(reader: MderReader): AttributeModEntry[] {
  const field = 'modification-list';
  const count = reader.beginList(6, field);
  const list: AttributeModEntry[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    const modifyOperator = reader.u16(field);
    list.push({ modifyOperator, attribute: readAva(reader) });
  }
  reader.leave(field);
  return list;
}

export function writeModificationList(
  writer: MderWriter,
  list: readonly AttributeModEntry[],
): void {
  const at = writer.beginList(list.length, 'modification-list');
  for (const entry of list) {
    writer.u16(entry.modifyOperator, 'modify-operator');
    writeAva(writer, entry.attribute);
  }
  writer.endLength(at, 'modification-list');
}

/** Rejects a typed value whose kind is not the type of its attribute id; raw bytes fit any id. */
function checkKind(attributeId: number, value: AttributeValue): void {
  const expected = attributeValueKind(attributeId);
  if (value.kind !== 'raw' && value.kind !== expected) {
    throw encodeError(
      `attribute ${attributeId} takes a ${expected} value, not ${value.kind}`,
      'attribute-value',
      attributeId,
    );
  }
}

/** Returns the value of the first attribute with this id in a list. */
export function findAttribute(
  list: readonly Ava[],
  attributeId: number,
): AttributeValue | undefined {
  for (const ava of list) {
    if (ava.attributeId === attributeId) {
      return ava.value;
    }
  }
  return undefined;
}

const textDecoder = new TextDecoder('utf-8');

/** Decodes an OCTET STRING attribute (model, serial number, label) as text without trailing NUL padding. */
export function octetStringText(bytes: Uint8Array): string {
  let end = bytes.byteLength;
  while (end > 0 && bytes[end - 1] === 0) {
    end -= 1;
  }
  return textDecoder.decode(bytes.subarray(0, end));
}
