import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { isMedwardError } from '../../src/core/errors.js';
import type { EnforcementAlert } from '../../src/enforcement/service.js';
import { makeDecision, makeDevice, nurse, automation, type ServiceHarness } from './support.js';

export interface EnforcerUnderTest {
  /** A started enforcement service over the point under test. */
  readonly harness: () => ServiceHarness;
  /**
   * The segment name that the point itself enforces for frames from `mac`,
   * read back from the real mechanism (the kernel's ruleset, a RADIUS answer,
   * the in-memory table); undefined when the point holds nothing for it.
   */
  observe(mac: string): Promise<string | undefined>;
  /**
   * Stops the service, wipes what the point holds outside medward's database
   * (for nftables: deletes the table), and starts a new service and point on
   * the same database, which must restore the stored state.
   */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

/** Returns the enforcer, or undefined when the test was skipped (tool or privilege missing). */
export type MakeEnforcer = (t: TestContext) => Promise<EnforcerUnderTest | undefined>;

let deviceCounter = 0;

function uniqueDevice(lifeSustaining = false) {
  deviceCounter += 1;
  const suffix = deviceCounter.toString(16).padStart(2, '0');
  return makeDevice({
    id: `device-${deviceCounter}`,
    macs: [`02:00:00:aa:00:${suffix}`, `02:00:00:bb:00:${suffix}`],
    interfaces: [
      { mac: `02:00:00:aa:00:${suffix}`, kind: 'wired' },
      { mac: `02:00:00:bb:00:${suffix}`, kind: 'wireless' },
    ],
    lifeSustaining,
  });
}

/** The segment enforcer contract that the in-memory, nftables and RADIUS points pass. */
export function runEnforcerContract(name: string, make: MakeEnforcer): void {
  describe(`enforcer contract on ${name}`, () => {
    let subject: EnforcerUnderTest | undefined;
    let skipReason: string | undefined;

    before(async (t) => {
      let skipped: string | undefined;
      const context = {
        ...t,
        skip: (message?: string) => {
          skipped = message ?? 'skipped';
        },
      } as unknown as TestContext;
      subject = await make(context);
      if (subject === undefined) {
        skipReason = skipped ?? `${name} enforcer unavailable`;
      }
    });

    after(async () => {
      await subject?.cleanup();
    });

    const use = (t: TestContext): EnforcerUnderTest | undefined => {
      if (subject === undefined) {
        t.skip(skipReason);
      }
      return subject;
    };

    test('production decision in force', async (t) => {
      const s = use(t);
      if (s === undefined) {
        return;
      }
      const device = uniqueDevice();
      const outcome = await s.harness().service.apply(makeDecision(device, 'production'));
      assert.equal(outcome.status, 'in-force');
      assert.equal(outcome.segmentName, 'clinical');
      assert.equal(await s.observe(device.macs[0]!), 'clinical');
      const described = s
        .harness()
        .service.describe()
        .devices.find((d) => d.deviceId === device.id);
      assert.equal(described?.segmentName, 'clinical');
    });

    test('quarantine covers every MAC', async (t) => {
      const s = use(t);
      if (s === undefined) {
        return;
      }
      const device = uniqueDevice();
      await s.harness().service.apply(makeDecision(device, 'production'));
      const outcome = await s.harness().service.apply(makeDecision(device, 'quarantine'));
      assert.equal(outcome.status, 'in-force');
      assert.equal(await s.observe(device.macs[0]!), 'quarantine');
      assert.equal(await s.observe(device.macs[1]!), 'quarantine');
    });

    test('conflicts resolve to most restrictive', async (t) => {
      const s = use(t);
      if (s === undefined) {
        return;
      }
      const { service } = s.harness();
      const device = uniqueDevice();
      const isolate = makeDecision(device, 'isolation');
      const [first, second] = await Promise.all([
        service.apply(isolate),
        service.apply(makeDecision(device, 'quarantine')),
      ]);
      assert.equal(first.status, 'in-force');
      assert.equal(second.status, 'overruled');
      assert.equal(second.inForceDecisionId, isolate.id);
      assert.equal(await s.observe(device.macs[1]!), 'isolation');

      const release = await service.apply(makeDecision(device, 'production'));
      assert.equal(release.status, 'overruled');
      assert.equal(await s.observe(device.macs[0]!), 'isolation');

      const lifted = await service.apply(
        makeDecision(device, 'production', { actor: nurse, supersedes: isolate.id }),
      );
      assert.equal(lifted.status, 'in-force');
      assert.equal(await s.observe(device.macs[0]!), 'clinical');
    });

    test('life-sustaining quarantine awaits approval', async (t) => {
      const s = use(t);
      if (s === undefined) {
        return;
      }
      const { service, alerts } = s.harness();
      const device = uniqueDevice(true);
      await service.apply(makeDecision(device, 'production', { actor: nurse }));
      const decision = makeDecision(device, 'quarantine', { actor: automation });
      const held = await service.apply(decision);
      assert.equal(held.status, 'pending-approval');
      assert.equal(held.segmentName, 'clinical');
      assert.equal(await s.observe(device.macs[0]!), 'clinical');
      await waitForAlert(alerts, decision.id);
      assert.ok(service.describe().pendingApprovals.some((p) => p.decisionId === decision.id));

      await assert.rejects(service.approve(decision.id, automation), (error: unknown) => {
        assert.ok(isMedwardError(error));
        assert.equal(error.code, 'ENFORCEMENT_APPROVAL_FORBIDDEN');
        return true;
      });
      assert.equal(await s.observe(device.macs[0]!), 'clinical');

      const approved = await service.approve(decision.id, nurse);
      assert.equal(approved.status, 'in-force');
      assert.equal(await s.observe(device.macs[0]!), 'quarantine');
      assert.equal(await s.observe(device.macs[1]!), 'quarantine');
      assert.ok(!service.describe().pendingApprovals.some((p) => p.decisionId === decision.id));
    });

    test('every action audited with cause', async (t) => {
      const s = use(t);
      if (s === undefined) {
        return;
      }
      const { service, audit } = s.harness();
      const device = uniqueDevice();
      const decision = makeDecision(device, 'provisioning');
      await service.apply(decision);
      const records = await audit.list({ targetKind: 'device', targetId: device.id, limit: 10000 });
      const applied = records.find(
        (record) =>
          record.event === 'enforcement.apply' && record.details.decisionId === decision.id,
      );
      assert.ok(applied, 'no enforcement.apply audit record names the decision');
      assert.deepEqual(applied.details.cause, decision.cause);
      assert.equal(applied.outcome, 'success');
      assert.equal(applied.actorId, automation.id);
    });

    test('remove clears the point', async (t) => {
      const s = use(t);
      if (s === undefined) {
        return;
      }
      const device = uniqueDevice();
      await s.harness().service.apply(makeDecision(device, 'quarantine'));
      assert.equal(await s.observe(device.macs[0]!), 'quarantine');
      await s.harness().service.remove(device.id);
      assert.equal(await s.observe(device.macs[0]!), undefined);
      assert.equal(await s.observe(device.macs[1]!), undefined);
      assert.ok(
        !s
          .harness()
          .service.describe()
          .devices.some((d) => d.deviceId === device.id),
      );
    });

    test('restart restores stored state', async (t) => {
      const s = use(t);
      if (s === undefined) {
        return;
      }
      const isolated = uniqueDevice();
      const producing = uniqueDevice();
      await s.harness().service.apply(makeDecision(isolated, 'isolation'));
      await s.harness().service.apply(makeDecision(producing, 'production'));
      await s.restart();
      assert.equal(await s.observe(isolated.macs[0]!), 'isolation');
      assert.equal(await s.observe(isolated.macs[1]!), 'isolation');
      assert.equal(await s.observe(producing.macs[0]!), 'clinical');
      const described = s.harness().service.describe();
      assert.equal(
        described.devices.find((d) => d.deviceId === isolated.id)?.segmentName,
        'isolation',
      );
    });
  });
}

async function waitForAlert(alerts: { data: unknown }[], decisionId: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!alerts.some((alert) => (alert.data as EnforcementAlert).decisionId === decisionId)) {
    if (Date.now() > deadline) {
      assert.fail(`no enforcement.alert for decision ${decisionId}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const alert = alerts.find((item) => (item.data as EnforcementAlert).decisionId === decisionId);
  assert.equal((alert?.data as EnforcementAlert).kind, 'pending-approval');
}
