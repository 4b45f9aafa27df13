import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { body, dbg, registerAe, startTestCse, type TestCse } from './support.js';

interface Aggregated {
  'm2m:agr': {
    'm2m:rsp': { rsc: number; fr: string; pc?: Record<string, Record<string, unknown>> }[];
  };
}

describe('groups and fan-out', () => {
  let env: TestCse;
  let aei = '';
  const containers: string[] = [];

  before(async () => {
    env = await startTestCse('sqlite', { group: { maxMembers: 20 } });
    aei = await registerAe(env, 'Cgrouper');
    for (const rn of ['bed1', 'bed2', 'bed3']) {
      const response = await env.request({
        op: 1,
        to: `medward/${aei}`,
        fr: aei,
        ty: 3,
        pc: { 'm2m:cnt': { rn } },
      });
      containers.push(String(body(response, 'm2m:cnt').ri));
    }
  });

  after(async () => {
    await env.dispose();
  });

  const createGroup = (attributes: Record<string, unknown>) =>
    env.request({ op: 1, to: `medward/${aei}`, fr: aei, ty: 9, pc: { 'm2m:grp': attributes } });

  test('group create counts members', async () => {
    const response = await createGroup({
      rn: 'beds',
      mt: 3,
      mnm: 5,
      mid: [...containers, 'missing-member'],
    });
    assert.equal(response.rsc, 2001, dbg(response));
    const group = body(response, 'm2m:grp');
    assert.equal(group.cnm, 3);
    assert.equal(group.mtv, true);
    assert.deepEqual(group.mid, containers);
  });

  test('too many members is 6010', async () => {
    const response = await createGroup({ mnm: 2, mid: containers });
    assert.equal(response.rsc, 6010);
  });

  test('mnm above the CSE maximum is 6010', async () => {
    const response = await createGroup({ mnm: 50, mid: [] });
    assert.equal(response.rsc, 6010);
  });

  test('inconsistent member with abandon group is 4110', async () => {
    const response = await createGroup({ mt: 2, mnm: 5, csy: 2, mid: containers });
    assert.equal(response.rsc, 4110);
  });

  test('inconsistent member is abandoned by default', async () => {
    const response = await createGroup({ mt: 2, mnm: 5, mid: [...containers, aei] });
    assert.equal(response.rsc, 2001);
    assert.deepEqual(body(response, 'm2m:grp').mid, [aei]);
  });

  test('set mixed turns the group mixed', async () => {
    const response = await createGroup({ mt: 3, mnm: 5, csy: 3, mid: [...containers, aei] });
    assert.equal(body(response, 'm2m:grp').mt, 0);
    assert.equal(body(response, 'm2m:grp').cnm, 4);
  });

  test('fan-out create reaches every member', async () => {
    const response = await env.request({
      op: 1,
      to: `medward/${aei}/beds/fopt`,
      fr: aei,
      ty: 4,
      pc: { 'm2m:cin': { con: 'alarm' } },
    });
    assert.equal(response.rsc, 2000, dbg(response));
    const responses = (response.pc as Aggregated)['m2m:agr']['m2m:rsp'];
    assert.equal(responses.length, 3);
    for (const member of responses) {
      assert.equal(member.rsc, 2001);
      assert.equal(member.pc?.['m2m:cin']?.con, 'alarm');
    }
  });

  test('fan-out retrieve with a path suffix', async () => {
    const response = await env.request({ op: 2, to: `medward/${aei}/beds/fopt/la`, fr: aei });
    assert.equal(response.rsc, 2000, dbg(response));
    const responses = (response.pc as Aggregated)['m2m:agr']['m2m:rsp'];
    assert.deepEqual(
      responses.map((member) => member.rsc),
      [2000, 2000, 2000],
    );
    assert.ok(responses.every((member) => member.pc?.['m2m:cin']?.con === 'alarm'));
  });

  test('fan-out applies member access control', async () => {
    const stranger = await registerAe(env, 'Cstranger');
    const policy = await env.request({
      op: 1,
      to: `medward/${aei}`,
      fr: aei,
      ty: 1,
      pc: {
        'm2m:acp': {
          pv: { acr: [{ acor: [stranger], acop: 2 }] },
          pvs: { acr: [{ acor: [aei], acop: 63 }] },
        },
      },
    });
    const acpi = [String(body(policy, 'm2m:acp').ri)];
    assert.equal(
      (
        await env.request({
          op: 3,
          to: `medward/${aei}/beds`,
          fr: aei,
          pc: { 'm2m:grp': { acpi } },
        })
      ).rsc,
      2004,
    );
    assert.equal(
      (
        await env.request({
          op: 3,
          to: `medward/${aei}/bed1`,
          fr: aei,
          pc: { 'm2m:cnt': { acpi } },
        })
      ).rsc,
      2004,
    );
    const response = await env.request({ op: 2, to: `medward/${aei}/beds/fopt`, fr: stranger });
    assert.equal(response.rsc, 2000, dbg(response));
    const codes = (response.pc as Aggregated)['m2m:agr']['m2m:rsp'].map((member) => member.rsc);
    assert.deepEqual(codes, [2000, 4103, 4103]);
    const denied = await env.request({ op: 4, to: `medward/${aei}/beds/fopt`, fr: stranger });
    assert.equal(denied.rsc, 4103);
  });

  test('group update revalidates members', async () => {
    const response = await env.request({
      op: 3,
      to: `medward/${aei}/beds`,
      fr: aei,
      pc: { 'm2m:grp': { mid: [containers[0]] } },
    });
    assert.equal(response.rsc, 2004, dbg(response));
    assert.equal(body(response, 'm2m:grp').cnm, 1);
    const tooMany = await env.request({
      op: 3,
      to: `medward/${aei}/beds`,
      fr: aei,
      pc: { 'm2m:grp': { mnm: 0 } },
    });
    assert.equal(tooMany.rsc, 4000);
    const readOnly = await env.request({
      op: 3,
      to: `medward/${aei}/beds`,
      fr: aei,
      pc: { 'm2m:grp': { cnm: 9 } },
    });
    assert.equal(readOnly.rsc, 4000);
  });

  test('fopt on a container is 4004', async () => {
    const response = await env.request({ op: 2, to: `medward/${aei}/bed1/fopt`, fr: aei });
    assert.equal(response.rsc, 4004);
  });
});
