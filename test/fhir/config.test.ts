import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/core/config/index.js';
import { isMedwardError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { InProcessBus } from '../../src/core/bus/index.js';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import { Storage } from '../../src/core/storage/index.js';
import { FhirExporter, gatewaySystemIdFor } from '../../src/fhir/index.js';

test('fhir config defaults', () => {
  const config = loadConfig({ file: false, env: {} });
  assert.deepEqual(config.fhir, {
    enabled: false,
    batchSize: 100,
    retryBaseDelayMs: 1000,
    retryMaxDelayMs: 300000,
    requestTimeoutMs: 30000,
    gatewayTimeSync: 'none',
  });
});

test('fhir config from environment', () => {
  const config = loadConfig({
    file: false,
    env: {
      MEDWARD_FHIR__ENABLED: 'true',
      MEDWARD_FHIR__SERVER_URL: 'http://127.0.0.1:8080/fhir',
      MEDWARD_FHIR__BATCH_SIZE: '20',
      MEDWARD_FHIR__GATEWAY_TIME_SYNC: 'ntpv4',
    },
  });
  assert.equal(config.fhir.enabled, true);
  assert.equal(config.fhir.serverUrl, 'http://127.0.0.1:8080/fhir');
  assert.equal(config.fhir.batchSize, 20);
  assert.equal(config.fhir.gatewayTimeSync, 'ntpv4');
});

test('fhir config rejects bad values', () => {
  for (const overrides of [
    { 'fhir.serverUrl': 'ftp://example' },
    { 'fhir.batchSize': 0 },
    { 'fhir.gatewaySystemId': '1234' },
    { 'fhir.gatewayTimeSync': 'sundial' },
  ]) {
    assert.throws(
      () => loadConfig({ file: false, env: {}, overrides }),
      (error: unknown) => isMedwardError(error) && error.code === 'CONFIG_INVALID',
      JSON.stringify(overrides),
    );
  }
});

test('exporter rejects inverted retry delays', () => {
  const config = loadConfig({
    file: false,
    env: {},
    overrides: { 'fhir.retryBaseDelayMs': 5000, 'fhir.retryMaxDelayMs': 1000 },
  });
  const storage = new Storage(
    { url: 'sqlite::memory:', poolSize: 1, statementTimeoutMs: 1000 },
    silentLogger(),
  );
  assert.throws(
    () =>
      new FhirExporter({
        config: config.fhir,
        storage,
        bus: new InProcessBus(silentLogger()),
        logger: silentLogger(),
        metrics: createMetricsRegistry({ defaultMetrics: false }),
        siteId: 'default',
      }),
    (error: unknown) => isMedwardError(error) && error.code === 'CONFIG_INVALID',
  );
});

test('gateway system id is locally administered', () => {
  const systemId = gatewaySystemIdFor('default');
  assert.match(systemId, /^[0-9A-F]{16}$/);
  const firstOctet = Number.parseInt(systemId.slice(0, 2), 16);
  assert.equal(firstOctet & 0x02, 0x02);
  assert.equal(firstOctet & 0x01, 0);
  assert.equal(gatewaySystemIdFor('default'), systemId);
  assert.notEqual(gatewaySystemIdFor('other-site'), systemId);
});
