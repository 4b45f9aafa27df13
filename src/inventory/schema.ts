import { Type, type Static, type TLiteral, type TString, type TUnion } from '@sinclair/typebox';

/**
 * JSON schemas of device input and output. The API validates requests with
 * them and the inventory service checks every caller's input against the same
 * schemas, so both report the same limits.
 */

/** Lifecycle of a device, from first sight on the network to its retirement. */
export const deviceStates = [
  'unknown',
  'provisioning',
  'identity-verified',
  'authorised',
  'rejected',
  'enrolled',
  'configured',
  'production',
  'suspended',
  'quarantined',
  'decommissioned',
] as const;
export type DeviceState = (typeof deviceStates)[number];

/**
 * Information classification (ISO/IEC 27001:2022 control 5.12) of the most
 * sensitive data a device handles, lowest first:
 * - public: may be disclosed without harm (a published product catalogue);
 * - internal: for staff only, and disclosure harms little (asset lists, network layout);
 * - confidential: patient data or security settings whose disclosure harms patients
 *   or the organisation (observations, identities, device configuration);
 * - restricted: data whose disclosure or alteration can endanger patient safety
 *   (therapy settings, control commands, key material).
 * The channels context maps each level to the channel properties it requires.
 */
export const classificationLevels = ['public', 'internal', 'confidential', 'restricted'] as const;
export type ClassificationLevel = (typeof classificationLevels)[number];

/**
 * Consequence of the device failing or being cut off, lowest first:
 * - low: no effect on patient care;
 * - moderate: care continues on a manual or alternative path;
 * - high: diagnosis or therapy is delayed;
 * - critical: a patient can be harmed directly. Every life-sustaining device is critical.
 */
export const criticalityLevels = ['low', 'moderate', 'high', 'critical'] as const;
export type CriticalityLevel = (typeof criticalityLevels)[number];

const literalUnion = <T extends string>(
  values: readonly T[],
  description: string,
): TUnion<TLiteral<T>[]> =>
  Type.Union(
    values.map((value) => Type.Literal(value)),
    { description },
  );

/** Printable text: no ASCII control characters. */
const Text = (maxLength: number, description: string): TString =>
  Type.String({ minLength: 1, maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]+$', description });

export const DeviceStateSchema = literalUnion(deviceStates, 'Lifecycle state');
export const ClassificationLevelSchema = literalUnion(
  classificationLevels,
  'Classification level of the most sensitive data the device handles',
);
export const CriticalityLevelSchema = literalUnion(
  criticalityLevels,
  'Consequence of the device failing: low, moderate, high or critical',
);

export const MAC_ADDRESS_PATTERN =
  '^(?:[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}' +
  '|[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}|[0-9A-Fa-f]{12})$';
export const SYSTEM_ID_PATTERN = '^[0-9A-Fa-f]{16}$';
export const FINGERPRINT_PATTERN = '^(?:[0-9A-Fa-f]{64}|[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31})$';
export const SEGMENT_PATTERN = '^[a-z0-9][a-z0-9._-]{0,62}$';
export const DEVICE_ID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
export const MAX_MAC_ADDRESSES = 16;
export const MAX_SOFTWARE_COMPONENTS = 1000;

export const SoftwareComponentSchema = Type.Object(
  {
    name: Text(214, 'Component name'),
    version: Text(128, 'Component version'),
    purl: Type.Optional(
      Type.String({ maxLength: 2048, pattern: '^pkg:[A-Za-z][A-Za-z0-9.+-]*/\\S+$' }),
    ),
    cpe: Type.Optional(Type.String({ maxLength: 2048, pattern: '^cpe:(?:2\\.3:|/)\\S+$' })),
  },
  { additionalProperties: false },
);
export type SoftwareComponent = Static<typeof SoftwareComponentSchema>;

/** Properties that create and update share; nullable ones may be cleared by an update. */
const mutableProperties = {
  manufacturer: Text(128, 'Manufacturer name'),
  model: Text(128, 'Model name or number'),
  serialNumber: Text(128, 'Serial number, unique per manufacturer and model'),
  udiDeviceIdentifier: Type.Union([Text(64, 'UDI device identifier (UDI-DI)'), Type.Null()]),
  udiProductionIdentifier: Type.Union([
    Text(128, 'UDI production identifier (UDI-PI)'),
    Type.Null(),
  ]),
  systemId: Type.Union([
    Type.String({
      pattern: SYSTEM_ID_PATTERN,
      description: 'IEEE 11073-20601 System-Id: an EUI-64 as 16 hex digits, unique',
    }),
    Type.Null(),
  ]),
  macAddresses: Type.Array(
    Type.String({
      pattern: MAC_ADDRESS_PATTERN,
      description:
        'EUI-48 MAC address: aa:bb:cc:dd:ee:ff, aa-bb-.., aabb.ccdd.eeff or 12 hex digits',
    }),
    { maxItems: MAX_MAC_ADDRESSES, description: 'MAC addresses, unique across devices' },
  ),
  certificateFingerprint: Type.Union([
    Type.String({
      pattern: FINGERPRINT_PATTERN,
      description: 'SHA-256 fingerprint of the device certificate: 64 hex digits, colons allowed',
    }),
    Type.Null(),
  ]),
  state: DeviceStateSchema,
  segment: Type.Union([
    Type.String({ pattern: SEGMENT_PATTERN, description: 'Network segment name' }),
    Type.Null(),
  ]),
  classification: ClassificationLevelSchema,
  lifeSustaining: Type.Boolean({ description: 'Whether a patient depends on the device for life' }),
  criticality: CriticalityLevelSchema,
  firmwareVersion: Type.Union([Text(64, 'Firmware version'), Type.Null()]),
  softwareComponents: Type.Array(SoftwareComponentSchema, { maxItems: MAX_SOFTWARE_COMPONENTS }),
  location: Type.Union([Text(256, 'Where the device is'), Type.Null()]),
  owner: Type.Union([Text(256, 'Person or unit responsible for the device'), Type.Null()]),
};

export const DeviceCreateSchema = Type.Object(
  {
    manufacturer: mutableProperties.manufacturer,
    model: mutableProperties.model,
    serialNumber: mutableProperties.serialNumber,
    lifeSustaining: mutableProperties.lifeSustaining,
    criticality: mutableProperties.criticality,
    udiDeviceIdentifier: Type.Optional(mutableProperties.udiDeviceIdentifier),
    udiProductionIdentifier: Type.Optional(mutableProperties.udiProductionIdentifier),
    systemId: Type.Optional(mutableProperties.systemId),
    macAddresses: Type.Optional(mutableProperties.macAddresses),
    certificateFingerprint: Type.Optional(mutableProperties.certificateFingerprint),
    state: Type.Optional(mutableProperties.state),
    segment: Type.Optional(mutableProperties.segment),
    classification: Type.Optional(mutableProperties.classification),
    firmwareVersion: Type.Optional(mutableProperties.firmwareVersion),
    softwareComponents: Type.Optional(mutableProperties.softwareComponents),
    location: Type.Optional(mutableProperties.location),
    owner: Type.Optional(mutableProperties.owner),
  },
  { additionalProperties: false },
);
export type DeviceCreateInput = Static<typeof DeviceCreateSchema>;

/** Every mutable property, each optional. A null clears a nullable property. */
export const DevicePatchSchema = Type.Partial(Type.Object(mutableProperties), {
  additionalProperties: false,
});
export type DevicePatch = Static<typeof DevicePatchSchema>;

export const DeviceSchema = Type.Object(
  {
    id: Type.String({ pattern: DEVICE_ID_PATTERN }),
    manufacturer: Type.String(),
    model: Type.String(),
    serialNumber: Type.String(),
    udiDeviceIdentifier: Type.Union([Type.String(), Type.Null()]),
    udiProductionIdentifier: Type.Union([Type.String(), Type.Null()]),
    systemId: Type.Union([Type.String(), Type.Null()], {
      description: 'EUI-64 as 16 lowercase hex digits',
    }),
    macAddresses: Type.Array(Type.String(), { description: 'Lowercase, colon-separated' }),
    certificateFingerprint: Type.Union([Type.String(), Type.Null()], {
      description: 'SHA-256 as 64 lowercase hex digits',
    }),
    state: DeviceStateSchema,
    segment: Type.Union([Type.String(), Type.Null()]),
    classification: ClassificationLevelSchema,
    lifeSustaining: Type.Boolean(),
    criticality: CriticalityLevelSchema,
    firmwareVersion: Type.Union([Type.String(), Type.Null()]),
    softwareComponents: Type.Array(SoftwareComponentSchema),
    location: Type.Union([Type.String(), Type.Null()]),
    owner: Type.Union([Type.String(), Type.Null()]),
    version: Type.Integer({ minimum: 1, description: 'Increments on every change' }),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { additionalProperties: false },
);

/** A device as stored, with identifiers in their normalised form. */
export interface Device {
  id: string;
  manufacturer: string;
  model: string;
  serialNumber: string;
  udiDeviceIdentifier: string | null;
  udiProductionIdentifier: string | null;
  /** IEEE 11073-20601 System-Id (EUI-64), 16 lowercase hex digits. */
  systemId: string | null;
  /** Lowercase colon form, `aa:bb:cc:dd:ee:ff`. */
  macAddresses: string[];
  /** SHA-256 of the certificate's DER encoding, 64 lowercase hex digits. */
  certificateFingerprint: string | null;
  state: DeviceState;
  segment: string | null;
  classification: ClassificationLevel;
  lifeSustaining: boolean;
  criticality: CriticalityLevel;
  firmwareVersion: string | null;
  softwareComponents: SoftwareComponent[];
  location: string | null;
  owner: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}
