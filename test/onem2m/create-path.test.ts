import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { DialectName } from '../../src/core/storage/index.js';
import { formatTimestamp } from '../../src/onem2m/time.js';
import { requireService } from '../support/services.js';
import { body, dbg, registerAe, startTestCse, type TestCse } from './support.js';

/**
 * The contentInstance CREATE path: cached parent resolution and its
 * invalidation, and group commit with the log synced before the response.
 */
function runCreatePath(dialect: DialectName): void {
  describe(`contentInstance create path on ${dialect}`, () => {
    let env: TestCse | undefined;
    let owner = '';
    let nurse = '';

    before(async (t) => {
      if (dialect === 'postgres' && !(await requireService(t as TestContext, 'postgres'))) {
        return;
      }
      env = await startTestCse(dialect);
      owner = await registerAe(env, 'Cowner');
      nurse = await registerAe(env, 'Cnurse');
    });

    after(async () => {
      await env?.dispose();
    });

    const use = (t: TestContext): TestCse | undefined => {
      if (env === undefined) {
        t.skip('PostgreSQL is not reachable');
      }
      return env;
    };

    const createContainer = async (
      e: TestCse,
      rn: string,
      attributes: Record<string, unknown> = {},
    ): Promise<Record<string, unknown>> => {
      const response = await e.request({
        op: 1,
        to: `medward/${owner}`,
        fr: owner,
        ty: 3,
        pc: { 'm2m:cnt': { rn, ...attributes } },
      });
      assert.equal(response.rsc, 2001, dbg(response));
      return body(response, 'm2m:cnt');
    };

    const createInstance = (e: TestCse, rn: string, con: string, fr = owner) =>
      e.request({ op: 1, to: `medward/${owner}/${rn}`, fr, ty: 4, pc: { 'm2m:cin': { con } } });

    const updateContainer = async (e: TestCse, rn: string, attributes: Record<string, unknown>) => {
      const response = await e.request({
        op: 3,
        to: `medward/${owner}/${rn}`,
        fr: owner,
        pc: { 'm2m:cnt': attributes },
      });
      assert.equal(response.rsc, 2004, dbg(response));
    };

    const containerOf = async (e: TestCse, rn: string): Promise<Record<string, unknown>> =>
      body(await e.request({ op: 2, to: `medward/${owner}/${rn}`, fr: owner }), 'm2m:cnt');

    test('mni update applies to next create', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'mni-change', { mni: 5 });
      for (const con of ['a', 'b', 'c']) {
        assert.equal((await createInstance(e, 'mni-change', con)).rsc, 2001);
      }
      await updateContainer(e, 'mni-change', { mni: 2 });
      assert.equal((await createInstance(e, 'mni-change', 'd')).rsc, 2001);
      const container = await containerOf(e, 'mni-change');
      assert.equal(container.cni, 2);
      assert.equal(container.cbs, 2);
    });

    test('mbs update applies to next create', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'mbs-change', { mbs: 100 });
      assert.equal((await createInstance(e, 'mbs-change', 'x'.repeat(20))).rsc, 2001);
      await updateContainer(e, 'mbs-change', { mbs: 10 });
      const tooBig = await createInstance(e, 'mbs-change', 'y'.repeat(20));
      assert.equal(tooBig.rsc, 5207, dbg(tooBig));
    });

    test('recreated container gets the instances', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      const first = await createContainer(e, 'reborn');
      assert.equal((await createInstance(e, 'reborn', 'old')).rsc, 2001);
      const deleted = await e.request({ op: 4, to: `medward/${owner}/reborn`, fr: owner });
      assert.equal(deleted.rsc, 2002, dbg(deleted));
      const orphan = await createInstance(e, 'reborn', 'nowhere');
      assert.equal(orphan.rsc, 4004, dbg(orphan));
      const second = await createContainer(e, 'reborn');
      assert.notEqual(second.ri, first.ri);
      const created = await createInstance(e, 'reborn', 'new');
      assert.equal(created.rsc, 2001, dbg(created));
      assert.equal(body(created, 'm2m:cin').pi, second.ri);
      assert.equal((await containerOf(e, 'reborn')).cni, 1);
    });

    test('acpi change denies next create', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      const policy = async (rn: string, nurseOperations: number): Promise<string> => {
        const response = await e.request({
          op: 1,
          to: `medward/${owner}`,
          fr: owner,
          ty: 1,
          pc: {
            'm2m:acp': {
              rn,
              pv: { acr: [{ acor: [nurse], acop: nurseOperations }] },
              pvs: { acr: [{ acor: [owner], acop: 63 }] },
            },
          },
        });
        assert.equal(response.rsc, 2001, dbg(response));
        return String(body(response, 'm2m:acp').ri);
      };
      const writable = await policy('nurse-writes', 1 + 2);
      const readable = await policy('nurse-reads', 2);
      await createContainer(e, 'guarded', { acpi: [writable] });
      assert.equal((await createInstance(e, 'guarded', '72', nurse)).rsc, 2001);
      await updateContainer(e, 'guarded', { acpi: [readable] });
      const denied = await createInstance(e, 'guarded', '73', nurse);
      assert.equal(denied.rsc, 4103, dbg(denied));
    });

    test('expired container is 4004 on create', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'short-lived', { et: formatTimestamp(Date.now() + 400) });
      assert.equal((await createInstance(e, 'short-lived', 'x')).rsc, 2001);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const late = await createInstance(e, 'short-lived', 'y');
      assert.equal(late.rsc, 4004, dbg(late));
    });

    test('failed create leaves its batch alone', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'mixed', { mbs: 50 });
      const responses = await Promise.all(
        Array.from({ length: 12 }, (_, index) =>
          createInstance(e, 'mixed', index === 5 ? 'z'.repeat(60) : `v${index}`),
        ),
      );
      const statuses = responses.map((response) => response.rsc);
      assert.equal(statuses.filter((rsc) => rsc === 2001).length, 11, statuses.join(','));
      assert.equal(responses[5]?.rsc, 5207);
      const container = await containerOf(e, 'mixed');
      assert.equal(container.cni, 11);
    });

    test('duplicate name in a batch is undone', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'named');
      // The duplicate fails at its INSERT, after it counted itself in the
      // container, so only a rollback of its own changes keeps cni right.
      const names = ['a', 'b', 'c', 'b', 'd', 'e'];
      const responses = await Promise.all(
        names.map((rn) =>
          e.request({
            op: 1,
            to: `medward/${owner}/named`,
            fr: owner,
            ty: 4,
            pc: { 'm2m:cin': { rn, con: `value ${rn}` } },
          }),
        ),
      );
      const statuses = responses.map((response) => response.rsc);
      assert.equal(statuses.filter((rsc) => rsc === 2001).length, 5, statuses.join(','));
      assert.equal(statuses.filter((rsc) => rsc === 4105).length, 1, statuses.join(','));
      const container = await containerOf(e, 'named');
      assert.equal(container.cni, 5);
      assert.equal(container.cbs, 5 * 'value a'.length);
    });
  });
}

runCreatePath('sqlite');
runCreatePath('postgres');

/** Holds every fs.fdatasync call until `release`; the code under test uses the stand-in. */
function holdFdatasync(): { held: () => number; release: () => void; restore: () => void } {
  const original = fs.fdatasync;
  let waiting: (() => void)[] = [];
  (fs as { fdatasync: unknown }).fdatasync = (
    fd: number,
    callback: (error: NodeJS.ErrnoException | null) => void,
  ) => {
    waiting.push(() => {
      original(fd, callback);
    });
  };
  syncBuiltinESMExports();
  return {
    held: () => waiting.length,
    release() {
      const released = waiting;
      waiting = [];
      for (const run of released) {
        run();
      }
    },
    restore() {
      (fs as { fdatasync: unknown }).fdatasync = original;
      syncBuiltinESMExports();
      this.release();
    },
  };
}

const isPending = async (promise: Promise<unknown>): Promise<boolean> => {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 30));
  return !settled;
};

describe('contentInstance create durability', () => {
  let env: TestCse;
  let owner = '';

  before(async () => {
    env = await startTestCse('sqlite');
    owner = await registerAe(env, 'Cdurable');
    const container = await env.request({
      op: 1,
      to: `medward/${owner}`,
      fr: owner,
      ty: 3,
      pc: { 'm2m:cnt': { rn: 'vitals' } },
    });
    assert.equal(container.rsc, 2001, dbg(container));
  });

  after(async () => {
    await env.dispose();
  });

  test('creates in later turns share a commit', async () => {
    const create = (con: string) =>
      env.request({
        op: 1,
        to: `medward/${owner}/vitals`,
        fr: owner,
        ty: 4,
        pc: { 'm2m:cin': { con } },
      });
    // The first create fills the originator and target caches, so the next
    // ones reach the write queue without a read of their own.
    assert.equal((await create('warm-up')).rsc, 2001);
    const storage = env.database.storage;
    const original = storage.transactionWithBackgroundSync.bind(storage);
    let transactions = 0;
    storage.transactionWithBackgroundSync = ((...parameters: Parameters<typeof original>) => {
      transactions += 1;
      return original(...parameters);
    }) as typeof original;
    try {
      const created: ReturnType<typeof create>[] = [];
      for (let index = 0; index < 4; index += 1) {
        created.push(create(`turn ${index}`));
        await new Promise((resolve) => setImmediate(resolve));
      }
      for (const response of await Promise.all(created)) {
        assert.equal(response.rsc, 2001, dbg(response));
      }
      assert.equal(transactions, 1);
    } finally {
      storage.transactionWithBackgroundSync = original;
    }
  });

  test('response waits for the log sync', async () => {
    const sync = holdFdatasync();
    try {
      const created = env.request({
        op: 1,
        to: `medward/${owner}/vitals`,
        fr: owner,
        ty: 4,
        pc: { 'm2m:cin': { con: 'held' } },
      });
      assert.equal(await isPending(created), true, 'no response before the sync');
      assert.ok(sync.held() >= 1);
      // The row is committed, but a reader must not report it before the sync either.
      const latest = env.request({ op: 2, to: `medward/${owner}/vitals/la`, fr: owner });
      assert.equal(await isPending(latest), true, 'no read response before the sync');
      sync.release();
      assert.equal((await created).rsc, 2001);
      const read = await latest;
      assert.equal(read.rsc, 2000, dbg(read));
      assert.equal(body(read, 'm2m:cin').con, 'held');
    } finally {
      sync.restore();
    }
  });
});
