/**
 * The facts medward stores about an operating association: the agent's identity, its
 * specializations and the MDS attributes the manager read. The operating
 * event carries it and the interworking writes it as the agent's MDS
 * descriptor. Both build it with `describeAssociation` from the stored
 * association row, so the event and a descriptor written from the row alone
 * have the same content.
 */
import { Type, type Static } from '@sinclair/typebox';
import { mdcCode, specializationForDevConfigId } from '../nomenclature.js';
import { MdcPartition } from '../nomenclature-table.js';
import type { AssociationTable } from '../store/tables.js';

const Uint8 = Type.Integer({ minimum: 0, maximum: 0xff });
const Uint16 = Type.Integer({ minimum: 0, maximum: 0xffff });
const Uint32 = Type.Integer({ minimum: 0, maximum: 0xffffffff });
const NullableText = Type.Union([Type.String(), Type.Null()]);

/** EUI-64 system id as 16 lowercase hex digits. */
export const SystemIdText = Type.String({ pattern: '^[0-9a-f]{16}$' });

/** An ISO 8601 UTC instant as `Date.prototype.toISOString` writes it. */
export const UtcTimeText = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$',
});

export const AgentSpecialization = Type.Object(
  {
    /** Full MDC code of the MDC_DEV_SPEC_PROFILE_* term (partition INFRA). */
    code: Uint32,
    /** Version from the System-Type-Spec-List; absent when inferred from the dev-config-id. */
    version: Type.Optional(Uint16),
  },
  { additionalProperties: false },
);
export type AgentSpecialization = Static<typeof AgentSpecialization>;

const MdsTimeInfo = Type.Object(
  {
    mdsTimeCapState: Uint16,
    timeSyncProtocol: Uint16,
    timeSyncAccuracy: Uint32,
    timeResolutionAbsTime: Uint16,
    timeResolutionRelTime: Uint16,
    timeResolutionHighResTime: Uint32,
  },
  { additionalProperties: false },
);

/** The MDS attributes read after association, as the manager stores them. */
export const MdsDescription = Type.Object(
  {
    manufacturer: NullableText,
    modelNumber: NullableText,
    productionSpecification: Type.Array(
      Type.Object(
        { specType: Uint16, componentId: Uint16, value: Type.String() },
        { additionalProperties: false },
      ),
    ),
    regCertDataList: Type.Array(
      Type.Object(
        {
          authBody: Uint8,
          authBodyStrucType: Uint8,
          authBodyData: Type.String({ pattern: '^([0-9a-f]{2})*$' }),
        },
        { additionalProperties: false },
      ),
    ),
    timeInfo: Type.Union([MdsTimeInfo, Type.Null()]),
    /** Whether the manager set the agent's clock. */
    timeSet: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type MdsDescription = Static<typeof MdsDescription>;

export const AssociationDescription = Type.Object(
  {
    associationId: Type.String({ minLength: 1, maxLength: 64 }),
    systemId: SystemIdText,
    devConfigId: Uint16,
    /** Time the manager accepted the association. */
    startedAt: UtcTimeText,
    specializations: Type.Array(AgentSpecialization),
    /** Null when the agent rejected the MDS GET. */
    mds: Type.Union([MdsDescription, Type.Null()]),
  },
  { additionalProperties: false },
);
export type AssociationDescription = Static<typeof AssociationDescription>;

/** The columns of an association row that `describeAssociation` reads. */
export type DescribedAssociationRow = Pick<
  AssociationTable,
  | 'id'
  | 'system_id'
  | 'dev_config_id'
  | 'started_at_ms'
  | 'manufacturer'
  | 'model_number'
  | 'mds_json'
  | 'time_set'
>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

/**
 * Returns the specializations of an agent: from the System-Type-Spec-List
 * in the stored MDS facts when the agent sent one, else the specialization
 * whose standard configurations contain the dev-config-id, else none.
 */
export function agentSpecializations(
  details: Record<string, unknown>,
  devConfigId: number,
): AgentSpecialization[] {
  const declared = records(details.systemTypeSpecList).map((entry) => ({
    code: mdcCode(MdcPartition.infrastructure, Number(entry.type)),
    version: Number(entry.version),
  }));
  if (declared.length > 0) {
    return declared;
  }
  const standard = specializationForDevConfigId(devConfigId);
  return standard === undefined ? [] : [{ code: standard.profileCode }];
}

function mdsDescription(
  row: DescribedAssociationRow,
  details: Record<string, unknown>,
): MdsDescription {
  return {
    manufacturer: row.manufacturer,
    modelNumber: row.model_number,
    productionSpecification: records(details.productionSpecification).map((entry) => ({
      specType: Number(entry.specType),
      componentId: Number(entry.componentId),
      value: typeof entry.value === 'string' ? entry.value : '',
    })),
    regCertDataList: records(details.regCertDataList).map((entry) => ({
      authBody: Number(entry.authBody),
      authBodyStrucType: Number(entry.authBodyStrucType),
      authBodyData: typeof entry.authBodyData === 'string' ? entry.authBodyData : '',
    })),
    timeInfo: isRecord(details.mdsTimeInfo)
      ? {
          mdsTimeCapState: Number(details.mdsTimeInfo.mdsTimeCapState),
          timeSyncProtocol: Number(details.mdsTimeInfo.timeSyncProtocol),
          timeSyncAccuracy: Number(details.mdsTimeInfo.timeSyncAccuracy),
          timeResolutionAbsTime: Number(details.mdsTimeInfo.timeResolutionAbsTime),
          timeResolutionRelTime: Number(details.mdsTimeInfo.timeResolutionRelTime),
          timeResolutionHighResTime: Number(details.mdsTimeInfo.timeResolutionHighResTime),
        }
      : null,
    timeSet: row.time_set === 1,
  };
}

/**
 * Describes an association from its stored row. `mds` is null while the row
 * has no MDS facts (`mds_json`): before the MDS GET returned and after it failed.
 */
export function describeAssociation(row: DescribedAssociationRow): AssociationDescription {
  const parsed: unknown = row.mds_json === null ? null : JSON.parse(row.mds_json);
  const details = isRecord(parsed) ? parsed : {};
  return {
    associationId: row.id,
    systemId: row.system_id,
    devConfigId: row.dev_config_id,
    startedAt: new Date(row.started_at_ms).toISOString(),
    specializations: agentSpecializations(details, row.dev_config_id),
    mds: row.mds_json === null ? null : mdsDescription(row, details),
  };
}
