/**
 * Keeps docs/examples/fhir-bundle-from-vectors.json equal to the transaction
 * Bundle medward builds from the public 20601 vectors. Regenerate it with
 *   MEDWARD_UPDATE_EXAMPLES=1 node --import tsx --test test/fhir/example-bundle.test.ts
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import {
  buildPhdBundle,
  gatewaySystemIdFor,
  serializeFhirJson,
  type PhdDeviceInput,
} from '../../src/fhir/index.js';
import { assertValidR4 } from './validate.js';
import { agentList, vectorAgents } from './vectors.js';

const examplePath = fileURLToPath(
  new URL('../../docs/examples/fhir-bundle-from-vectors.json', import.meta.url),
);

function exampleBundleJson(): string {
  const agents = agentList(vectorAgents()).map(([, inputs]) => inputs);
  const devices = new Map<string, PhdDeviceInput>(
    agents.map((inputs) => [inputs.device.systemId, inputs.device]),
  );
  const { bundle } = buildPhdBundle({
    type: 'transaction',
    observations: agents.flatMap((inputs) => inputs.observations),
    devices,
    // medward with site id "default", on a host synchronised with NTPv4.
    gateway: { systemId: gatewaySystemIdFor('default'), timeSyncProtocol: 532226 },
  });
  assertValidR4(bundle);
  return `${serializeFhirJson(bundle, 2)}\n`;
}

test('example bundle matches vectors', () => {
  const json = exampleBundleJson();
  if (process.env.MEDWARD_UPDATE_EXAMPLES === '1') {
    mkdirSync(dirname(examplePath), { recursive: true });
    writeFileSync(examplePath, json);
  }
  assert.ok(existsSync(examplePath), `${examplePath} is missing; set MEDWARD_UPDATE_EXAMPLES=1`);
  assert.equal(readFileSync(examplePath, 'utf8'), json);
  assert.match(json, /"value": 60\.0,/);
  assert.match(json, /"value": 37\.00000,/);
});
