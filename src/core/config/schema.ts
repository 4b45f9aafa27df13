import { Type, type Static, type TInteger, type TObject, type TString } from '@sinclair/typebox';
import { EnforcementSection } from '../../enforcement/config.js';
import { Onem2mSection } from '../../onem2m/config.js';
import { Ieee11073Section } from '../../ieee11073/config.js';
import { FhirSection } from '../../fhir/config.js';
import { InterworkingSection } from '../../interworking/config.js';
import { OnboardingSection } from '../../onboarding/config.js';

/**
 * medward's configuration. Every section has defaults that run on a laptop:
 * SQLite under ./data, the embedded MQTT broker, the in-process bus, and every
 * listener on 127.0.0.1. Ports avoid the well-known ones (1883 belongs to a
 * site's own MQTT broker, which may already run on the same machine).
 */

/** A TCP port; 0 lets the operating system pick a free one, which the logs then name. */
const Port = (defaultPort: number): TInteger =>
  Type.Integer({ minimum: 0, maximum: 65535, default: defaultPort });

const Listen = (defaultPort: number): TObject<{ host: TString; port: TInteger }> =>
  Type.Object(
    {
      host: Type.String({ minLength: 1, default: '127.0.0.1' }),
      port: Port(defaultPort),
    },
    { additionalProperties: false, default: {} },
  );

export const LogSection = Type.Object(
  {
    level: Type.Union(
      [
        Type.Literal('fatal'),
        Type.Literal('error'),
        Type.Literal('warn'),
        Type.Literal('info'),
        Type.Literal('debug'),
        Type.Literal('trace'),
        Type.Literal('silent'),
      ],
      { default: 'info' },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const StorageSection = Type.Object(
  {
    /** `sqlite:<path>` (relative to the working directory), `sqlite::memory:`, or `postgres://...`. */
    url: Type.String({ minLength: 1, default: 'sqlite:./data/medward.db' }),
    poolSize: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
    /** PostgreSQL statement timeout; SQLite uses it as the busy timeout. */
    statementTimeoutMs: Type.Integer({ minimum: 100, maximum: 600000, default: 15000 }),
  },
  { additionalProperties: false, default: {} },
);

export const BusSection = Type.Object(
  {
    kind: Type.Union([Type.Literal('in-process'), Type.Literal('nats')], { default: 'in-process' }),
    url: Type.String({ minLength: 1, default: 'nats://127.0.0.1:4222' }),
    stream: Type.String({ pattern: '^[A-Za-z0-9_-]+$', default: 'MEDWARD' }),
    subjectPrefix: Type.String({ pattern: '^[a-z0-9_-]+$', default: 'medward' }),
  },
  { additionalProperties: false, default: {} },
);

export const MqttSection = Type.Object(
  {
    kind: Type.Union([Type.Literal('embedded'), Type.Literal('external')], { default: 'embedded' }),
    /** The embedded broker's listener. 1884, not 1883, so a site's Mosquitto can keep its port. */
    embedded: Listen(1884),
    /** Broker used when kind is external, for example mqtt://127.0.0.1:1883 for Mosquitto. */
    url: Type.String({ minLength: 1, default: 'mqtt://127.0.0.1:1883' }),
  },
  { additionalProperties: false, default: {} },
);

export const ApiSection = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    port: Port(8440),
    bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: 1048576 }),
    /**
     * Admin token to install on first start instead of generating one. Must be
     * at least 32 characters; prefer MEDWARD_API__BOOTSTRAP_TOKEN over the file.
     */
    bootstrapToken: Type.Optional(Type.String({ minLength: 32 })),
    /** Failed authentications allowed per source address within authFailureWindowMs. */
    authFailureLimit: Type.Integer({ minimum: 1, maximum: 10000, default: 10 }),
    authFailureWindowMs: Type.Integer({ minimum: 1000, maximum: 86400000, default: 60000 }),
    /** Ceiling for any API request's duration. */
    requestTimeoutMs: Type.Integer({ minimum: 1000, maximum: 600000, default: 30000 }),
    /**
     * Addresses or CIDR ranges of reverse proxies in front of the API. A
     * request from one of them is attributed to the client address in its
     * X-Forwarded-For header, for audit records and the authentication
     * failure limit. From any other address the header is ignored. Empty by
     * default, so the peer address is the client.
     */
    trustedProxies: Type.Array(
      Type.String({ pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$', maxLength: 64 }),
      { default: [], maxItems: 64 },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const ShutdownSection = Type.Object(
  {
    /** How long SIGTERM waits for in-flight work before medward exits anyway. */
    drainTimeoutMs: Type.Integer({ minimum: 100, maximum: 300000, default: 10000 }),
  },
  { additionalProperties: false, default: {} },
);

export const ConfigSchema = Type.Object(
  {
    /** Directory for the SQLite file, keys and other local state. */
    dataDir: Type.String({ minLength: 1, default: './data' }),
    /** Site identifier written into audit records and exported documents. */
    siteId: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', default: 'default' }),
    log: LogSection,
    storage: StorageSection,
    bus: BusSection,
    mqtt: MqttSection,
    api: ApiSection,
    shutdown: ShutdownSection,
    enforcement: EnforcementSection,
    onem2m: Onem2mSection,
    ieee11073: Ieee11073Section,
    fhir: FhirSection,
    interworking: InterworkingSection,
    onboarding: OnboardingSection,
  },
  { additionalProperties: false },
);

export type MedwardConfig = Static<typeof ConfigSchema>;
