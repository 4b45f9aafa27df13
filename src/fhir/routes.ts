import { Type } from '@sinclair/typebox';
import { errorResponses, type ApiRoutePlugin } from '../api/index.js';
import { invalid } from '../core/errors.js';
import type { FhirExporter } from './exporter.js';
import { serializeFhirJson } from './fhir-json.js';

const BundleQuery = Type.Object(
  {
    device: Type.Optional(
      Type.String({ pattern: '^[0-9A-Fa-f]{16}$', description: 'EUI-64 system id of the agent' }),
    ),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'Received at or after' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'Received before' })),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 10000, description: 'Default 10000' }),
    ),
  },
  { additionalProperties: false },
);

function parseTime(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) {
    return undefined;
  }
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) {
    throw invalid('FHIR_QUERY_INVALID', `${name} ${value} is not an ISO 8601 date-time`, {
      [name]: value,
    });
  }
  return time;
}

/**
 * GET /api/v1/fhir/Bundle: a FHIR R4 collection Bundle of the stored PHD
 * observations and their Device resources, for download. The body keeps each
 * value's exact decimal text, so it is serialised here rather than by Fastify.
 */
export function fhirRoutes(exporter: FhirExporter): ApiRoutePlugin {
  return {
    name: 'fhir',
    prefix: '/api/v1/fhir',
    plugin: async (app) => {
      app.get(
        '/Bundle',
        {
          config: { allowedRoles: ['operator', 'auditor'] },
          schema: {
            summary: 'Download stored observations as a FHIR Bundle',
            querystring: BundleQuery,
            response: { 200: Type.Unknown(), ...errorResponses },
          },
        },
        async (request, reply) => {
          const query = request.query;
          const bundle = await exporter.buildBundleFor({
            ...(query.device === undefined ? {} : { deviceSystemId: query.device.toUpperCase() }),
            ...(query.from === undefined ? {} : { from: parseTime('from', query.from) }),
            ...(query.to === undefined ? {} : { to: parseTime('to', query.to) }),
            ...(query.limit === undefined ? {} : { limit: query.limit }),
          });
          return reply.type('application/fhir+json').send(serializeFhirJson(bundle));
        },
      );
      return Promise.resolve();
    },
  };
}
