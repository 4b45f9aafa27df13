import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { Value } from '@sinclair/typebox/value';
import type { Command } from 'commander';
import { AccessService, type ApiTokenInfo } from '../../src/access/index.js';
import { devicesCommand } from '../../src/cli/commands/devices.js';
import { tokenCommand } from '../../src/cli/commands/token.js';
import type { CliRuntime, RuntimeOptions } from '../../src/cli/runtime.js';
import { AuditTrail } from '../../src/core/audit/index.js';
import { ConfigSchema, type MedwardConfig } from '../../src/core/config/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { InventoryService, type Device, type DevicePage } from '../../src/inventory/index.js';
import { createTestDatabase, type TestDatabase } from '../support/storage.js';

interface Printed {
  json: boolean;
  data: unknown;
  text: string;
}

describe('token and devices commands', () => {
  let database: TestDatabase;
  let audit: AuditTrail;
  let access: AccessService;
  let inventory: InventoryService;
  let printed: Printed[];
  let opened = 0;
  let closed = 0;

  /** A CliRuntime on the test database; close() leaves the database open for the next command. */
  const openRuntime = (options: RuntimeOptions = {}): Promise<CliRuntime> => {
    opened += 1;
    return Promise.resolve({
      config: Value.Default(ConfigSchema, {}) as MedwardConfig,
      logger: silentLogger(),
      storage: database.storage,
      audit,
      access,
      inventory,
      print(data, text) {
        printed.push({ json: options.json === true, data, text: text() });
      },
      close() {
        closed += 1;
        return Promise.resolve();
      },
    });
  };

  const run = async (command: Command, args: string[]): Promise<Printed> => {
    printed = [];
    command.exitOverride();
    for (const sub of command.commands) {
      sub.exitOverride();
      sub.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    }
    await command.parseAsync(args, { from: 'user' });
    assert.equal(printed.length, 1, 'one print per command');
    return printed[0]!;
  };

  before(async () => {
    database = await createTestDatabase('sqlite');
    audit = new AuditTrail(database.storage, { siteId: 'test' });
    access = new AccessService({ storage: database.storage, audit, logger: silentLogger() });
    inventory = new InventoryService({ storage: database.storage, audit, logger: silentLogger() });
  });

  after(async () => {
    await database.dispose();
  });

  test('token create prints it once', async () => {
    const output = await run(tokenCommand(openRuntime), [
      'create',
      '--label',
      'night shift',
      '--role',
      'operator',
      'auditor',
      '--expires-in-days',
      '30',
    ]);
    assert.equal(output.json, false);
    const match = /\n {2}(mwd_[0-9a-f]{16}_[A-Za-z0-9_-]{43})\n/.exec(output.text);
    assert.ok(match?.[1], output.text);
    const actor = await access.authenticate(match[1]);
    assert.deepEqual(actor.roles, ['auditor', 'operator']);
    const info = await access.getToken(actor.id);
    const days = (Date.parse(info.expiresAt!) - Date.parse(info.createdAt)) / 86_400_000;
    assert.ok(Math.abs(days - 30) < 0.01, `expires in ${days} days`);

    const [record] = await audit.list({ targetId: actor.id, event: 'token.create' });
    assert.equal(record?.actorKind, 'user');
    assert.match(record.actorId, new RegExp(`${userInfo().username}$`));
    assert.equal(opened, closed, 'every opened runtime is closed');
  });

  test('token list hides secrets', async () => {
    const created = await access.createToken({ label: 'listed', roles: ['auditor'] });
    const text = await run(tokenCommand(openRuntime), ['list']);
    assert.match(text.text, /^ID\s+LABEL\s+ROLES\s+STATUS/);
    assert.ok(text.text.includes(created.info.id));
    const json = await run(tokenCommand(openRuntime), ['list', '--json']);
    assert.equal(json.json, true);
    const tokens = json.data as ApiTokenInfo[];
    assert.ok(tokens.some((token) => token.id === created.info.id));
    const secret = created.token.slice(21);
    assert.equal(JSON.stringify(json.data).includes(secret), false);
    assert.equal(text.text.includes(secret), false);
  });

  test('token revoke is audited', async () => {
    const created = await access.createToken({ label: 'to revoke', roles: ['operator'] });
    const output = await run(tokenCommand(openRuntime), [
      'revoke',
      created.info.id,
      '--reason',
      'left the team',
    ]);
    assert.equal(output.text, `revoked API token ${created.info.id} (to revoke)`);
    assert.equal((await access.getToken(created.info.id)).status, 'revoked');
    const [record] = await audit.list({ targetId: created.info.id, event: 'token.revoke' });
    assert.equal(record?.actorKind, 'user');
    assert.equal(record.reason, 'left the team');
    await assert.rejects(
      run(tokenCommand(openRuntime), ['revoke', created.info.id]),
      (error: unknown) => (error as { code?: string }).code === 'ACCESS_TOKEN_ALREADY_REVOKED',
    );
    assert.equal(opened, closed, 'runtime closed after a failure too');
  });

  test('token create rejects bad options', async () => {
    const cases: string[][] = [
      ['create', '--label', 'x', '--role', 'root'],
      ['create', '--label', 'x'],
      ['create', '--role', 'admin'],
      ['create', '--label', 'x', '--role', 'admin', '--expires-in-days', '0'],
      ['create', '--label', 'x', '--role', 'admin', '--expires-in-days', '1.5'],
    ];
    for (const args of cases) {
      const before = (await access.listTokens()).length;
      await assert.rejects(
        run(tokenCommand(openRuntime), args),
        (error: unknown) => (error as { code?: string }).code?.startsWith('commander.') === true,
        args.join(' '),
      );
      assert.equal((await access.listTokens()).length, before, args.join(' '));
    }
  });

  test('devices list and show', async () => {
    const created: Device[] = [];
    for (let i = 0; i < 3; i += 1) {
      created.push(
        await inventory.create({
          manufacturer: 'Acme Medical',
          model: 'Ventilator V60',
          serialNumber: `CLI-${i}`,
          lifeSustaining: i === 0,
          criticality: i === 0 ? 'critical' : 'high',
          state: 'production',
          segment: 'icu',
          softwareComponents: [{ name: 'zlib', version: '1.3.1' }],
        }),
      );
    }
    const first = await run(devicesCommand(openRuntime), [
      'list',
      '--state',
      'production',
      '--segment',
      'icu',
      '--limit',
      '2',
      '--json',
    ]);
    const page = first.data as DevicePage;
    assert.deepEqual(
      page.items.map((d) => d.id),
      created.slice(0, 2).map((d) => d.id),
    );
    assert.ok(page.nextCursor);
    const second = await run(devicesCommand(openRuntime), [
      'list',
      '--limit',
      '2',
      '--state',
      'production',
      '--cursor',
      page.nextCursor,
    ]);
    assert.ok(second.text.includes(created[2]!.id));
    assert.ok(second.text.includes('CLI-2'));
    assert.equal(second.text.includes('--cursor'), false, 'last page offers no cursor');

    const text = await run(devicesCommand(openRuntime), ['list', '--limit', '2']);
    assert.match(text.text, /critical \(life-sustaining\)/);
    assert.match(text.text, /repeat with --cursor \S+/);

    const shown = await run(devicesCommand(openRuntime), ['show', created[0]!.id]);
    assert.match(shown.text, /serial number\s+CLI-0/);
    assert.match(shown.text, /life-sustaining\s+yes/);
    assert.match(shown.text, /software components \(1\)\n {2}zlib 1\.3\.1/);
    const json = await run(devicesCommand(openRuntime), ['show', created[0]!.id, '--json']);
    assert.deepEqual(json.data, created[0]);
  });

  test('devices rejects bad options', async () => {
    for (const args of [
      ['list', '--limit', '0'],
      ['list', '--limit', '501'],
      ['list', '--state', 'lost'],
    ]) {
      await assert.rejects(
        run(devicesCommand(openRuntime), args),
        (error: unknown) => (error as { code?: string }).code?.startsWith('commander.') === true,
        args.join(' '),
      );
    }
    await assert.rejects(
      run(devicesCommand(openRuntime), ['show', '00000000-0000-4000-8000-000000000000']),
      (error: unknown) => (error as { code?: string }).code === 'INVENTORY_DEVICE_NOT_FOUND',
    );
  });
});
