import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { allRoles, type AccessService } from '../../access/index.js';
import { errorResponses } from '../errors.js';

const TOKEN_ID_PATTERN = '^[0-9a-f]{16}$';
const ISO_TIMESTAMP_PATTERN =
  '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$';

const RoleSchema = Type.Union(allRoles.map((role) => Type.Literal(role)));

export const TokenInfoSchema = Type.Object(
  {
    id: Type.String({ pattern: TOKEN_ID_PATTERN }),
    label: Type.String(),
    roles: Type.Array(RoleSchema),
    status: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]),
    createdAt: Type.String(),
    createdBy: Type.String({ description: '<actor kind>:<actor id> of the creator' }),
    expiresAt: Type.Union([Type.String(), Type.Null()]),
    revokedAt: Type.Union([Type.String(), Type.Null()]),
    revokedBy: Type.Union([Type.String(), Type.Null()]),
    lastUsedAt: Type.Union([Type.String(), Type.Null()], {
      description: 'Last successful authentication, recorded at most once a minute',
    }),
  },
  { additionalProperties: false },
);

const CreateTokenBody = Type.Object(
  {
    label: Type.String({ minLength: 1, maxLength: 100 }),
    roles: Type.Array(RoleSchema, { minItems: 1, maxItems: allRoles.length, uniqueItems: true }),
    expiresAt: Type.Optional(
      Type.String({
        pattern: ISO_TIMESTAMP_PATTERN,
        description: 'ISO 8601 time with offset after which the token stops working',
      }),
    ),
  },
  { additionalProperties: false },
);

const CreatedTokenSchema = Type.Object(
  {
    token: Type.String({ description: 'The token text; shown only in this response' }),
    info: TokenInfoSchema,
  },
  { additionalProperties: false },
);

const TokenParams = Type.Object(
  { id: Type.String({ pattern: TOKEN_ID_PATTERN }) },
  { additionalProperties: false },
);

/** /api/v1/tokens: admins manage tokens, auditors list them. */
export function tokenRoutes(access: AccessService): FastifyPluginAsyncTypebox {
  return (app) => {
    app.post(
      '',
      {
        config: { allowedRoles: [] },
        schema: {
          tags: ['tokens'],
          summary: 'Create an API token; the response is the only place its text appears',
          body: CreateTokenBody,
          response: { 201: CreatedTokenSchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const { label, roles, expiresAt } = request.body;
        const created = await access.createToken({
          label,
          roles,
          ...(expiresAt === undefined ? {} : { expiresAt: new Date(expiresAt) }),
        });
        return reply.code(201).send(created);
      },
    );

    app.get(
      '',
      {
        config: { allowedRoles: ['auditor'] },
        schema: {
          tags: ['tokens'],
          summary: 'List API tokens without their secrets',
          response: {
            200: Type.Object(
              { tokens: Type.Array(TokenInfoSchema) },
              { additionalProperties: false },
            ),
            ...errorResponses,
          },
        },
      },
      async () => ({ tokens: await access.listTokens() }),
    );

    app.delete(
      '/:id',
      {
        config: { allowedRoles: [] },
        schema: {
          tags: ['tokens'],
          summary: 'Revoke an API token at once',
          params: TokenParams,
          querystring: Type.Object(
            {
              reason: Type.Optional(
                Type.String({
                  minLength: 1,
                  maxLength: 500,
                  description: 'Recorded in the audit trail',
                }),
              ),
            },
            { additionalProperties: false },
          ),
          response: { 200: TokenInfoSchema, ...errorResponses },
        },
      },
      async (request) => access.revokeToken(request.params.id, request.query.reason),
    );
    return Promise.resolve();
  };
}
