import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessService } from '../../src/access/index.js';
import { createApiServer, type ApiServer } from '../../src/api/index.js';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import { silentLogger } from '../../src/core/logger.js';
import { OnboardingEnvironment } from '../../src/onboarding/simulation/onboarding-environment.js';
import { ProvisioningRequestFailed } from '../../src/onboarding/simulation/simulated-device.js';
import { apiConfig } from '../api/support.js';

describe('onboarding API routes', () => {
  let env: OnboardingEnvironment;
  let server: ApiServer;
  const tokens: Record<'admin' | 'operator' | 'auditor', string> = {
    admin: '',
    operator: '',
    auditor: '',
  };

  before(async () => {
    env = await OnboardingEnvironment.create();
    await env.start();
    const access = new AccessService({
      storage: env.storage,
      audit: env.audit,
      logger: silentLogger(),
    });
    const bootstrap = await access.ensureBootstrapAdmin();
    if (bootstrap.status !== 'generated') {
      throw new Error('expected a generated bootstrap token');
    }
    tokens.admin = bootstrap.token;
    tokens.operator = (await access.createToken({ label: 'operator', roles: ['operator'] })).token;
    tokens.auditor = (await access.createToken({ label: 'auditor', roles: ['auditor'] })).token;
    server = createApiServer({
      config: apiConfig(),
      logger: silentLogger(),
      storage: env.storage,
      audit: env.audit,
      access,
      inventory: env.inventory,
      metrics: createMetricsRegistry({ defaultMetrics: false }),
      routePlugins: [env.onboarding.routes],
    });
    await server.app.ready();
  });

  after(async () => {
    await server.stop();
    await env.close();
  });

  function call(method: 'GET' | 'POST', url: string, role: keyof typeof tokens, payload?: unknown) {
    return server.app.inject({
      method,
      url: `/api/v1/onboarding${url}`,
      headers: { authorization: `Bearer ${tokens[role]}` },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
  }

  test('pending lists sightings and devices', async () => {
    const [spec] = env.deviceSpecs(1, 100);
    assert.ok(spec);
    assert.equal(spec.birth.kind, 'idevid');
    await assert.rejects(
      env.device(spec, 100).enroll(),
      (error: unknown) =>
        error instanceof ProvisioningRequestFailed && error.errorCode === 'EST_DEVICE_NOT_LISTED',
    );
    const response = await call('GET', '/pending', 'auditor');
    assert.equal(response.statusCode, 200);
    const body = response.json<{
      sightings: { serialNumber: string | null; status: string }[];
      devices: unknown[];
    }>();
    assert.ok(body.sightings.some((sighting) => sighting.serialNumber === spec.serialNumber));
    assert.ok(body.sightings.every((sighting) => sighting.status === 'pending'));
  });

  test('approval needs operator', async () => {
    const [spec] = env.deviceSpecs(1, 201);
    assert.ok(spec);
    assert.equal(spec.birth.kind, 'bootstrap-secret');
    await assert.rejects(
      env.device(spec, 201).enroll(),
      (error: unknown) =>
        error instanceof ProvisioningRequestFailed &&
        error.errorCode === 'EST_BOOTSTRAP_SECRET_INVALID',
    );
    const sighting = (await env.onboarding.sightings.list('pending')).find(
      (item) => item.serialNumber === spec.serialNumber,
    );
    assert.ok(sighting);
    const body = {
      manufacturer: spec.manufacturer,
      model: spec.model,
      deviceClass: 'infusion-pump',
      lifeSustaining: false,
      criticality: 'moderate',
      reason: 'spare pump for ward 3',
    };
    const denied = await call('POST', `/sightings/${sighting.id}/approve`, 'auditor', body);
    assert.equal(denied.statusCode, 403);
    const approved = await call('POST', `/sightings/${sighting.id}/approve`, 'operator', body);
    assert.equal(approved.statusCode, 200, approved.body);
    const result = approved.json<{
      entryId: string;
      sighting: { status: string };
      bootstrapSecret?: { secret: string };
    }>();
    assert.equal(result.sighting.status, 'approved');
    const records = await env.audit.list({ event: 'onboarding.device-approve' });
    assert.equal(records.at(-1)?.actorKind, 'api-token');
    assert.ok(result.bootstrapSecret);
    const approvedDevice = env.device(
      { ...spec, birth: { kind: 'bootstrap-secret', secret: result.bootstrapSecret.secret } },
      201,
    );
    await approvedDevice.enroll();
    const stored = (await env.inventory.list({ text: spec.serialNumber })).items[0];
    assert.equal(stored?.state, 'enrolled');
    const again = await call('POST', `/sightings/${sighting.id}/approve`, 'operator', body);
    assert.equal(again.statusCode, 409);
  });

  test('ledger and drift readable', async () => {
    const specs = env.deviceSpecs(1, 300);
    await env.authorise(specs);
    const device = env.device(specs[0]!, 300);
    await device.enroll();
    const registered = await device.register();
    await device.report('0'.repeat(64));
    const ledger = await call(
      'GET',
      `/devices/${registered.deviceId as string}/configurations`,
      'auditor',
    );
    assert.equal(ledger.statusCode, 200, ledger.body);
    const versions = ledger.json<{ versions: { version: number; cause: string; jws: string }[] }>()
      .versions;
    assert.deepEqual(
      versions.map((version) => version.version),
      [1],
    );
    assert.equal(versions[0]?.cause, 'registration');
    const drift = await call('GET', `/devices/${registered.deviceId as string}/drift`, 'operator');
    assert.equal(drift.json<{ findings: { kind: string }[] }>().findings[0]?.kind, 'configuration');
    const missing = await call(
      'GET',
      '/devices/00000000-0000-4000-8000-000000000000/configurations',
      'auditor',
    );
    assert.equal(missing.statusCode, 404);
  });

  test('list import for admins only', async () => {
    const envelope = env.signedList(
      env.deviceSpecs(1, 400).map((spec) => spec.entry),
      [],
      50,
    );
    const denied = await call('POST', '/authorisation-lists', 'operator', { envelope });
    assert.equal(denied.statusCode, 403);
    const imported = await call('POST', '/authorisation-lists', 'admin', { envelope });
    assert.equal(imported.statusCode, 200, imported.body);
    assert.equal(imported.json<{ version: number }>().version, 50);
    const forged = envelope.replace('SIM-000400', 'SIM-999999');
    const rejected = await call('POST', '/authorisation-lists', 'admin', { envelope: forged });
    assert.equal(rejected.statusCode, 400);
    assert.equal(
      rejected.json<{ error: { code: string } }>().error.code,
      'AUTHORISATION_LIST_SIGNATURE_INVALID',
    );
    const lists = await call('GET', '/authorisation-lists', 'auditor');
    assert.equal(lists.json<{ lists: { version: number }[] }>().lists[0]?.version, 50);
  });
});
