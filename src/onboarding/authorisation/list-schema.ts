import { Type, type Static, type TString } from '@sinclair/typebox';

/**
 * The authorisation list: a document, signed by an authority medward trusts,
 * that names the devices expected on the provisioning network with the proof
 * of birth identity each must present, and the devices whose authorisation is
 * withdrawn. JSON members are checked against these schemas before use.
 */

export const AUTHORISATION_LIST_FORMAT = 'medward.authorisation-list';

/** Printable text without ASCII control characters. */
const Text = (maxLength: number): TString =>
  Type.String({ minLength: 1, maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });

const Timestamp = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$',
  description: 'RFC 3339 date and time',
});

const Pem = Type.String({ minLength: 64, maxLength: 16384, pattern: '-----BEGIN [A-Z ]+-----' });

/** IEEE 802.1AR IDevID: a certificate issued at manufacture, verified against the manufacturer's CA. */
export const IdevidIdentitySchema = Type.Object(
  {
    kind: Type.Literal('idevid'),
    /** The manufacturer's CA certificates (PEM); the device's IDevID must chain to one of them. */
    trustAnchors: Type.Array(Pem, { minItems: 1, maxItems: 8 }),
    /**
     * Value of the serialNumber attribute (2.5.4.5) in the IDevID subject, as
     * IEEE 802.1AR requires it there; the entry's serialNumber when absent.
     */
    subjectSerialNumber: Type.Optional(Text(128)),
  },
  { additionalProperties: false },
);

/** A key pinned for one device: it authenticates with any certificate carrying this public key. */
export const PublicKeyIdentitySchema = Type.Object(
  {
    kind: Type.Literal('public-key'),
    /** SubjectPublicKeyInfo in PEM (`BEGIN PUBLIC KEY`). */
    publicKey: Pem,
  },
  { additionalProperties: false },
);

/** A one-time secret given to a device without a birth certificate; only its SHA-256 is listed. */
export const BootstrapSecretIdentitySchema = Type.Object(
  {
    kind: Type.Literal('bootstrap-secret'),
    /** SHA-256 of the UTF-8 secret, 64 lowercase hex digits. The secret needs at least 128 random bits. */
    secretSha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
);

export const BirthIdentitySchema = Type.Union([
  IdevidIdentitySchema,
  PublicKeyIdentitySchema,
  BootstrapSecretIdentitySchema,
]);

export const ListEntrySchema = Type.Object(
  {
    entryId: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,128}$' }),
    manufacturer: Text(128),
    model: Text(128),
    serialNumber: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:/+-]+$' }),
    udiDeviceIdentifier: Type.Optional(Text(64)),
    udiProductionIdentifier: Type.Optional(Text(128)),
    /** EUI-64 as 16 hex digits (IEEE 11073-20601 System-Id). */
    systemId: Type.Optional(Type.String({ pattern: '^[0-9A-Fa-f]{16}$' })),
    /** MAC addresses the device is expected to use, as hints for operators. */
    macAddresses: Type.Optional(
      Type.Array(Type.String({ pattern: '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$' }), {
        maxItems: 16,
      }),
    ),
    birthIdentity: BirthIdentitySchema,
    /** Device class whose configuration profiles apply (the allowed device profile). */
    deviceClass: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' }),
    productionSegment: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]{0,30}$' })),
    /** DNS names the device may request in its operational certificate. */
    hostnames: Type.Optional(
      Type.Array(
        Type.String({
          maxLength: 253,
          pattern:
            '^(?=.*[A-Za-z])[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$',
        }),
        { maxItems: 8 },
      ),
    ),
    /** Whether a patient depends on the device for life; false when absent. */
    lifeSustaining: Type.Optional(Type.Boolean()),
    /** Consequence of the device failing; `moderate` when absent, `critical` for life-sustaining devices. */
    criticality: Type.Optional(
      Type.Union([
        Type.Literal('low'),
        Type.Literal('moderate'),
        Type.Literal('high'),
        Type.Literal('critical'),
      ]),
    ),
    classification: Type.Optional(
      Type.Union([
        Type.Literal('public'),
        Type.Literal('internal'),
        Type.Literal('confidential'),
        Type.Literal('restricted'),
      ]),
    ),
    validFrom: Type.Optional(Timestamp),
    validUntil: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);

export const ListRevocationSchema = Type.Object(
  {
    manufacturer: Text(128),
    model: Text(128),
    serialNumber: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:/+-]+$' }),
    /** `reject` for a device not yet in production, `suspend` to take one out of production. */
    action: Type.Union([Type.Literal('reject'), Type.Literal('suspend')]),
    reason: Text(500),
    revokedAt: Timestamp,
  },
  { additionalProperties: false },
);

export const AuthorisationListSchema = Type.Object(
  {
    format: Type.Literal(AUTHORISATION_LIST_FORMAT),
    formatVersion: Type.Literal(1),
    /** Identifies the series of versions; each series keeps its own version number. */
    listId: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }),
    version: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    issuedAt: Timestamp,
    expiresAt: Timestamp,
    /** Name of the issuing authority, for operators. */
    authority: Type.Optional(Text(256)),
    devices: Type.Array(ListEntrySchema, { maxItems: 100_000 }),
    revocations: Type.Optional(Type.Array(ListRevocationSchema, { maxItems: 100_000 })),
  },
  { additionalProperties: false },
);

/** `Ed25519` (RFC 8037), `ES256` or `ES384` (RFC 7518, r||s signature encoding). */
export const SignatureAlgorithmSchema = Type.Union([
  Type.Literal('Ed25519'),
  Type.Literal('ES256'),
  Type.Literal('ES384'),
]);

/**
 * The signed document: `list` as plain JSON, and a detached signature over
 * the UTF-8 bytes of the list's canonical JSON, which canonicalJson writes
 * with object members sorted by UTF-16 code units and no white space.
 */
export const ListEnvelopeSchema = Type.Object(
  {
    list: Type.Unknown(),
    signature: Type.Object(
      {
        algorithm: SignatureAlgorithmSchema,
        /** SHA-256 of the signing key's SubjectPublicKeyInfo DER, 64 lowercase hex digits. */
        keyId: Type.String({ pattern: '^[0-9a-f]{64}$' }),
        /** Base64url without padding. */
        value: Type.String({ minLength: 16, maxLength: 1024, pattern: '^[A-Za-z0-9_-]+$' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type AuthorisationList = Static<typeof AuthorisationListSchema>;
export type ListEntry = Static<typeof ListEntrySchema>;
export type ListRevocation = Static<typeof ListRevocationSchema>;
export type BirthIdentity = Static<typeof BirthIdentitySchema>;
export type ListEnvelope = Static<typeof ListEnvelopeSchema>;
export type SignatureAlgorithm = Static<typeof SignatureAlgorithmSchema>;
