import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runWithContext } from '../../src/core/context.js';
import { ADMIN, body, dbg, registerAe, startTestCse, type TestCse } from './support.js';

describe('AE registration', () => {
  let env: TestCse;
  before(async () => {
    env = await startTestCse('sqlite', { allowedAeIdPrefixes: ['C', 'Sward'] });
  });
  after(async () => {
    await env.dispose();
  });

  const create = (fr: string, attributes: Record<string, unknown>) =>
    env.request({ op: 1, to: 'medward', fr, ty: 2, pc: { 'm2m:ae': attributes } });
  const valid = { api: 'Nmedward.test', rr: true, srv: ['3'] };

  test('empty originator gets C AE-ID', async () => {
    const response = await create('', valid);
    assert.equal(response.rsc, 2001, dbg(response));
    const ae = body(response, 'm2m:ae');
    assert.match(String(ae.aei), /^C[A-Za-z0-9]+$/);
    assert.equal(ae.ri, ae.aei);
    assert.equal(ae.api, 'Nmedward.test');
    assert.equal(ae.rr, true);
    assert.equal(ae.ty, 2);
  });

  test('C originator gets C AE-ID', async () => {
    const response = await create('C', valid);
    assert.equal(response.rsc, 2001);
    assert.match(String(body(response, 'm2m:ae').aei), /^C.+/);
  });

  test('S originator gets S AE-ID', async () => {
    const response = await create('S', valid);
    assert.equal(response.rsc, 2001);
    assert.match(String(body(response, 'm2m:ae').aei), /^S.+/);
  });

  test('given C AE-ID is used', async () => {
    const response = await create('Cward-monitor-7', valid);
    assert.equal(response.rsc, 2001);
    const ae = body(response, 'm2m:ae');
    assert.equal(ae.aei, 'Cward-monitor-7');
    assert.equal(ae.rn, 'Cward-monitor-7');
  });

  test('sp-relative AE-ID is normalized', async () => {
    const response = await create(`${env.config.cseId}/Csprel`, valid);
    assert.equal(response.rsc, 2001);
    assert.equal(body(response, 'm2m:ae').aei, 'Csprel');
  });

  test('duplicate AE-ID is 4117', async () => {
    await registerAe(env, 'Cdup');
    const response = await create('Cdup', valid);
    assert.equal(response.rsc, 4117);
    assert.match(dbg(response), /already registered/);
  });

  test('disallowed prefix is 4126', async () => {
    const response = await create('Sother', valid);
    assert.equal(response.rsc, 4126);
    assert.match(dbg(response), /not allowed/);
    const records = await env.audit.list({ event: 'onem2m.originator-rejected' });
    assert.ok(records.some((record) => record.reason?.includes('Sother')));
  });

  test('allowed S prefix is used', async () => {
    const response = await create('Sward-1', valid);
    assert.equal(response.rsc, 2001);
  });

  test('api must start with R or N', async () => {
    const response = await create('C', { ...valid, api: 'medward' });
    assert.equal(response.rsc, 4000);
    assert.match(dbg(response), /api/);
  });

  test('missing rr is 4000', async () => {
    const response = await create('C', { api: 'Nx1', srv: ['3'] });
    assert.equal(response.rsc, 4000);
    assert.match(dbg(response), /rr/);
  });

  test('missing srv is 4000', async () => {
    const response = await create('C', { api: 'Nx1', rr: false });
    assert.equal(response.rsc, 4000);
    assert.match(dbg(response), /srv/);
  });

  test('wrong attribute type is 4000', async () => {
    const response = await create('C', { ...valid, rr: 'yes' });
    assert.equal(response.rsc, 4000);
    assert.match(dbg(response), /rr must be true or false/);
  });

  test('read-only aei is 4000', async () => {
    const response = await create('C', { ...valid, aei: 'Cmine' });
    assert.equal(response.rsc, 4000);
    assert.match(dbg(response), /aei/);
  });

  test('unknown attribute is 4000', async () => {
    const response = await create('C', { ...valid, colour: 'red' });
    assert.equal(response.rsc, 4000);
    assert.match(dbg(response), /colour is unknown/);
  });

  test('invalid poa is 4000', async () => {
    const response = await create('C', { ...valid, poa: ['ftp://x'] });
    assert.equal(response.rsc, 4000);
    assert.match(dbg(response), /poa/);
  });

  test('AE below an AE is 4108', async () => {
    const aei = await registerAe(env, 'Cparent');
    const response = await env.request({
      op: 1,
      to: `medward/${aei}`,
      fr: 'C',
      ty: 2,
      pc: { 'm2m:ae': valid },
    });
    assert.equal(response.rsc, 4108);
  });

  test('registration is audited', async () => {
    await registerAe(env, 'Caudited');
    const records = await env.audit.list({ event: 'onem2m.ae-register' });
    assert.ok(records.some((record) => record.targetId === 'Caudited'));
  });

  test('batched registrations keep their contexts', async () => {
    // Started together, both registrations share one write transaction.
    const register = (originator: string) =>
      runWithContext(
        {
          requestId: originator,
          correlationId: `correlation-${originator}`,
          actor: { kind: 'device', id: originator },
          sourceAddress: `address-${originator}`,
        },
        () => registerAe(env, originator),
      );
    await Promise.all([register('Cfirst'), register('Csecond')]);
    const records = await env.audit.list({ event: 'onem2m.ae-register' });
    for (const originator of ['Cfirst', 'Csecond']) {
      const record = records.find((candidate) => candidate.targetId === originator);
      assert.ok(record, `registration of ${originator} audited`);
      assert.equal(record.correlationId, `correlation-${originator}`);
      assert.equal(record.sourceAddress, `address-${originator}`);
    }
  });

  test('unregistered originator is 4106', async () => {
    const response = await env.request({ op: 2, to: 'medward', fr: 'Cnobody' });
    assert.equal(response.rsc, 4106);
    const records = await env.audit.list({ event: 'onem2m.originator-rejected' });
    assert.ok(records.some((record) => record.reason?.includes('Cnobody')));
  });

  test('missing originator is 4000', async () => {
    const response = await env.request({ op: 2, to: 'medward', fr: '' });
    assert.equal(response.rsc, 4000);
  });

  test('deregistration deletes and audits', async () => {
    const aei = await registerAe(env, 'Cleaving');
    const deleted = await env.request({ op: 4, to: `medward/${aei}`, fr: aei });
    assert.equal(deleted.rsc, 2002);
    const after = await env.request({ op: 2, to: `medward/${aei}`, fr: ADMIN });
    assert.equal(after.rsc, 4004);
    const again = await env.request({ op: 2, to: 'medward', fr: aei });
    assert.equal(again.rsc, 4106);
    const records = await env.audit.list({ event: 'onem2m.ae-deregister' });
    assert.ok(records.some((record) => record.targetId === aei));
  });

  test('AE update of rr and poa', async () => {
    const aei = await registerAe(env, 'Cupdating');
    const response = await env.request({
      op: 3,
      to: aei,
      fr: aei,
      pc: { 'm2m:ae': { rr: true, poa: ['http://127.0.0.1:9/x'] } },
    });
    assert.equal(response.rsc, 2004, dbg(response));
    assert.deepEqual(body(response, 'm2m:ae').poa, ['http://127.0.0.1:9/x']);
    const readOnly = await env.request({
      op: 3,
      to: aei,
      fr: aei,
      pc: { 'm2m:ae': { api: 'Nother' } },
    });
    assert.equal(readOnly.rsc, 4000);
    assert.match(dbg(readOnly), /api/);
  });
});
