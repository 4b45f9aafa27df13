import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN, body, dbg, registerAe, startTestCse, type TestCse } from './support.js';

/** acop bits: CREATE 1, RETRIEVE 2, UPDATE 4, DELETE 8, NOTIFY 16, DISCOVERY 32. */
describe('access control policies', () => {
  let env: TestCse;
  let owner = '';
  let nurse = '';
  let visitor = '';
  let acpRi = '';

  before(async () => {
    env = await startTestCse('sqlite');
    owner = await registerAe(env, 'Cowner');
    nurse = await registerAe(env, 'Cnurse-1');
    visitor = await registerAe(env, 'Xvisitor'.replace('X', 'C'));
    const acp = await env.request({
      op: 1,
      to: `medward/${owner}`,
      fr: owner,
      ty: 1,
      pc: {
        'm2m:acp': {
          rn: 'ward-policy',
          pv: {
            acr: [
              { acor: ['Cnurse-*'], acop: 2 + 32 },
              { acor: [owner], acop: 63 },
            ],
          },
          pvs: { acr: [{ acor: [owner], acop: 63 }] },
        },
      },
    });
    assert.equal(acp.rsc, 2001, dbg(acp));
    acpRi = String(body(acp, 'm2m:acp').ri);
    const container = await env.request({
      op: 1,
      to: `medward/${owner}`,
      fr: owner,
      ty: 3,
      pc: { 'm2m:cnt': { rn: 'vitals', acpi: [acpRi], lbl: ['vitals'] } },
    });
    assert.equal(container.rsc, 2001, dbg(container));
    await env.request({
      op: 1,
      to: `medward/${owner}/vitals`,
      fr: owner,
      ty: 4,
      pc: { 'm2m:cin': { con: '72' } },
    });
    await env.request({
      op: 1,
      to: `medward/${owner}`,
      fr: owner,
      ty: 3,
      pc: { 'm2m:cnt': { rn: 'private', lbl: ['vitals'] } },
    });
  });

  after(async () => {
    await env.dispose();
  });

  test('wildcard originator may retrieve', async () => {
    const response = await env.request({ op: 2, to: `medward/${owner}/vitals`, fr: nurse });
    assert.equal(response.rsc, 2000, dbg(response));
  });

  test('instances inherit the container policy', async () => {
    const response = await env.request({ op: 2, to: `medward/${owner}/vitals/la`, fr: nurse });
    assert.equal(response.rsc, 2000, dbg(response));
    assert.equal(body(response, 'm2m:cin').con, '72');
  });

  test('wildcard originator may not create', async () => {
    const response = await env.request({
      op: 1,
      to: `medward/${owner}/vitals`,
      fr: nurse,
      ty: 4,
      pc: { 'm2m:cin': { con: '1' } },
    });
    assert.equal(response.rsc, 4103);
    assert.match(dbg(response), /CREATE privilege/);
  });

  test('unmatched originator is denied and audited', async () => {
    const response = await env.request({ op: 2, to: `medward/${owner}/vitals`, fr: visitor });
    assert.equal(response.rsc, 4103);
    const records = await env.audit.list({ event: 'onem2m.access-denied' });
    const record = records.find((entry) => entry.actorId === `onem2m:${visitor}`);
    assert.ok(record, 'denial audited');
    assert.equal(record.outcome, 'minor-failure');
    assert.equal(record.action, 'R');
  });

  test('no policy means only creator and admin', async () => {
    assert.equal(
      (await env.request({ op: 2, to: `medward/${owner}/private`, fr: nurse })).rsc,
      4103,
    );
    assert.equal(
      (await env.request({ op: 2, to: `medward/${owner}/private`, fr: owner })).rsc,
      2000,
    );
    assert.equal(
      (await env.request({ op: 2, to: `medward/${owner}/private`, fr: ADMIN })).rsc,
      2000,
    );
  });

  test('discovery hides what is not discoverable', async () => {
    const nurseView = await env.request({
      op: 2,
      to: `medward/${owner}`,
      fr: nurse,
      fc: { fu: 1, lbl: ['vitals'] },
    });
    assert.equal(nurseView.rsc, 4103, 'the AE itself grants the nurse no DISCOVERY');
    const fromContainer = await env.request({
      op: 2,
      to: `medward/${owner}/vitals`,
      fr: nurse,
      fc: { fu: 1 },
    });
    assert.equal(fromContainer.rsc, 2000, dbg(fromContainer));
    assert.equal((fromContainer.pc as { 'm2m:uril': string[] })['m2m:uril'].length, 1);
    const ownerView = await env.request({
      op: 2,
      to: `medward/${owner}`,
      fr: owner,
      fc: { fu: 1, lbl: ['vitals'] },
    });
    assert.deepEqual((ownerView.pc as { 'm2m:uril': string[] })['m2m:uril'].sort(), [
      `medward/${owner}/private`,
      `medward/${owner}/vitals`,
    ]);
  });

  test('discovery filters results per resource', async () => {
    const policy = await env.request({
      op: 1,
      to: `medward/${owner}`,
      fr: owner,
      ty: 1,
      pc: {
        'm2m:acp': {
          rn: 'browse',
          pv: { acr: [{ acor: [visitor], acop: 32 }] },
          pvs: { acr: [{ acor: [owner], acop: 63 }] },
        },
      },
    });
    const browseRi = String(body(policy, 'm2m:acp').ri);
    const tree = await env.request({
      op: 1,
      to: `medward/${owner}`,
      fr: owner,
      ty: 3,
      pc: { 'm2m:cnt': { rn: 'tree', acpi: [browseRi] } },
    });
    assert.equal(tree.rsc, 2001);
    await env.request({
      op: 1,
      to: `medward/${owner}/tree`,
      fr: owner,
      ty: 3,
      pc: { 'm2m:cnt': { rn: 'open' } },
    });
    await env.request({
      op: 1,
      to: `medward/${owner}/tree`,
      fr: owner,
      ty: 3,
      pc: { 'm2m:cnt': { rn: 'closed', acpi: [acpRi] } },
    });
    const response = await env.request({
      op: 2,
      to: `medward/${owner}/tree`,
      fr: visitor,
      fc: { fu: 1 },
    });
    assert.equal(response.rsc, 2000, dbg(response));
    assert.deepEqual((response.pc as { 'm2m:uril': string[] })['m2m:uril'], [
      `medward/${owner}/tree/open`,
    ]);
    const limited = await env.request({
      op: 2,
      to: `medward/${owner}/tree`,
      fr: visitor,
      fc: { fu: 1, lim: 1 },
    });
    assert.equal(limited.cnst, undefined, 'hidden resources do not make a result partial');
  });

  test('all grants every originator', async () => {
    const policy = await env.request({
      op: 1,
      to: `medward/${owner}`,
      fr: owner,
      ty: 1,
      pc: {
        'm2m:acp': {
          rn: 'public',
          pv: { acr: [{ acor: ['all'], acop: 2 }] },
          pvs: { acr: [{ acor: [owner], acop: 63 }] },
        },
      },
    });
    const ri = String(body(policy, 'm2m:acp').ri);
    await env.request({
      op: 1,
      to: `medward/${owner}`,
      fr: owner,
      ty: 3,
      pc: { 'm2m:cnt': { rn: 'board', acpi: [`${env.config.cseId}/${ri}`] } },
    });
    const stored = await env.request({ op: 2, to: `medward/${owner}/board`, fr: visitor });
    assert.equal(stored.rsc, 2000, dbg(stored));
    assert.deepEqual(body(stored, 'm2m:cnt').acpi, [ri]);
    const update = await env.request({
      op: 3,
      to: `medward/${owner}/board`,
      fr: visitor,
      pc: { 'm2m:cnt': { lbl: ['x'] } },
    });
    assert.equal(update.rsc, 4103);
  });

  test('self privileges govern the policy', async () => {
    assert.equal((await env.request({ op: 2, to: acpRi, fr: nurse })).rsc, 4103);
    const read = await env.request({ op: 2, to: acpRi, fr: owner });
    assert.equal(read.rsc, 2000);
    const update = await env.request({
      op: 3,
      to: acpRi,
      fr: owner,
      pc: {
        'm2m:acp': {
          pv: {
            acr: [
              { acor: ['Cnurse-*'], acop: 2 + 32 + 1 },
              { acor: [owner], acop: 63 },
            ],
          },
        },
      },
    });
    assert.equal(update.rsc, 2004, dbg(update));
    const created = await env.request({
      op: 1,
      to: `medward/${owner}/vitals`,
      fr: nurse,
      ty: 4,
      pc: { 'm2m:cin': { con: '80' } },
    });
    assert.equal(created.rsc, 2001, 'the updated policy applies at once');
    const records = await env.audit.list({ event: 'onem2m.acp-update' });
    assert.ok(records.some((record) => record.targetId === acpRi));
  });

  test('acpi must name a policy', async () => {
    const response = await env.request({
      op: 1,
      to: `medward/${owner}`,
      fr: owner,
      ty: 3,
      pc: { 'm2m:cnt': { acpi: ['nothing-here'] } },
    });
    assert.equal(response.rsc, 4000);
    assert.match(dbg(response), /acpi/);
  });

  test('invalid access control rules are 4000', async () => {
    const bad = [
      { pv: { acr: [{ acor: ['x'], acop: 0 }] }, pvs: { acr: [] } },
      { pv: { acr: [{ acor: [], acop: 2 }] }, pvs: { acr: [] } },
      { pv: { acr: [{ acor: ['x'], acop: 64 }] }, pvs: { acr: [] } },
      { pv: { acr: [{ acor: ['x'], acop: 2, acco: [] }] }, pvs: { acr: [] } },
      { pv: { acr: [] } },
    ];
    for (const attributes of bad) {
      const response = await env.request({
        op: 1,
        to: `medward/${owner}`,
        fr: owner,
        ty: 1,
        pc: { 'm2m:acp': attributes },
      });
      assert.equal(response.rsc, 4000, JSON.stringify(attributes));
    }
  });

  test('acp creation and deletion are audited', async () => {
    const policy = await env.request({
      op: 1,
      to: `medward/${owner}`,
      fr: owner,
      ty: 1,
      pc: { 'm2m:acp': { pv: { acr: [] }, pvs: { acr: [{ acor: [owner], acop: 63 }] } } },
    });
    const ri = String(body(policy, 'm2m:acp').ri);
    assert.equal((await env.request({ op: 4, to: ri, fr: owner })).rsc, 2002);
    assert.ok(
      (await env.audit.list({ event: 'onem2m.acp-create' })).some(
        (record) => record.targetId === ri,
      ),
    );
    assert.ok(
      (await env.audit.list({ event: 'onem2m.acp-delete' })).some(
        (record) => record.targetId === ri,
      ),
    );
  });

  test('admin bypasses every policy', async () => {
    assert.equal((await env.request({ op: 2, to: acpRi, fr: ADMIN })).rsc, 2000);
    const created = await env.request({
      op: 1,
      to: `medward/${owner}/vitals`,
      fr: ADMIN,
      ty: 4,
      pc: { 'm2m:cin': { con: '1' } },
    });
    assert.equal(created.rsc, 2001);
  });

  test('creator of a child keeps access to it', async () => {
    const created = await env.request({
      op: 1,
      to: `medward/${owner}/vitals`,
      fr: nurse,
      ty: 4,
      pc: { 'm2m:cin': { con: 'mine', cr: null } },
    });
    assert.equal(created.rsc, 2001, dbg(created));
    const instance = body(created, 'm2m:cin');
    assert.equal(instance.cr, nurse);
    assert.equal((await env.request({ op: 4, to: String(instance.ri), fr: nurse })).rsc, 2002);
  });

  test('creator attribute must be null', async () => {
    const response = await env.request({
      op: 1,
      to: `medward/${owner}`,
      fr: owner,
      ty: 3,
      pc: { 'm2m:cnt': { cr: 'Cfake' } },
    });
    assert.equal(response.rsc, 4000);
  });
});
