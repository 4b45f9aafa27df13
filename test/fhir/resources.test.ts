import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  buildPhdBundle,
  buildPhdDevice,
  phdInputsFromCodec,
  serializeFhirJson,
  type Bundle,
  type CodecInputs,
  type GatewayDescription,
  type Observation,
} from '../../src/fhir/index.js';
import {
  configurationFromReport,
  decodeApdu,
  decodeFloat,
  decodeSfloat,
  extractObservations,
} from '../../src/ieee11073/index.js';
import { assertValidR4, r4Errors } from './validate.js';
import { agentList, testSystemIds, vectorAgents, vectorHex } from './vectors.js';

const gateway: GatewayDescription = { systemId: '02AABBCCDDEEFF00', timeSyncProtocol: 532226 };
const agents = vectorAgents();

function bundleOf(inputs: CodecInputs, type: 'transaction' | 'collection' = 'transaction') {
  return buildPhdBundle({
    type,
    observations: inputs.observations,
    devices: new Map([[inputs.device.systemId, inputs.device]]),
    gateway,
  });
}

function measurements(bundle: Bundle): Observation[] {
  return bundle.entry
    .map((entry) => entry.resource)
    .filter(
      (resource): resource is Observation =>
        resource.resourceType === 'Observation' &&
        !resource.meta.profile[0]?.endsWith('PhdCoincidentTimeStampObservation'),
    );
}

function byCode(bundle: Bundle, code: string): Observation[] {
  return measurements(bundle).filter((observation) => observation.code.coding[0]?.code === code);
}

function wire(value: unknown): Record<string, unknown> {
  return JSON.parse(serializeFhirJson(value)) as Record<string, unknown>;
}

function phdIdentifier(observation: Observation): string | undefined {
  return observation.identifier?.find((identifier) => identifier.system === undefined)?.value;
}

describe('fhir resources from vectors', () => {
  for (const [name, inputs] of agentList(agents)) {
    test(`${name} bundle is valid R4`, () => {
      assert.deepEqual(inputs.skipped, []);
      const { bundle } = bundleOf(inputs);
      assertValidR4(bundle);
      assertValidR4(bundleOf(inputs, 'collection').bundle);
    });
  }

  test('scale weight and body fat', () => {
    const { bundle } = bundleOf(agents.scaleBodyFat);
    const [weight] = byCode(bundle, '188736');
    const [fat] = byCode(bundle, '188748');
    assert.ok(weight);
    assert.ok(fat);
    assert.deepEqual(weight.code.coding, [
      { system: 'urn:iso:std:iso:11073:10101', code: '188736', display: 'MDC_MASS_BODY_ACTUAL' },
      { system: 'http://loinc.org', code: '29463-7', display: 'Body weight' },
    ]);
    assert.equal(weight.category?.[0]?.coding[0]?.code, 'vital-signs');
    assert.deepEqual(wire(weight.valueQuantity), {
      value: 62.4,
      unit: 'kg',
      system: 'http://unitsofmeasure.org',
      code: 'kg',
    });
    assert.equal(weight.valueQuantity?.value.text, '62.4');
    assert.equal(fat.valueQuantity?.value.text, '25.6');
    assert.equal(fat.valueQuantity.code, '%');
    assert.equal(fat.category, undefined);
    assert.deepEqual(weight.meta.profile, [
      'http://hl7.org/fhir/uv/phd/StructureDefinition/PhdNumericObservation',
    ]);
  });

  test('scale time corrected by clock', () => {
    const { bundle } = bundleOf(agents.scaleBodyFat);
    const [weight] = byCode(bundle, '188736');
    // Agent stamp 12:10:00.00; agent clock 12:05:00.00 read at gateway 12:05:30Z.
    assert.equal(weight?.effectiveDateTime, '2007-02-01T12:10:30.000Z');
    const coincident = bundle.entry.find(
      (entry) => entry.fullUrl === weight.derivedFrom?.[0]?.reference,
    )?.resource as Observation | undefined;
    assert.ok(coincident);
    assert.deepEqual(coincident.code.coding[0], {
      system: 'urn:iso:std:iso:11073:10101',
      code: '67975',
      display: 'MDC_ATTR_TIME_ABS',
    });
    assert.equal(coincident.effectiveDateTime, '2007-02-01T12:05:30.000Z');
    assert.equal(coincident.valueDateTime, '2007-02-01T12:05:00.00+00:00');
    assert.equal(coincident.dataAbsentReason, undefined);
  });

  test('scale device from MDS', () => {
    const device = buildPhdDevice(agents.scaleBodyFat.device);
    assertValidR4(device);
    assert.deepEqual(device.identifier, [
      {
        type: {
          coding: [
            {
              system: 'http://hl7.org/fhir/uv/phd/CodeSystem/ContinuaDeviceIdentifiers',
              code: 'SYSID',
            },
          ],
        },
        system: 'urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680',
        value: '88-77-66-55-44-33-22-11',
      },
    ]);
    assert.equal(device.manufacturer, 'TheCompany');
    assert.equal(device.modelNumber, 'TheScaleABC');
    assert.equal(device.serialNumber, 'DE124567');
    assert.deepEqual(device.specialization, [
      {
        systemType: {
          coding: [
            {
              system: 'urn:iso:std:iso:11073:10101',
              code: '528399',
              display: 'MDC_DEV_SPEC_PROFILE_SCALE',
            },
          ],
          text: 'MDC_DEV_SPEC_PROFILE_SCALE',
        },
        version: '1',
      },
    ]);
    assert.equal(device.type.coding[0]?.code, '65573');
  });

  test('pulse oximeter codes and units', () => {
    const { bundle } = bundleOf(agents.pulseOximeter);
    const [spo2] = byCode(bundle, '150456');
    const [pulse] = byCode(bundle, '149530');
    assert.ok(spo2);
    assert.ok(pulse);
    assert.deepEqual(
      spo2.code.coding.map((coding) => coding.code),
      ['150456', '2708-6', '59408-5'],
    );
    assert.equal(spo2.valueQuantity?.value.text, '98');
    assert.equal(spo2.valueQuantity.code, '%');
    assert.deepEqual(
      pulse.code.coding.map((coding) => coding.code),
      ['149530', '8867-4'],
    );
    assert.equal(pulse.valueQuantity?.value.text, '72');
    assert.equal(pulse.valueQuantity.code, '/min');
    assert.equal(pulse.category?.[0]?.coding[0]?.code, 'vital-signs');
  });

  test('time fault leaves effective out', () => {
    // The pulse oximeter's clock was never read, so its stamps cannot be placed.
    const { bundle } = bundleOf(agents.pulseOximeter);
    const [spo2] = byCode(bundle, '150456');
    assert.equal(spo2?.effectiveDateTime, undefined);
    const coincidents = bundle.entry.filter((entry) =>
      (entry.resource as Observation).meta.profile[0]?.endsWith('CoincidentTimeStampObservation'),
    );
    assert.equal(coincidents.length, 1);
    const coincident = coincidents[0]?.resource as Observation;
    assert.equal(coincident.dataAbsentReason?.coding[0]?.code, 'unknown');
    assert.equal(coincident.valueDateTime, undefined);
    assert.equal(coincident.effectiveDateTime, '2007-12-06T12:10:30.000Z');
    assert.equal(spo2?.derivedFrom?.[0]?.reference, coincidents[0]?.fullUrl);
  });

  test('blood pressure compound components', () => {
    const { bundle } = bundleOf(agents.bloodPressure);
    const [pressure] = byCode(bundle, '150020');
    assert.ok(pressure);
    assert.deepEqual(pressure.meta.profile, [
      'http://hl7.org/fhir/uv/phd/StructureDefinition/PhdCompoundNumericObservation',
    ]);
    assert.equal(pressure.valueQuantity, undefined);
    assert.deepEqual(
      pressure.code.coding.map((coding) => coding.code),
      ['150020', '85354-9'],
    );
    const components = pressure.component ?? [];
    assert.deepEqual(
      components.map((component) => component.code.coding.map((coding) => coding.code)),
      [
        ['150021', '8480-6'],
        ['150022', '8462-4'],
        ['150023', '8478-0'],
      ],
    );
    assert.deepEqual(
      components.map((component) => component.valueQuantity?.value.text),
      ['120', '80', '100'],
    );
    for (const component of components) {
      assert.equal(component.valueQuantity?.code, 'mm[Hg]');
      assert.equal(component.valueQuantity.system, 'http://unitsofmeasure.org');
    }
    assert.equal(
      phdIdentifier(pressure),
      `${testSystemIds.bloodPressure}--150020-120-80-100-mm[Hg]-20071206121000.00`,
    );
  });

  test('trailing zeros survive serialisation', () => {
    const bp = bundleOf(agents.bloodPressure).bundle;
    const [pulse] = byCode(bp, '149546');
    assert.ok(pulse);
    assert.match(serializeFhirJson(pulse), /"valueQuantity":\{"value":60\.0,"unit":"\/min"/);
    const thermometer = bundleOf(agents.thermometer).bundle;
    const [temperature] = byCode(thermometer, '150364');
    assert.match(serializeFhirJson(temperature), /"value":37\.00000,/);
    assert.deepEqual(
      temperature?.code.coding.map((coding) => coding.code),
      ['150364', '8310-5'],
    );
    assert.equal(temperature.valueQuantity?.code, 'Cel');
    const glucose = bundleOf(agents.glucose).bundle;
    const [sugar] = byCode(glucose, '160184');
    assert.match(serializeFhirJson(sugar), /"value":85\.0,"unit":"mg\/dL"/);
    const serialized = serializeFhirJson(bundleOf(agents.scaleBmi).bundle);
    assert.match(serialized, /"value":76\.0,/);
  });

  test('bmi derived from weight', () => {
    const { bundle } = bundleOf(agents.scaleBmi);
    const weights = byCode(bundle, '188736');
    const bmis = byCode(bundle, '188752');
    assert.deepEqual(
      weights.map((weight) => weight.valueQuantity?.value.text),
      ['76.2', '76.0'],
    );
    assert.deepEqual(
      bmis.map((bmi) => bmi.valueQuantity?.value.text),
      ['24.3', '24.2'],
    );
    assert.equal(bmis[0]?.valueQuantity?.code, 'kg/m2');
    assert.deepEqual(
      bmis[0].code.coding.map((coding) => coding.code),
      ['188752', '39156-5'],
    );
    const urlOf = (observation: Observation | undefined) =>
      bundle.entry.find((entry) => entry.resource === observation)?.fullUrl;
    assert.deepEqual(
      bmis.map((bmi) => bmi.derivedFrom?.map((reference) => reference.reference)),
      [
        [bmis[0].derivedFrom?.[0]?.reference, urlOf(weights[0])],
        [bmis[1]?.derivedFrom?.[0]?.reference, urlOf(weights[1])],
      ],
    );
  });

  test('glucose meter device specialization', () => {
    const device = buildPhdDevice(agents.glucose.device);
    assert.equal(device.identifier[0]?.value, '11-22-33-44-55-66-77-88');
    assert.deepEqual(
      device.specialization?.map((entry) => entry.systemType.coding[0]?.code),
      ['528401'],
    );
  });

  test('transaction requests are conditional', () => {
    const { bundle } = bundleOf(agents.scaleBodyFat);
    assert.deepEqual(
      bundle.entry.map((entry) => entry.request?.method),
      ['PUT', 'PUT', 'POST', 'POST', 'POST'],
    );
    assert.equal(
      bundle.entry[1]?.request?.url,
      'Device?identifier=urn%3Aoid%3A1.2.840.10004.1.1.1.0.0.1.0.0.1.2680%7C88-77-66-55-44-33-22-11',
    );
    const [fat] = byCode(bundle, '188748');
    const fatEntry = bundle.entry.find((entry) => entry.resource === fat);
    assert.equal(
      fatEntry?.request?.ifNoneExist,
      'identifier=8877665544332211--188748-25.6-%25-20070201121000.00',
    );
    for (const entry of bundle.entry) {
      assert.match(
        entry.fullUrl,
        /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    }
  });
});

describe('fhir special values', () => {
  const fixture = JSON.parse(
    readFileSync(new URL('../fixtures/ieee11073-20601.json', import.meta.url), 'utf8'),
  ) as {
    floats: {
      values: { meaning: string; sfloat: string; float: string; dataAbsentReason: string }[];
    };
  };
  const base = agents.pulseOximeter.observations[1];
  assert.ok(base);

  for (const special of fixture.floats.values) {
    for (const width of ['sfloat', 'float'] as const) {
      test(`${special.meaning} ${width} data absent`, () => {
        const bits = Number.parseInt(width === 'sfloat' ? special.sfloat : special.float, 16);
        const number = width === 'sfloat' ? decodeSfloat(bits) : decodeFloat(bits);
        assert.notEqual(number.kind, 'finite');
        assert.ok(base.value.kind === 'numeric');
        const input = {
          ...base,
          value: { ...base.value, value: { kind: number.kind } as { kind: 'nan' } },
        };
        const { bundle } = buildPhdBundle({
          type: 'transaction',
          observations: [input],
          devices: new Map(),
          gateway,
        });
        const [observation] = measurements(bundle);
        assert.ok(observation);
        assert.deepEqual(r4Errors(observation), []);
        assert.equal(observation.valueQuantity, undefined);
        assert.deepEqual(observation.dataAbsentReason?.coding, [
          {
            system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason',
            code: special.dataAbsentReason,
          },
        ]);
        assert.equal(
          phdIdentifier(observation),
          `${testSystemIds.pulseOximeter}--149530-${special.dataAbsentReason}-/min-20071206121000.00`,
        );
      });
    }
  }

  test('compound entry NaN absent', () => {
    const pressure = agents.bloodPressure.observations[0];
    assert.ok(pressure?.value.kind === 'compound');
    const components = pressure.value.components.map((component, index) =>
      index === 1 ? { ...component, value: { kind: 'nan' as const } } : component,
    );
    const { bundle } = buildPhdBundle({
      type: 'collection',
      observations: [{ ...pressure, value: { ...pressure.value, components } }],
      devices: new Map(),
      gateway,
    });
    const [observation] = measurements(bundle);
    assert.ok(observation);
    assert.deepEqual(r4Errors(observation), []);
    const diastolic = observation.component?.[1];
    assert.equal(diastolic?.valueQuantity, undefined);
    assert.equal(diastolic?.dataAbsentReason?.coding[0]?.code, 'not-a-number');
    assert.equal(observation.component?.[0]?.valueQuantity?.value.text, '120');
    assert.match(phdIdentifier(observation) ?? '', /-150020-120-not-a-number-100-mm\[Hg\]-/);
  });
});

describe('fhir measurement status', () => {
  const base = agents.glucose.observations[0];
  assert.ok(base);

  function build(status: number): Observation {
    const { bundle } = buildPhdBundle({
      type: 'collection',
      observations: [{ ...base!, measurementStatus: status }],
      devices: new Map(),
      gateway,
    });
    const [observation] = measurements(bundle);
    assert.ok(observation);
    assert.deepEqual(r4Errors(observation), []);
    return observation;
  }

  const cases: [string, number, string][] = [
    ['invalid', 0x8000, 'error'],
    ['not-available', 0x2000, 'not-performed'],
    ['msmt-ongoing', 0x0020, 'temp-unknown'],
  ];
  for (const [name, status, reason] of cases) {
    test(`${name} status drops value`, () => {
      const observation = build(status);
      assert.equal(observation.valueQuantity, undefined);
      assert.equal(observation.dataAbsentReason?.coding[0]?.code, reason);
    });
  }

  test('questionable and alarm interpret', () => {
    const observation = build(0x4000 | 0x0002 | 0x0001);
    assert.equal(observation.valueQuantity?.value.text, '85.0');
    assert.deepEqual(
      observation.interpretation?.map((concept) => concept.coding[0]),
      [
        {
          system: 'http://hl7.org/fhir/uv/pocd/CodeSystem/measurement-status',
          code: 'questionable',
        },
        { system: 'http://hl7.org/fhir/uv/pocd/CodeSystem/measurement-status', code: 'in-alarm' },
        {
          system: 'http://hl7.org/fhir/uv/pocd/CodeSystem/measurement-status',
          code: 'alarm-inhibited',
        },
      ],
    );
    assert.equal(observation.meta.security, undefined);
  });

  test('test data tagged HTEST', () => {
    const observation = build(0x0800);
    assert.deepEqual(observation.meta.security, [
      { system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'HTEST' },
    ]);
    assert.equal(observation.valueQuantity?.value.text, '85.0');
  });
});

describe('fhir de-duplication identifier', () => {
  test('identifier stable across decodes', () => {
    const first = vectorAgents();
    const second = vectorAgents();
    for (const [name, inputs] of agentList(first)) {
      const a = measurements(bundleOf(inputs).bundle).map(phdIdentifier);
      const b = measurements(bundleOf(second[name]).bundle).map(phdIdentifier);
      assert.deepEqual(a, b, name);
      assert.equal(new Set(a).size, a.length, `${name} identifiers collide`);
    }
  });

  test('identifier ignores gateway times', () => {
    const configuration = configurationFromReport(
      (() => {
        const apdu = decodeApdu(Buffer.from(vectorHex('config-scale-bodyfat-ext'), 'hex')).apdu;
        assert.equal(apdu.kind, 'prst');
        assert.equal(apdu.data.message.kind, 'roiv-confirmed-event-report');
        const info = apdu.data.message.eventInfo;
        assert.ok(info.kind === 'config-report');
        return info;
      })(),
    );
    const scanApdu = decodeApdu(Buffer.from(vectorHex('scan-fixed-scale-bodyfat'), 'hex')).apdu;
    assert.ok(
      scanApdu.kind === 'prst' && scanApdu.data.message.kind === 'roiv-confirmed-event-report',
    );
    const { observations } = extractObservations(configuration, scanApdu.data.message);
    const later = phdInputsFromCodec({
      systemId: '8877665544332211',
      configuration,
      observations,
      gatewayReceivedAt: new Date('2026-01-01T00:00:00.000Z'),
    });
    const laterIds = measurements(bundleOf(later).bundle).map(phdIdentifier);
    const firstIds = measurements(bundleOf(agents.scaleBodyFat).bundle).map(phdIdentifier);
    assert.deepEqual(laterIds, firstIds);
    assert.deepEqual(firstIds, [
      '8877665544332211--188736-62.4-kg-20070201121000.00',
      '8877665544332211--188748-25.6-%-20070201121000.00',
    ]);
    // The same observation ids too, so the outbox stores a resend once.
    assert.deepEqual(
      later.observations.map((observation) => observation.observationId),
      agents.scaleBodyFat.observations.map((observation) => observation.observationId),
    );
  });

  test('identifier includes patient and supplemental', () => {
    const base = agents.pulseOximeter.observations[0];
    assert.ok(base);
    const { bundle } = buildPhdBundle({
      type: 'transaction',
      observations: [
        {
          ...base,
          patient: { system: 'urn:oid:1.2.3.4.5.6.7.8.10', value: 'sisansarahId' },
          supplementalTypes: [150588],
        },
      ],
      devices: new Map(),
      gateway,
    });
    const [observation] = measurements(bundle);
    assert.ok(observation);
    assert.equal(
      phdIdentifier(observation),
      `${testSystemIds.pulseOximeter}-sisansarahId-urn:oid:1.2.3.4.5.6.7.8.10-150456-98-%-20071206121000.00-150588`,
    );
    assert.equal(
      observation.subject?.reference,
      'Patient?identifier=urn%3Aoid%3A1.2.3.4.5.6.7.8.10%7CsisansarahId',
    );
    assert.deepEqual(observation.component?.[0], {
      code: {
        coding: [
          {
            system: 'urn:iso:std:iso:11073:10101',
            code: '68193',
            display: 'MDC_ATTR_SUPPLEMENTAL_TYPES',
          },
        ],
        text: 'MDC_ATTR_SUPPLEMENTAL_TYPES',
      },
      valueCodeableConcept: {
        coding: [
          { system: 'urn:iso:std:iso:11073:10101', code: '150588', display: 'MDC_MODALITY_SPOT' },
        ],
        text: 'MDC_MODALITY_SPOT',
      },
    });
  });

  test('no time stamp uses reception time', () => {
    const base = agents.glucose.observations[0];
    assert.ok(base);
    const withoutTime = { ...base };
    delete withoutTime.agentTime;
    const { bundle } = buildPhdBundle({
      type: 'transaction',
      observations: [withoutTime],
      devices: new Map(),
      gateway,
    });
    const [observation] = measurements(bundle);
    assert.ok(observation);
    assert.equal(observation.effectiveDateTime, '2007-12-06T12:10:30.000Z');
    assert.equal(phdIdentifier(observation), undefined);
    assert.equal(observation.derivedFrom, undefined);
    assert.equal(bundle.entry.length, 3);
    assert.equal(
      bundle.entry[2]?.request?.ifNoneExist,
      `identifier=urn%3Amedward%3Aphd-observation%7C${base.observationId}`,
    );
  });
});
