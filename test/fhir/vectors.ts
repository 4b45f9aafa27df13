/**
 * FHIR export inputs built from the public IEEE 11073-20601 APDU vectors:
 * each agent's configuration and scan report decoded with the codec, then
 * turned into inputs with phdInputsFromCodec.
 *
 * Only the Annex H scale and the glucose meter have an association request
 * in the vectors; the other agents get a fixed test system id. Gateway times
 * are fixed per agent and chosen so the agent clock runs 30 s behind.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  configurationFromReport,
  decodeApdu,
  extractObservations,
  standardConfiguration,
  type Apdu,
  type Configuration,
  type PhdAssociationInformation,
  type RoivEventReport,
} from '../../src/ieee11073/index.js';
import { phdInputsFromCodec, type CodecInputs } from '../../src/fhir/index.js';

interface Vector {
  id: string;
  hex: string;
  expected: unknown;
}

interface Fixture {
  vectors: Vector[];
  malformed: Vector[];
}

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/ieee11073-20601.json', import.meta.url), 'utf8'),
) as Fixture;

export function vectorHex(id: string): string {
  const vector = [...fixture.vectors, ...fixture.malformed].find((entry) => entry.id === id);
  assert.ok(vector, `fixture has no vector ${id}`);
  return vector.hex;
}

function decode(hex: string): Apdu {
  return decodeApdu(new Uint8Array(Buffer.from(hex, 'hex'))).apdu;
}

function eventReport(apdu: Apdu): RoivEventReport {
  assert.equal(apdu.kind, 'prst');
  const message = apdu.data.message;
  assert.ok(message.kind === 'roiv-confirmed-event-report' || message.kind === 'roiv-event-report');
  return message;
}

function configurationOf(id: string): Configuration {
  const info = eventReport(decode(vectorHex(id))).eventInfo;
  assert.equal(info.kind, 'config-report');
  return configurationFromReport(info);
}

function association(id: string): PhdAssociationInformation {
  const apdu = decode(vectorHex(id));
  assert.equal(apdu.kind, 'aarq');
  const info = apdu.dataProtoList[0]?.dataProtoInfo;
  assert.ok(info !== undefined);
  assert.ok(!(info instanceof Uint8Array));
  return info;
}

function scan(configuration: Configuration, hex: string) {
  const result = extractObservations(configuration, eventReport(decode(hex)));
  assert.deepEqual(result.quirks, []);
  return result.observations;
}

/**
 * Returns the thermometer's only measurement vector with its entry count
 * corrected from 4 to the 1 entry it contains (37.00000 Cel), which makes it
 * a well-formed report.
 */
export function repairedThermometerScanHex(): string {
  const hex = vectorHex('malformed-count-exceeds-list');
  const countAt = hex.indexOf('f00000000004');
  assert.ok(countAt > 0);
  return `${hex.slice(0, countAt)}f00000000001${hex.slice(countAt + 12)}`;
}

export const testSystemIds = {
  pulseOximeter: '0000000000010404',
  bloodPressure: '0000000000010407',
  thermometer: '0000000000010408',
  scaleBmi: '0000000000010415',
} as const;

export interface VectorAgents {
  scaleBodyFat: CodecInputs;
  pulseOximeter: CodecInputs;
  bloodPressure: CodecInputs;
  scaleBmi: CodecInputs;
  thermometer: CodecInputs;
  glucose: CodecInputs;
}

/** Builds the inputs of every agent the vectors describe. */
export function vectorAgents(): VectorAgents {
  const annex = association('aarq-annex-ext-config');
  const mds = decode(vectorHex('get-mds-response'));
  assert.equal(mds.kind, 'prst');
  assert.equal(mds.data.message.kind, 'rors-get');
  const scaleConfiguration = configurationOf('config-scale-bodyfat-ext');
  const scaleBodyFat = phdInputsFromCodec({
    systemId: annex.systemId,
    devConfigId: annex.devConfigId,
    configuration: scaleConfiguration,
    observations: scan(scaleConfiguration, vectorHex('scan-fixed-scale-bodyfat')),
    mdsAttributes: mds.data.message.attributeList,
    // The MDS clock reads 2007-02-01T12:05:00.00; the gateway's clock is 30 s ahead.
    mdsReadAt: new Date('2007-02-01T12:05:30.000Z'),
    gatewayReceivedAt: new Date('2007-02-01T12:10:31.000Z'),
  });

  const pulseConfiguration = configurationOf('config-pulseox-ext');
  const pulseOximeter = phdInputsFromCodec({
    systemId: testSystemIds.pulseOximeter,
    configuration: pulseConfiguration,
    observations: scan(pulseConfiguration, vectorHex('scan-fixed-pulseox')),
    gatewayReceivedAt: new Date('2007-12-06T12:10:30.000Z'),
  });

  const bpConfiguration = standardConfiguration(0x02bc);
  assert.ok(bpConfiguration);
  const bloodPressure = phdInputsFromCodec({
    systemId: testSystemIds.bloodPressure,
    devConfigId: 0x02bc,
    configuration: bpConfiguration,
    observations: scan(bpConfiguration, vectorHex('scan-fixed-bpm-std-config')),
    gatewayReceivedAt: new Date('2007-12-06T12:10:30.000Z'),
  });

  const bmiConfiguration = configurationOf('config-scale-ext-bmi');
  const scaleBmi = phdInputsFromCodec({
    systemId: testSystemIds.scaleBmi,
    configuration: bmiConfiguration,
    observations: scan(bmiConfiguration, vectorHex('scan-fixed-scale-4-entries')),
    gatewayReceivedAt: new Date('2007-12-06T20:05:30.000Z'),
  });

  const thermometerConfiguration = configurationOf('config-thermometer-ext');
  const thermometer = phdInputsFromCodec({
    systemId: testSystemIds.thermometer,
    configuration: thermometerConfiguration,
    observations: scan(thermometerConfiguration, repairedThermometerScanHex()),
    gatewayReceivedAt: new Date('2008-05-06T08:30:30.000Z'),
  });

  const glucoseAssociation = association('aarq-glucose-std-config');
  const glucoseConfiguration = standardConfiguration(glucoseAssociation.devConfigId);
  assert.ok(glucoseConfiguration);
  const glucose = phdInputsFromCodec({
    systemId: glucoseAssociation.systemId,
    devConfigId: glucoseAssociation.devConfigId,
    configuration: glucoseConfiguration,
    observations: scan(glucoseConfiguration, vectorHex('scan-fixed-glucose')),
    gatewayReceivedAt: new Date('2007-12-06T12:10:30.000Z'),
  });

  return { scaleBodyFat, pulseOximeter, bloodPressure, scaleBmi, thermometer, glucose };
}

/** Lists the agents with their names, in a fixed order. */
export function agentList(agents: VectorAgents): [keyof VectorAgents, CodecInputs][] {
  const names: (keyof VectorAgents)[] = [
    'scaleBodyFat',
    'pulseOximeter',
    'bloodPressure',
    'scaleBmi',
    'thermometer',
    'glucose',
  ];
  return names.map((name) => [name, agents[name]]);
}
