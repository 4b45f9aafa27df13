import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { isMedwardError } from '../../src/core/errors.js';
import { createMetricsRegistry } from '../../src/core/metrics.js';
import {
  RadiusAttribute,
  RadiusCode,
  findAttribute,
  readVlan,
} from '../../src/enforcement/radius/packet.js';
import type { RadiusEnforcementPoint } from '../../src/enforcement/radius/radius-point.js';
import type { EnforcementAlert } from '../../src/enforcement/service.js';
import { createTestDatabase } from '../support/storage.js';
import {
  makeRadiusPoint,
  radclient,
  requireRadclient,
  secret,
  startNasListener,
  type NasListener,
} from './radius-support.js';
import {
  enforcementConfig,
  makeDecision,
  makeDevice,
  startService,
  waitFor,
  type ServiceHarness,
} from './support.js';

const wiredMac = '02:00:00:5a:00:01';
const device = makeDevice({
  id: 'ventilator-2',
  macs: [wiredMac],
  interfaces: [{ mac: wiredMac, kind: 'wired' }],
});

function mab(portType: 'Ethernet' | 'Wireless-802.11', mac = wiredMac): string[] {
  const userName = mac.replaceAll(':', '');
  return [
    `User-Name = "${userName}"`,
    `User-Password = "${userName}"`,
    `Calling-Station-Id = "${mac.replaceAll(':', '-').toUpperCase()}"`,
    `NAS-Port-Type = ${portType}`,
    'NAS-IP-Address = 127.0.0.1',
    'NAS-Identifier = "ward-3-switch"',
    'Acct-Session-Id = "0000A1B2"',
    'Message-Authenticator = 0x00',
  ];
}

function showTranscript(t: TestContext, output: string): void {
  for (const line of output.split('\n')) {
    if (line.trim() !== '') {
      t.diagnostic(line);
    }
  }
}

describe('RADIUS with radclient', () => {
  let harness: ServiceHarness | undefined;
  let point: RadiusEnforcementPoint | undefined;
  let nas: NasListener | undefined;
  let skip: string | undefined;
  const radiusMetrics = createMetricsRegistry({ defaultMetrics: false });

  before(async (t) => {
    const context = {
      ...t,
      skip: (message?: string) => (skip = message ?? 'skipped'),
    } as unknown as TestContext;
    if (!(await requireRadclient(context))) {
      return;
    }
    const config = enforcementConfig({
      retry: { maxAttempts: 2, initialBackoffMs: 5, maxBackoffMs: 10 },
    });
    const database = await createTestDatabase('sqlite');
    nas = await startNasListener();
    point = makeRadiusPoint(config, database, { coaPort: nas.port }, radiusMetrics);
    harness = await startService([point], { config, database });
    await harness.service.apply(makeDecision(device, 'production'));
  });

  after(async () => {
    await harness?.dispose();
    await nas?.close();
  });

  const port = () => point!.server.address.port;

  test('MAB accept carries VLAN attributes', async (t) => {
    if (harness === undefined) {
      t.skip(skip);
      return;
    }
    const result = await radclient(port(), secret, mab('Ethernet'));
    showTranscript(t, result.output);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /Received Access-Accept/);
    assert.match(result.output, /Tunnel-Type(:0)? = VLAN/);
    assert.match(result.output, /Tunnel-Medium-Type(:0)? = IEEE-802/);
    assert.match(result.output, /Tunnel-Private-Group-Id(:0)? = "100"/);
    assert.match(result.output, /Message-Authenticator = 0x/);
  });

  test('tampered NAS-Port-Type rejected', async (t) => {
    if (harness === undefined) {
      t.skip(skip);
      return;
    }
    const result = await radclient(port(), secret, mab('Wireless-802.11'));
    showTranscript(t, result.output);
    assert.match(result.output, /Received Access-Reject/);
    assert.doesNotMatch(result.output, /Tunnel-Private-Group-Id/);
    const deadline = Date.now() + 2000;
    let records = await harness.audit.list({
      event: 'enforcement.radius-reject',
      targetId: device.id,
    });
    while (records.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      records = await harness.audit.list({
        event: 'enforcement.radius-reject',
        targetId: device.id,
      });
    }
    assert.equal(records.length, 1);
    assert.equal(records[0]!.details.check, 'port-type-mismatch');
  });

  test('wrong secret dropped', async (t) => {
    if (harness === undefined) {
      t.skip(skip);
      return;
    }
    const result = await radclient(port(), 'not-the-secret', mab('Ethernet'));
    showTranscript(t, result.output);
    assert.notEqual(result.code, 0);
    assert.doesNotMatch(result.output, /Received Access-(Accept|Reject)/);
    const dropped = await radiusMetrics.getSingleMetric('medward_radius_dropped_total')!.get();
    const badAuthenticator = dropped.values.find(
      (v) => v.labels.reason === 'bad-message-authenticator',
    );
    assert.equal(badAuthenticator?.value, 1);
  });

  test('CoA moves the live session', async (t) => {
    if (harness === undefined || nas === undefined) {
      t.skip(skip);
      return;
    }
    const accepted = await radclient(port(), secret, mab('Ethernet'));
    assert.match(accepted.output, /Received Access-Accept/);
    nas.answer = 'ack';
    const before = nas.received.length;
    const outcome = await harness.service.apply(makeDecision(device, 'quarantine'));
    assert.equal(outcome.status, 'in-force');
    assert.equal(nas.received.length, before + 1);
    const coa = nas.received.at(-1)!;
    assert.equal(coa.code, RadiusCode.CoaRequest);
    assert.equal(readVlan(coa), 900);
    assert.equal(
      findAttribute(coa, RadiusAttribute.CallingStationId)?.toString(),
      '02-00-00-5A-00-01',
    );
    assert.equal(findAttribute(coa, RadiusAttribute.AcctSessionId)?.toString(), '0000A1B2');
    t.diagnostic(`CoA-Request id ${coa.identifier}, VLAN ${readVlan(coa)}, answered CoA-ACK`);

    nas.answer = 'nak';
    const isolate = makeDecision(device, 'isolation');
    await assert.rejects(harness.service.apply(isolate), (error: unknown) => {
      assert.ok(isMedwardError(error));
      assert.equal(error.code, 'ENFORCEMENT_FAILED');
      assert.match(error.message, /NAK \(Error-Cause 503\)/);
      return true;
    });
    await waitFor(() =>
      harness!.alerts.some((alert) => (alert.data as EnforcementAlert).decisionId === isolate.id),
    );
    assert.equal(
      harness.service.describe().devices.find((d) => d.deviceId === device.id)?.status,
      'failed',
    );
  });
});
