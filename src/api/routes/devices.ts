import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { invalid } from '../../core/errors.js';
import {
  ClassificationLevelSchema,
  DEVICE_ID_PATTERN,
  DeviceCreateSchema,
  DevicePatchSchema,
  DeviceSchema,
  DeviceStateSchema,
  MAX_PAGE_LIMIT,
  SEGMENT_PATTERN,
  type Device,
  type InventoryService,
} from '../../inventory/index.js';
import { errorResponses } from '../errors.js';

const DeviceParams = Type.Object(
  { id: Type.String({ pattern: DEVICE_ID_PATTERN, description: 'Device UUID' }) },
  { additionalProperties: false },
);

const ExpectedVersion = Type.Integer({
  minimum: 1,
  description: 'Version the change applies to; alternative to the If-Match header',
});

const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(
    Type.String({ maxLength: 64, description: 'ETag of the device version, for example "3"' }),
  ),
});

const ListQuery = Type.Object(
  {
    state: Type.Optional(DeviceStateSchema),
    segment: Type.Optional(Type.String({ pattern: SEGMENT_PATTERN })),
    classification: Type.Optional(ClassificationLevelSchema),
    manufacturer: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    lifeSustaining: Type.Optional(Type.Boolean()),
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: 'Case-insensitive substring of the serial number or model',
      }),
    ),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_PAGE_LIMIT, description: 'Default 100' }),
    ),
    cursor: Type.Optional(
      Type.String({ maxLength: 512, description: 'nextCursor of the previous page' }),
    ),
  },
  { additionalProperties: false },
);

const DevicePageSchema = Type.Object(
  {
    items: Type.Array(DeviceSchema),
    nextCursor: Type.Union([Type.String(), Type.Null()], {
      description: 'Pass as cursor for the next page; null on the last page',
    }),
  },
  { additionalProperties: false },
);

const PatchBody = Type.Object(
  { ...DevicePatchSchema.properties, expectedVersion: Type.Optional(ExpectedVersion) },
  { additionalProperties: false },
);

const DecommissionBody = Type.Union([
  Type.Object(
    {
      reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
      expectedVersion: Type.Optional(ExpectedVersion),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);

/**
 * The expected version from `If-Match` ("3" or 3) and the body; when both
 * are given they must agree.
 */
function expectedVersionOf(
  ifMatch: string | undefined,
  bodyVersion: number | undefined,
): number | undefined {
  let headerVersion: number | undefined;
  if (ifMatch !== undefined) {
    const match = /^\s*"?([1-9][0-9]{0,14})"?\s*$/.exec(ifMatch);
    if (match?.[1] === undefined) {
      throw invalid(
        'API_IF_MATCH_INVALID',
        'If-Match must carry one device version as an ETag, for example "3"',
        { ifMatch: ifMatch.slice(0, 64) },
      );
    }
    headerVersion = Number(match[1]);
  }
  if (headerVersion !== undefined && bodyVersion !== undefined && headerVersion !== bodyVersion) {
    throw invalid(
      'API_EXPECTED_VERSION_MISMATCH',
      `If-Match names version ${headerVersion} but expectedVersion is ${bodyVersion}; send one`,
      { ifMatch: headerVersion, expectedVersion: bodyVersion },
    );
  }
  return headerVersion ?? bodyVersion;
}

function etagOf(device: Device): string {
  return `"${device.version}"`;
}

/** /api/v1/devices: operators read and change, auditors read. */
export function deviceRoutes(inventory: InventoryService): FastifyPluginAsyncTypebox {
  return (app) => {
    app.post(
      '',
      {
        config: { allowedRoles: ['operator'] },
        schema: {
          tags: ['devices'],
          summary: 'Register a device',
          body: DeviceCreateSchema,
          response: { 201: DeviceSchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const device = await inventory.create(request.body);
        return reply
          .code(201)
          .header('location', `/api/v1/devices/${device.id}`)
          .header('etag', etagOf(device))
          .send(device);
      },
    );

    app.get(
      '',
      {
        config: { allowedRoles: ['operator', 'auditor'] },
        schema: {
          tags: ['devices'],
          summary: 'List devices, oldest first, one page at a time',
          querystring: ListQuery,
          response: { 200: DevicePageSchema, ...errorResponses },
        },
      },
      async (request) => {
        const { q, ...rest } = request.query;
        return inventory.list({ ...rest, ...(q === undefined ? {} : { text: q }) });
      },
    );

    app.get(
      '/:id',
      {
        config: { allowedRoles: ['operator', 'auditor'] },
        schema: {
          tags: ['devices'],
          summary: 'Read one device; the ETag header carries its version',
          params: DeviceParams,
          response: { 200: DeviceSchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const device = await inventory.get(request.params.id);
        return reply.header('etag', etagOf(device)).send(device);
      },
    );

    app.patch(
      '/:id',
      {
        config: { allowedRoles: ['operator'] },
        schema: {
          tags: ['devices'],
          summary: 'Change a device; requires its current version (If-Match or expectedVersion)',
          params: DeviceParams,
          headers: IfMatchHeaders,
          body: PatchBody,
          response: { 200: DeviceSchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const { expectedVersion: bodyVersion, ...patch } = request.body;
        const expectedVersion = expectedVersionOf(request.headers['if-match'], bodyVersion);
        if (expectedVersion === undefined) {
          throw invalid(
            'API_EXPECTED_VERSION_REQUIRED',
            'a device change needs the version it applies to: send If-Match or expectedVersion',
          );
        }
        const device = await inventory.update(request.params.id, patch, expectedVersion);
        return reply.header('etag', etagOf(device)).send(device);
      },
    );

    app.post(
      '/:id/decommission',
      {
        config: { allowedRoles: ['operator'] },
        schema: {
          tags: ['devices'],
          summary: 'Decommission a device; the record stays in the inventory',
          params: DeviceParams,
          headers: IfMatchHeaders,
          body: DecommissionBody,
          response: { 200: DeviceSchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const body = request.body ?? {};
        const expectedVersion = expectedVersionOf(
          request.headers['if-match'],
          body.expectedVersion,
        );
        const device = await inventory.decommission(request.params.id, {
          ...(expectedVersion === undefined ? {} : { expectedVersion }),
          ...(body.reason === undefined ? {} : { reason: body.reason }),
        });
        return reply.header('etag', etagOf(device)).send(device);
      },
    );
    return Promise.resolve();
  };
}
