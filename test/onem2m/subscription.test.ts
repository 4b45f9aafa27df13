import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  body,
  dbg,
  NotificationReceiver,
  registerAe,
  startTestCse,
  type TestCse,
} from './support.js';

describe('subscriptions and notifications', () => {
  let env: TestCse;
  let receiver: NotificationReceiver;
  let url = '';
  let aei = '';
  let serial = 0;

  before(async () => {
    env = await startTestCse('sqlite', {
      notification: { timeoutMs: 1000, retries: 1, retryDelayMs: 20 },
    });
    receiver = new NotificationReceiver();
    url = await receiver.start();
    aei = await registerAe(env, 'Csubscriber', { poa: [url] });
  });

  after(async () => {
    await env.dispose();
    await receiver.stop();
  });

  beforeEach(() => {
    receiver.received.length = 0;
    receiver.status = 200;
    receiver.rsc = 2000;
  });

  const container = async (): Promise<string> => {
    serial += 1;
    const rn = `watched${serial}`;
    const response = await env.request({
      op: 1,
      to: `medward/${aei}`,
      fr: aei,
      ty: 3,
      pc: { 'm2m:cnt': { rn } },
    });
    assert.equal(response.rsc, 2001);
    return `medward/${aei}/${rn}`;
  };

  const subscribe = (to: string, attributes: Record<string, unknown>) =>
    env.request({ op: 1, to, fr: aei, ty: 23, pc: { 'm2m:sub': { rn: 'sub', ...attributes } } });

  const sgn = (index: number): Record<string, unknown> =>
    receiver.received[index]?.body['m2m:sgn'] as Record<string, unknown>;

  test('verification request precedes creation', async () => {
    const to = await container();
    const response = await subscribe(to, { nu: [url] });
    assert.equal(response.rsc, 2001, dbg(response));
    const sub = body(response, 'm2m:sub');
    assert.deepEqual(sub.enc, { net: [1] });
    assert.equal(sub.nct, 1);
    assert.equal(receiver.received.length, 1);
    const verification = sgn(0);
    assert.equal(verification.vrq, true);
    assert.equal(verification.sur, `${env.config.cseId}/${String(sub.ri)}`);
    assert.equal(verification.cr, aei);
    assert.equal(receiver.received[0]?.headers['x-m2m-origin'], env.config.cseId);
    assert.ok(receiver.received[0].headers['x-m2m-ri']);
  });

  test('failed verification is 5204 and creates nothing', async () => {
    const to = await container();
    receiver.rsc = 4101;
    receiver.status = 403;
    const response = await subscribe(to, { nu: [url] });
    assert.equal(response.rsc, 5204);
    assert.match(dbg(response), /verification/);
    assert.equal((await env.request({ op: 2, to: `${to}/sub`, fr: aei })).rsc, 4004);
  });

  test('unreachable target fails verification', async () => {
    const to = await container();
    const response = await subscribe(to, { nu: ['http://127.0.0.1:9/none'] });
    assert.equal(response.rsc, 5204);
  });

  test('subscriber AE-ID skips verification and uses poa', async () => {
    const to = await container();
    const response = await subscribe(to, { nu: [aei], enc: { net: [3] } });
    assert.equal(response.rsc, 2001, dbg(response));
    assert.equal(receiver.received.length, 0);
    await env.request({ op: 1, to, fr: aei, ty: 4, pc: { 'm2m:cin': { con: 'hello' } } });
    await receiver.waitFor(1);
    const event = sgn(0).nev as { net: number; rep: Record<string, Record<string, unknown>> };
    assert.equal(event.net, 3);
    assert.equal(event.rep['m2m:cin']?.con, 'hello');
  });

  test('notification follows a poa update', async () => {
    const second = new NotificationReceiver();
    const secondUrl = await second.start();
    try {
      const moving = await registerAe(env, 'Cmoving', { poa: [url] });
      const to = await container();
      const response = await subscribe(to, { nu: [moving], enc: { net: [3] } });
      assert.equal(response.rsc, 2001, dbg(response));
      await env.request({ op: 1, to, fr: aei, ty: 4, pc: { 'm2m:cin': { con: 'first' } } });
      await receiver.waitFor(2);
      const updated = await env.request({
        op: 3,
        to: `medward/${moving}`,
        fr: moving,
        pc: { 'm2m:ae': { poa: [secondUrl] } },
      });
      assert.equal(updated.rsc, 2004, dbg(updated));
      await env.request({ op: 1, to, fr: aei, ty: 4, pc: { 'm2m:cin': { con: 'second' } } });
      await second.waitFor(1);
      const event = second.received[0]?.body['m2m:sgn'] as {
        nev: { rep: Record<string, Record<string, unknown>> };
      };
      assert.equal(event.nev.rep['m2m:cin']?.con, 'second');
      assert.equal(receiver.received.length, 2);
    } finally {
      await second.stop();
    }
  });

  test('update and delete events', async () => {
    const to = await container();
    assert.equal((await subscribe(to, { nu: [url], enc: { net: [1, 2] }, su: url })).rsc, 2001);
    await env.request({ op: 3, to, fr: aei, pc: { 'm2m:cnt': { lbl: ['changed'] } } });
    await receiver.waitFor(2);
    const update = sgn(1).nev as { net: number; rep: Record<string, Record<string, unknown>> };
    assert.equal(update.net, 1);
    assert.deepEqual(update.rep['m2m:cnt']?.lbl, ['changed']);
    await env.request({ op: 4, to, fr: aei });
    await receiver.waitFor(4);
    const kinds = receiver.received
      .slice(2)
      .map((entry) => entry.body['m2m:sgn'] as Record<string, unknown>);
    assert.ok(kinds.some((item) => (item.nev as { net: number } | undefined)?.net === 2));
    assert.ok(kinds.some((item) => item.sud === true));
  });

  test('attribute criteria filter updates', async () => {
    const to = await container();
    assert.equal((await subscribe(to, { nu: [url], enc: { net: [1], atr: ['mni'] } })).rsc, 2001);
    await env.request({ op: 3, to, fr: aei, pc: { 'm2m:cnt': { lbl: ['a'] } } });
    await env.request({ op: 3, to, fr: aei, pc: { 'm2m:cnt': { mni: 9 } } });
    await receiver.waitFor(2);
    await env.cse.notificationsIdle();
    assert.equal(receiver.received.length, 2);
    const event = sgn(1).nev as { rep: Record<string, Record<string, unknown>> };
    assert.equal(event.rep['m2m:cnt']?.mni, 9);
  });

  test('child type and delete child criteria', async () => {
    const to = await container();
    assert.equal((await subscribe(to, { nu: [url], enc: { net: [4], chty: [4] } })).rsc, 2001);
    const created = await env.request({
      op: 1,
      to,
      fr: aei,
      ty: 4,
      pc: { 'm2m:cin': { con: 'x' } },
    });
    await env.request({ op: 1, to, fr: aei, ty: 3, pc: { 'm2m:cnt': { rn: 'inner' } } });
    await env.request({ op: 4, to: `${to}/inner`, fr: aei });
    await env.request({ op: 4, to: String(body(created, 'm2m:cin').ri), fr: aei });
    await receiver.waitFor(2);
    await env.cse.notificationsIdle();
    assert.equal(receiver.received.length, 2);
    assert.equal((sgn(1).nev as { net: number }).net, 4);
  });

  test('expiration counter deletes at zero', async () => {
    const to = await container();
    const response = await subscribe(to, { nu: [url], enc: { net: [3] }, exc: 2, su: url });
    assert.equal(response.rsc, 2001);
    for (const con of ['1', '2', '3']) {
      await env.request({ op: 1, to, fr: aei, ty: 4, pc: { 'm2m:cin': { con } } });
    }
    await receiver.waitFor(4);
    await env.cse.notificationsIdle();
    const bodies = receiver.received
      .slice(1)
      .map((entry) => entry.body['m2m:sgn'] as Record<string, unknown>);
    assert.equal(bodies.filter((item) => item.nev !== undefined).length, 2);
    assert.equal(bodies.at(-1)?.sud, true);
    assert.equal((await env.request({ op: 2, to: `${to}/sub`, fr: aei })).rsc, 4004);
  });

  test('batch notify by number', async () => {
    const to = await container();
    assert.equal((await subscribe(to, { nu: [url], enc: { net: [3] }, bn: { num: 3 } })).rsc, 2001);
    for (const con of ['a', 'b', 'c', 'd']) {
      await env.request({ op: 1, to, fr: aei, ty: 4, pc: { 'm2m:cin': { con } } });
    }
    await receiver.waitFor(2);
    const batch = receiver.received[1]?.body['m2m:agn'] as { 'm2m:sgn': unknown[] };
    assert.equal(batch['m2m:sgn'].length, 3);
  });

  test('batch notify by duration', async () => {
    const to = await container();
    assert.equal(
      (await subscribe(to, { nu: [url], enc: { net: [3] }, bn: { num: 100, dur: 'PT0.3S' } })).rsc,
      2001,
    );
    await env.request({ op: 1, to, fr: aei, ty: 4, pc: { 'm2m:cin': { con: 'a' } } });
    await env.request({ op: 1, to, fr: aei, ty: 4, pc: { 'm2m:cin': { con: 'b' } } });
    assert.equal(receiver.received.length, 1);
    await receiver.waitFor(2);
    const batch = receiver.received[1]?.body['m2m:agn'] as { 'm2m:sgn': unknown[] };
    assert.equal(batch['m2m:sgn'].length, 2);
  });

  test('resource id content type', async () => {
    const to = await container();
    assert.equal((await subscribe(to, { nu: [url], enc: { net: [3] }, nct: 3 })).rsc, 2001);
    await env.request({ op: 1, to, fr: aei, ty: 4, pc: { 'm2m:cin': { con: 'x', rn: 'named' } } });
    await receiver.waitFor(2);
    const event = sgn(1).nev as { rep: Record<string, unknown> };
    assert.equal(event.rep['m2m:uri'], `${to}/named`);
  });

  test('failed deliveries are counted', async () => {
    const to = await container();
    assert.equal((await subscribe(to, { nu: [url], enc: { net: [3] } })).rsc, 2001);
    receiver.status = 500;
    receiver.rsc = 5000;
    await env.request({ op: 1, to, fr: aei, ty: 4, pc: { 'm2m:cin': { con: 'x' } } });
    await env.cse.notificationsIdle();
    const metrics = await env.registry.getSingleMetricAsString(
      'medward_onem2m_notifications_total',
    );
    assert.match(metrics, /result="failed"\} [1-9]/);
    assert.equal(receiver.received.length, 3, 'verification, first attempt and one retry');
  });

  test('subscription input checks', async () => {
    const to = await container();
    const cases: [Record<string, unknown>, number][] = [
      [{}, 4000],
      [{ nu: [] }, 4000],
      [{ nu: ['Cunknown'] }, 4000],
      [{ nu: ['ftp://127.0.0.1/x'] }, 4000],
      [{ nu: [url], enc: { net: [9] } }, 4000],
      [{ nu: [url], enc: { xyz: 1 } }, 4000],
      [{ nu: [url], bn: { num: 0 } }, 4000],
      [{ nu: [url], bn: { num: 2, dur: '5 seconds' } }, 4000],
      [{ nu: [url], exc: 0 }, 4000],
      [{ nu: [url], nct: 7 }, 4000],
    ];
    for (const [attributes, rsc] of cases) {
      const response = await subscribe(to, attributes);
      assert.equal(response.rsc, rsc, `${JSON.stringify(attributes)}: ${dbg(response)}`);
    }
  });

  test('subscriber needs retrieve privilege', async () => {
    const other = await registerAe(env, 'Coutsider');
    const to = await container();
    const policy = await env.request({
      op: 1,
      to: `medward/${aei}`,
      fr: aei,
      ty: 1,
      pc: {
        'm2m:acp': {
          pv: { acr: [{ acor: [other], acop: 1 }] },
          pvs: { acr: [{ acor: [aei], acop: 63 }] },
        },
      },
    });
    const acpi = [String(body(policy, 'm2m:acp').ri)];
    assert.equal(
      (await env.request({ op: 3, to, fr: aei, pc: { 'm2m:cnt': { acpi } } })).rsc,
      2004,
    );
    const response = await env.request({
      op: 1,
      to,
      fr: other,
      ty: 23,
      pc: { 'm2m:sub': { nu: [other] } },
    });
    assert.equal(response.rsc, 4101);
  });

  test('remote notification targets are refused by default', async () => {
    const to = await container();
    const response = await subscribe(to, { nu: ['http://192.0.2.1:9/x'] });
    assert.equal(response.rsc, 5204);
    assert.match(dbg(response), /loopback/);
  });

  test('notify is forwarded to an AE', async () => {
    const response = await env.request({
      op: 5,
      to: aei,
      fr: aei,
      pc: { 'm2m:sgn': { nev: { net: 1, rep: {} } } },
    });
    assert.equal(response.rsc, 2000, dbg(response));
    await receiver.waitFor(1);
    assert.ok(receiver.received[0]?.body['m2m:sgn']);
  });
});
