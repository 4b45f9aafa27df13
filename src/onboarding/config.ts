import { Type, type Static } from '@sinclair/typebox';

/**
 * Configuration of device onboarding: the provisioning listener devices
 * enrol on (EST, RFC 7030), the authority that signs the lists of expected
 * devices, medward's issuing CA, certificate lifetimes, and the profiles a
 * device's configuration is resolved from. Relative file paths are resolved
 * against `dataDir`.
 */

const ClassName = Type.String({ pattern: '^(\\*|[a-z0-9][a-z0-9._-]{0,62})$' });
const SegmentName = Type.String({ pattern: '^[a-z][a-z0-9-]{0,30}$' });

export const ProvisioningListenerSection = Type.Object(
  {
    /**
     * A listener of its own, apart from every production listener, so the
     * network can let the provisioning segment reach it and nothing else.
     * Loopback by default: set the address devices reach on the provisioning
     * segment. 8442 follows the API (8440) and the CSE (8441) and leaves 8443,
     * which many HTTPS services use, free.
     */
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8442 }),
    /** DNS names and IP addresses, besides `host`, written into the listener's certificate. */
    serverNames: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { default: [] }),
    /**
     * Base URL devices use to reach the listener, written into certificates
     * as the CRL distribution point. Defaults to https://<host>:<port>.
     */
    publicUrl: Type.Optional(Type.String({ pattern: '^https://[^\\s]+$' })),
    /** Ceiling for a request body; a registration carries the device's SBOM. */
    maxRequestBytes: Type.Integer({ minimum: 16384, maximum: 67108864, default: 8388608 }),
    requestTimeoutMs: Type.Integer({ minimum: 1000, maximum: 600000, default: 30000 }),
    /**
     * Binding of a CSR to its TLS session (RFC 7030 section 3.5) through the
     * challengePassword attribute. `optional` checks it when a CSR carries
     * one, `required` rejects a CSR without it, `off` ignores it.
     */
    csrChannelBinding: Type.Union(
      [Type.Literal('off'), Type.Literal('optional'), Type.Literal('required')],
      { default: 'optional' },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const AuthoritySection = Type.Object(
  {
    /** HTTPS URL of the signed authorisation list; lists are only imported from files when absent. */
    url: Type.Optional(Type.String({ pattern: '^https://[^\\s]+$' })),
    pollIntervalMs: Type.Integer({ minimum: 1000, maximum: 86400000, default: 300000 }),
    requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 120000, default: 10000 }),
    /** PEM files with the public keys (Ed25519, ECDSA P-256 or P-384) that may sign lists. */
    publicKeyFiles: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** PEM bundle that verifies the authority's HTTPS certificate; the system store when absent. */
    tlsCaFile: Type.Optional(Type.String({ minLength: 1 })),
    /** Where the last verified list is kept, so onboarding continues while the authority is offline. */
    cacheFile: Type.String({ minLength: 1, default: 'onboarding/authorisation-list.json' }),
  },
  { additionalProperties: false, default: {} },
);

export const CaSection = Type.Object(
  {
    /**
     * `self-signed`: medward creates its own CA key and certificate on first
     * start. `intermediate`: the site supplies a CA certificate issued by its
     * root, with its key, in the files below.
     */
    mode: Type.Union([Type.Literal('self-signed'), Type.Literal('intermediate')], {
      default: 'self-signed',
    }),
    keyFile: Type.String({ minLength: 1, default: 'onboarding/ca/ca-key.pem' }),
    certificateFile: Type.String({ minLength: 1, default: 'onboarding/ca/ca-cert.pem' }),
    /** PEM bundle of the certificates above the CA (intermediates, root), sent in /cacerts. */
    chainFile: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * Encrypts the key file (PKCS#8, AES-256-CBC with PBKDF2). Prefer
     * MEDWARD_ONBOARDING__CA__PASSPHRASE or passphraseFile to the YAML file.
     */
    passphrase: Type.Optional(Type.String({ minLength: 8, maxLength: 1024 })),
    passphraseFile: Type.Optional(Type.String({ minLength: 1 })),
    keyAlgorithm: Type.Union([Type.Literal('ec-p256'), Type.Literal('ec-p384')], {
      default: 'ec-p256',
    }),
    commonName: Type.String({ minLength: 1, maxLength: 64, default: 'medward issuing CA' }),
    validityDays: Type.Integer({ minimum: 1, maximum: 36500, default: 3650 }),
  },
  { additionalProperties: false, default: {} },
);

export const CertificatesSection = Type.Object(
  {
    /** Lifetime of the operational certificates devices enrol for. */
    lifetimeHours: Type.Integer({ minimum: 1, maximum: 8760, default: 168 }),
    /** Time before expiry from which re-enrolment is accepted; earlier requests are rejected. */
    renewalWindowHours: Type.Integer({ minimum: 1, maximum: 8760, default: 48 }),
    /** Whether a device whose certificate expired may still re-enrol with it (audited). */
    allowRenewAfterExpiry: Type.Boolean({ default: false }),
    /** How long after expiry such a re-enrolment is accepted. */
    renewAfterExpiryGraceHours: Type.Integer({ minimum: 1, maximum: 8760, default: 72 }),
    /** nextUpdate of each CRL, counted from its issue. */
    crlValidityHours: Type.Integer({ minimum: 1, maximum: 720, default: 24 }),
    /** Lifetime of the one-time bootstrap secrets medward issues on manual approval. */
    bootstrapSecretLifetimeHours: Type.Integer({ minimum: 1, maximum: 8760, default: 72 }),
  },
  { additionalProperties: false, default: {} },
);

export const StuckStateSection = Type.Object(
  {
    /** Time a device may stay in an onboarding state before an alert is raised. */
    timeoutMs: Type.Integer({ minimum: 1000, maximum: 604800000, default: 3600000 }),
    checkIntervalMs: Type.Integer({ minimum: 1000, maximum: 86400000, default: 60000 }),
  },
  { additionalProperties: false, default: {} },
);

/**
 * Limits on reports of unlisted devices per source address. Each report of
 * a new identity adds a row and an audit record, so a client inventing
 * serial numbers is rejected with HTTP 429 once it exceeds them.
 */
export const SightingsSection = Type.Object(
  {
    /** Sustained reports per minute accepted from one source address. */
    ratePerMinute: Type.Number({ exclusiveMinimum: 0, maximum: 60000, default: 12 }),
    /** Reports one source address may make at once before the rate applies. */
    burst: Type.Integer({ minimum: 1, maximum: 10000, default: 20 }),
    /** Source addresses tracked at once; the least recently seen is forgotten beyond it. */
    maxTrackedAddresses: Type.Integer({ minimum: 100, maximum: 10000000, default: 100000 }),
  },
  { additionalProperties: false, default: {} },
);

export const SbomSection = Type.Object(
  {
    maxBytes: Type.Integer({ minimum: 1024, maximum: 67108864, default: 4194304 }),
    maxDepth: Type.Integer({ minimum: 4, maximum: 512, default: 64 }),
    maxComponents: Type.Integer({ minimum: 1, maximum: 1000000, default: 10000 }),
  },
  { additionalProperties: false, default: {} },
);

const AllowedPeer = Type.Object(
  {
    /** IPv4 or IPv6 address or prefix, for example `10.20.0.5/32`. */
    address: Type.String({
      minLength: 2,
      maxLength: 43,
      pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$',
    }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    protocol: Type.Union([Type.Literal('tcp'), Type.Literal('udp')], { default: 'tcp' }),
  },
  { additionalProperties: false },
);

/** Settings a profile contributes; a more specific profile replaces each member it sets. */
export const ProfileSettings = Type.Object(
  {
    /** Services the device talks to in production, by name. */
    endpoints: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ pattern: '^[a-z][a-z0-9-]{0,62}$' }),
            url: Type.String({ minLength: 1, maxLength: 2048 }),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    allowedPeers: Type.Optional(Type.Array(AllowedPeer)),
    channelClassification: Type.Optional(
      Type.Union([
        Type.Literal('public'),
        Type.Literal('internal'),
        Type.Literal('confidential'),
        Type.Literal('restricted'),
      ]),
    ),
    timeServers: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }))),
    reportingIntervalSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
    heartbeatIntervalSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
  },
  { additionalProperties: false, default: {} },
);

export const ProfileConfig = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' }),
    /** Device class the profile applies to; `*` applies to every class. */
    deviceClass: ClassName,
    site: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' })),
    manufacturer: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    productionSegment: Type.Optional(SegmentName),
    settings: ProfileSettings,
  },
  { additionalProperties: false },
);

export const OnboardingSection = Type.Object(
  {
    /** Whether medward runs onboarding: the provisioning listener, list polling and the stuck-state checker. */
    enabled: Type.Boolean({ default: true }),
    provisioning: ProvisioningListenerSection,
    authority: AuthoritySection,
    ca: CaSection,
    certificates: CertificatesSection,
    stuckState: StuckStateSection,
    sightings: SightingsSection,
    sbom: SbomSection,
    /**
     * Configuration profiles by site, device class and model. Every profile
     * that matches a device applies, the more specific (more of site,
     * manufacturer and model set) over the less specific.
     */
    profiles: Type.Array(ProfileConfig, {
      default: [
        {
          name: 'baseline',
          deviceClass: '*',
          productionSegment: 'clinical',
          settings: { channelClassification: 'confidential', reportingIntervalSeconds: 60 },
        },
      ],
    }),
  },
  { additionalProperties: false, default: {} },
);

export type OnboardingConfig = Static<typeof OnboardingSection>;
export type ProvisioningListenerConfig = Static<typeof ProvisioningListenerSection>;
export type AuthorityConfig = Static<typeof AuthoritySection>;
export type CaConfig = Static<typeof CaSection>;
export type CertificatesConfig = Static<typeof CertificatesSection>;
export type SightingsConfig = Static<typeof SightingsSection>;
export type ProfileConfigEntry = Static<typeof ProfileConfig>;
export type ProfileSettingsConfig = Static<typeof ProfileSettings>;
