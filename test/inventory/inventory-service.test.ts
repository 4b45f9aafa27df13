import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { AuditTrail } from '../../src/core/audit/index.js';
import { InProcessBus, type BusMessage } from '../../src/core/bus/index.js';
import { runWithContext, systemContext, type Actor } from '../../src/core/context.js';
import { isMedwardError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { InventoryService, type DeviceCreateInput } from '../../src/inventory/index.js';
import { createTestDatabase, type TestDatabase } from '../support/storage.js';

type Rows = Kysely<Record<string, Record<string, unknown>>>;

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isMedwardError(error), `expected a MedwardError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

let serial = 0;
function newDevice(overrides: Partial<DeviceCreateInput> = {}): DeviceCreateInput {
  serial += 1;
  return {
    manufacturer: 'Acme Medical',
    model: 'Monitor 7',
    serialNumber: `MON-${serial}`,
    lifeSustaining: false,
    criticality: 'moderate',
    ...overrides,
  };
}

const asActor = <T>(actor: Actor, fn: () => Promise<T>): Promise<T> =>
  runWithContext(systemContext(actor), fn);

describe('inventory service', () => {
  let database: TestDatabase;
  let audit: AuditTrail;
  let bus: InProcessBus;
  let inventory: InventoryService;
  const events: BusMessage[] = [];

  before(async () => {
    database = await createTestDatabase('sqlite');
    audit = new AuditTrail(database.storage, { siteId: 'test' });
    bus = new InProcessBus(silentLogger());
    await bus.start();
    await bus.subscribe({
      subject: 'inventory.device.>',
      group: 'test',
      handler: (message) => {
        events.push(message);
      },
    });
    inventory = new InventoryService({
      storage: database.storage,
      audit,
      logger: silentLogger(),
      bus,
    });
  });

  after(async () => {
    await bus.stop();
    await database.dispose();
  });

  test('create normalises identifiers', async () => {
    const device = await inventory.create(
      newDevice({
        systemId: '0123456789ABCDEF',
        macAddresses: ['02-AA-BB-CC-DD-EE', '02aa.bbcc.ddef', '02AABBCCDDF0'],
        certificateFingerprint: Array.from({ length: 32 }, () => 'AB').join(':'),
      }),
    );
    assert.equal(device.systemId, '0123456789abcdef');
    assert.deepEqual(device.macAddresses, [
      '02:aa:bb:cc:dd:ee',
      '02:aa:bb:cc:dd:ef',
      '02:aa:bb:cc:dd:f0',
    ]);
    assert.equal(device.certificateFingerprint, 'ab'.repeat(32));
    assert.equal(device.state, 'unknown');
    assert.equal(device.classification, 'confidential');
    assert.equal(device.version, 1);
    assert.deepEqual(await inventory.get(device.id), device);
  });

  test('create is audited and published', async () => {
    const device = await asActor({ kind: 'user', id: 'bob' }, () => inventory.create(newDevice()));
    const [record] = await audit.list({ targetId: device.id });
    assert.equal(record?.event, 'device.create');
    assert.equal(record.actorId, 'bob');
    assert.deepEqual(record.details.after, { ...device });
    await waitFor(() => events.some((event) => messageDeviceId(event) === device.id));
    const event = events.find((e) => messageDeviceId(e) === device.id);
    assert.equal(event?.subject, 'inventory.device.created');
  });

  test('create rejects identity clashes', async () => {
    const first = await inventory.create(
      newDevice({ systemId: 'aaaaaaaaaaaaaaaa', macAddresses: ['02:00:00:00:00:01'] }),
    );
    const head = await audit.head();
    await assert.rejects(
      inventory.create(
        newDevice({
          serialNumber: first.serialNumber,
          systemId: 'AAAAAAAAAAAAAAAA',
          macAddresses: ['02-00-00-00-00-01'],
        }),
      ),
      (error: unknown) => {
        assert.ok(isMedwardError(error));
        assert.equal(error.code, 'INVENTORY_IDENTITY_CONFLICT');
        const conflicts = error.details.conflicts as { field: string; deviceId: string }[];
        assert.deepEqual(
          conflicts.map((c) => c.field),
          ['serialNumber', 'systemId', 'macAddresses'],
        );
        assert.ok(conflicts.every((c) => c.deviceId === first.id));
        return true;
      },
    );
    assert.deepEqual(await audit.head(), head);
  });

  test('create rejects rule violations', async () => {
    const head = await audit.head();
    await assert.rejects(
      inventory.create(
        newDevice({
          lifeSustaining: true,
          criticality: 'high',
          macAddresses: [
            '01:00:5e:00:00:01',
            '00:00:00:00:00:00',
            '02:00:00:00:00:09',
            '02:00:00:00:00:09',
          ],
        }),
      ),
      (error: unknown) => {
        assert.ok(isMedwardError(error));
        assert.equal(error.code, 'INVENTORY_DEVICE_INVALID');
        const problems = error.details.problems as { path: string }[];
        assert.deepEqual(
          problems.map((p) => p.path),
          ['/macAddresses/0', '/macAddresses/1', '/macAddresses/3', '/criticality'],
        );
        return true;
      },
    );
    await rejectsWithCode(
      inventory.create(newDevice({ state: 'decommissioned' })),
      'INVENTORY_DEVICE_INVALID',
    );
    await rejectsWithCode(
      inventory.create({ ...newDevice(), colour: 'red' } as DeviceCreateInput),
      'INVENTORY_DEVICE_INVALID',
    );
    assert.deepEqual(await audit.head(), head);
  });

  test('update bumps version and audits changes', async () => {
    const device = await inventory.create(newDevice({ segment: 'ward-1', owner: 'ward 1' }));
    const updated = await inventory.update(
      device.id,
      { segment: 'ward-2', owner: null, softwareComponents: [{ name: 'zlib', version: '1.3' }] },
      1,
    );
    assert.equal(updated.version, 2);
    assert.equal(updated.segment, 'ward-2');
    assert.equal(updated.owner, null);
    assert.deepEqual(await inventory.get(device.id), updated);
    const [record] = await audit.list({ targetId: device.id, event: 'device.update' });
    assert.deepEqual(record?.details.before, {
      segment: 'ward-1',
      softwareComponents: [],
      owner: 'ward 1',
    });
    assert.deepEqual(record.details.after, {
      segment: 'ward-2',
      softwareComponents: [{ name: 'zlib', version: '1.3' }],
      owner: null,
    });
    assert.equal(record.details.toVersion, 2);
  });

  test('update without change writes nothing', async () => {
    const device = await inventory.create(newDevice({ segment: 'ward-3' }));
    const head = await audit.head();
    const same = await inventory.update(device.id, { segment: 'ward-3' }, 1);
    assert.deepEqual(same, device);
    assert.deepEqual(await audit.head(), head);
  });

  test('stale version is a conflict', async () => {
    const device = await inventory.create(newDevice());
    await inventory.update(device.id, { location: 'room 1' }, 1);
    const head = await audit.head();
    await assert.rejects(inventory.update(device.id, { location: 'room 2' }, 1), (error) => {
      assert.ok(isMedwardError(error));
      assert.equal(error.code, 'INVENTORY_VERSION_CONFLICT');
      assert.equal(error.kind, 'conflict');
      assert.deepEqual(error.details, {
        deviceId: device.id,
        expectedVersion: 1,
        currentVersion: 2,
      });
      return true;
    });
    assert.equal((await inventory.get(device.id)).location, 'room 1');
    assert.deepEqual(await audit.head(), head);
  });

  test('concurrent updates: one wins', async () => {
    const device = await inventory.create(newDevice());
    const results = await Promise.allSettled(
      ['a', 'b', 'c', 'd'].map((room) => inventory.update(device.id, { location: room }, 1)),
    );
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    assert.equal(fulfilled.length, 1);
    for (const result of results) {
      if (result.status === 'rejected') {
        assert.ok(isMedwardError(result.reason));
        assert.equal(result.reason.code, 'INVENTORY_VERSION_CONFLICT');
      }
    }
    assert.equal((await inventory.get(device.id)).version, 2);
  });

  test('update rejects a taken MAC address', async () => {
    const holder = await inventory.create(newDevice({ macAddresses: ['02:00:00:00:01:01'] }));
    const other = await inventory.create(newDevice());
    await rejectsWithCode(
      inventory.update(other.id, { macAddresses: ['02:00:00:00:01:01'] }, 1),
      'INVENTORY_IDENTITY_CONFLICT',
    );
    // A device may keep its own addresses while other fields change.
    const kept = await inventory.update(
      holder.id,
      { macAddresses: ['02:00:00:00:01:01', '02:00:00:00:01:02'] },
      1,
    );
    assert.equal(kept.macAddresses.length, 2);
  });

  test('decommission is final', async () => {
    const device = await inventory.create(newDevice({ state: 'production' }));
    await rejectsWithCode(
      inventory.update(device.id, { state: 'decommissioned' }, 1),
      'INVENTORY_DEVICE_INVALID',
    );
    const retired = await inventory.decommission(device.id, { reason: 'end of life' });
    assert.equal(retired.state, 'decommissioned');
    assert.equal(retired.version, 2);
    const [record] = await audit.list({ targetId: device.id, event: 'device.decommission' });
    assert.deepEqual(record?.details.before, { state: 'production' });
    assert.equal(record.reason, 'end of life');
    await rejectsWithCode(inventory.decommission(device.id), 'INVENTORY_DEVICE_DECOMMISSIONED');
    await rejectsWithCode(
      inventory.update(device.id, { location: 'store' }, 2),
      'INVENTORY_DEVICE_DECOMMISSIONED',
    );
    assert.deepEqual(await inventory.get(device.id), retired);
  });

  test('automation cannot cut off life support', async () => {
    const device = await inventory.create(
      newDevice({ state: 'production', lifeSustaining: true, criticality: 'critical' }),
    );
    const rule: Actor = { kind: 'automation', id: 'quarantine-on-anomaly' };
    await rejectsWithCode(
      asActor(rule, () => inventory.update(device.id, { state: 'quarantined' }, 1)),
      'INVENTORY_LIFE_SUSTAINING_MANUAL_ONLY',
    );
    await rejectsWithCode(
      asActor(rule, () => inventory.decommission(device.id)),
      'INVENTORY_LIFE_SUSTAINING_MANUAL_ONLY',
    );
    const person = await asActor({ kind: 'user', id: 'nurse' }, () =>
      inventory.update(device.id, { state: 'quarantined' }, 1),
    );
    assert.equal(person.state, 'quarantined');
  });

  test('missing device is not found', async () => {
    await rejectsWithCode(
      inventory.get('00000000-0000-4000-8000-000000000000'),
      'INVENTORY_DEVICE_NOT_FOUND',
    );
    await rejectsWithCode(
      inventory.update('00000000-0000-4000-8000-000000000000', { owner: 'x' }, 1),
      'INVENTORY_DEVICE_NOT_FOUND',
    );
  });

  test('list pages without gaps', async () => {
    const devices = [];
    for (let i = 0; i < 12; i += 1) {
      devices.push(await inventory.create(newDevice({ manufacturer: 'Pager Inc' })));
    }
    // Pages follow (createdAt, id): devices created in the same millisecond are ordered by id.
    const byCreationThenId = (a: { createdAt: string; id: string }, b: typeof a): number => {
      if (a.createdAt !== b.createdAt) {
        return a.createdAt < b.createdAt ? -1 : 1;
      }
      return a.id < b.id ? -1 : 1;
    };
    const created = devices.sort(byCreationThenId).map((device) => device.id);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await inventory.list({ manufacturer: 'Pager Inc', limit: 5, cursor });
      seen.push(...page.items.map((d) => d.id));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor !== undefined);
    assert.equal(pages, 3);
    assert.deepEqual(seen, created);
  });

  test('list rejects bad limit and cursor', async () => {
    await rejectsWithCode(inventory.list({ limit: 501 }), 'INVENTORY_LIMIT_INVALID');
    await rejectsWithCode(inventory.list({ limit: 0 }), 'INVENTORY_LIMIT_INVALID');
    await rejectsWithCode(inventory.list({ cursor: 'bm9wZQ' }), 'INVENTORY_CURSOR_INVALID');
    await rejectsWithCode(inventory.list({ cursor: '!!' }), 'INVENTORY_CURSOR_INVALID');
  });

  test('failed publish keeps the change', async () => {
    const stopped = new InProcessBus(silentLogger());
    const service = new InventoryService({
      storage: database.storage,
      audit,
      logger: silentLogger(),
      bus: stopped,
    });
    // The bus was never started, so publish rejects.
    await assert.rejects(stopped.publish('inventory.device.created', {}));
    const device = await service.create(newDevice());
    const row = await (database.storage.db as Rows)
      .selectFrom('device')
      .select('id')
      .where('id', '=', device.id)
      .executeTakeFirst();
    assert.equal(row?.id, device.id);
  });
});

function messageDeviceId(message: BusMessage): string | undefined {
  const data = message.data as { device?: { id?: string } } | null;
  return data?.device?.id;
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      assert.fail('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
