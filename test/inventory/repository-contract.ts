import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { isMedwardError } from '../../src/core/errors.js';
import type { DialectName } from '../../src/core/storage/index.js';
import { DeviceRepository, type Device } from '../../src/inventory/index.js';
import { requireService } from '../support/services.js';
import { createTestDatabase, type TestDatabase } from '../support/storage.js';

let counter = 0;

/** Builds a complete device with unique identifiers; `overrides` replace single fields. */
export function sampleDevice(overrides: Partial<Device> = {}): Device {
  counter += 1;
  const suffix = counter.toString(16).padStart(4, '0');
  return {
    id: randomUUID(),
    manufacturer: 'Acme Medical',
    model: 'Infusor 3000',
    serialNumber: `SN-${suffix}`,
    udiDeviceIdentifier: '00844588003288',
    udiProductionIdentifier: `(21)${suffix}`,
    systemId: `0123456789ab${suffix}`,
    macAddresses: [`02:00:00:00:${suffix.slice(0, 2)}:${suffix.slice(2)}`],
    certificateFingerprint: 'ab'.repeat(32),
    state: 'production',
    segment: 'icu',
    classification: 'confidential',
    lifeSustaining: false,
    criticality: 'high',
    firmwareVersion: '4.2.1',
    softwareComponents: [
      { name: 'openssl', version: '3.0.13', purl: 'pkg:generic/openssl@3.0.13' },
      { name: 'busybox', version: '1.36.1', cpe: 'cpe:2.3:a:busybox:busybox:1.36.1:*:*:*:*:*:*:*' },
    ],
    location: 'ICU bed 4',
    owner: 'Biomedical engineering',
    version: 1,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, counter)).toISOString(),
    updatedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, counter)).toISOString(),
    ...overrides,
  };
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isMedwardError(error), `expected a MedwardError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

/** The inventory repository contract that every storage backend must pass. */
export function runDeviceRepositoryContract(dialect: DialectName): void {
  describe(`device repository on ${dialect}`, () => {
    let database: TestDatabase | undefined;
    let skip = false;
    const repository = new DeviceRepository();

    before(async (t) => {
      if (dialect === 'postgres' && !(await requireService(t as never, 'postgres'))) {
        skip = true;
        return;
      }
      database = await createTestDatabase(dialect);
    });

    after(async () => {
      await database?.dispose();
    });

    const use = (t: { skip: (message: string) => void }): TestDatabase | undefined => {
      if (skip || database === undefined) {
        t.skip('PostgreSQL is not reachable');
        return undefined;
      }
      return database;
    };

    test('insert and find round trip', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const device = sampleDevice({ lifeSustaining: true, criticality: 'critical' });
      await repository.insert(d.storage.db, device);
      assert.deepEqual(await repository.findById(d.storage.db, device.id), device);
      assert.equal(await repository.findById(d.storage.db, randomUUID()), undefined);
    });

    test('nulls and empty lists round trip', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const device = sampleDevice({
        udiDeviceIdentifier: null,
        udiProductionIdentifier: null,
        systemId: null,
        macAddresses: [],
        certificateFingerprint: null,
        segment: null,
        firmwareVersion: null,
        softwareComponents: [],
        location: null,
        owner: null,
      });
      await repository.insert(d.storage.db, device);
      assert.deepEqual(await repository.findById(d.storage.db, device.id), device);
    });

    test('duplicate serial becomes STORAGE_CONFLICT', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const first = sampleDevice();
      await repository.insert(d.storage.db, first);
      await rejectsWithCode(
        repository.insert(d.storage.db, sampleDevice({ serialNumber: first.serialNumber })),
        'STORAGE_CONFLICT',
      );
      // The same serial under another model is a different device.
      await repository.insert(
        d.storage.db,
        sampleDevice({ serialNumber: first.serialNumber, model: 'Infusor 4000' }),
      );
    });

    test('duplicate system id becomes STORAGE_CONFLICT', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const first = sampleDevice();
      await repository.insert(d.storage.db, first);
      await rejectsWithCode(
        repository.insert(d.storage.db, sampleDevice({ systemId: first.systemId })),
        'STORAGE_CONFLICT',
      );
    });

    test('duplicate MAC address becomes STORAGE_CONFLICT', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const first = sampleDevice();
      await repository.insert(d.storage.db, first);
      const second = sampleDevice({ macAddresses: first.macAddresses });
      await rejectsWithCode(
        d.storage.db.transaction().execute((trx) => repository.insert(trx, second)),
        'STORAGE_CONFLICT',
      );
      assert.equal(await repository.findById(d.storage.db, second.id), undefined);
      const owners = await repository.findMacAddressOwners(d.storage.db, first.macAddresses);
      assert.deepEqual(owners, [{ macAddress: first.macAddresses[0], deviceId: first.id }]);
    });

    test('identity lookups find the owner', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const device = sampleDevice();
      await repository.insert(d.storage.db, device);
      assert.equal(await repository.findIdBySerial(d.storage.db, device), device.id);
      assert.equal(await repository.findIdBySystemId(d.storage.db, device.systemId!), device.id);
      assert.equal(await repository.findIdBySystemId(d.storage.db, 'f'.repeat(16)), undefined);
    });

    test('update checks the expected version', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const device = sampleDevice();
      await repository.insert(d.storage.db, device);
      const next: Device = {
        ...device,
        state: 'quarantined',
        macAddresses: ['02:aa:bb:cc:dd:ee', '02:aa:bb:cc:dd:ef'],
        softwareComponents: [{ name: 'zlib', version: '1.3.1' }],
        version: 2,
        updatedAt: new Date().toISOString(),
      };
      const options = { macAddressesChanged: true, softwareComponentsChanged: true };
      assert.equal(await repository.update(d.storage.db, next, 5, options), false);
      assert.deepEqual(await repository.findById(d.storage.db, device.id), device);
      assert.equal(await repository.update(d.storage.db, next, 1, options), true);
      assert.deepEqual(await repository.findById(d.storage.db, device.id), next);
      assert.equal(await repository.update(d.storage.db, next, 1, options), false);
    });

    test('concurrent updates: one wins', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const device = sampleDevice();
      await repository.insert(d.storage.db, device);
      const options = { macAddressesChanged: false, softwareComponentsChanged: false };
      // Every transaction writes version 2 over version 1. PostgreSQL runs them
      // side by side; SQLite runs them one after another.
      const results = await Promise.allSettled(
        ['room a', 'room b', 'room c'].map((location) =>
          d.storage.db.transaction().execute(async (trx) => {
            await repository.findById(trx, device.id);
            return repository.update(trx, { ...device, location, version: 2 }, 1, options);
          }),
        ),
      );
      const written = results.filter((r) => r.status === 'fulfilled' && r.value);
      assert.equal(written.length, 1, JSON.stringify(results));
      const stored = await repository.findById(d.storage.db, device.id);
      assert.equal(stored?.version, 2);
    });

    test('list pages by creation time', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      // Devices created in the same millisecond are ordered by id.
      const createdAt = '2030-05-05T05:05:05.000Z';
      const devices = Array.from({ length: 7 }, () =>
        sampleDevice({ manufacturer: 'Paging Co', createdAt, updatedAt: createdAt }),
      );
      for (const device of devices) {
        await repository.insert(d.storage.db, device);
      }
      const expected = devices.map((device) => device.id).sort();
      const seen: string[] = [];
      let after: { createdAt: string; id: string } | undefined;
      for (;;) {
        const page = await repository.list(d.storage.db, { manufacturer: 'Paging Co' }, after, 3);
        seen.push(...page.map((device) => device.id));
        const last = page[page.length - 1];
        if (page.length < 3 || last === undefined) {
          break;
        }
        after = { createdAt: last.createdAt, id: last.id };
      }
      assert.deepEqual(seen, expected);
    });

    test('list applies every filter', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const base = { manufacturer: 'Filter Co' };
      const match = sampleDevice({
        ...base,
        model: 'Monitor X',
        state: 'quarantined',
        segment: 'ward-7',
        classification: 'restricted',
        lifeSustaining: true,
        criticality: 'critical',
      });
      const others = [
        sampleDevice({ ...base, model: 'Monitor X', state: 'production', segment: 'ward-7' }),
        sampleDevice({ ...base, model: 'Monitor Y', state: 'quarantined', segment: 'ward-7' }),
        sampleDevice({ ...base, model: 'Monitor X', state: 'quarantined', segment: 'ward-8' }),
      ];
      for (const device of [match, ...others]) {
        await repository.insert(d.storage.db, device);
      }

      const ids = async (filter: Parameters<DeviceRepository['list']>[1]) =>
        (await repository.list(d.storage.db, { ...base, ...filter }, undefined, 100)).map(
          (device) => device.id,
        );
      assert.deepEqual(await ids({ model: 'Monitor X', state: 'quarantined', segment: 'ward-7' }), [
        match.id,
      ]);
      assert.deepEqual(await ids({ classification: 'restricted' }), [match.id]);
      assert.deepEqual(await ids({ lifeSustaining: true }), [match.id]);
      assert.equal((await ids({ lifeSustaining: false })).length, 3);
      assert.equal((await ids({})).length, 4);
    });

    test('text search ignores case and wildcards', async (t) => {
      const d = use(t);
      if (!d) {
        return;
      }
      const base = { manufacturer: 'Search Co' };
      const byModel = sampleDevice({ ...base, model: 'Ventilator V60' });
      const bySerial = sampleDevice({ ...base, model: 'Pump', serialNumber: 'ab_%-VENT-9' });
      const neither = sampleDevice({ ...base, model: 'Pump', serialNumber: 'abX%-other' });
      for (const device of [byModel, bySerial, neither]) {
        await repository.insert(d.storage.db, device);
      }
      const search = async (text: string) =>
        (await repository.list(d.storage.db, { ...base, text }, undefined, 100))
          .map((device) => device.id)
          .sort();
      assert.deepEqual(await search('vent'), [byModel.id, bySerial.id].sort());
      // `_` and `%` match themselves, not any character.
      assert.deepEqual(await search('b_%'), [bySerial.id]);
      assert.deepEqual(await search('nothing-like-this'), []);
    });
  });
}
