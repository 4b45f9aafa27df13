import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { DialectName } from '../../src/core/storage/index.js';
import { formatTimestamp } from '../../src/onem2m/time.js';
import type { RequestPrimitive } from '../../src/onem2m/types.js';
import { requireService } from '../support/services.js';
import { ADMIN, body, dbg, registerAe, startTestCse, type TestCse } from './support.js';

/**
 * Behaviour that depends on the storage dialect: containers and their
 * counters, eviction, latest/oldest, discovery filters, expiration,
 * concurrency, and hostile filter values.
 */
export function runRepositoryContract(dialect: DialectName): void {
  describe(`oneM2M repository on ${dialect}`, () => {
    let env: TestCse | undefined;
    let aei = '';

    before(async (t) => {
      if (
        dialect === 'postgres' &&
        !(await requireService(t as unknown as TestContext, 'postgres'))
      ) {
        return;
      }
      env = await startTestCse(dialect);
      aei = await registerAe(env, 'Crepo');
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
    ) => {
      const response = await e.request({
        op: 1,
        to: `medward/${aei}`,
        fr: aei,
        ty: 3,
        pc: { 'm2m:cnt': { rn, ...attributes } },
      });
      assert.equal(response.rsc, 2001, dbg(response));
      return body(response, 'm2m:cnt');
    };

    const createInstance = (
      e: TestCse,
      to: string,
      con: unknown,
      extra: Record<string, unknown> = {},
    ) => e.request({ op: 1, to, fr: aei, ty: 4, pc: { 'm2m:cin': { con, ...extra } } });

    const retrieve = (e: TestCse, to: string, extra: Record<string, unknown> = {}) =>
      e.request({ op: 2, to, fr: aei, ...extra });

    test('container create retrieve update delete', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      const created = await createContainer(e, 'crud', { lbl: ['ward:3'], mni: 5 });
      assert.equal(created.cni, 0);
      assert.equal(created.cbs, 0);
      assert.equal(created.st, 0);
      assert.equal(created.pi, aei);
      assert.match(String(created.ct), /^\d{8}T\d{6},\d{6}$/);
      const read = await retrieve(e, `medward/${aei}/crud`);
      assert.equal(read.rsc, 2000);
      assert.deepEqual(body(read, 'm2m:cnt').lbl, ['ward:3']);
      const updated = await e.request({
        op: 3,
        to: `medward/${aei}/crud`,
        fr: aei,
        pc: { 'm2m:cnt': { mni: 7, lbl: ['ward:4'] } },
      });
      assert.equal(updated.rsc, 2004, dbg(updated));
      assert.equal(body(updated, 'm2m:cnt').mni, 7);
      assert.equal(body(updated, 'm2m:cnt').st, 1);
      const deleted = await e.request({ op: 4, to: `medward/${aei}/crud`, fr: aei });
      assert.equal(deleted.rsc, 2002);
      assert.equal((await retrieve(e, `medward/${aei}/crud`)).rsc, 4004);
    });

    test('duplicate name is 4105', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'twice');
      const again = await e.request({
        op: 1,
        to: `medward/${aei}`,
        fr: aei,
        ty: 3,
        pc: { 'm2m:cnt': { rn: 'twice' } },
      });
      assert.equal(again.rsc, 4105);
      assert.match(dbg(again), /twice/);
    });

    test('contentInstance counters and eviction by mni', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'mni', { mni: 3 });
      const sizes: number[] = [];
      for (let index = 0; index < 6; index += 1) {
        const con = `value-${index}`;
        const response = await createInstance(e, `medward/${aei}/mni`, con);
        assert.equal(response.rsc, 2001, dbg(response));
        const instance = body(response, 'm2m:cin');
        assert.equal(instance.cs, con.length);
        assert.equal(instance.st, index + 1);
        sizes.push(con.length);
      }
      const container = body(await retrieve(e, `medward/${aei}/mni`), 'm2m:cnt');
      assert.equal(container.cni, 3);
      assert.equal(
        container.cbs,
        sizes.slice(3).reduce((a, b) => a + b, 0),
      );
      assert.equal(body(await retrieve(e, `medward/${aei}/mni/ol`), 'm2m:cin').con, 'value-3');
      assert.equal(body(await retrieve(e, `medward/${aei}/mni/la`), 'm2m:cin').con, 'value-5');
    });

    test('eviction by mbs keeps cbs right', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'mbs', { mbs: 10 });
      for (const con of ['aaaa', 'bbbb', 'cccc', 'dd']) {
        assert.equal((await createInstance(e, `medward/${aei}/mbs`, con)).rsc, 2001);
      }
      const container = body(await retrieve(e, `medward/${aei}/mbs`), 'm2m:cnt');
      assert.equal(container.cbs, 10);
      assert.equal(container.cni, 3);
      const tooBig = await createInstance(e, `medward/${aei}/mbs`, 'x'.repeat(11));
      assert.equal(tooBig.rsc, 5207);
      const unchanged = body(await retrieve(e, `medward/${aei}/mbs`), 'm2m:cnt');
      assert.equal(unchanged.cbs, 10);
      assert.equal(unchanged.cni, 3);
    });

    test('lowering mni evicts at once', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'lower');
      for (let index = 0; index < 5; index += 1) {
        await createInstance(e, `medward/${aei}/lower`, `v${index}`);
      }
      const updated = await e.request({
        op: 3,
        to: `medward/${aei}/lower`,
        fr: aei,
        pc: { 'm2m:cnt': { mni: 2 } },
      });
      assert.equal(updated.rsc, 2004);
      assert.equal(body(updated, 'm2m:cnt').cni, 2);
      assert.equal(body(await retrieve(e, `medward/${aei}/lower/ol`), 'm2m:cin').con, 'v3');
    });

    test('contentInstance is immutable', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'immutable');
      const created = body(await createInstance(e, `medward/${aei}/immutable`, 'x'), 'm2m:cin');
      const update = await e.request({
        op: 3,
        to: String(created.ri),
        fr: aei,
        pc: { 'm2m:cin': { con: 'y' } },
      });
      assert.equal(update.rsc, 4005);
      const read = await retrieve(e, String(created.ri));
      assert.equal(body(read, 'm2m:cin').con, 'x');
    });

    test('deleting latest and oldest', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'edges');
      for (const con of ['a', 'b', 'c']) {
        await createInstance(e, `medward/${aei}/edges`, con);
      }
      assert.equal((await e.request({ op: 4, to: `medward/${aei}/edges/la`, fr: aei })).rsc, 2002);
      assert.equal((await e.request({ op: 4, to: `medward/${aei}/edges/ol`, fr: aei })).rsc, 2002);
      const container = body(await retrieve(e, `medward/${aei}/edges`), 'm2m:cnt');
      assert.equal(container.cni, 1);
      assert.equal(container.cbs, 1);
      assert.equal(body(await retrieve(e, `medward/${aei}/edges/la`), 'm2m:cin').con, 'b');
      const empty = await createContainer(e, 'empty');
      assert.ok(empty);
      assert.equal((await retrieve(e, `medward/${aei}/empty/la`)).rsc, 4004);
      assert.equal(
        (
          await e.request({
            op: 1,
            to: `medward/${aei}/edges/la`,
            fr: aei,
            ty: 4,
            pc: { 'm2m:cin': { con: 1 } },
          })
        ).rsc,
        4005,
      );
    });

    test('expired instances are invisible and uncounted', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'expiring');
      const soon = formatTimestamp(Date.now() + 400);
      assert.equal(
        (await createInstance(e, `medward/${aei}/expiring`, 'short', { et: soon })).rsc,
        2001,
      );
      assert.equal((await createInstance(e, `medward/${aei}/expiring`, 'long')).rsc, 2001);
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(body(await retrieve(e, `medward/${aei}/expiring/ol`), 'm2m:cin').con, 'long');
      assert.equal((await createInstance(e, `medward/${aei}/expiring`, 'third')).rsc, 2001);
      const container = body(await retrieve(e, `medward/${aei}/expiring`), 'm2m:cnt');
      assert.equal(container.cni, 2);
      assert.equal(container.cbs, 'long'.length + 'third'.length);
    });

    test('expired container is removed by the sweep', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'gone', { et: formatTimestamp(Date.now() + 300) });
      await createInstance(e, `medward/${aei}/gone`, 'x');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal((await retrieve(e, `medward/${aei}/gone`)).rsc, 4004);
      const removed = await e.cse.core.sweepExpired();
      assert.ok(removed >= 1);
      assert.equal(
        await e.cse.core.store.srnTaken(e.cse.core.store.db, `medward/${aei}/gone`),
        false,
      );
    });

    test('et in the past is 4000', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      const response = await e.request({
        op: 1,
        to: `medward/${aei}`,
        fr: aei,
        ty: 3,
        pc: { 'm2m:cnt': { et: '20000101T000000' } },
      });
      assert.equal(response.rsc, 4000);
    });

    test('concurrent unnamed creations never collide', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'parallel', { mni: 1000 });
      const responses = await Promise.all(
        Array.from({ length: 50 }, (_, index) =>
          createInstance(e, `medward/${aei}/parallel`, `p${index}`),
        ),
      );
      for (const response of responses) {
        assert.equal(response.rsc, 2001, dbg(response));
      }
      const names = new Set(responses.map((response) => body(response, 'm2m:cin').rn));
      assert.equal(names.size, 50);
      const tags = new Set(responses.map((response) => body(response, 'm2m:cin').st));
      assert.equal(tags.size, 50);
      const container = body(await retrieve(e, `medward/${aei}/parallel`), 'm2m:cnt');
      assert.equal(container.cni, 50);
      assert.equal(container.st, 50);
    });

    test('concurrent eviction keeps counters right', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'racing', { mni: 5 });
      await Promise.all(
        Array.from({ length: 40 }, (_, index) =>
          createInstance(e, `medward/${aei}/racing`, 'x'.repeat(index % 7)),
        ),
      );
      const container = body(await retrieve(e, `medward/${aei}/racing`), 'm2m:cnt');
      assert.equal(container.cni, 5);
      const children = await retrieve(e, `medward/${aei}/racing`, { rcn: 8 });
      const instances = body(children, 'm2m:cnt')['m2m:cin'] as { cs: number }[];
      assert.equal(instances.length, 5);
      assert.equal(
        container.cbs,
        instances.reduce((sum, instance) => sum + instance.cs, 0),
      );
    });

    test('discovery by type label and level', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'disc', { lbl: ['kind:vitals'] });
      await e.request({
        op: 1,
        to: `medward/${aei}/disc`,
        fr: aei,
        ty: 3,
        pc: { 'm2m:cnt': { rn: 'inner', lbl: ['kind:vitals', 'bed:2'] } },
      });
      await createInstance(e, `medward/${aei}/disc/inner`, 'x', { lbl: ['bed:2'] });
      const all = await retrieve(e, `medward/${aei}/disc`, { fc: { fu: 1 } });
      assert.equal(all.rsc, 2000);
      assert.equal((all.pc as { 'm2m:uril': string[] })['m2m:uril'].length, 2);
      const byLabel = await retrieve(e, `medward/${aei}`, { fc: { fu: 1, lbl: ['bed:2'] } });
      assert.equal((byLabel.pc as { 'm2m:uril': string[] })['m2m:uril'].length, 2);
      const byType = await retrieve(e, `medward/${aei}`, {
        fc: { fu: 1, ty: [3], lbl: ['kind:vitals'] },
      });
      assert.deepEqual((byType.pc as { 'm2m:uril': string[] })['m2m:uril'].sort(), [
        `medward/${aei}/disc`,
        `medward/${aei}/disc/inner`,
      ]);
      const orFilter = await retrieve(e, `medward/${aei}/disc`, {
        fc: { fu: 1, ty: [4], lbl: ['kind:vitals'], fo: 2 },
      });
      assert.equal((orFilter.pc as { 'm2m:uril': string[] })['m2m:uril'].length, 2);
      const shallow = await retrieve(e, `medward/${aei}/disc`, { fc: { fu: 1, lvl: 1 } });
      assert.deepEqual((shallow.pc as { 'm2m:uril': string[] })['m2m:uril'], [
        `medward/${aei}/disc/inner`,
      ]);
      const unstructured = await retrieve(e, `medward/${aei}/disc`, {
        fc: { fu: 1, lvl: 1 },
        drt: 2,
      });
      assert.match((unstructured.pc as { 'm2m:uril': string[] })['m2m:uril'][0] ?? '', /^cnt/);
    });

    test('discovery limit offset and created before', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'paged', { mni: 100 });
      for (let index = 0; index < 7; index += 1) {
        await createInstance(e, `medward/${aei}/paged`, index);
      }
      const page = await retrieve(e, `medward/${aei}/paged`, { fc: { fu: 1, lim: 3, ofst: 2 } });
      assert.equal((page.pc as { 'm2m:uril': string[] })['m2m:uril'].length, 3);
      assert.equal(page.cnst, 2);
      assert.equal(page.cnot, 5);
      const last = await retrieve(e, `medward/${aei}/paged`, { fc: { fu: 1, lim: 3, ofst: 6 } });
      assert.equal((last.pc as { 'm2m:uril': string[] })['m2m:uril'].length, 1);
      assert.equal(last.cnst, undefined);
      const none = await retrieve(e, `medward/${aei}/paged`, {
        fc: { fu: 1, crb: '20000101T000000' },
      });
      assert.deepEqual((none.pc as { 'm2m:uril': string[] })['m2m:uril'], []);
      const rrl = await retrieve(e, `medward/${aei}/paged`, { fc: { fu: 1, lim: 1 }, rcn: 6 });
      const references = (rrl.pc as { 'm2m:rrl': { rrf: { typ: number }[] } })['m2m:rrl'].rrf;
      assert.equal(references[0]?.typ, 4);
    });

    test('SQL in label and level changes nothing', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'sqlsafe', { lbl: ["a' OR '1'='1"] });
      const hostile = [
        "x' OR '1'='1",
        "'; DROP TABLE onem2m_resource; --",
        'bed") OR 1=1 --',
        "a' OR '1'='1",
      ];
      const response = await retrieve(e, `medward/${aei}`, { fc: { fu: 1, lbl: hostile } });
      assert.equal(response.rsc, 2000);
      assert.deepEqual((response.pc as { 'm2m:uril': string[] })['m2m:uril'], [
        `medward/${aei}/sqlsafe`,
      ]);
      const level = await e.request({
        op: 2,
        to: `medward/${aei}`,
        fr: aei,
        fc: { fu: 1, lvl: '1; DROP TABLE onem2m_resource' as unknown as number },
      });
      assert.equal(level.rsc, 4000);
      const stillThere = await retrieve(e, `medward/${aei}/sqlsafe`);
      assert.equal(stillThere.rsc, 2000);
      const labelInName = await e.request({ op: 2, to: `medward/${aei}/x' OR '1'='1`, fr: aei });
      assert.equal(labelInName.rsc, 4000);
    });

    test('result content variants', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'rcn');
      await createInstance(e, `medward/${aei}/rcn`, 'one');
      const nothing = await e.request({
        op: 1,
        to: `medward/${aei}/rcn`,
        fr: aei,
        ty: 4,
        rcn: 0,
        pc: { 'm2m:cin': { con: 'two' } },
      });
      assert.equal(nothing.rsc, 2001);
      assert.equal(nothing.pc, undefined);
      const address = await e.request({
        op: 1,
        to: `medward/${aei}/rcn`,
        fr: aei,
        ty: 4,
        rcn: 2,
        pc: { 'm2m:cin': { con: 'three', rn: 'third' } },
      });
      assert.equal((address.pc as { 'm2m:uri': string })['m2m:uri'], `medward/${aei}/rcn/third`);
      const both = await e.request({
        op: 1,
        to: `medward/${aei}/rcn`,
        fr: aei,
        ty: 3,
        rcn: 3,
        pc: { 'm2m:cnt': { rn: 'sub' } },
      });
      const rce = (both.pc as { 'm2m:rce': { uri: string; 'm2m:cnt': { rn: string } } })['m2m:rce'];
      assert.equal(rce.uri, `medward/${aei}/rcn/sub`);
      assert.equal(rce['m2m:cnt'].rn, 'sub');
      const modified = await e.request({
        op: 1,
        to: `medward/${aei}/rcn`,
        fr: aei,
        ty: 4,
        rcn: 9,
        pc: { 'm2m:cin': { con: 'four' } },
      });
      assert.equal(body(modified, 'm2m:cin').con, undefined);
      assert.ok(body(modified, 'm2m:cin').ri);
      const withChildren = await retrieve(e, `medward/${aei}/rcn`, { rcn: 4 });
      const tree = body(withChildren, 'm2m:cnt');
      assert.equal(tree.rn, 'rcn');
      assert.equal((tree['m2m:cin'] as unknown[]).length, 4);
      assert.equal((tree['m2m:cnt'] as unknown[]).length, 1);
      const references = await retrieve(e, `medward/${aei}/rcn`, { rcn: 5 });
      assert.equal((body(references, 'm2m:cnt').ch as unknown[]).length, 5);
      const onlyReferences = await retrieve(e, `medward/${aei}/rcn`, { rcn: 6 });
      assert.equal(
        (onlyReferences.pc as { 'm2m:rrl': { rrf: unknown[] } })['m2m:rrl'].rrf.length,
        5,
      );
      const onlyChildren = await retrieve(e, `medward/${aei}/rcn`, {
        rcn: 8,
        fc: { fu: 2, ty: [4] },
      });
      const childTree = body(onlyChildren, 'm2m:cnt');
      assert.equal(childTree.rn, undefined);
      assert.equal((childTree['m2m:cin'] as unknown[]).length, 4);
      assert.equal((await retrieve(e, `medward/${aei}/rcn`, { rcn: 7 })).rsc, 2000);
      assert.equal((await retrieve(e, `medward/${aei}/rcn`, { rcn: 2 })).rsc, 4000);
      const updateNothing = await e.request({
        op: 3,
        to: `medward/${aei}/rcn`,
        fr: aei,
        rcn: 0,
        pc: { 'm2m:cnt': { lbl: ['x'] } },
      });
      assert.equal(updateNothing.rsc, 2004);
      assert.equal(updateNothing.pc, undefined);
      const updateModified = await e.request({
        op: 3,
        to: `medward/${aei}/rcn`,
        fr: aei,
        rcn: 9,
        pc: { 'm2m:cnt': { lbl: ['y'] } },
      });
      assert.deepEqual(Object.keys(body(updateModified, 'm2m:cnt')).sort(), ['lbl', 'lt', 'st']);
      const deleteAttributes = await e.request({
        op: 4,
        to: `medward/${aei}/rcn/third`,
        fr: aei,
        rcn: 1,
      });
      assert.equal(body(deleteAttributes, 'm2m:cin').con, 'three');
    });

    test('addressing forms reach the same resource', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      const created = await createContainer(e, 'addr');
      const ri = String(created.ri);
      const cseId = e.config.cseId;
      const forms = [
        `medward/${aei}/addr`,
        ri,
        `${cseId}/medward/${aei}/addr`,
        `${cseId}/-/${aei}/addr`,
        `${cseId}/${ri}`,
        `//${e.config.spId}${cseId}/${ri}`,
        `//${e.config.spId}${cseId}/medward/${aei}/addr`,
      ];
      for (const to of forms) {
        const response = await retrieve(e, to);
        assert.equal(response.rsc, 2000, `${to}: ${dbg(response)}`);
        assert.equal(body(response, 'm2m:cnt').ri, ri, to);
      }
      assert.equal((await retrieve(e, `/id-elsewhere/${ri}`)).rsc, 5103);
      assert.equal((await retrieve(e, `${ri}/child`)).rsc, 4004);
      const base = await e.request({ op: 2, to: cseId, fr: ADMIN });
      assert.equal(body(base, 'm2m:cb').csi, cseId);
    });

    test('bad input changes nothing', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'guarded');
      const attempts: (Partial<RequestPrimitive> & { op: number; to: string })[] = [
        { op: 1, to: `medward/${aei}/guarded`, fr: aei, ty: 99, pc: { 'm2m:xyz': {} } },
        { op: 1, to: `medward/${aei}/guarded`, fr: aei, ty: 4, pc: { 'm2m:cnt': { con: 'x' } } },
        { op: 1, to: `medward/${aei}/guarded`, fr: aei, ty: 3, pc: { 'm2m:cnt': { rn: 'la' } } },
        {
          op: 1,
          to: `medward/${aei}/guarded`,
          fr: aei,
          ty: 3,
          pc: { 'm2m:cnt': { rn: 'bad name' } },
        },
        { op: 1, to: `medward/${aei}/guarded`, fr: aei, ty: 3, pc: { 'm2m:cnt': { mni: -1 } } },
        { op: 1, to: `medward/${aei}/guarded`, fr: aei, ty: 3, pc: { 'm2m:cnt': { cni: 5 } } },
        { op: 1, to: `medward/${aei}/guarded`, fr: aei, ty: 4, pc: { 'm2m:cin': { cnf: 'text' } } },
        { op: 3, to: `medward/${aei}/guarded`, fr: aei, pc: { 'm2m:cnt': { cni: 9 } } },
        { op: 3, to: `medward/${aei}/guarded`, fr: aei, pc: { 'm2m:cnt': { rn: 'renamed' } } },
        { op: 3, to: `medward/${aei}/guarded`, fr: aei, pc: { 'm2m:cnt': { mbs: 'big' } } },
      ];
      for (const attempt of attempts) {
        const response = await e.request(attempt);
        assert.equal(response.rsc, 4000, `${JSON.stringify(attempt.pc)}: ${dbg(response)}`);
        assert.ok(dbg(response).length > 10);
      }
      const container = body(await retrieve(e, `medward/${aei}/guarded`), 'm2m:cnt');
      assert.equal(container.cni, 0);
      assert.equal(container.st, 0);
      assert.equal(container.rn, 'guarded');
      const children = await retrieve(e, `medward/${aei}/guarded`, { rcn: 6 });
      assert.deepEqual((children.pc as { 'm2m:rrl': { rrf: unknown[] } })['m2m:rrl'].rrf, []);
    });

    test('child type rules', async (t) => {
      const e = use(t);
      if (!e) {
        return;
      }
      await createContainer(e, 'kids');
      const instance = body(await createInstance(e, `medward/${aei}/kids`, 'x'), 'm2m:cin');
      const below = await e.request({
        op: 1,
        to: String(instance.ri),
        fr: aei,
        ty: 3,
        pc: { 'm2m:cnt': {} },
      });
      assert.equal(below.rsc, 4108);
      const atBase = await e.request({
        op: 1,
        to: 'medward',
        fr: ADMIN,
        ty: 4,
        pc: { 'm2m:cin': { con: 'x' } },
      });
      assert.equal(atBase.rsc, 4108);
      const subscribeInstance = await e.request({
        op: 1,
        to: String(instance.ri),
        fr: aei,
        ty: 23,
        pc: { 'm2m:sub': { nu: [aei] } },
      });
      assert.equal(subscribeInstance.rsc, 5203);
      const cseBase = await e.request({
        op: 1,
        to: 'medward',
        fr: ADMIN,
        ty: 5,
        pc: { 'm2m:cb': {} },
      });
      assert.equal(cseBase.rsc, 4005);
      assert.equal((await e.request({ op: 4, to: 'medward', fr: ADMIN })).rsc, 4005);
    });
  });
}
