import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, envNameFor } from '../../../src/core/config/index.js';
import { isMedwardError } from '../../../src/core/errors.js';

function yamlFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'medward-config-')), 'medward.yaml');
  writeFileSync(file, text);
  return file;
}

function configErrorMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(isMedwardError(error));
    return error.message;
  }
  assert.fail('expected a configuration error');
}

describe('loadConfig', () => {
  test('defaults stay on loopback', () => {
    const config = loadConfig({ file: false, env: {} });
    assert.equal(config.api.host, '127.0.0.1');
    assert.equal(config.mqtt.embedded.host, '127.0.0.1');
    assert.notEqual(config.mqtt.embedded.port, 1883);
    assert.equal(config.storage.url, 'sqlite:./data/medward.db');
    assert.equal(config.bus.kind, 'in-process');
    assert.equal(config.mqtt.kind, 'embedded');
  });

  test('YAML file sets values', () => {
    const file = yamlFile('api:\n  port: 9000\nbus:\n  kind: nats\n');
    const config = loadConfig({ file, env: {} });
    assert.equal(config.api.port, 9000);
    assert.equal(config.bus.kind, 'nats');
    assert.equal(config.api.host, '127.0.0.1');
  });

  test('environment overrides the file', () => {
    const file = yamlFile('api:\n  port: 9000\n');
    const config = loadConfig({
      file,
      env: { MEDWARD_API__PORT: '9100', MEDWARD_API__BODY_LIMIT_BYTES: '4096' },
    });
    assert.equal(config.api.port, 9100);
    assert.equal(config.api.bodyLimitBytes, 4096);
  });

  test('environment sets lists', () => {
    const config = loadConfig({
      file: false,
      env: {
        MEDWARD_ONBOARDING__PROVISIONING__SERVER_NAMES: 'gw.example, 10.0.0.5',
        MEDWARD_ENFORCEMENT__SERVICES__DNS: '["10.0.0.53/32"]',
        MEDWARD_ENFORCEMENT__SERVICES__NTP: '',
        MEDWARD_ENFORCEMENT__KIND: 'in-memory,nftables',
        MEDWARD_ENFORCEMENT__SEGMENTS__PRODUCTION: '[{"name":"icu","vlan":120}]',
      },
    });
    assert.deepEqual(config.onboarding.provisioning.serverNames, ['gw.example', '10.0.0.5']);
    assert.deepEqual(config.enforcement.services.dns, ['10.0.0.53/32']);
    assert.deepEqual(config.enforcement.services.ntp, []);
    assert.deepEqual(config.enforcement.kind, ['in-memory', 'nftables']);
    assert.deepEqual(config.enforcement.segments.production, [{ name: 'icu', vlan: 120 }]);
  });

  test('invalid list item names accepted values', () => {
    const message = configErrorMessage(() =>
      loadConfig({ file: false, env: { MEDWARD_ENFORCEMENT__KIND: 'in-memory,kafka' } }),
    );
    assert.match(message, /"in-memory", "nftables", "radius"/);
    assert.match(message, /or a list of them/);
  });

  test('invalid list names its variable', () => {
    const message = configErrorMessage(() =>
      loadConfig({ file: false, env: { MEDWARD_ENFORCEMENT__SEGMENTS__PRODUCTION: '[{"name":' } }),
    );
    assert.match(message, /enforcement\.segments\.production/);
    assert.match(message, /MEDWARD_ENFORCEMENT__SEGMENTS__PRODUCTION/);
  });

  test('invalid secret is not echoed', () => {
    const secret = 'mwd_0123456789abcdef_Secret12';
    const message = configErrorMessage(() =>
      loadConfig({ file: false, env: { MEDWARD_API__BOOTSTRAP_TOKEN: secret } }),
    );
    assert.match(message, /api\.bootstrapToken/);
    assert.ok(!message.includes(secret), message);
  });

  test('list item error names its variable', () => {
    const message = configErrorMessage(() =>
      loadConfig({
        file: false,
        env: { MEDWARD_ENFORCEMENT__SEGMENTS__PRODUCTION: '[{"name":"icu","vlan":"x"}]' },
      }),
    );
    assert.match(message, /MEDWARD_ENFORCEMENT__SEGMENTS__PRODUCTION\)/);
    assert.match(message, /environment/);
  });

  test('data directory holds the database', () => {
    const moved = loadConfig({ file: false, env: { MEDWARD_DATA_DIR: '/srv/medward/' } });
    assert.equal(moved.storage.url, 'sqlite:/srv/medward/medward.db');
    const explicit = loadConfig({
      file: false,
      env: { MEDWARD_DATA_DIR: '/srv/medward', MEDWARD_STORAGE__URL: 'sqlite::memory:' },
    });
    assert.equal(explicit.storage.url, 'sqlite::memory:');
  });

  test('env names follow the key path', () => {
    assert.equal(envNameFor(['api', 'bodyLimitBytes']), 'MEDWARD_API__BODY_LIMIT_BYTES');
    assert.equal(envNameFor(['mqtt', 'embedded', 'port']), 'MEDWARD_MQTT__EMBEDDED__PORT');
  });

  test('invalid value names key and accepted values', () => {
    const message = configErrorMessage(() => loadConfig({ file: false, env: { MEDWARD_BUS__KIND: 'kafka' } }));
    assert.match(message, /bus\.kind/);
    assert.match(message, /"in-process", "nats"/);
    assert.match(message, /MEDWARD_BUS__KIND/);
  });

  test('out-of-range port names the range', () => {
    const message = configErrorMessage(() => loadConfig({ file: false, env: { MEDWARD_API__PORT: '70000' } }));
    assert.match(message, /api\.port: got 70000, expected integer from 0 to 65535/);
  });

  test('unknown key in file is rejected', () => {
    const file = yamlFile('api:\n  prot: 9000\n');
    const message = configErrorMessage(() => loadConfig({ file, env: {} }));
    assert.match(message, /api\.prot: unknown key/);
  });

  test('unknown environment variable is rejected', () => {
    const message = configErrorMessage(() => loadConfig({ file: false, env: { MEDWARD_API__PROT: '1' } }));
    assert.match(message, /MEDWARD_API__PROT/);
  });

  test('MEDWARD_TOKEN is no configuration key', () => {
    const config = loadConfig({ file: false, env: { MEDWARD_TOKEN: 'mwd_0123456789abcdef_secret' } });
    assert.equal(config.api.port, 8440);
  });

  test('provisioning listener default is apart', () => {
    const config = loadConfig({ file: false, env: {} });
    const provisioning = config.onboarding.provisioning;
    assert.equal(provisioning.host, '127.0.0.1');
    const productionPorts = [
      config.api.port,
      config.onem2m.http.port,
      config.ieee11073.listen.port,
      config.mqtt.embedded.port,
      config.enforcement.radius.port,
    ];
    assert.ok(
      !productionPorts.includes(provisioning.port),
      `provisioning port ${provisioning.port} is also in ${productionPorts.join(', ')}`,
    );
    // 8443 is the usual alternative HTTPS port of other services.
    assert.notEqual(provisioning.port, 8443);
  });

  test('invalid YAML names the file', () => {
    const file = yamlFile('api: [unclosed\n');
    try {
      loadConfig({ file, env: {} });
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(isMedwardError(error));
      assert.equal(error.code, 'CONFIG_FILE_INVALID_YAML');
      assert.match(error.message, /medward\.yaml/);
    }
  });

  test('missing file is reported', () => {
    try {
      loadConfig({ file: '/nonexistent/medward.yaml', env: {} });
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(isMedwardError(error));
      assert.equal(error.code, 'CONFIG_FILE_UNREADABLE');
    }
  });

  test('every problem is listed at once', () => {
    const message = configErrorMessage(() =>
      loadConfig({ file: false, env: { MEDWARD_API__PORT: 'abc', MEDWARD_LOG__LEVEL: 'loud' } }),
    );
    assert.match(message, /api\.port/);
    assert.match(message, /log\.level/);
  });
});
