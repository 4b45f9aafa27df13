/**
 * Inputs of the FHIR export: a personal health device and its measurements,
 * independent of how the 11073 manager stores them. The schemas validate
 * untrusted bus payloads, and the types follow from them.
 *
 * Codes are full MDC codes (partition * 65536 + term). Times from the gateway
 * are ISO 8601 instants in UTC. Agent times are as the agent sent them.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { invalid } from '../core/errors.js';

const MdcCode = Type.Integer({ minimum: 0, maximum: 0xffffffff });
const Uint16 = Type.Integer({ minimum: 0, maximum: 0xffff });
const Uint32 = Type.Integer({ minimum: 0, maximum: 0xffffffff });

/** EUI-64 as 16 hexadecimal digits without separators. */
export const Eui64 = Type.String({ pattern: '^[0-9A-Fa-f]{16}$' });

/** An instant written by the gateway, for example 2026-03-01T10:15:00.000Z. */
const UtcInstant = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$',
});

/** A decimal exactly as the agent's FLOAT or SFLOAT spelled it: "62.4", "2.00", "-1234". */
const DecimalText = Type.String({ pattern: '^-?(0|[1-9]\\d*)(\\.\\d+)?$', maxLength: 160 });

export const PhdNumberValue = Type.Union([
  Type.Object(
    { kind: Type.Literal('finite'), decimal: DecimalText },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Union([
        Type.Literal('nan'),
        Type.Literal('nres'),
        Type.Literal('positive-infinity'),
        Type.Literal('negative-infinity'),
        Type.Literal('reserved'),
      ]),
    },
    { additionalProperties: false },
  ),
]);
export type PhdNumberValue = Static<typeof PhdNumberValue>;

/**
 * An agent time stamp or clock reading, by kind:
 * - absolute: AbsoluteTime as local wall-clock text without a zone (2007-02-01T12:10:00.00);
 * - base-offset: UTC seconds since 1970, a fraction in 1/65536 s and the local offset in minutes;
 * - relative: RelativeTime in 1/8 ms ticks;
 * - high-res-relative: microseconds as decimal text, because the value is 64 bits wide.
 */
export const PhdAgentTime = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('absolute'),
      value: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{2}$' }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('base-offset'),
      seconds: Uint32,
      fraction: Uint16,
      offsetMinutes: Type.Integer({ minimum: -32768, maximum: 32767 }),
    },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal('relative'), ticks: Uint32 }, { additionalProperties: false }),
  Type.Object(
    {
      kind: Type.Literal('high-res-relative'),
      microseconds: Type.String({ pattern: '^(0|[1-9]\\d{0,19})$' }),
    },
    { additionalProperties: false },
  ),
]);
export type PhdAgentTime = Static<typeof PhdAgentTime>;

/**
 * One reading of the agent's current clock (an MDS Date-and-Time,
 * Base-Offset-Time or Relative-Time attribute) and the gateway's time at the
 * moment it was read: the coincident time stamp that puts the agent's time
 * stamps on the gateway's timeline.
 */
export const PhdClockReading = Type.Object(
  {
    agentTime: PhdAgentTime,
    gatewayTime: UtcInstant,
  },
  { additionalProperties: false },
);
export type PhdClockReading = Static<typeof PhdClockReading>;

/** The patient, when the gateway has one: an identifier, or a logical id given by the service. */
export const PhdPatient = Type.Union([
  Type.Object(
    {
      system: Type.String({ minLength: 1, maxLength: 256 }),
      value: Type.String({ minLength: 1, maxLength: 256 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { logicalId: Type.String({ pattern: '^[A-Za-z0-9\\-.]{1,64}$' }) },
    { additionalProperties: false },
  ),
]);
export type PhdPatient = Static<typeof PhdPatient>;

const Unit = {
  /** Unit-Code: the 16-bit term of partition 4 (MDC_DIM_KILO_G is 1731). */
  unitCode: Uint16,
  /** UCUM code of the unit; absent when medward's table has none. */
  ucum: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
};

export const PhdCompoundComponent = Type.Object(
  {
    type: MdcCode,
    value: PhdNumberValue,
    /** Set for Compound-Nu-Observed-Value entries, whose unit may differ per entry. */
    unitCode: Type.Optional(Uint16),
    ucum: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    measurementStatus: Type.Optional(Uint16),
  },
  { additionalProperties: false },
);
export type PhdCompoundComponent = Static<typeof PhdCompoundComponent>;

export const PhdObservedValue = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('numeric'),
      ...Unit,
      value: PhdNumberValue,
      /** Accuracy attribute (maximum deviation) in the unit of the value. */
      accuracy: Type.Optional(DecimalText),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('compound'),
      ...Unit,
      components: Type.Array(PhdCompoundComponent, { minItems: 1, maxItems: 64 }),
    },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal('coded'), code: MdcCode }, { additionalProperties: false }),
  Type.Object(
    {
      kind: Type.Literal('bits'),
      bits: Uint32,
      width: Type.Union([Type.Literal(16), Type.Literal(32)]),
      /**
       * Bits (same numbering as `bits`) that are states rather than events:
       * a state is reported set or cleared, an event only when set.
       */
      stateMask: Type.Optional(Uint32),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { kind: Type.Literal('text'), text: Type.String({ maxLength: 4096 }) },
    { additionalProperties: false },
  ),
]);
export type PhdObservedValue = Static<typeof PhdObservedValue>;

export const PhdObservationInput = Type.Object(
  {
    /** Unique id the manager gave the observation; re-delivering it changes nothing. */
    observationId: Type.String({ pattern: '^[A-Za-z0-9._:\\-]{1,128}$' }),
    deviceSystemId: Eui64,
    /** Specialization profile codes of the agent (MDC_DEV_SPEC_PROFILE_*). */
    specializations: Type.Optional(Type.Array(MdcCode, { maxItems: 32 })),
    /** Person id of multi-person agents. */
    personId: Type.Optional(Uint16),
    /** MDC code of the measurement (Type, or the metric-id of Nu-Observed-Value). */
    type: MdcCode,
    value: PhdObservedValue,
    agentTime: Type.Optional(PhdAgentTime),
    /** Time at which the gateway received the measurement. */
    gatewayReceivedAt: UtcInstant,
    /** Offset of the gateway's local time from UTC; the zone given to agent wall-clock times. */
    gatewayUtcOffsetMinutes: Type.Optional(Type.Integer({ minimum: -1080, maximum: 1080 })),
    /** Coincident time stamp of the association that delivered the measurement. */
    agentClock: Type.Optional(PhdClockReading),
    measurementStatus: Type.Optional(Uint16),
    supplementalTypes: Type.Optional(Type.Array(MdcCode, { maxItems: 32 })),
    /** Observations this one refers to with Source-Handle-Reference. */
    sourceObservationIds: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z0-9._:\\-]{1,128}$' }), { maxItems: 16 }),
    ),
    patient: Type.Optional(PhdPatient),
  },
  { additionalProperties: false },
);
export type PhdObservationInput = Static<typeof PhdObservationInput>;

export const PhdProductionSpecEntry = Type.Object(
  {
    /** unspecified (0), serial-number (1), part-number (2), hw (3), sw (4), fw (5), protocol (6), GMDN (7). */
    specType: Uint16,
    componentId: Uint16,
    value: Type.String({ maxLength: 256 }),
  },
  { additionalProperties: false },
);
export type PhdProductionSpecEntry = Static<typeof PhdProductionSpecEntry>;

export const PhdDeviceInput = Type.Object(
  {
    systemId: Eui64,
    manufacturer: Type.Optional(Type.String({ maxLength: 256 })),
    model: Type.Optional(Type.String({ maxLength: 256 })),
    productionSpec: Type.Optional(Type.Array(PhdProductionSpecEntry, { maxItems: 64 })),
    /** System-Type-Spec-List: specialization profile codes with their versions, when known. */
    specializations: Type.Array(
      Type.Object(
        { code: MdcCode, version: Type.Optional(Uint16) },
        { additionalProperties: false },
      ),
      { maxItems: 32 },
    ),
    /** Reg-Cert-Data-List, Continua entries decoded. */
    regCert: Type.Optional(
      Type.Object(
        {
          continuaVersion: Type.Optional(
            Type.Object(
              {
                major: Type.Integer({ minimum: 0, maximum: 255 }),
                minor: Type.Integer({ minimum: 0, maximum: 255 }),
              },
              { additionalProperties: false },
            ),
          ),
          /** Certified device class entries: transport code * 8192 + (specialization term - 4096). */
          certifiedDevices: Type.Optional(Type.Array(Uint16, { maxItems: 64 })),
          /** RegulationBitField (BITS-16); MDER bit 0 set means unregulated. */
          regulationStatus: Type.Optional(Uint16),
        },
        { additionalProperties: false },
      ),
    ),
    /** Mds-Time-Info. */
    timeInfo: Type.Optional(
      Type.Object(
        {
          capabilities: Uint16,
          /** Term code of partition INFRA, for example MDC_TIME_SYNC_NONE (7936). */
          syncProtocol: Uint16,
          /** RelativeTime ticks; 0xFFFFFFFF means unknown. */
          syncAccuracy: Uint32,
          resolutionAbsTime: Uint16,
          resolutionRelTime: Uint16,
          resolutionHighResTime: Uint32,
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type PhdDeviceInput = Static<typeof PhdDeviceInput>;

/**
 * Payload of the bus subject `fhir.export.requested`: the agent
 * and the observations the manager committed for it in one step. Every
 * observation's deviceSystemId must be the device's systemId.
 */
// Extra top-level members are allowed, so the manager can add fields this export ignores.
export const PhdExportPayload = Type.Object(
  {
    device: PhdDeviceInput,
    observations: Type.Array(PhdObservationInput, { minItems: 1, maxItems: 10000 }),
  },
  { additionalProperties: true },
);
export type PhdExportPayload = Static<typeof PhdExportPayload>;

/** Validates an untrusted payload; throws FHIR_PAYLOAD_INVALID naming the first problems. */
export function parsePhdExportPayload(data: unknown): PhdExportPayload {
  if (!Value.Check(PhdExportPayload, data)) {
    const problems = [...Value.Errors(PhdExportPayload, data)]
      .slice(0, 5)
      .map((error) => `${error.path || '/'}: ${error.message}`);
    throw invalid(
      'FHIR_PAYLOAD_INVALID',
      `observation payload is invalid: ${problems.join('; ')}; send a PhdExportPayload`,
      { problems },
    );
  }
  const systemId = data.device.systemId.toUpperCase();
  const stranger = data.observations.find(
    (observation) => observation.deviceSystemId.toUpperCase() !== systemId,
  );
  if (stranger !== undefined) {
    throw invalid(
      'FHIR_PAYLOAD_INVALID',
      `observation ${stranger.observationId} belongs to device ${stranger.deviceSystemId}, not ${data.device.systemId}; send one payload per device`,
      { observationId: stranger.observationId },
    );
  }
  return data;
}
