import { Type } from '@sinclair/typebox';
import { errorResponses, type ApiRoutePlugin } from '../api/index.js';
import type { Ieee11073Manager } from './manager/manager.js';

const ObservationQuerySchema = Type.Object(
  {
    device: Type.String({
      pattern: '^[0-9A-Fa-f]{16}$',
      description: 'EUI-64 system id of the agent, 16 hex digits',
    }),
    from: Type.Optional(
      Type.String({ format: 'date-time', description: 'Gateway time, inclusive' }),
    ),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'Gateway time, exclusive' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Default 100' })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

/** GET /api/v1/observations: one page of an agent's stored observations, oldest first. */
export function observationRoutes(manager: Ieee11073Manager): ApiRoutePlugin {
  return {
    name: 'observations',
    prefix: '/api/v1/observations',
    plugin: async (app) => {
      app.get(
        '/',
        {
          config: { allowedRoles: ['operator', 'auditor'] },
          schema: {
            summary: 'List stored IEEE 11073 observations of one agent by gateway time',
            querystring: ObservationQuerySchema,
            response: { 200: Type.Unknown(), ...errorResponses },
          },
        },
        async (request) => {
          const query = request.query;
          return manager.listObservations({
            deviceSystemId: query.device.toLowerCase(),
            ...(query.from === undefined ? {} : { from: query.from }),
            ...(query.to === undefined ? {} : { to: query.to }),
            ...(query.limit === undefined ? {} : { limit: query.limit }),
            ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
          });
        },
      );
      return Promise.resolve();
    },
  };
}
