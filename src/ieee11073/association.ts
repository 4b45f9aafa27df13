/**
 * Association APDUs (AARQ, AARE, RLRQ, RLRE, ABRT) and their constants.
 */
import type { AareApdu, AarqApdu, DataProto, PhdAssociationInformation } from './apdu.js';
import { readAttributeList, writeAttributeList } from './attributes.js';
import type { MderReader, MderWriter } from './mder.js';

/** data-proto-id of IEEE 11073-20601. */
export const DATA_PROTO_ID_20601 = 20601;

/** AssociateResult of an AARE. */
export const AssociateResult = {
  accepted: 0,
  rejectedPermanent: 1,
  rejectedTransient: 2,
  acceptedUnknownConfig: 3,
  rejectedNoCommonProtocol: 4,
  rejectedNoCommonParameter: 5,
  rejectedUnknown: 6,
  rejectedUnauthorized: 7,
  rejectedUnsupportedAssocVersion: 8,
} as const;

export const ReleaseRequestReason = {
  normal: 0,
  noMoreConfigurations: 1,
  configurationChanged: 2,
} as const;

export const ReleaseResponseReason = { normal: 0 } as const;

/** Bit values of the BITS fields in the association information. */
export const AssociationBits = {
  assocVersion1: 0x80000000,
  protocolVersion1: 0x80000000,
  protocolVersion2: 0x40000000,
  protocolVersion3: 0x20000000,
  encodingMder: 0x8000,
  encodingXer: 0x4000,
  encodingPer: 0x2000,
  nomenclatureVersion1: 0x80000000,
  systemTypeManager: 0x80000000,
  systemTypeAgent: 0x00800000,
} as const;

/** ConfigId ranges of dev-config-id. */
export const ConfigId = {
  managerConfigResponse: 0,
  standardConfigStart: 1,
  standardConfigEnd: 0x3fff,
  extendedConfigStart: 0x4000,
  extendedConfigEnd: 0x7fff,
} as const;

function readPhdAssociationInformation(reader: MderReader): PhdAssociationInformation {
  const field = 'phd-association-information';
  const protocolVersion = reader.u32(field);
  const encodingRules = reader.u16(field);
  const nomenclatureVersion = reader.u32(field);
  const functionalUnits = reader.u32(field);
  const systemType = reader.u32(field);
  const systemId = reader.octetString('system-id');
  const devConfigId = reader.u16('dev-config-id');
  const dataReqModeFlags = reader.u16('data-req-mode-capab');
  const dataReqInitAgentCount = reader.u8('data-req-mode-capab');
  const dataReqInitManagerCount = reader.u8('data-req-mode-capab');
  return {
    protocolVersion,
    encodingRules,
    nomenclatureVersion,
    functionalUnits,
    systemType,
    systemId,
    devConfigId,
    dataReqModeCapab: { dataReqModeFlags, dataReqInitAgentCount, dataReqInitManagerCount },
    optionList: readAttributeList(reader),
  };
}

function writePhdAssociationInformation(writer: MderWriter, info: PhdAssociationInformation): void {
  const field = 'phd-association-information';
  writer.u32(info.protocolVersion, field);
  writer.u16(info.encodingRules, field);
  writer.u32(info.nomenclatureVersion, field);
  writer.u32(info.functionalUnits, field);
  writer.u32(info.systemType, field);
  writer.octetString(info.systemId, 'system-id');
  writer.u16(info.devConfigId, 'dev-config-id');
  writer.u16(info.dataReqModeCapab.dataReqModeFlags, 'data-req-mode-capab');
  writer.u8(info.dataReqModeCapab.dataReqInitAgentCount, 'data-req-mode-capab');
  writer.u8(info.dataReqModeCapab.dataReqInitManagerCount, 'data-req-mode-capab');
  writeAttributeList(writer, info.optionList);
}

function readDataProto(reader: MderReader): DataProto {
  const dataProtoId = reader.u16('data-proto-id');
  const length = reader.u16('data-proto-info');
  if (dataProtoId !== DATA_PROTO_ID_20601) {
    return { dataProtoId, dataProtoInfo: reader.take(length, 'data-proto-info') };
  }
  reader.enter(length, 'data-proto-info');
  const dataProtoInfo = readPhdAssociationInformation(reader);
  reader.leave('data-proto-info');
  return { dataProtoId: DATA_PROTO_ID_20601, dataProtoInfo };
}

function writeDataProto(writer: MderWriter, proto: DataProto): void {
  writer.u16(proto.dataProtoId, 'data-proto-id');
  const at = writer.beginLength();
  if (proto.dataProtoInfo instanceof Uint8Array) {
    writer.bytes(proto.dataProtoInfo);
  } else {
    writePhdAssociationInformation(writer, proto.dataProtoInfo);
  }
  writer.endLength(at, 'data-proto-info');
}

export function readAarq(reader: MderReader): AarqApdu {
  const assocVersion = reader.u32('assoc-version');
  const field = 'data-proto-list';
  const count = reader.beginList(4, field);
  const dataProtoList: DataProto[] = [];
  for (let i = 0; i < count; i++) {
    reader.expectElement(field, i, count);
    dataProtoList.push(readDataProto(reader));
  }
  reader.leave(field);
  return { kind: 'aarq', assocVersion, dataProtoList };
}

export function writeAarq(writer: MderWriter, apdu: AarqApdu): void {
  writer.u32(apdu.assocVersion, 'assoc-version');
  const at = writer.beginList(apdu.dataProtoList.length, 'data-proto-list');
  for (const proto of apdu.dataProtoList) {
    writeDataProto(writer, proto);
  }
  writer.endLength(at, 'data-proto-list');
}

export function readAare(reader: MderReader): AareApdu {
  const result = reader.u16('result');
  return { kind: 'aare', result, selectedDataProto: readDataProto(reader) };
}

export function writeAare(writer: MderWriter, apdu: AareApdu): void {
  writer.u16(apdu.result, 'result');
  writeDataProto(writer, apdu.selectedDataProto);
}
