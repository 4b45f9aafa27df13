import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as pkijs from 'pkijs';
import type { BusMessage } from '../../src/core/bus/index.js';
import { canonicalJson } from '../../src/core/audit/canonical-json.js';
import { verifyJws } from '../../src/onboarding/ca/jws.js';
import {
  OnboardingEnvironment,
  type DeviceSpec,
} from '../../src/onboarding/simulation/onboarding-environment.js';
import { ProvisioningRequestFailed } from '../../src/onboarding/simulation/simulated-device.js';
import { settle } from './core-harness.js';

const sbom = JSON.parse(
  readFileSync(new URL('./fixtures/cyclonedx-1.5-infusion-pump.json', import.meta.url), 'utf8'),
) as unknown;

async function rejectsWithStatus(
  promise: Promise<unknown>,
  status: number,
  code: string,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(
      error instanceof ProvisioningRequestFailed,
      `expected an HTTP failure, got ${String(error)}`,
    );
    assert.equal(error.status, status, error.message);
    assert.equal(error.errorCode, code, error.message);
    return true;
  });
}

describe('registration and production', () => {
  let env: OnboardingEnvironment;
  const events: BusMessage[] = [];
  let specs: DeviceSpec[];
  let next = 0;

  before(async () => {
    env = await OnboardingEnvironment.create({
      config: {
        certificates: { lifetimeHours: 168, renewalWindowHours: 168 },
        sbom: { maxBytes: 65536, maxDepth: 64, maxComponents: 500 },
        profiles: [
          {
            name: 'baseline',
            deviceClass: '*',
            productionSegment: 'clinical',
            settings: { channelClassification: 'confidential', reportingIntervalSeconds: 60 },
          },
          {
            name: 'pumps',
            deviceClass: 'infusion-pump',
            settings: {
              endpoints: [{ name: 'pump-server', url: 'https://10.20.0.5/pumps' }],
              allowedPeers: [{ address: '10.20.0.5/32', port: 443, protocol: 'tcp' }],
              timeServers: ['10.20.0.53'],
              channelClassification: 'restricted',
            },
          },
          {
            name: 'pm9-at-simulation',
            deviceClass: 'patient-monitor',
            site: 'simulation',
            model: 'PM-9',
            productionSegment: 'imaging',
            settings: { reportingIntervalSeconds: 5 },
          },
        ],
      },
    });
    await env.bus.subscribe({
      subject: 'onboarding.>',
      group: 'registration-test',
      handler: (message) => {
        events.push(message);
      },
    });
    await env.start();
    specs = env.deviceSpecs(30);
    await env.authorise(specs);
  });

  after(async () => {
    await env.close();
  });

  function nextDevice(model?: string) {
    for (;;) {
      const index = next;
      next += 1;
      const spec = specs[index];
      assert.ok(spec, 'test ran out of authorised devices');
      if (model === undefined || spec.model === model) {
        return { spec, index, device: env.device(spec, index, sbom) };
      }
    }
  }

  test('registration reaches production', async () => {
    const { device, spec } = nextDevice('LP-420');
    await device.enroll();
    const result = await device.register();
    assert.equal(result.state, 'production');
    assert.deepEqual(result.segmentMove, { status: 'in-force', segment: 'clinical', reason: null });
    assert.equal(result.configurationVersion, 1);
    const configuration = result.configuration as Record<string, unknown>;
    assert.deepEqual(configuration.profiles, ['baseline', 'pumps']);
    assert.equal(configuration.channelClassification, 'restricted');
    assert.deepEqual(configuration.timeServers, ['10.20.0.53']);
    assert.equal(
      result.configurationSha256,
      createHash('sha256').update(canonicalJson(configuration)).digest('hex'),
    );

    const payload = verifyJws(
      result.jws as string,
      new X509Certificate(env.onboarding.ca.certificate.der).publicKey,
    ) as {
      configurationSha256: string;
      version: number;
    };
    assert.equal(payload.configurationSha256, result.configurationSha256);
    assert.equal(payload.version, 1);

    const stored = await env.inventory.get(result.deviceId as string);
    assert.equal(stored.state, 'production');
    assert.equal(stored.segment, 'clinical');
    assert.equal(stored.firmwareVersion, '4.2.0');
    assert.deepEqual(
      stored.macAddresses,
      device.options.interfaces.map((item) => item.mac),
    );
    assert.equal(stored.softwareComponents.length, 8);
    assert.ok(
      stored.softwareComponents.some(
        (component) => component.name === 'org.openssl/openssl' && component.version === '3.0.13',
      ),
    );

    const enforced = env.enforcement.describe().devices.find((item) => item.deviceId === stored.id);
    assert.equal(enforced?.segmentName, 'clinical');
    assert.equal(enforced.status, 'in-force');

    const trail = await env.audit.list({ targetId: stored.id, limit: 100 });
    const events = trail.map((record) => record.event);
    assert.ok(events.includes('configuration.issue'));
    assert.ok(events.includes('enforcement.apply'));
    const states = trail
      .filter((record) => record.event === 'device.lifecycle')
      .map((record) => record.details.to);
    assert.deepEqual(states, [
      'identity-verified',
      'authorised',
      'enrolled',
      'configured',
      'production',
    ]);
    assert.equal(spec.model, 'LP-420');
  });

  test('ledger keeps every version', async () => {
    const { device } = nextDevice('LP-420');
    await device.enroll();
    const first = await device.register();
    const again = await device.register({ firmwareVersion: '4.3.0' });
    assert.equal(again.configurationVersion, 2);
    assert.equal(again.state, 'production');
    const history = await env.onboarding.registration.configurationLedger.history(
      env.storage.db,
      first.deviceId as string,
    );
    assert.deepEqual(
      history.map((entry) => entry.version),
      [1, 2],
    );
    assert.equal(history[1]?.firmwareVersion, '4.3.0');
    assert.equal(history[1].previousSha256, history[0]?.configurationSha256);
    assert.deepEqual(history[1].before, history[0]?.configuration);
    assert.equal(history[1].changedBy.kind, 'device');
    assert.match(history[1].reason, /firmware changed/);
    const drift = await env.onboarding.registration.configurationLedger.driftFindings(
      env.storage.db,
      first.deviceId as string,
    );
    assert.deepEqual(
      drift.map((finding) => [finding.kind, finding.expected, finding.reported]),
      [['firmware', '4.2.0', '4.3.0']],
    );
  });

  test('drift raises a finding', async () => {
    const { device } = nextDevice('LP-420');
    await device.enroll();
    const registered = await device.register();
    const clean = await device.report(registered.configurationSha256 as string);
    assert.deepEqual(clean.drift, []);
    const drifted = await device.report('f'.repeat(64), '9.9.9');
    const findings = drifted.drift as { kind: string }[];
    assert.deepEqual(findings.map((finding) => finding.kind).sort(), ['configuration', 'firmware']);
    const records = await env.audit.list({
      targetId: registered.deviceId as string,
      event: 'configuration.drift',
    });
    assert.equal(records.length, 2);
    await settle();
    assert.equal(
      events.filter(
        (event) =>
          event.subject === 'onboarding.device.drift' &&
          (event.data as { deviceId: string }).deviceId === registered.deviceId,
      ).length,
      2,
    );
  });

  test('failed segment move stays configured', async () => {
    const { device } = nextDevice('PM-9');
    await device.enroll();
    const result = await device.register();
    assert.equal(result.state, 'configured');
    const move = result.segmentMove as { status: string; reason: string };
    assert.equal(move.status, 'failed');
    assert.match(move.reason, /imaging/);
    const stored = await env.inventory.get(result.deviceId as string);
    assert.equal(stored.state, 'configured');
    assert.equal(stored.segment, null);
    const failure = (
      await env.audit.list({ targetId: stored.id, event: 'onboarding.segment-move' })
    )[0];
    assert.equal(failure?.outcome, 'serious-failure');
    assert.match(failure.reason ?? '', /stays configured/);
    await settle();
    assert.ok(
      events.some(
        (event) =>
          event.subject === 'onboarding.alert' &&
          (event.data as { kind: string; deviceId: string }).kind === 'segment-move-failed' &&
          (event.data as { deviceId: string }).deviceId === stored.id,
      ),
    );
  });

  test('malformed SBOM rejected without change', async () => {
    const { device } = nextDevice('LP-420');
    await device.enroll();
    const { deviceId } = {
      deviceId: (await env.inventory.list({ state: 'enrolled' })).items.at(-1)?.id ?? '',
    };
    const before = await env.inventory.get(deviceId);
    await rejectsWithStatus(
      device.register({
        sbom: { bomFormat: 'CycloneDX', specVersion: '1.5', components: [{ type: 'library' }] },
      }),
      400,
      'SBOM_INVALID',
    );
    await rejectsWithStatus(
      device.register({ sbom: { ...(sbom as object), padding: 'x'.repeat(70_000) } }),
      413,
      'SBOM_TOO_LARGE',
    );
    await rejectsWithStatus(
      device.register({ sbom: { bomFormat: 'CycloneDX', specVersion: '1.2' } }),
      400,
      'SBOM_SPEC_VERSION_UNSUPPORTED',
    );
    const huge = {
      bomFormat: 'CycloneDX',
      specVersion: '1.5',
      components: Array.from({ length: 501 }, (_, index) => ({
        type: 'library',
        name: `c${index}`,
      })),
    };
    await rejectsWithStatus(device.register({ sbom: huge }), 413, 'SBOM_TOO_MANY_COMPONENTS');
    let deep: unknown = { type: 'library', name: 'leaf' };
    for (let level = 0; level < 33; level += 1) {
      deep = { type: 'library', name: `n${level}`, components: [deep] };
    }
    await rejectsWithStatus(
      device.register({ sbom: { bomFormat: 'CycloneDX', specVersion: '1.5', components: [deep] } }),
      400,
      'SBOM_TOO_DEEP',
    );
    await rejectsWithStatus(
      device.register({ interfaces: [] }),
      400,
      'REGISTRATION_FACT_SHEET_INVALID',
    );
    const after = await env.inventory.get(deviceId);
    assert.equal(after.version, before.version);
    assert.equal(after.state, 'enrolled');
    const failures = await env.audit.list({ targetId: deviceId, event: 'onboarding.register' });
    assert.deepEqual(
      failures.map((record) => record.details.code),
      [
        'SBOM_INVALID',
        'SBOM_TOO_LARGE',
        'SBOM_SPEC_VERSION_UNSUPPORTED',
        'SBOM_TOO_MANY_COMPONENTS',
        'SBOM_TOO_DEEP',
        'REGISTRATION_FACT_SHEET_INVALID',
      ],
    );
    assert.equal(
      (await env.onboarding.registration.configurationLedger.history(env.storage.db, deviceId))
        .length,
      0,
    );
  });

  test('registration needs operational certificate', async () => {
    const { device, spec } = nextDevice('LP-420');
    await assert.rejects(device.register(), /has not enrolled/);
    if (spec.birth.kind !== 'idevid') {
      return;
    }
    const birth = spec.birth;
    await rejectsWithStatus(
      device.send('/medward/v1/registration', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        cert: birth.certificatePem,
        key: birth.keyPem,
        body: JSON.stringify({
          model: 'LP-420',
          firmwareVersion: '1',
          interfaces: [{ mac: '02:00:00:00:00:01', kind: 'wired' }],
        }),
      }),
      401,
      'REGISTRATION_CERTIFICATE_REQUIRED',
    );
  });

  test('renewal keeps identity', async () => {
    const { device } = nextDevice('LP-420');
    const first = new X509Certificate(await device.enroll());
    const renewed = new X509Certificate(await device.reenroll());
    assert.notEqual(renewed.serialNumber, first.serialNumber);
    assert.equal(renewed.subject, first.subject);
    assert.equal(renewed.subjectAltName, first.subjectAltName);
    assert.notEqual(
      renewed.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
      first.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
    );
    const registered = await device.register();
    assert.equal(registered.state, 'production');
    const stored = await env.inventory.get(registered.deviceId as string);
    assert.equal(
      stored.certificateFingerprint,
      renewed.fingerprint256.replaceAll(':', '').toLowerCase(),
    );
  });

  test('revocation reaches CRL and blocks renewal', async () => {
    const { device, spec } = nextDevice('LP-420');
    const certificate = new X509Certificate(await device.enroll());
    const registered = await device.register();
    await env.importList(
      specs.map((item) => item.entry).filter((entry) => entry.serialNumber !== spec.serialNumber),
      [
        {
          manufacturer: spec.manufacturer,
          model: spec.model,
          serialNumber: spec.serialNumber,
          action: 'suspend',
          reason: 'reported lost',
          revokedAt: new Date().toISOString(),
        },
      ],
    );
    const stored = await env.inventory.get(registered.deviceId as string);
    assert.equal(stored.state, 'suspended');
    const enforced = env.enforcement.describe().devices.find((item) => item.deviceId === stored.id);
    assert.equal(enforced?.segment, 'quarantine');
    const crlResponse = await device.send('/crl', { method: 'GET', headers: {} });
    assert.equal(crlResponse.headers['content-type'], 'application/pkix-crl');
    const crl = pkijs.CertificateRevocationList.fromBER(crlResponse.body);
    const revoked = (crl.revokedCertificates ?? []).map((entry) =>
      Buffer.from(entry.userCertificate.valueBlock.valueHexView)
        .toString('hex')
        .replace(/^(00)+/, ''),
    );
    assert.ok(revoked.includes(certificate.serialNumber.toLowerCase().replace(/^(00)+/, '')));
    await rejectsWithStatus(device.reenroll(), 403, 'CA_CERTIFICATE_REVOKED');
    await rejectsWithStatus(device.register(), 401, 'REGISTRATION_CERTIFICATE_REVOKED');
  });
});

describe('renewal timing policy', () => {
  test('early and expired renewals follow policy', async () => {
    let offsetMs = 0;
    const env = await OnboardingEnvironment.create({
      config: {
        certificates: {
          lifetimeHours: 24,
          renewalWindowHours: 6,
          allowRenewAfterExpiry: true,
          renewAfterExpiryGraceHours: 12,
        },
      },
      now: () => new Date(Date.now() + offsetMs),
    });
    try {
      await env.start();
      const specs = env.deviceSpecs(2);
      await env.authorise(specs);
      const device = env.device(specs[0]!, 0);
      await device.enroll();
      await rejectsWithStatus(device.reenroll(), 409, 'CA_RENEWAL_TOO_EARLY');
      offsetMs = 25 * 3_600_000;
      const renewed = new X509Certificate(await device.reenroll());
      assert.ok(Date.parse(renewed.validTo) > Date.now() + 40 * 3_600_000);
      const afterExpiry = await env.audit.list({ event: 'certificate.renew-after-expiry' });
      assert.equal(afterExpiry.length, 1);
      const stranded = env.device(specs[1]!, 1);
      offsetMs = 0;
      await stranded.enroll();
      offsetMs = 37 * 3_600_000;
      await rejectsWithStatus(stranded.reenroll(), 403, 'CA_RENEWAL_GRACE_EXCEEDED');
      const rejections = await env.audit.list({ event: 'est.reenroll' });
      assert.deepEqual(
        rejections.map((record) => record.details.code),
        ['CA_RENEWAL_TOO_EARLY', 'CA_RENEWAL_GRACE_EXCEEDED'],
      );
    } finally {
      await env.close();
    }
  });
});
