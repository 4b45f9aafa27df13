import { Type, type Static, type TInteger } from '@sinclair/typebox';

/**
 * Configuration of network enforcement. It names the enforcement points that
 * run (in-memory, nftables on the gateway host, RADIUS for switches and access
 * points), the segments with their VLANs, the services that restricted
 * segments may reach, and the retry policy for failed enforcement actions.
 */

const EnforcerKind = Type.Union([
  Type.Literal('in-memory'),
  Type.Literal('nftables'),
  Type.Literal('radius'),
]);

const Vlan = (defaultVlan: number): TInteger =>
  Type.Integer({ minimum: 1, maximum: 4094, default: defaultVlan });

/** An IPv4 or IPv6 address with an optional prefix length, for example `10.20.0.53/32`. */
const Cidr = Type.String({
  minLength: 2,
  maxLength: 43,
  pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$',
});

const Endpoint = Type.Object(
  {
    address: Cidr,
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    protocol: Type.Union([Type.Literal('tcp'), Type.Literal('udp')], { default: 'tcp' }),
  },
  { additionalProperties: false },
);

const SegmentName = Type.String({ pattern: '^[a-z][a-z0-9-]{0,30}$' });

export const SegmentsSection = Type.Object(
  {
    provisioning: Type.Object({ vlan: Vlan(10) }, { additionalProperties: false, default: {} }),
    quarantine: Type.Object({ vlan: Vlan(900) }, { additionalProperties: false, default: {} }),
    isolation: Type.Object({ vlan: Vlan(999) }, { additionalProperties: false, default: {} }),
    /** Production segments, one per device class; a device names its own in `productionSegment`. */
    production: Type.Array(
      Type.Object({ name: SegmentName, vlan: Vlan(100) }, { additionalProperties: false }),
      { minItems: 1, default: [{ name: 'clinical', vlan: 100 }] },
    ),
  },
  { additionalProperties: false, default: {} },
);

/**
 * Services that the provisioning and quarantine segments may reach. An empty
 * address list means the service is not reachable, so a site must name its
 * DNS and NTP servers before provisioning works.
 */
export const SegmentServicesSection = Type.Object(
  {
    /** Whether provisioning devices may send DHCP requests (UDP 68 to 67, any destination). */
    dhcp: Type.Boolean({ default: true }),
    dns: Type.Array(Cidr, { default: [] }),
    ntp: Type.Array(Cidr, { default: [] }),
    /** medward's provisioning listener as devices reach it. */
    provisioning: Type.Optional(Endpoint),
    /** medward's remediation endpoint, the only destination quarantined devices reach. */
    remediation: Type.Optional(Endpoint),
  },
  { additionalProperties: false, default: {} },
);

export const NftablesSection = Type.Object(
  {
    /** medward's own table; no other table is read or changed. */
    table: Type.String({ pattern: '^[a-z][a-z0-9_]{0,30}$', default: 'medward' }),
    family: Type.Literal('inet', { default: 'inet' }),
    /** The nft executable. */
    command: Type.String({ minLength: 1, default: 'nft' }),
    /** Priority of medward's filter chains on the input and forward hooks. */
    priority: Type.Integer({ minimum: -400, maximum: 400, default: 0 }),
    commandTimeoutMs: Type.Integer({ minimum: 100, maximum: 60000, default: 5000 }),
  },
  { additionalProperties: false, default: {} },
);

export const RadiusClientConfig = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }),
    /** Source address or network of the network access server (switch, controller). */
    address: Cidr,
    /** The shared secret. Prefer secretFile, so the secret stays out of the configuration. */
    secret: Type.Optional(Type.String({ minLength: 8, maxLength: 128 })),
    secretFile: Type.Optional(Type.String({ minLength: 1 })),
    /** UDP port of the server's Dynamic Authorization (RFC 5176) listener. */
    coaPort: Type.Integer({ minimum: 1, maximum: 65535, default: 3799 }),
    /**
     * Method that moves a live session after a segment change: `coa` sends a
     * CoA-Request with the new VLAN, and `disconnect` ends the session so the
     * device authenticates again.
     */
    coaMode: Type.Union([Type.Literal('coa'), Type.Literal('disconnect')], { default: 'coa' }),
  },
  { additionalProperties: false },
);

export const RadiusSection = Type.Object(
  {
    /** 18120, not 1812, so a site's own RADIUS server can keep the standard port. */
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 18120 }),
    clients: Type.Array(RadiusClientConfig, { default: [] }),
    /** Response to a MAC that no decision names: the provisioning VLAN, or Access-Reject. */
    unknownDevice: Type.Union([Type.Literal('provisioning'), Type.Literal('reject')], {
      default: 'provisioning',
    }),
    /** Window in which a retransmitted request (same client, identifier and authenticator) gets the cached response. */
    duplicateWindowMs: Type.Integer({ minimum: 100, maximum: 60000, default: 5000 }),
    /** Wait for a CoA-ACK or NAK before the request is sent again. */
    coaTimeoutMs: Type.Integer({ minimum: 50, maximum: 30000, default: 1000 }),
  },
  { additionalProperties: false, default: {} },
);

export const RetrySection = Type.Object(
  {
    /** Attempts per enforcement action before it is reported as failed. */
    maxAttempts: Type.Integer({ minimum: 1, maximum: 20, default: 5 }),
    initialBackoffMs: Type.Integer({ minimum: 1, maximum: 60000, default: 100 }),
    maxBackoffMs: Type.Integer({ minimum: 1, maximum: 600000, default: 5000 }),
    /** Interval at which actions that failed all attempts are tried again. */
    reconcileIntervalMs: Type.Integer({ minimum: 1000, maximum: 3600000, default: 30000 }),
  },
  { additionalProperties: false, default: {} },
);

export const MudSection = Type.Object(
  {
    /**
     * PEM files with the certificates and public keys that MUD signatures are
     * checked against; a file may contain several. A CMS signature (RFC 8520)
     * is accepted when its signer certificate chains, through the
     * certificates the signature carries, to one of these certificates, or
     * when the signer certificate has one of these public keys. A detached
     * JWS (EdDSA, ES256 or ES384 over the file bytes) must verify with one of
     * the public keys or with the key of one of the certificates.
     */
    trustKeyFiles: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** Whether a MUD file without a signature is rejected; a signature that is present must be valid. */
    requireSignature: Type.Boolean({ default: true }),
    maxFileBytes: Type.Integer({ minimum: 1024, maximum: 4194304, default: 262144 }),
  },
  { additionalProperties: false, default: {} },
);

export const EnforcementSection = Type.Object(
  {
    /** One enforcement point or several; a decision is in force once every one confirms it. */
    kind: Type.Union([EnforcerKind, Type.Array(EnforcerKind, { minItems: 1, uniqueItems: true })], {
      default: 'in-memory',
    }),
    segments: SegmentsSection,
    services: SegmentServicesSection,
    nftables: NftablesSection,
    radius: RadiusSection,
    retry: RetrySection,
    mud: MudSection,
  },
  { additionalProperties: false, default: {} },
);

export type EnforcementConfig = Static<typeof EnforcementSection>;
export type EnforcerKindName = Static<typeof EnforcerKind>;
export type SegmentsConfig = Static<typeof SegmentsSection>;
export type SegmentServicesConfig = Static<typeof SegmentServicesSection>;
export type NftablesConfig = Static<typeof NftablesSection>;
export type RadiusConfig = Static<typeof RadiusSection>;
export type RadiusClientSettings = Static<typeof RadiusClientConfig>;
export type RetryConfig = Static<typeof RetrySection>;
export type MudConfig = Static<typeof MudSection>;
