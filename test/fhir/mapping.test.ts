import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  buildPhdBundle,
  buildPhdDevice,
  buildPhgDevice,
  FhirDecimal,
  resolveTiming,
  serializeFhirJson,
  type Observation,
  type PhdDeviceInput,
  type PhdObservationInput,
} from '../../src/fhir/index.js';
import { assertValidR4, r4Errors } from './validate.js';

const systemId = '00A0B0C0D0E0F001';
const gateway = { systemId: '02AABBCCDDEEFF00', timeSyncProtocol: 532224 };

function numeric(overrides: Partial<PhdObservationInput> = {}): PhdObservationInput {
  return {
    observationId: 'obs-1',
    deviceSystemId: systemId,
    type: 150364,
    value: {
      kind: 'numeric',
      unitCode: 6048,
      ucum: 'Cel',
      value: { kind: 'finite', decimal: '36.8' },
    },
    gatewayReceivedAt: '2026-03-01T10:00:00.000Z',
    ...overrides,
  };
}

function only(input: PhdObservationInput, device?: PhdDeviceInput): Observation {
  const { bundle } = buildPhdBundle({
    type: 'collection',
    observations: [input],
    devices: device === undefined ? new Map() : new Map([[device.systemId, device]]),
    gateway,
  });
  assertValidR4(bundle);
  const observation = bundle.entry.at(-1)?.resource;
  assert.equal(observation?.resourceType, 'Observation');
  return observation;
}

describe('fhir validator', () => {
  test('validator rejects broken observation', () => {
    const errors = r4Errors({
      resourceType: 'Observation',
      status: 'final',
      valueQuantity: { value: new FhirDecimal('1.0') },
      dataAbsentReason: { coding: [{ code: 'error' }] },
    });
    assert.ok(
      errors.some((error) => error.includes('Observation.code')),
      errors.join('; '),
    );
    assert.ok(
      errors.some((error) => error.includes('obs-6')),
      errors.join('; '),
    );
  });
});

describe('fhir timing', () => {
  const device: PhdDeviceInput = { systemId, specializations: [] };

  test('relative stamp mapped through anchor', () => {
    const timing = resolveTiming(
      {
        deviceSystemId: systemId,
        agentTime: { kind: 'relative', ticks: 108_000 * 8 },
        gatewayReceivedAt: '2026-03-01T10:00:10.000Z',
        agentClock: {
          agentTime: { kind: 'relative', ticks: 100_000 * 8 },
          gatewayTime: '2026-03-01T10:00:00.000Z',
        },
      },
      { device, gatewaySynchronized: false },
    );
    assert.equal(timing.effectiveDateTime, '2026-03-01T10:00:08.000Z');
    assert.deepEqual(timing.coincident?.agentValue, {
      kind: 'microseconds',
      value: new FhirDecimal(String(100_000_000)),
    });
  });

  test('relative counter wrap handled', () => {
    const timing = resolveTiming(
      {
        deviceSystemId: systemId,
        agentTime: { kind: 'relative', ticks: 8_000 },
        gatewayReceivedAt: '2026-03-01T10:00:10.000Z',
        agentClock: {
          agentTime: { kind: 'relative', ticks: 2 ** 32 - 8_000 },
          gatewayTime: '2026-03-01T10:00:00.000Z',
        },
      },
      { device, gatewaySynchronized: false },
    );
    assert.equal(timing.effectiveDateTime, '2026-03-01T10:00:02.000Z');
  });

  test('high resolution stamp mapped', () => {
    const timing = resolveTiming(
      {
        deviceSystemId: systemId,
        agentTime: { kind: 'high-res-relative', microseconds: '90000001500000' },
        gatewayReceivedAt: '2026-03-01T10:00:10.000Z',
        agentClock: {
          agentTime: { kind: 'high-res-relative', microseconds: '90000000000000' },
          gatewayTime: '2026-03-01T10:00:00.000Z',
        },
      },
      { device, gatewaySynchronized: false },
    );
    assert.equal(timing.effectiveDateTime, '2026-03-01T10:00:01.500Z');
  });

  test('base offset corrected by clock', () => {
    const seconds = Date.parse('2026-03-01T09:59:00.000Z') / 1000;
    const timing = resolveTiming(
      {
        deviceSystemId: systemId,
        agentTime: { kind: 'base-offset', seconds, fraction: 32768, offsetMinutes: 60 },
        gatewayReceivedAt: '2026-03-01T10:00:10.000Z',
        agentClock: {
          agentTime: { kind: 'base-offset', seconds: seconds + 50, fraction: 0, offsetMinutes: 60 },
          gatewayTime: '2026-03-01T10:00:00.000Z',
        },
      },
      { device, gatewaySynchronized: true },
    );
    // The agent's clock is 10 s behind the gateway's.
    assert.equal(timing.effectiveDateTime, '2026-03-01T09:59:10.500Z');
    assert.deepEqual(timing.coincident?.agentValue, {
      kind: 'dateTime',
      value: '2026-03-01T10:59:50.000+01:00',
    });
  });

  test('synchronised agent keeps its time', () => {
    const synced: PhdDeviceInput = {
      systemId,
      specializations: [],
      timeInfo: {
        // real-time clock (bit 0), abs-time-synced state (bit 8)
        capabilities: 0x8080,
        syncProtocol: 7938,
        syncAccuracy: 0xffffffff,
        resolutionAbsTime: 0,
        resolutionRelTime: 0,
        resolutionHighResTime: 0,
      },
    };
    const input = {
      deviceSystemId: systemId,
      agentTime: { kind: 'absolute' as const, value: '2026-03-01T10:59:00.00' },
      gatewayReceivedAt: '2026-03-01T10:00:10.000Z',
      gatewayUtcOffsetMinutes: 60,
      agentClock: {
        agentTime: { kind: 'absolute' as const, value: '2026-03-01T11:00:00.00' },
        gatewayTime: '2026-03-01T10:00:30.000Z',
      },
    };
    const kept = resolveTiming(input, { device: synced, gatewaySynchronized: false });
    assert.equal(kept.effectiveDateTime, '2026-03-01T09:59:00.000Z');
    assert.equal(kept.coincident?.gatewayTime, undefined);
    const corrected = resolveTiming(input, { device: synced, gatewaySynchronized: true });
    assert.equal(corrected.effectiveDateTime, '2026-03-01T09:59:30.000Z');
    assert.equal(corrected.coincident?.gatewayTime, '2026-03-01T10:00:30.000Z');
  });

  test('zero clock is a time fault', () => {
    const observation = only(
      numeric({
        agentTime: { kind: 'absolute', value: '0000-00-00T00:00:00.00' },
        agentClock: {
          agentTime: { kind: 'absolute', value: '0000-00-00T00:00:00.00' },
          gatewayTime: '2026-03-01T10:00:00.000Z',
        },
      }),
    );
    assert.equal(observation.effectiveDateTime, undefined);
    assert.equal(
      observation.identifier?.[0]?.value,
      `${systemId}--150364-36.8-Cel-00000000000000.00`,
    );
  });

  test('relative stamp reported as component', () => {
    const observation = only(
      numeric({
        agentTime: { kind: 'relative', ticks: 800 },
        agentClock: {
          agentTime: { kind: 'relative', ticks: 0 },
          gatewayTime: '2026-03-01T10:00:00.000Z',
        },
      }),
    );
    assert.equal(observation.effectiveDateTime, '2026-03-01T10:00:00.100Z');
    assert.match(
      serializeFhirJson(observation.component),
      /"code":"67985".*"value":100000,"unit":"us"/,
    );
    assert.equal(observation.identifier?.[0]?.value, `${systemId}--150364-36.8-Cel-800`);
  });

  test('base offset identifier signs offset', () => {
    const observation = only(
      numeric({
        agentTime: {
          kind: 'base-offset',
          seconds: 3563536440,
          fraction: 4884,
          offsetMinutes: -300,
        },
      }),
    );
    assert.equal(
      observation.identifier?.[0]?.value,
      `${systemId}--150364-36.8-Cel-3563536440.4884.-300`,
    );
  });
});

describe('fhir enumerations', () => {
  test('coded enumeration value', () => {
    const observation = only(
      numeric({ type: 8_417_864, value: { kind: 'coded', code: 8_417_868 } }),
    );
    assert.deepEqual(observation.meta.profile, [
      'http://hl7.org/fhir/uv/phd/StructureDefinition/PhdCodedEnumerationObservation',
    ]);
    assert.deepEqual(observation.valueCodeableConcept?.coding, [
      {
        system: 'urn:iso:std:iso:11073:10101',
        code: '8417868',
        display: 'MDC_CTXT_GLU_MEAL_PREPRANDIAL',
      },
    ]);
  });

  test('bits enumeration components', () => {
    const observation = only(
      numeric({
        type: 150604,
        value: { kind: 'bits', bits: 0x2001, width: 16, stateMask: 0x0100 },
        agentTime: { kind: 'absolute', value: '2026-03-01T11:00:00.00' },
      }),
    );
    assert.deepEqual(observation.meta.profile, [
      'http://hl7.org/fhir/uv/phd/StructureDefinition/PhdBitsEnumerationObservation',
    ]);
    assert.deepEqual(
      observation.component?.map((component) => [
        component.code.coding[0]?.code,
        component.valueCodeableConcept?.coding[0]?.code,
      ]),
      [
        ['150604.2', 'Y'],
        ['150604.7', 'N'],
        ['150604.15', 'Y'],
      ],
    );
    assert.equal(observation.identifier?.[0]?.value, `${systemId}--150604-8193-20260301110000.00`);
  });

  test('string enumeration value', () => {
    const observation = only(
      numeric({ type: 8_417_864, value: { kind: 'text', text: 'interval run' } }),
    );
    assert.equal(observation.valueString, 'interval run');
  });
});

describe('fhir devices', () => {
  test('time info and certification properties', () => {
    const device = buildPhdDevice({
      systemId,
      manufacturer: 'Acme',
      model: 'T-1',
      productionSpec: [
        { specType: 1, componentId: 0, value: 'SN-1' },
        { specType: 2, componentId: 0, value: 'PN-1' },
        { specType: 3, componentId: 0, value: 'HW-2' },
        { specType: 5, componentId: 7, value: 'FW-3' },
      ],
      specializations: [{ code: 528392, version: 1 }],
      regCert: {
        continuaVersion: { major: 1, minor: 5 },
        certifiedDevices: [0x2008],
        regulationStatus: 0x8000,
      },
      timeInfo: {
        capabilities: 0xc0a0,
        syncProtocol: 7938,
        syncAccuracy: 8000,
        resolutionAbsTime: 100,
        resolutionRelTime: 8,
        resolutionHighResTime: 0,
      },
    });
    assertValidR4(device);
    assert.equal(device.serialNumber, 'SN-1');
    assert.equal(device.partNumber, 'PN-1');
    assert.deepEqual(
      device.version?.map((version) => [
        version.type.coding[0]?.code,
        version.value,
        version.component?.value,
      ]),
      [
        ['531974', 'HW-2', undefined],
        ['531976', 'FW-3', '7'],
        ['532352', '1.5', undefined],
      ],
    );
    const properties = device.property ?? [];
    const codes = properties.map((property) => property.type.coding[0]?.code);
    assert.deepEqual(codes, [
      '532353',
      '532354.0',
      '68219.0',
      '68219.1',
      '68220',
      '68221',
      '68222',
      '68223',
    ]);
    assert.equal(properties[1]?.valueCode?.[0]?.coding[0]?.code, 'Y');
    // abs-time-synced (bit 8) is set, so the protocol is reported.
    assert.equal(properties[4]?.valueCode?.[0]?.coding[0]?.code, '532226');
    assert.equal(properties[5]?.valueQuantity?.[0]?.value.text, '1000000');
    assert.equal(properties[6]?.valueQuantity?.[0]?.value.text, '1000000');
    assert.equal(properties[7]?.valueQuantity?.[0]?.value.text, '1000');
  });

  test('gateway device', () => {
    const device = buildPhgDevice({ systemId: '02aabbccddeeff00', timeSyncProtocol: 532226 });
    assertValidR4(device);
    assert.equal(device.identifier[0]?.value, '02-AA-BB-CC-DD-EE-FF-00');
    assert.equal(device.type.coding[0]?.code, '531981');
    assert.equal(device.property?.[0]?.valueCode?.[0]?.coding[0]?.code, '532226');
  });
});
