/**
 * The manager's decision on an association request (AARQ) and the AARE that
 * carries it.
 */
import type { AareApdu, AarqApdu, PhdAssociationInformation } from '../apdu.js';
import { AssociateResult, AssociationBits, ConfigId, DATA_PROTO_ID_20601 } from '../association.js';

/** Protocol versions medward speaks, newest first. */
const supportedProtocolVersions = [
  AssociationBits.protocolVersion3,
  AssociationBits.protocolVersion2,
  AssociationBits.protocolVersion1,
] as const;

export type AarqEvaluation =
  | { acceptable: true; info: PhdAssociationInformation; protocolVersion: number }
  | { acceptable: false; result: number; reason: string; info?: PhdAssociationInformation };

/** Names of AssociateResult values, for logs and audit records. */
export const associateResultNames: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(AssociateResult).map(([name, value]) => [value, name]),
);

function reject(result: number, reason: string, info?: PhdAssociationInformation): AarqEvaluation {
  return info === undefined
    ? { acceptable: false, result, reason }
    : { acceptable: false, result, reason, info };
}

/**
 * Checks an AARQ against what medward supports: association version 1, the
 * 20601 data protocol, protocol version 1 to 3, MDER, nomenclature version 1,
 * an agent system type, a system id and an agent dev-config-id. Whether the
 * configuration is known is decided afterwards.
 */
export function evaluateAarq(aarq: AarqApdu): AarqEvaluation {
  if ((aarq.assocVersion & AssociationBits.assocVersion1) === 0) {
    return reject(
      AssociateResult.rejectedUnsupportedAssocVersion,
      `association version 0x${aarq.assocVersion.toString(16)} lacks assoc-version1`,
    );
  }
  const proto = aarq.dataProtoList.find((entry) => entry.dataProtoId === DATA_PROTO_ID_20601);
  if (proto === undefined || proto.dataProtoInfo instanceof Uint8Array) {
    return reject(
      AssociateResult.rejectedNoCommonProtocol,
      'data-proto-list offers no IEEE 11073-20601 protocol',
    );
  }
  const info = proto.dataProtoInfo;
  const protocolVersion = supportedProtocolVersions.find(
    (bit) => (info.protocolVersion & bit) !== 0,
  );
  if (protocolVersion === undefined) {
    return reject(
      AssociateResult.rejectedNoCommonParameter,
      `protocol version 0x${info.protocolVersion.toString(16)} offers none of versions 1 to 3`,
      info,
    );
  }
  if ((info.encodingRules & AssociationBits.encodingMder) === 0) {
    return reject(
      AssociateResult.rejectedNoCommonParameter,
      `encoding rules 0x${info.encodingRules.toString(16)} do not include MDER`,
      info,
    );
  }
  if ((info.nomenclatureVersion & AssociationBits.nomenclatureVersion1) === 0) {
    return reject(
      AssociateResult.rejectedNoCommonParameter,
      `nomenclature version 0x${info.nomenclatureVersion.toString(16)} lacks version 1`,
      info,
    );
  }
  if ((info.systemType & AssociationBits.systemTypeAgent) === 0) {
    return reject(
      AssociateResult.rejectedPermanent,
      `system type 0x${info.systemType.toString(16)} is not an agent`,
      info,
    );
  }
  if (info.systemId.byteLength === 0 || info.systemId.byteLength > 8) {
    return reject(
      AssociateResult.rejectedPermanent,
      `system id of ${info.systemId.byteLength} bytes is not an EUI-64`,
      info,
    );
  }
  if (
    info.devConfigId < ConfigId.standardConfigStart ||
    info.devConfigId > ConfigId.extendedConfigEnd
  ) {
    return reject(
      AssociateResult.rejectedPermanent,
      `dev-config-id 0x${info.devConfigId.toString(16)} is outside the agent ranges 0x0001..0x7fff`,
      info,
    );
  }
  return { acceptable: true, info, protocolVersion };
}

/** Builds the AARE of an accepted association with the manager's association information. */
export function acceptingAare(
  result: number,
  protocolVersion: number,
  managerSystemId: Uint8Array,
): AareApdu {
  return {
    kind: 'aare',
    result,
    selectedDataProto: {
      dataProtoId: DATA_PROTO_ID_20601,
      dataProtoInfo: {
        protocolVersion,
        encodingRules: AssociationBits.encodingMder,
        nomenclatureVersion: AssociationBits.nomenclatureVersion1,
        functionalUnits: 0,
        systemType: AssociationBits.systemTypeManager,
        systemId: managerSystemId,
        devConfigId: ConfigId.managerConfigResponse,
        dataReqModeCapab: {
          dataReqModeFlags: 0,
          dataReqInitAgentCount: 0,
          dataReqInitManagerCount: 0,
        },
        optionList: [],
      },
    },
  };
}

/** Builds the AARE of a rejected association, which selects no data protocol. */
export function rejectingAare(result: number): AareApdu {
  return {
    kind: 'aare',
    result,
    selectedDataProto: { dataProtoId: 0, dataProtoInfo: new Uint8Array(0) },
  };
}

/** Formats a system id as lowercase hex, left-padded to 16 digits for shorter ids. */
export function systemIdHex(systemId: Uint8Array): string {
  return Buffer.from(systemId).toString('hex').padStart(16, '0');
}
