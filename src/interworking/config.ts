import { Type, type Static } from '@sinclair/typebox';

/**
 * Configuration of the interworking between IEEE 11073-20601 agents, the
 * oneM2M CSE and the FHIR export.
 */
export const InterworkingSection = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    /**
     * oneM2M originators (AE-IDs, `*` as a trailing wildcard) of the hospital
     * applications that may RETRIEVE, DISCOVER and SUBSCRIBE to device data.
     */
    applicationOriginators: Type.Array(Type.String({ pattern: '^[A-Za-z0-9._~/*-]{1,128}$' }), {
      default: [],
      maxItems: 256,
    }),
    /** Name of the container in each device AE that receives commands. */
    commandContainer: Type.String({ pattern: '^[A-Za-z0-9._~-]{1,64}$', default: 'command' }),
    /** Port on 127.0.0.1 at which the CSE delivers command notifications; 0 picks a free port. */
    commandNotificationPort: Type.Integer({ minimum: 0, maximum: 65535, default: 0 }),
    /** Feed committed observations to the FHIR exporter. */
    fhirExport: Type.Boolean({ default: true }),
  },
  { additionalProperties: false, default: {} },
);

export type InterworkingConfig = Static<typeof InterworkingSection>;
