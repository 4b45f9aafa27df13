import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortReason,
  RorjProblem,
  configurationFromReport,
  decodeApdu,
  decodeFloat,
  decodeSfloat,
  encodeApdu,
  encodeFloat,
  encodeSfloat,
  extractObservations,
  findAttribute,
  formatAbsoluteTime,
  lookupTermByReferenceId,
  mdcCode,
  MdcObject,
  MdcPartition,
  octetStringText,
  reactionFor,
  referenceIdOf,
  standardConfiguration,
  typeCode,
  ucumForUnitCode,
  type Apdu,
  type Ava,
  type Configuration,
  type MderReaction,
  type Observation,
  type PhdAssociationInformation,
} from '../../src/ieee11073/index.js';
import {
  bytesOf,
  decodeHex,
  fixture,
  hexOf,
  infoOf,
  leadingNumber,
  messageOf,
  vectorById,
  type GoodVector,
} from './support.js';

function associationInfo(apdu: Apdu): PhdAssociationInformation {
  const proto =
    apdu.kind === 'aarq'
      ? apdu.dataProtoList[0]
      : apdu.kind === 'aare'
        ? apdu.selectedDataProto
        : undefined;
  assert.ok(proto, `${apdu.kind} carries no data-proto`);
  assert.equal(proto.dataProtoId, 20601);
  assert.ok(!(proto.dataProtoInfo instanceof Uint8Array));
  return proto.dataProtoInfo;
}

function checkAarq(vector: GoodVector): void {
  const apdu = decodeHex(vector.hex);
  assert.equal(apdu.kind, 'aarq');
  const info = associationInfo(apdu);
  const expected = vector.expected;
  if (expected.assocVersion !== undefined) {
    assert.equal(apdu.assocVersion, leadingNumber(expected.assocVersion));
    assert.equal(apdu.dataProtoList[0]?.dataProtoId, expected.dataProtoId);
    assert.equal(info.protocolVersion, leadingNumber(expected.protocolVersion));
    assert.equal(info.nomenclatureVersion, leadingNumber(expected.nomenclatureVersion));
    assert.equal(info.functionalUnits, leadingNumber(expected.functionalUnits));
    assert.equal(info.systemType, leadingNumber(expected.systemType));
    assert.equal(info.dataReqModeCapab.dataReqModeFlags, leadingNumber(expected.dataReqModeFlags));
    assert.equal(info.dataReqModeCapab.dataReqInitAgentCount, expected.initAgentCount);
    assert.equal(info.dataReqModeCapab.dataReqInitManagerCount, expected.initManagerCount);
  }
  assert.equal(info.encodingRules, leadingNumber(expected.encodingRules));
  assert.equal(hexOf(info.systemId), expected.systemId);
  assert.equal(info.devConfigId, leadingNumber(expected.devConfigId));
}

function checkAare(vector: GoodVector): void {
  const apdu = decodeHex(vector.hex);
  assert.equal(apdu.kind, 'aare');
  const info = associationInfo(apdu);
  assert.equal(apdu.result, leadingNumber(vector.expected.result));
  assert.equal(apdu.selectedDataProto.dataProtoId, vector.expected.dataProtoId);
  assert.equal(info.systemType, leadingNumber(vector.expected.systemType));
  assert.equal(hexOf(info.systemId), vector.expected.managerSystemId);
}

/** Checks an attribute-value-map against text such as "NU_VAL_OBS_SIMP(FLOAT):4 + TIME_STAMP_ABS:8". */
function checkValueMap(attributes: Ava[], expected: string): void {
  const map = findAttribute(attributes, MdcObject.MDC_ATTR_ATTRIBUTE_VAL_MAP);
  assert.equal(map?.kind, 'attr-val-map');
  const entries = expected.split(' + ').map((part) => {
    const [name = '', length = ''] = part.split(':');
    const referenceId = `MDC_ATTR_${name.replace(/\(.*\)/, '')}`;
    return {
      attributeId: lookupTermByReferenceId(referenceId)?.term,
      attributeLen: Number(length),
    };
  });
  assert.deepEqual(map.value, entries);
}

interface ExpectedObject {
  handle: number;
  type: number;
  name?: string;
  metricSpecSmall?: string;
  unit: number;
  ucum: string;
  valueMap?: string;
  supplementalTypes?: string[];
  sourceHandleRef?: number;
}

function checkConfigObject(attributes: Ava[], expected: ExpectedObject): void {
  const type = findAttribute(attributes, MdcObject.MDC_ATTR_ID_TYPE);
  assert.equal(type?.kind, 'type');
  assert.equal(typeCode(type.value), expected.type);
  if (expected.name !== undefined) {
    assert.equal(referenceIdOf(expected.type), expected.name);
  }
  const unit = findAttribute(attributes, MdcObject.MDC_ATTR_UNIT_CODE);
  assert.deepEqual(unit, { kind: 'u16', value: expected.unit });
  assert.equal(ucumForUnitCode(expected.unit), expected.ucum);
  if (expected.metricSpecSmall !== undefined) {
    const spec = findAttribute(attributes, MdcObject.MDC_ATTR_METRIC_SPEC_SMALL);
    assert.deepEqual(spec, { kind: 'u16', value: leadingNumber(expected.metricSpecSmall) });
  }
  if (expected.valueMap !== undefined) {
    checkValueMap(attributes, expected.valueMap);
  }
  if (expected.supplementalTypes !== undefined) {
    const supplemental = findAttribute(attributes, MdcObject.MDC_ATTR_SUPPLEMENTAL_TYPES);
    assert.equal(supplemental?.kind, 'type-list');
    const names = supplemental.value.map((entry) => referenceIdOf(typeCode(entry)));
    assert.deepEqual(
      names,
      expected.supplementalTypes.map((text) => text.split(' ')[0]),
    );
  }
  if (expected.sourceHandleRef !== undefined) {
    const reference = findAttribute(attributes, MdcObject.MDC_ATTR_SOURCE_HANDLE_REF);
    assert.deepEqual(reference, { kind: 'u16', value: expected.sourceHandleRef });
  }
}

function checkConfigReport(vector: GoodVector): void {
  const apdu = decodeHex(vector.hex);
  const info = infoOf(apdu, 'config-report');
  if (vector.expected.invokeId !== undefined) {
    assert.equal(messageOf(apdu).invokeId, leadingNumber(vector.expected.invokeId));
  }
  if (vector.expected.configReportId !== undefined) {
    assert.equal(info.configReportId, leadingNumber(vector.expected.configReportId));
  }
  const objects = vector.expected.objects as ExpectedObject[];
  assert.equal(info.configObjList.length, objects.length);
  objects.forEach((expected, index) => {
    const object = info.configObjList[index];
    assert.ok(object);
    assert.equal(object.objHandle, expected.handle);
    assert.equal(object.objClass, MdcObject.MDC_MOC_VMO_METRIC_NU);
    checkConfigObject(object.attributes, expected);
  });
}

function checkRorsEventReport(vector: GoodVector): void {
  const { invokeId, message } = messageOf(decodeHex(vector.hex));
  assert.equal(invokeId, leadingNumber(vector.expected.invokeId));
  assert.equal(message.kind, 'rors-confirmed-event-report');
  if (vector.expected.eventType !== undefined) {
    assert.equal(message.eventType, leadingNumber(vector.expected.eventType));
  }
  if (vector.expected.configResult !== undefined) {
    assert.deepEqual(message.eventReplyInfo, {
      kind: 'config-report-rsp',
      configReportId: leadingNumber(vector.expected.configReportId),
      configResult: leadingNumber(vector.expected.configResult),
    });
  }
}

/** Returns the configuration a scan report vector names in its source. */
function configurationFor(vector: GoodVector): Configuration {
  const needs = /needs (config-[a-z0-9-]+)/.exec(vector.source);
  if (needs?.[1] !== undefined) {
    return configurationFromReport(infoOf(decodeHex(vectorById(needs[1]).hex), 'config-report'));
  }
  const standard = /standard configuration 0x([0-9A-Fa-f]{4})/.exec(vector.source);
  assert.ok(standard?.[1], `vector ${vector.id} names no configuration`);
  const configuration = standardConfiguration(Number.parseInt(standard[1], 16));
  assert.ok(configuration, `no standard configuration 0x${standard[1]}`);
  return configuration;
}

interface ExpectedObservation {
  handle: number;
  type?: number;
  name?: string;
  value?: string;
  components?: { type: number; value: string }[];
  unit: string;
  time: string;
}

function checkObservation(observation: Observation, expected: ExpectedObservation): void {
  assert.equal(observation.handle, expected.handle);
  assert.equal(ucumForUnitCode(observation.unitCode ?? -1), expected.unit);
  assert.ok(observation.absoluteTime);
  assert.equal(formatAbsoluteTime(observation.absoluteTime), expected.time);
  if (expected.type !== undefined) {
    assert.equal(observation.type, expected.type);
  }
  if (expected.name !== undefined) {
    assert.equal(referenceIdOf(observation.type ?? -1), expected.name);
  }
  if (expected.value !== undefined) {
    assert.equal(observation.value?.kind, 'numeric');
    assert.equal(observation.value.value.kind, 'finite');
    assert.equal(observation.value.value.decimal, expected.value);
  }
  if (expected.components !== undefined) {
    assert.equal(observation.value?.kind, 'compound');
    const components = observation.value.components.map((component) => ({
      type: component.metricId,
      value: component.value.kind === 'finite' ? component.value.decimal : component.value.kind,
    }));
    assert.deepEqual(components, expected.components);
  }
}

function checkScanReport(vector: GoodVector): void {
  const apdu = decodeHex(vector.hex);
  const { invokeId, message } = messageOf(apdu);
  assert.equal(message.kind, 'roiv-confirmed-event-report');
  if (vector.expected.invokeId !== undefined) {
    assert.equal(invokeId, leadingNumber(vector.expected.invokeId));
  }
  if (vector.expected.eventTime !== undefined) {
    assert.equal(message.eventTime, leadingNumber(vector.expected.eventTime));
  }
  const result = extractObservations(configurationFor(vector), message);
  assert.deepEqual(result.quirks, []);
  const expected = vector.expected.observations as ExpectedObservation[];
  assert.equal(result.observations.length, expected.length);
  expected.forEach((entry, index) => {
    const observation = result.observations[index];
    assert.ok(observation);
    checkObservation(observation, entry);
  });
}

function checkGet(vector: GoodVector): void {
  const { invokeId, message } = messageOf(decodeHex(vector.hex));
  assert.equal(invokeId, leadingNumber(vector.expected.invokeId));
  assert.equal(message.kind, 'roiv-get');
  assert.equal(message.objHandle, vector.expected.handle);
  assert.deepEqual(message.attributeIdList, vector.expected.attributeIds);
}

function checkMdsAttributes(vector: GoodVector): void {
  const { message } = messageOf(decodeHex(vector.hex));
  assert.equal(message.kind, 'rors-get');
  const attributes = message.attributeList;
  const expected = vector.expected;
  const specList = findAttribute(attributes, MdcObject.MDC_ATTR_SYS_TYPE_SPEC_LIST);
  assert.equal(specList?.kind, 'type-ver-list');
  assert.deepEqual(
    specList.value.map((entry) => ({
      type: entry.type,
      name: referenceIdOf(mdcCode(MdcPartition.infrastructure, entry.type)),
      version: entry.version,
    })),
    expected.sysTypeSpecList,
  );

  const model = findAttribute(attributes, MdcObject.MDC_ATTR_ID_MODEL);
  assert.equal(model?.kind, 'system-model');
  assert.equal(octetStringText(model.value.manufacturer), expected.manufacturer);
  assert.equal(octetStringText(model.value.modelNumber), String(expected.model).split(' (')[0]);
  assert.equal(model.value.modelNumber.at(-1), 0);

  const systemId = findAttribute(attributes, MdcObject.MDC_ATTR_SYS_ID);
  assert.equal(systemId?.kind, 'octet-string');
  assert.equal(hexOf(systemId.value), expected.systemId);
  const configId = findAttribute(attributes, MdcObject.MDC_ATTR_DEV_CONFIG_ID);
  assert.deepEqual(configId, { kind: 'u16', value: leadingNumber(expected.devConfigId) });

  const production = findAttribute(attributes, MdcObject.MDC_ATTR_ID_PROD_SPECN);
  assert.equal(production?.kind, 'production-spec');
  const expectedProduction = expected.productionSpec as {
    specType: string;
    componentId: number;
    value: string;
  }[];
  assert.deepEqual(
    production.value.map((entry) => ({
      specType: entry.specType,
      componentId: entry.componentId,
      value: octetStringText(entry.prodSpec),
    })),
    expectedProduction.map((entry) => ({ ...entry, specType: leadingNumber(entry.specType) })),
  );

  const time = findAttribute(attributes, MdcObject.MDC_ATTR_TIME_ABS);
  assert.equal(time?.kind, 'absolute-time');
  assert.equal(formatAbsoluteTime(time.value), expected.timeAbs);
}

function checkReason(vector: GoodVector): void {
  const apdu = decodeHex(vector.hex);
  assert.equal(apdu.kind, vector.kind.toLowerCase());
  assert.ok(apdu.kind === 'rlrq' || apdu.kind === 'rlre' || apdu.kind === 'abrt');
  assert.equal(apdu.reason, leadingNumber(vector.expected.reason));
}

function checkVector(vector: GoodVector): void {
  const kind = vector.kind;
  if (kind === 'AARQ') {
    checkAarq(vector);
  } else if (kind === 'AARE') {
    checkAare(vector);
  } else if (kind === 'RLRQ' || kind === 'RLRE' || kind === 'ABRT') {
    checkReason(vector);
  } else if (kind.includes('MDC_NOTI_CONFIG')) {
    checkConfigReport(vector);
  } else if (kind.includes('MDC_NOTI_SCAN_REPORT_FIXED')) {
    checkScanReport(vector);
  } else if (kind.startsWith('PRST rors-confirmed-event-report')) {
    checkRorsEventReport(vector);
  } else if (kind.startsWith('PRST roiv-get')) {
    checkGet(vector);
  } else if (kind.startsWith('PRST rors-get')) {
    checkMdsAttributes(vector);
  } else {
    assert.fail(`no check for vector kind ${kind}`);
  }
}

describe('ieee11073 public vectors', () => {
  test('fixture covers every vector kind', () => {
    assert.ok(fixture.vectors.length >= 19);
    assert.ok(fixture.provenance.length > 0);
    for (const vector of fixture.vectors) {
      assert.ok(vector.source.length > 0, `${vector.id} lacks a source`);
    }
  });

  for (const vector of fixture.vectors) {
    test(`vector ${vector.id} decodes`, () => {
      checkVector(vector);
    });

    test(`vector ${vector.id} round trip`, () => {
      const bytes = bytesOf(vector.hex);
      const { apdu, quirks } = decodeApdu(bytes);
      assert.deepEqual(quirks, []);
      assert.equal(hexOf(encodeApdu(apdu)), vector.hex.toLowerCase());
    });
  }
});

interface MalformedCase {
  code: string;
  reaction: MderReaction;
  /** Expectation when a framing transport delivers only the bytes the APDU header declares. */
  framed?: { code: string; reaction: MderReaction };
}

const malformedCases: Record<string, MalformedCase> = {
  'malformed-config-inserted-bytes': {
    code: 'MDER_LENGTH_MISMATCH',
    reaction: { kind: 'abort', reason: AbortReason.undefined },
    framed: {
      code: 'MDER_LENGTH_MISMATCH',
      reaction: { kind: 'reject', problem: RorjProblem.badlyStructuredApdu, invokeId: 0x1236 },
    },
  },
  'malformed-lengths-disagree': {
    code: 'MDER_TRUNCATED',
    reaction: { kind: 'abort', reason: AbortReason.undefined },
  },
  'malformed-count-exceeds-list': {
    code: 'MDER_COUNT_MISMATCH',
    reaction: { kind: 'reject', problem: RorjProblem.badlyStructuredApdu, invokeId: 0x9999 },
  },
};

function expectRejected(bytes: Uint8Array, code: string, reaction: MderReaction): void {
  assert.throws(
    () => decodeApdu(bytes),
    (error: unknown) => {
      assert.deepEqual(reactionFor(error), reaction);
      assert.equal((error as { code?: string }).code, code);
      return true;
    },
  );
}

describe('ieee11073 malformed vectors', () => {
  for (const vector of fixture.malformed) {
    test(`vector ${vector.id} is rejected`, () => {
      const expected = malformedCases[vector.id];
      assert.ok(expected, `no expectation for ${vector.id}`);
      expectRejected(bytesOf(vector.hex), expected.code, expected.reaction);
    });

    test(`vector ${vector.id} framed is rejected`, () => {
      const expected = malformedCases[vector.id];
      assert.ok(expected);
      const bytes = bytesOf(vector.hex);
      const framedLength = Math.min(bytes.byteLength, ((bytes[2] ?? 0) << 8) + (bytes[3] ?? 0) + 4);
      const framed = expected.framed ?? expected;
      expectRejected(bytes.subarray(0, framedLength), framed.code, framed.reaction);
    });
  }
});

describe('ieee11073 float vectors', () => {
  const kindByMeaning: Record<string, string> = {
    NaN: 'nan',
    '+INF': 'positive-infinity',
    '-INF': 'negative-infinity',
    NRes: 'nres',
    reserved: 'reserved',
  };

  for (const special of fixture.floats.values) {
    test(`special ${special.meaning} decodes exactly`, () => {
      const expectedKind = kindByMeaning[special.meaning];
      const sfloatBits = Number.parseInt(special.sfloat, 16);
      const floatBits = Number.parseInt(special.float, 16);
      const sfloat = decodeSfloat(sfloatBits);
      const float = decodeFloat(floatBits);
      assert.equal(sfloat.kind, expectedKind);
      assert.equal(float.kind, expectedKind);
      assert.equal(encodeSfloat(sfloat), sfloatBits);
      assert.equal(encodeFloat(float), floatBits);
    });
  }

  for (const example of fixture.floats.examples) {
    const label =
      example.sfloat === undefined ? `FLOAT ${example.float}` : `SFLOAT ${example.sfloat}`;
    test(`example ${label} decodes exactly`, () => {
      const isShort = example.sfloat !== undefined;
      const bits = Number.parseInt(example.sfloat ?? example.float ?? '', 16);
      const value = isShort ? decodeSfloat(bits) : decodeFloat(bits);
      assert.equal(value.kind, 'finite');
      assert.equal(value.decimal, example.value);
      assert.equal(value.value, Number(example.value));
      assert.equal(isShort ? encodeSfloat(value) : encodeFloat(value), bits);
    });
  }
});
