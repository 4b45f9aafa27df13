import { Type, type Static } from '@sinclair/typebox';

/** Time synchronisation methods of MDC partition INFRA, by the name used in configuration. */
export const timeSyncProtocols = {
  none: 7936,
  ntpv3: 7937,
  ntpv4: 7938,
  sntpv4: 7939,
  sntpv4330: 7940,
  btv1: 7941,
  radio: 7942,
  'hl7-nck': 7943,
  cdma: 7944,
  gsm: 7945,
  ebww: 7946,
  'usb-sof': 7947,
  other: 7948,
  'other-mobile': 7949,
  gps: 7950,
} as const;
export type TimeSyncProtocolName = keyof typeof timeSyncProtocols;

/**
 * Export of personal health device observations to a FHIR R4 server as PHD
 * implementation guide resources. With `enabled` and no `serverUrl`,
 * observations are stored for download but not sent.
 */
export const FhirSection = Type.Object(
  {
    enabled: Type.Boolean({ default: false }),
    /** Base URL of the FHIR server; transaction Bundles are POSTed to it. */
    serverUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
    /** File holding the bearer token for the server; read before every request, never logged. */
    bearerTokenFile: Type.Optional(Type.String({ minLength: 1 })),
    /** Observations per transaction Bundle. */
    batchSize: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    /** First retry delay after a failed request; it doubles per failure up to retryMaxDelayMs. */
    retryBaseDelayMs: Type.Integer({ minimum: 1, maximum: 3600000, default: 1000 }),
    retryMaxDelayMs: Type.Integer({ minimum: 1, maximum: 86400000, default: 300000 }),
    requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 600000, default: 30000 }),
    /**
     * medward's EUI-64 (16 hex digits) in its PhgDevice. When absent, a
     * locally administered EUI-64 is derived from siteId.
     */
    gatewaySystemId: Type.Optional(Type.String({ pattern: '^[0-9A-Fa-f]{16}$' })),
    /**
     * Synchronisation method of this host's clock. Anything but `none` makes
     * medward trust its own clock over an agent's when the two disagree.
     */
    gatewayTimeSync: Type.Union(
      [
        Type.Literal('none'),
        Type.Literal('ntpv3'),
        Type.Literal('ntpv4'),
        Type.Literal('sntpv4'),
        Type.Literal('sntpv4330'),
        Type.Literal('btv1'),
        Type.Literal('radio'),
        Type.Literal('hl7-nck'),
        Type.Literal('cdma'),
        Type.Literal('gsm'),
        Type.Literal('ebww'),
        Type.Literal('usb-sof'),
        Type.Literal('other'),
        Type.Literal('other-mobile'),
        Type.Literal('gps'),
      ],
      { default: 'none' },
    ),
  },
  { additionalProperties: false, default: {} },
);

export type FhirConfig = Static<typeof FhirSection>;
