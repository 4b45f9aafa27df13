import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { verifyAuditChain, type AuditTrail } from '../../core/audit/index.js';
import { errorResponses } from '../errors.js';

const MAX_AUDIT_PAGE = 1000;
const DEFAULT_AUDIT_PAGE = 100;

const AuditRecordSchema = Type.Object(
  {
    seq: Type.Integer(),
    id: Type.String(),
    recordedAt: Type.String(),
    siteId: Type.String(),
    event: Type.String(),
    action: Type.String({ description: 'FHIR AuditEvent.action: C, R, U, D or E' }),
    outcome: Type.String(),
    actorKind: Type.String(),
    actorId: Type.String(),
    actorDisplay: Type.Union([Type.String(), Type.Null()]),
    targetKind: Type.Union([Type.String(), Type.Null()]),
    targetId: Type.Union([Type.String(), Type.Null()]),
    reason: Type.Union([Type.String(), Type.Null()]),
    correlationId: Type.String(),
    sourceAddress: Type.Union([Type.String(), Type.Null()]),
    details: Type.Object({}, { additionalProperties: true }),
    prevHash: Type.String(),
    hash: Type.String(),
  },
  { additionalProperties: false },
);

const ChainVerificationSchema = Type.Object(
  {
    ok: Type.Boolean(),
    recordsChecked: Type.Integer(),
    headSeq: Type.Integer(),
    /** SHA-256 of the head record, hex, when the chain is intact; anchor it in another system. */
    headHash: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
    problem: Type.Optional(
      Type.Object(
        {
          kind: Type.String({ description: 'altered, removed, reordered or truncated' }),
          seq: Type.Integer(),
          recordId: Type.Union([Type.String(), Type.Null()]),
          message: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const ListQuery = Type.Object(
  {
    afterSeq: Type.Optional(Type.Integer({ minimum: 0, description: 'Records after this one' })),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_AUDIT_PAGE, description: 'Default 100' }),
    ),
    targetKind: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    targetId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    event: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);

/** /api/v1/audit: auditors read and verify the audit trail. */
export function auditRoutes(audit: AuditTrail): FastifyPluginAsyncTypebox {
  return (app) => {
    app.get(
      '',
      {
        config: { allowedRoles: ['auditor'] },
        schema: {
          tags: ['audit'],
          summary: 'List audit records in sequence order',
          querystring: ListQuery,
          response: {
            200: Type.Object(
              {
                records: Type.Array(AuditRecordSchema),
                nextAfterSeq: Type.Union([Type.Integer(), Type.Null()], {
                  description: 'Pass as afterSeq for the next page; null on the last page',
                }),
              },
              { additionalProperties: false },
            ),
            ...errorResponses,
          },
        },
      },
      async (request) => {
        const limit = request.query.limit ?? DEFAULT_AUDIT_PAGE;
        const records = await audit.list({ ...request.query, limit });
        const last = records[records.length - 1];
        return {
          records,
          nextAfterSeq: records.length === limit && last !== undefined ? last.seq : null,
        };
      },
    );

    app.get(
      '/verify',
      {
        config: { allowedRoles: ['auditor'] },
        schema: {
          tags: ['audit'],
          summary: 'Verify the hash chain of the whole audit trail',
          response: { 200: ChainVerificationSchema, ...errorResponses },
        },
      },
      async () => verifyAuditChain(audit),
    );
    return Promise.resolve();
  };
}
