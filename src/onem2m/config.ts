import { Type, type Static } from '@sinclair/typebox';

/**
 * Configuration of medward's oneM2M IN-CSE. Defaults start a CSE named
 * `medward` with CSE-ID `/id-medward`, the HTTP binding on 127.0.0.1:8441 and
 * the MQTT binding on the broker given by `mqtt.url`.
 */
export const Onem2mSection = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    /** SP-relative CSE-ID, a slash followed by unreserved characters (TS-0001). */
    cseId: Type.String({ pattern: '^/[A-Za-z0-9._~-]{1,64}$', default: '/id-medward' }),
    /** Resource name of the CSEBase, the first segment of every structured address. */
    cseName: Type.String({ pattern: '^[A-Za-z0-9._~-]{1,64}$', default: 'medward' }),
    /** M2M-SP-ID used in absolute addresses (`//spId/cseId/...`), without the leading slashes. */
    spId: Type.String({ pattern: '^[A-Za-z0-9._~-]{1,128}$', default: 'medward.local' }),
    http: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        host: Type.String({ minLength: 1, default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8441 }),
      },
      { additionalProperties: false, default: {} },
    ),
    mqtt: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        /**
         * Broker URL. When omitted the component receives the URL of the
         * embedded broker (or `mqtt.url` for an external one) from the caller.
         */
        url: Type.Optional(Type.String({ pattern: '^mqtts?://' })),
        /** Time to wait for the broker's CONNACK and SUBACK during start. */
        connectTimeoutMs: Type.Integer({ minimum: 100, maximum: 120000, default: 10000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Originator that bypasses access control policies; keep it out of every application's reach. */
    adminOriginator: Type.String({ pattern: '^[A-Za-z0-9._~/-]{1,128}$', default: 'CAdmin' }),
    /**
     * Prefixes an AE may use for an AE-ID it chooses itself at registration.
     * `C` admits every C-prefixed AE-ID; `Cward-` only those starting with it.
     * Originators `C`, `S` or none always get an AE-ID assigned by the CSE.
     */
    allowedAeIdPrefixes: Type.Array(Type.String({ pattern: '^[CS][A-Za-z0-9._~-]*$' }), {
      default: ['C', 'S'],
    }),
    /** Largest request content accepted over any binding, in bytes of serialized JSON. */
    maxContentBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, default: 1048576 }),
    /** Expiration applied to resources created without `et`. */
    defaultExpirationSeconds: Type.Integer({
      minimum: 60,
      maximum: 100 * 365 * 86400,
      default: 5 * 365 * 86400,
    }),
    /** How often expired resources are removed from storage. */
    expirationSweepIntervalMs: Type.Integer({ minimum: 100, maximum: 3600000, default: 10000 }),
    /** Limits given to a container that is created without `mni`, `mbs` or `mia`. */
    containerDefaults: Type.Object(
      {
        mni: Type.Integer({ minimum: 0, default: 10000 }),
        mbs: Type.Integer({ minimum: 0, default: 100 * 1024 * 1024 }),
        /** Maximum instance age in seconds; 0 means instances do not age out. */
        mia: Type.Integer({ minimum: 0, default: 0 }),
      },
      { additionalProperties: false, default: {} },
    ),
    /** Upper bound of `lim` in discovery and the default when a request gives none. */
    maxDiscoveryResults: Type.Integer({ minimum: 1, maximum: 100000, default: 1000 }),
    notification: Type.Object(
      {
        /** Time to wait for a notification target's response. */
        timeoutMs: Type.Integer({ minimum: 100, maximum: 120000, default: 5000 }),
        /** Further attempts after a failed delivery. */
        retries: Type.Integer({ minimum: 0, maximum: 10, default: 2 }),
        /** Delay before the first retry; doubled for each later one. */
        retryDelayMs: Type.Integer({ minimum: 0, maximum: 60000, default: 500 }),
        /** Deliveries running at once across all targets. */
        concurrency: Type.Integer({ minimum: 1, maximum: 256, default: 16 }),
        /** Notifications waiting for delivery; further events are dropped and counted. */
        maxQueued: Type.Integer({ minimum: 1, maximum: 1000000, default: 10000 }),
        /** Allow notification URLs on hosts other than the loopback addresses. */
        allowRemoteTargets: Type.Boolean({ default: false }),
      },
      { additionalProperties: false, default: {} },
    ),
    group: Type.Object(
      {
        /** Largest `mnm` a group may declare. */
        maxMembers: Type.Integer({ minimum: 1, maximum: 10000, default: 1000 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

export type Onem2mConfig = Static<typeof Onem2mSection>;
