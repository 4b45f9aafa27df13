import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isMedwardError } from '../../src/core/errors.js';
import { InMemoryEnforcementPoint } from '../../src/enforcement/in-memory-point.js';
import type { EnforcementAlert } from '../../src/enforcement/service.js';
import type { DeviceEnforcement, EnforcementPoint } from '../../src/enforcement/types.js';
import {
  automation,
  enforcementConfig,
  makeDecision,
  makeDevice,
  nurse,
  startService,
  waitFor,
} from './support.js';

/** An in-memory point whose enforce() fails while `failures` is above zero, like an unreachable switch. */
class FlakyPoint extends InMemoryEnforcementPoint implements EnforcementPoint {
  failures = 0;
  attempts = 0;

  override enforce(enforcement: DeviceEnforcement): Promise<void> {
    this.attempts += 1;
    if (this.failures > 0) {
      this.failures -= 1;
      return Promise.reject(new Error('point unreachable'));
    }
    return super.enforce(enforcement);
  }
}

const fastRetry = {
  maxAttempts: 3,
  initialBackoffMs: 5,
  maxBackoffMs: 20,
  reconcileIntervalMs: 1000,
};

describe('enforcement service', () => {
  test('retries a failing point', async () => {
    const point = new FlakyPoint();
    const harness = await startService([point], {
      config: enforcementConfig({ retry: fastRetry }),
    });
    try {
      point.failures = 2;
      const device = makeDevice();
      const outcome = await harness.service.apply(makeDecision(device, 'quarantine'));
      assert.equal(outcome.status, 'in-force');
      assert.equal(point.attempts, 3);
      assert.equal(point.lookupMac(device.macs[0]!)?.segmentName, 'quarantine');
    } finally {
      await harness.dispose();
    }
  });

  test('failed action alerts, never done', async () => {
    const point = new FlakyPoint();
    const harness = await startService([point], {
      config: enforcementConfig({ retry: fastRetry }),
    });
    try {
      const device = makeDevice();
      const decision = makeDecision(device, 'isolation');
      point.failures = 3;
      await assert.rejects(harness.service.apply(decision), (error: unknown) => {
        assert.ok(isMedwardError(error));
        assert.equal(error.code, 'ENFORCEMENT_FAILED');
        return true;
      });
      assert.equal(point.lookupMac(device.macs[0]!), undefined);
      const described = harness.service.describe().devices.find((d) => d.deviceId === device.id);
      assert.equal(described?.status, 'failed');
      await waitFor(() => harness.alerts.length > 0);
      const alert = harness.alerts[0]!.data as EnforcementAlert;
      assert.equal(alert.kind, 'action-failed');
      assert.equal(alert.decisionId, decision.id);
      const records = await harness.audit.list({ event: 'enforcement.apply', targetId: device.id });
      assert.equal(records.length, 1);
      assert.equal(records[0]!.outcome, 'serious-failure');

      await harness.service.reconcile();
      assert.equal(point.lookupMac(device.macs[0]!)?.segmentName, 'isolation');
      assert.equal(harness.service.describe().devices[0]?.status, 'in-force');
      const after = await harness.audit.list({ event: 'enforcement.apply', targetId: device.id });
      assert.equal(after.length, 2);
      assert.equal(after[1]!.outcome, 'success');
    } finally {
      await harness.dispose();
    }
  });

  test('automation isolation of ordinary device', async () => {
    const point = new InMemoryEnforcementPoint();
    const harness = await startService([point]);
    try {
      const outcome = await harness.service.apply(
        makeDecision(makeDevice(), 'isolation', { actor: automation }),
      );
      assert.equal(outcome.status, 'in-force');
    } finally {
      await harness.dispose();
    }
  });

  test('person cuts off life-sustaining device', async () => {
    const point = new InMemoryEnforcementPoint();
    const harness = await startService([point]);
    try {
      const device = makeDevice({ lifeSustaining: true });
      const outcome = await harness.service.apply(
        makeDecision(device, 'quarantine', { actor: nurse }),
      );
      assert.equal(outcome.status, 'in-force');
      assert.equal(point.lookupMac(device.macs[0]!)?.segmentName, 'quarantine');
    } finally {
      await harness.dispose();
    }
  });

  test('pending approval survives restart', async () => {
    const point = new InMemoryEnforcementPoint();
    const harness = await startService([point]);
    const device = makeDevice({ lifeSustaining: true });
    const decision = makeDecision(device, 'isolation');
    await harness.service.apply(makeDecision(device, 'production', { actor: nurse }));
    assert.equal((await harness.service.apply(decision)).status, 'pending-approval');
    await harness.service.stop();
    await harness.bus.stop();
    const second = await startService([new InMemoryEnforcementPoint()], {
      database: harness.database,
    });
    try {
      assert.deepEqual(
        second.service.describe().pendingApprovals.map((p) => p.decisionId),
        [decision.id],
      );
      await second.service.declinePending(decision.id, nurse, 'pump is in use on a patient');
      assert.equal(second.service.describe().pendingApprovals.length, 0);
      const declined = await second.audit.list({ event: 'enforcement.decline' });
      assert.equal(declined.length, 1);
      assert.equal(declined[0]!.actorId, nurse.id);
    } finally {
      await second.dispose();
    }
  });

  test('rejects unknown production segment', async () => {
    const harness = await startService([new InMemoryEnforcementPoint()]);
    try {
      const device = makeDevice({ productionSegment: 'no-such-class' });
      await assert.rejects(
        harness.service.apply(makeDecision(device, 'production')),
        (error: unknown) => {
          assert.ok(isMedwardError(error));
          assert.equal(error.code, 'ENFORCEMENT_SEGMENT_UNKNOWN');
          return true;
        },
      );
    } finally {
      await harness.dispose();
    }
  });

  test('rejects invalid MAC', async () => {
    const harness = await startService([new InMemoryEnforcementPoint()]);
    try {
      const device = makeDevice({ macs: ['02:00:00:00:01'] });
      await assert.rejects(
        harness.service.apply(makeDecision(device, 'production')),
        (error: unknown) => {
          assert.ok(isMedwardError(error));
          assert.equal(error.code, 'ENFORCEMENT_MAC_INVALID');
          return true;
        },
      );
    } finally {
      await harness.dispose();
    }
  });

  test('new MACs join an overruled quarantine', async () => {
    const point = new InMemoryEnforcementPoint();
    const harness = await startService([point]);
    try {
      const device = makeDevice();
      await harness.service.apply(makeDecision(device, 'quarantine'));
      const moved = makeDevice({
        macs: [...device.macs, '02:00:00:00:09:09'],
        interfaces: [...device.interfaces, { mac: '02:00:00:00:09:09', kind: 'wireless' }],
      });
      const outcome = await harness.service.apply(makeDecision(moved, 'production'));
      assert.equal(outcome.status, 'overruled');
      assert.equal(point.lookupMac('02:00:00:00:09:09')?.segmentName, 'quarantine');
    } finally {
      await harness.dispose();
    }
  });
});
