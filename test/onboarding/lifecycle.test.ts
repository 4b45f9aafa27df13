import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ActorKind, runWithContext, systemContext, type Actor } from '../../src/core/context.js';
import { isMedwardError } from '../../src/core/errors.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import type { DeviceCreateInput } from '../../src/inventory/index.js';
import { hashSecret } from '../../src/onboarding/authorisation/index.js';
import {
  basicConstraintsExtension,
  buildCertificate,
  encodeName,
  oid,
  randomSerialNumber,
} from '../../src/onboarding/ca/x509.js';
import { SIGHTING_RATE_LIMITED } from '../../src/onboarding/lifecycle/sightings.js';
import { SourceRateLimiter } from '../../src/onboarding/lifecycle/source-rate-limiter.js';
import {
  StuckStateChecker,
  isTransitionAllowed,
  lifecycleTransitions,
  revocationTarget,
} from '../../src/onboarding/lifecycle/index.js';
import { requireService } from '../support/services.js';
import { createCoreHarness, settle, type CoreHarness } from './core-harness.js';
import { rejectsWithCode } from './support.js';

const operator: Actor = { kind: ActorKind.User, id: 'user-7', display: 'Biomed engineer' };
const rule: Actor = { kind: ActorKind.Automation, id: 'rule-3' };

let serial = 0;
function newDevice(overrides: Partial<DeviceCreateInput> = {}): DeviceCreateInput {
  serial += 1;
  return {
    manufacturer: 'Cardia Systems',
    model: 'PM-9',
    serialNumber: `PM-${serial}`,
    lifeSustaining: false,
    criticality: 'moderate',
    ...overrides,
  };
}

describe('state machine table', () => {
  test('decommissioned is final', () => {
    assert.deepEqual(lifecycleTransitions.decommissioned, []);
  });

  test('production only through configured', () => {
    const into = Object.entries(lifecycleTransitions)
      .filter(([, targets]) => targets.includes('production'))
      .map(([from]) => from)
      .sort();
    assert.deepEqual(into, ['configured', 'quarantined', 'suspended']);
    assert.equal(isTransitionAllowed('authorised', 'production'), false);
    assert.equal(isTransitionAllowed('unknown', 'enrolled'), false);
  });

  test('revocation targets by state', () => {
    assert.equal(revocationTarget('authorised', 'suspend'), 'rejected');
    assert.equal(revocationTarget('enrolled', 'reject'), 'rejected');
    assert.equal(revocationTarget('enrolled', 'suspend'), 'suspended');
    assert.equal(revocationTarget('production', 'reject'), 'suspended');
    assert.equal(revocationTarget('quarantined', 'suspend'), 'suspended');
  });
});

async function lifecycleSuite(harness: () => CoreHarness): Promise<void> {
  await test('transition audited with evidence', async () => {
    const { inventory, lifecycle, audit } = harness();
    const device = await inventory.create(newDevice({ state: 'provisioning' }));
    const moved = await runWithContext(systemContext(operator), () =>
      lifecycle.transition({
        deviceId: device.id,
        expectedVersion: device.version,
        to: 'identity-verified',
        reason: 'IDevID verified against the manufacturer CA',
        evidence: { idevidFingerprint: 'ab'.repeat(32) },
      }),
    );
    assert.equal(moved.state, 'identity-verified');
    assert.equal(moved.version, device.version + 1);
    const records = await audit.list({ event: 'device.lifecycle', targetId: device.id });
    assert.equal(records.length, 1);
    assert.equal(records[0]?.actorId, 'user-7');
    assert.equal(records[0].details.from, 'provisioning');
    assert.equal(records[0].details.to, 'identity-verified');
    assert.deepEqual(records[0].details.evidence, { idevidFingerprint: 'ab'.repeat(32) });
  });

  await test('invalid transition changes nothing', async () => {
    const { inventory, lifecycle, audit } = harness();
    const device = await inventory.create(newDevice({ state: 'authorised' }));
    await rejectsWithCode(
      lifecycle.transition({
        deviceId: device.id,
        expectedVersion: device.version,
        to: 'production',
        reason: 'skip ahead',
        evidence: {},
      }),
      'LIFECYCLE_TRANSITION_INVALID',
    );
    const stored = await inventory.get(device.id);
    assert.equal(stored.state, 'authorised');
    assert.equal(stored.version, device.version);
    assert.equal((await audit.list({ event: 'device.lifecycle', targetId: device.id })).length, 0);
  });

  await test('stale version rejected', async () => {
    const { inventory, lifecycle } = harness();
    const device = await inventory.create(newDevice({ state: 'provisioning' }));
    await lifecycle.transition({
      deviceId: device.id,
      expectedVersion: device.version,
      to: 'identity-verified',
      reason: 'first',
      evidence: {},
    });
    await rejectsWithCode(
      lifecycle.transition({
        deviceId: device.id,
        expectedVersion: device.version,
        to: 'rejected',
        reason: 'second, from a stale read',
        evidence: {},
      }),
      'INVENTORY_VERSION_CONFLICT',
    );
    assert.equal((await inventory.get(device.id)).state, 'identity-verified');
  });

  await test('concurrent transitions race once', async () => {
    const { inventory, lifecycle, audit } = harness();
    const device = await inventory.create(newDevice({ state: 'identity-verified' }));
    const targets = [
      'authorised',
      'rejected',
      'authorised',
      'rejected',
      'authorised',
      'rejected',
      'authorised',
      'rejected',
    ] as const;
    const outcomes = await Promise.allSettled(
      targets.map((to, index) =>
        lifecycle.transition({
          deviceId: device.id,
          expectedVersion: device.version,
          to,
          reason: `event ${index}`,
          evidence: { event: index },
        }),
      ),
    );
    const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const lost = outcomes.filter((outcome) => outcome.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, targets.length - 1);
    for (const outcome of lost) {
      assert.ok(isMedwardError(outcome.reason));
      assert.equal(outcome.reason.code, 'INVENTORY_VERSION_CONFLICT');
    }
    const stored = await inventory.get(device.id);
    assert.equal(stored.version, device.version + 1);
    assert.equal(stored.state, won[0]?.status === 'fulfilled' ? won[0].value.state : undefined);
    const records = await audit.list({ event: 'device.lifecycle', targetId: device.id });
    assert.equal(records.length, 1);
    assert.equal(records[0]?.details.to, stored.state);
  });

  await test('transition sequence written once', async () => {
    const { inventory, lifecycle, audit, database } = harness();
    const { storage } = database;
    const device = await inventory.create(newDevice({ state: 'provisioning' }));
    const results = await storage.db.transaction().execute(async (trx) => {
      const prepared = await lifecycle.prepareTransitionsIn(trx, {
        deviceId: device.id,
        expectedVersion: device.version,
        actor: operator,
        steps: [
          { to: 'identity-verified', reason: 'IDevID verified', evidence: { step: 1 } },
          { to: 'authorised', reason: 'listed', evidence: { step: 2 } },
          {
            to: 'enrolled',
            reason: 'certificate issued',
            evidence: { step: 3 },
            set: { certificateFingerprint: 'cd'.repeat(32) },
          },
        ],
      });
      await audit.appendMany(trx, prepared.auditEntries);
      return prepared.results;
    });
    assert.deepEqual(
      results.map((result) => [result.from, result.to, result.device.version]),
      [
        ['provisioning', 'identity-verified', device.version + 1],
        ['identity-verified', 'authorised', device.version + 2],
        ['authorised', 'enrolled', device.version + 3],
      ],
    );
    const stored = await inventory.get(device.id);
    assert.equal(stored.state, 'enrolled');
    assert.equal(stored.version, device.version + 3);
    assert.equal(stored.certificateFingerprint, 'cd'.repeat(32));
    const records = await audit.list({ event: 'device.lifecycle', targetId: device.id });
    assert.deepEqual(
      records.map((record) => [
        record.details.from,
        record.details.to,
        record.details.fromVersion,
        record.details.toVersion,
        record.actorId,
      ]),
      [
        ['provisioning', 'identity-verified', device.version, device.version + 1, 'user-7'],
        ['identity-verified', 'authorised', device.version + 1, device.version + 2, 'user-7'],
        ['authorised', 'enrolled', device.version + 2, device.version + 3, 'user-7'],
      ],
    );
    assert.deepEqual(records[2]?.details.evidence, { step: 3 });
  });

  await test('invalid step rejects whole sequence', async () => {
    const { inventory, lifecycle, database } = harness();
    const { storage } = database;
    const device = await inventory.create(newDevice({ state: 'provisioning' }));
    await rejectsWithCode(
      storage.db.transaction().execute((trx) =>
        lifecycle.prepareTransitionsIn(trx, {
          deviceId: device.id,
          expectedVersion: device.version,
          steps: [
            { to: 'identity-verified', reason: 'verified', evidence: {} },
            { to: 'production', reason: 'skip ahead', evidence: {} },
          ],
        }),
      ),
      'LIFECYCLE_TRANSITION_INVALID',
    );
    await rejectsWithCode(
      storage.db.transaction().execute((trx) =>
        lifecycle.prepareTransitionsIn(trx, {
          deviceId: device.id,
          expectedVersion: device.version + 1,
          steps: [{ to: 'identity-verified', reason: 'stale', evidence: {} }],
        }),
      ),
      'INVENTORY_VERSION_CONFLICT',
    );
    const stored = await inventory.get(device.id);
    assert.equal(stored.state, 'provisioning');
    assert.equal(stored.version, device.version);
  });

  await test('automation cannot cut off life-sustaining', async () => {
    const { inventory, lifecycle } = harness();
    const device = await inventory.create(
      newDevice({ state: 'production', lifeSustaining: true, criticality: 'critical' }),
    );
    await rejectsWithCode(
      runWithContext(systemContext(rule), () =>
        lifecycle.transition({
          deviceId: device.id,
          expectedVersion: device.version,
          to: 'suspended',
          reason: 'rule',
          evidence: {},
        }),
      ),
      'INVENTORY_LIFE_SUSTAINING_MANUAL_ONLY',
    );
    assert.equal((await inventory.get(device.id)).state, 'production');
  });
}

describe('device lifecycle on SQLite', () => {
  let harness: CoreHarness;
  beforeEach(async () => {
    harness = await createCoreHarness();
  });
  afterEach(async () => {
    await harness.dispose();
  });
  test('lifecycle cases', async () => {
    await lifecycleSuite(() => harness);
  });
});

describe('device lifecycle on PostgreSQL', () => {
  test('lifecycle cases', async (t) => {
    if (!(await requireService(t, 'postgres'))) {
      return;
    }
    const harness = await createCoreHarness({ dialect: 'postgres' });
    try {
      await lifecycleSuite(() => harness);
    } finally {
      await harness.dispose();
    }
  });
});

function selfSignedDeviceCertificate(serialNumber: string): Buffer {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const subject = [
    { type: oid.commonName, value: serialNumber },
    { type: oid.serialNumber, value: serialNumber },
  ];
  return buildCertificate(
    {
      serialNumber: randomSerialNumber(randomBytes),
      issuerNameDer: encodeName(subject),
      subject,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      subjectPublicKeyInfoDer: publicKey.export({ type: 'spki', format: 'der' }),
      extensions: [basicConstraintsExtension(false)],
    },
    privateKey,
  );
}

describe('unlisted devices', () => {
  let harness: CoreHarness;
  beforeEach(async () => {
    harness = await createCoreHarness();
  });
  afterEach(async () => {
    await harness.dispose();
  });

  test('sighting reported once', async () => {
    const report = {
      manufacturer: 'Acme',
      model: 'X1',
      serialNumber: 'X1-9',
      sourceAddress: '10.10.0.7',
      reason: 'not on any list',
    };
    const first = await harness.sightings.report(report);
    const second = await harness.sightings.report(report);
    assert.equal(second.id, first.id);
    assert.equal(second.timesSeen, 2);
    const records = await harness.audit.list({ event: 'onboarding.device-unlisted' });
    assert.equal(records.length, 1);
    assert.equal(records[0]?.sourceAddress, '10.10.0.7');
    await settle();
    const events = harness.events.filter((event) => event.subject === 'onboarding.device.unlisted');
    assert.equal(events.length, 1);
    assert.equal((events[0]?.data as { serialNumber: string }).serialNumber, 'X1-9');
    const pending = await harness.sightings.list('pending');
    assert.deepEqual(
      pending.map((sighting) => sighting.id),
      [first.id],
    );
  });

  test('approval issues bootstrap secret', async () => {
    const sighting = await harness.sightings.report({
      serialNumber: 'X1-10',
      reason: 'unknown secret',
    });
    await rejectsWithCode(
      harness.sightings.approve(
        sighting.id,
        { deviceClass: 'monitor', lifeSustaining: false, criticality: 'low', reason: 'r' },
        operator,
      ),
      'ONBOARDING_APPROVAL_IDENTITY_MISSING',
    );
    await rejectsWithCode(
      harness.sightings.approve(
        sighting.id,
        {
          manufacturer: 'Acme',
          model: 'X1',
          deviceClass: 'monitor',
          lifeSustaining: false,
          criticality: 'low',
          reason: 'r',
        },
        rule,
      ),
      'ONBOARDING_APPROVAL_FORBIDDEN',
    );
    const approval = await harness.sightings.approve(
      sighting.id,
      {
        manufacturer: 'Acme',
        model: 'X1',
        deviceClass: 'monitor',
        lifeSustaining: false,
        criticality: 'low',
        reason: 'ward 7 spare',
      },
      operator,
    );
    assert.ok(approval.bootstrapSecret);
    assert.equal(approval.entry.birthIdentity.kind, 'bootstrap-secret');
    const stored = await harness.authorisation.findSecret(
      harness.database.storage.db,
      hashSecret(approval.bootstrapSecret.secret),
    );
    assert.equal(stored?.list_id, 'manual');
    assert.equal(stored.consumed_at, null);
    const entries = await harness.authorisation.findEntries(harness.database.storage.db, {
      serialNumber: 'X1-10',
    });
    assert.equal(entries[0]?.listId, 'manual');
    assert.equal(entries[0].listExpiresAt, null);
    const records = await harness.audit.list({ event: 'onboarding.device-approve' });
    assert.equal(records.length, 1);
    assert.equal(records[0]?.actorId, 'user-7');
    assert.equal(records[0].reason, 'ward 7 spare');
    assert.ok(!JSON.stringify(records[0].details).includes(approval.bootstrapSecret.secret));
    await rejectsWithCode(
      harness.sightings.approve(
        sighting.id,
        { deviceClass: 'monitor', lifeSustaining: false, criticality: 'low', reason: 'r' },
        operator,
      ),
      'ONBOARDING_SIGHTING_DECIDED',
    );
  });

  test('approval pins shown certificate', async () => {
    const der = selfSignedDeviceCertificate('X2-1');
    const certificate = new X509Certificate(der);
    const sighting = await harness.sightings.report({
      serialNumber: 'X2-1',
      manufacturer: 'Acme',
      model: 'X2',
      certificateDer: der,
      certificateFingerprint: certificate.fingerprint256.replaceAll(':', '').toLowerCase(),
      reason: 'IDevID from an unknown manufacturer CA',
    });
    const approval = await harness.sightings.approve(
      sighting.id,
      {
        deviceClass: 'monitor',
        lifeSustaining: false,
        criticality: 'low',
        reason: 'checked on site',
      },
      operator,
    );
    assert.equal(approval.bootstrapSecret, undefined);
    assert.equal(approval.entry.birthIdentity.kind, 'public-key');
    assert.equal(
      approval.entry.birthIdentity.publicKey,
      certificate.publicKey.export({ type: 'spki', format: 'pem' }),
    );
    const dismissed = await harness.sightings.report({ serialNumber: 'X2-2', reason: 'unknown' });
    const result = await harness.sightings.dismiss(dismissed.id, operator, 'not ours');
    assert.equal(result.status, 'dismissed');
  });
});

describe('source rate limiter', () => {
  test('burst then sustained rate', () => {
    let nowMs = 1_000_000;
    const limiter = new SourceRateLimiter(
      { ratePerMinute: 6, burst: 3, maxTrackedSources: 100 },
      () => nowMs,
    );
    for (let index = 0; index < 3; index += 1) {
      assert.deepEqual(limiter.take('10.0.0.1'), { allowed: true });
    }
    assert.deepEqual(limiter.take('10.0.0.1'), {
      allowed: false,
      retryAfterMs: 10_000,
      firstRejection: true,
    });
    nowMs += 4_000;
    assert.deepEqual(limiter.take('10.0.0.1'), {
      allowed: false,
      retryAfterMs: 6_000,
      firstRejection: false,
    });
    assert.deepEqual(limiter.take('10.0.0.2'), { allowed: true });
    nowMs += 6_000;
    assert.deepEqual(limiter.take('10.0.0.1'), { allowed: true });
    assert.equal(limiter.take('10.0.0.1').allowed, false);
    nowMs += 3_600_000;
    for (let index = 0; index < 3; index += 1) {
      assert.deepEqual(limiter.take('10.0.0.1'), { allowed: true }, `after a pause, ${index}`);
    }
  });

  test('tracked sources stay bounded', () => {
    const limiter = new SourceRateLimiter({ ratePerMinute: 1, burst: 1, maxTrackedSources: 100 });
    for (let index = 0; index < 250; index += 1) {
      assert.equal(limiter.take(`10.1.${Math.floor(index / 256)}.${index % 256}`).allowed, true);
    }
    assert.equal(limiter.size, 100);
    assert.equal(limiter.take('10.1.0.249').allowed, false);
  });
});

describe('sighting rate limit', () => {
  let harness: CoreHarness;
  let nowMs: number;
  const lines: Record<string, unknown>[] = [];
  beforeEach(async () => {
    nowMs = Date.parse('2026-05-01T08:00:00Z');
    lines.length = 0;
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        done();
      },
    });
    harness = await createCoreHarness({
      config: { sightings: { burst: 3, ratePerMinute: 2 } },
      now: () => new Date(nowMs),
      logger: createLogger({ level: 'info', destination }),
    });
  });
  afterEach(async () => {
    await harness.dispose();
  });

  const report = (serialNumber: string, sourceAddress = '10.10.0.9') =>
    harness.sightings.report({ serialNumber, sourceAddress, reason: 'not on any list' });

  test('invented serials rejected after burst', async () => {
    for (let index = 0; index < 3; index += 1) {
      await report(`FAKE-${index}`);
    }
    for (let index = 3; index < 40; index += 1) {
      const error: unknown = await report(`FAKE-${index}`).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      assert.ok(isMedwardError(error), `report ${index} was accepted`);
      assert.equal(error.code, SIGHTING_RATE_LIMITED);
      assert.equal(error.kind, 'rate-limited');
      assert.equal(error.details.retryAfterSeconds, 30);
      assert.equal(error.details.sourceAddress, '10.10.0.9');
    }
    assert.equal((await harness.sightings.list(undefined, 1000)).length, 3);
    assert.equal((await harness.audit.list({ event: 'onboarding.device-unlisted' })).length, 3);
    const limits = await harness.audit.list({ event: 'onboarding.sighting-rate-limit' });
    assert.equal(limits.length, 1);
    assert.equal(limits[0]?.targetId, '10.10.0.9');
    assert.deepEqual(limits[0].details, { ratePerMinute: 2, burst: 3, retryAfterSeconds: 30 });

    const metric = await harness.metrics.getSingleMetricAsString(
      'medward_onboarding_sightings_rate_limited_total',
    );
    assert.match(metric, /medward_onboarding_sightings_rate_limited_total 37$/m);

    const logged = lines.filter(
      (line) => line.msg === 'unlisted device report rejected by the sighting rate limit',
    );
    assert.equal(logged.length, 10);
    assert.equal(logged[0]?.sourceAddress, '10.10.0.9');
    // A minute refills two tokens; the next rejection logs how many lines were left out.
    nowMs += 60_000;
    await report('FAKE-after-a-minute-1');
    await report('FAKE-after-a-minute-2');
    await rejectsWithCode(report('FAKE-again'), SIGHTING_RATE_LIMITED);
    const summary = lines.find((line) => line.msg === 'sighting rate limit rejections not logged');
    assert.equal(summary?.suppressed, 27);
  });

  test('other addresses unaffected', async () => {
    for (let index = 0; index < 4; index += 1) {
      await report(`A-${index}`, '10.10.0.1').catch(() => undefined);
    }
    await rejectsWithCode(report('A-9', '10.10.0.1'), SIGHTING_RATE_LIMITED);
    const sighting = await report('B-1', '10.10.0.2');
    assert.equal(sighting.serialNumber, 'B-1');
  });

  test('rate recovers over time', async () => {
    for (let index = 0; index < 3; index += 1) {
      await report(`R-${index}`);
    }
    await rejectsWithCode(report('R-3'), SIGHTING_RATE_LIMITED);
    nowMs += 30_000;
    await report('R-3');
    await rejectsWithCode(report('R-4'), SIGHTING_RATE_LIMITED);
    // A new run of rejections is audited again.
    assert.equal((await harness.audit.list({ event: 'onboarding.sighting-rate-limit' })).length, 2);
  });
});

describe('stuck-state checker', () => {
  test('stuck device raises one alert', async () => {
    let nowMs = Date.parse('2026-03-01T08:00:00Z');
    const harness = await createCoreHarness({ now: () => new Date(nowMs) });
    try {
      const stuck = await harness.inventory.create(newDevice({ state: 'enrolled' }));
      await harness.inventory.create(newDevice({ state: 'production' }));
      const checker = new StuckStateChecker({
        inventory: harness.inventory,
        logger: silentLogger(),
        timeoutMs: 30 * 60_000,
        checkIntervalMs: 60_000,
        bus: harness.bus,
        now: () => new Date(nowMs),
      });
      assert.deepEqual(await checker.check(), []);
      nowMs += 31 * 60_000;
      const fresh = await harness.inventory.create(newDevice({ state: 'configured' }));
      const reported = await checker.check();
      assert.deepEqual(
        reported.map((device) => device.deviceId),
        [stuck.id],
      );
      assert.deepEqual(await checker.check(), []);
      await settle();
      const alerts = harness.events.filter(
        (event) =>
          event.subject === 'onboarding.alert' &&
          (event.data as { kind: string }).kind === 'stuck-state',
      );
      assert.equal(alerts.length, 1);
      assert.equal((alerts[0]?.data as { deviceId: string }).deviceId, stuck.id);
      assert.notEqual(fresh.id, stuck.id);
    } finally {
      await harness.dispose();
    }
  });
});
