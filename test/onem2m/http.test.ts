import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ADMIN, startTestCse, type TestCse } from './support.js';

describe('HTTP binding', () => {
  let env: TestCse;
  let app: FastifyInstance;
  let aei = '';

  before(async () => {
    env = await startTestCse('sqlite', { http: { enabled: true, port: 0 }, maxContentBytes: 4096 });
    app = env.cse.httpApp!;
    const response = await app.inject({
      method: 'POST',
      url: '/medward',
      headers: {
        'X-M2M-Origin': 'Chttp',
        'X-M2M-RI': 'reg-1',
        'X-M2M-RVI': '3',
        'Content-Type': 'application/json;ty=2',
      },
      payload: JSON.stringify({ 'm2m:ae': { api: 'Nhttp', rr: false, srv: ['3'] } }),
    });
    assert.equal(response.statusCode, 201, response.body);
    aei = (JSON.parse(response.body) as { 'm2m:ae': { aei: string } })['m2m:ae'].aei;
  });

  after(async () => {
    await env.dispose();
  });

  const headers = (extra: Record<string, string> = {}) => ({
    'X-M2M-Origin': aei,
    'X-M2M-RI': 'req-1',
    'X-M2M-RVI': '3',
    ...extra,
  });

  test('create sets status and headers', async () => {
    const response = await app.inject({
      method: 'POST',
      url: `/medward/${aei}`,
      headers: headers({ 'Content-Type': 'application/json;ty=3' }),
      payload: { 'm2m:cnt': { rn: 'hc' } },
    });
    assert.equal(response.statusCode, 201);
    assert.equal(response.headers['x-m2m-rsc'], '2001');
    assert.equal(response.headers['x-m2m-ri'], 'req-1');
    assert.equal(response.headers['x-m2m-rvi'], '3');
    assert.match(String(response.headers['content-location']), /^cnt/);
    assert.match(String(response.headers['content-type']), /application\/json/);
  });

  test('vnd content type and space before ty', async () => {
    const response = await app.inject({
      method: 'POST',
      url: `/medward/${aei}/hc`,
      headers: headers({ 'Content-Type': 'application/vnd.onem2m-res+json; ty=4' }),
      payload: { 'm2m:cin': { con: 'x' } },
    });
    assert.equal(response.statusCode, 201, response.body);
  });

  test('retrieve update delete map to methods', async () => {
    const read = await app.inject({ method: 'GET', url: `/medward/${aei}/hc`, headers: headers() });
    assert.equal(read.statusCode, 200);
    assert.equal(read.headers['x-m2m-rsc'], '2000');
    const update = await app.inject({
      method: 'PUT',
      url: `/medward/${aei}/hc`,
      headers: headers({ 'Content-Type': 'application/json' }),
      payload: { 'm2m:cnt': { lbl: ['x'] } },
    });
    assert.equal(update.statusCode, 200);
    assert.equal(update.headers['x-m2m-rsc'], '2004');
    const removed = await app.inject({
      method: 'DELETE',
      url: `/medward/${aei}/hc`,
      headers: headers(),
    });
    assert.equal(removed.statusCode, 200);
    assert.equal(removed.headers['x-m2m-rsc'], '2002');
  });

  test('sp-relative and absolute paths', async () => {
    const cseRi = env.config.cseId.slice(1);
    const sp = await app.inject({
      method: 'GET',
      url: `/~/${cseRi}/medward/${aei}`,
      headers: headers(),
    });
    assert.equal(sp.statusCode, 200, sp.body);
    const absolute = await app.inject({
      method: 'GET',
      url: `/_/${env.config.spId}/${cseRi}/${aei}`,
      headers: headers(),
    });
    assert.equal(absolute.statusCode, 200, absolute.body);
    const elsewhere = await app.inject({ method: 'GET', url: `/~/id-other/x`, headers: headers() });
    assert.equal(elsewhere.headers['x-m2m-rsc'], '5103');
    assert.equal(elsewhere.statusCode, 404);
  });

  test('discovery through query parameters', async () => {
    await app.inject({
      method: 'POST',
      url: `/medward/${aei}`,
      headers: headers({ 'Content-Type': 'application/json;ty=3' }),
      payload: { 'm2m:cnt': { rn: 'dq', lbl: ['a b', 'c'] } },
    });
    const response = await app.inject({
      method: 'GET',
      url: `/medward/${aei}?fu=1&ty=3+4&lbl=c&lim=5`,
      headers: headers(),
    });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(JSON.parse(response.body), { 'm2m:uril': [`medward/${aei}/dq`] });
    const bad = await app.inject({
      method: 'GET',
      url: `/medward/${aei}?fu=1&lim=ten`,
      headers: headers(),
    });
    assert.equal(bad.headers['x-m2m-rsc'], '4000');
    const unknown = await app.inject({
      method: 'GET',
      url: `/medward/${aei}?evil=1`,
      headers: headers(),
    });
    assert.equal(unknown.headers['x-m2m-rsc'], '4000');
  });

  test('missing request identifier is 4000', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/medward',
      headers: { 'X-M2M-Origin': aei },
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.headers['x-m2m-rsc'], '4000');
    assert.match(response.body, /X-M2M-RI/);
  });

  test('malformed json is 4000 and echoes rqi', async () => {
    const response = await app.inject({
      method: 'POST',
      url: `/medward/${aei}`,
      headers: headers({ 'Content-Type': 'application/json;ty=3', 'X-M2M-RI': 'bad-json' }),
      payload: '{"m2m:cnt": {',
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.headers['x-m2m-rsc'], '4000');
    assert.equal(response.headers['x-m2m-ri'], 'bad-json');
    assert.match((JSON.parse(response.body) as { 'm2m:dbg': string })['m2m:dbg'], /not valid JSON/);
  });

  test('oversized content is 4000', async () => {
    const response = await app.inject({
      method: 'POST',
      url: `/medward/${aei}`,
      headers: headers({ 'Content-Type': 'application/json;ty=3' }),
      payload: JSON.stringify({ 'm2m:cnt': { lbl: ['x'.repeat(5000)] } }),
    });
    assert.equal(response.headers['x-m2m-rsc'], '4000');
    assert.match(response.body, /exceeds the limit/);
  });

  test('unsupported media type and accept', async () => {
    const xml = await app.inject({
      method: 'POST',
      url: `/medward/${aei}`,
      headers: headers({ 'Content-Type': 'application/xml;ty=3' }),
      payload: '<m2m:cnt/>',
    });
    assert.equal(xml.statusCode, 415);
    assert.equal(xml.headers['x-m2m-rsc'], '4015');
    const accept = await app.inject({
      method: 'GET',
      url: '/medward',
      headers: headers({ Accept: 'application/xml' }),
    });
    assert.equal(accept.statusCode, 406);
    assert.equal(accept.headers['x-m2m-rsc'], '5207');
  });

  test('status mapping of errors', async () => {
    const notFound = await app.inject({ method: 'GET', url: '/medward/none', headers: headers() });
    assert.equal(notFound.statusCode, 404);
    assert.equal(notFound.headers['x-m2m-rsc'], '4004');
    const denied = await app.inject({ method: 'GET', url: '/medward', headers: headers() });
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.headers['x-m2m-rsc'], '4103');
    const unregistered = await app.inject({
      method: 'GET',
      url: '/medward',
      headers: headers({ 'X-M2M-Origin': 'Cghost' }),
    });
    assert.equal(unregistered.statusCode, 403);
    assert.equal(unregistered.headers['x-m2m-rsc'], '4106');
    const patch = await app.inject({ method: 'PATCH', url: '/medward', headers: headers() });
    assert.equal(patch.statusCode, 405);
    assert.equal(patch.headers['x-m2m-rsc'], '4005');
    const release = await app.inject({
      method: 'GET',
      url: '/medward',
      headers: headers({ 'X-M2M-RVI': '1' }),
    });
    assert.equal(release.headers['x-m2m-rsc'], '4001');
    const nonBlocking = await app.inject({
      method: 'GET',
      url: `/medward/${aei}?rt=2`,
      headers: headers(),
    });
    assert.equal(nonBlocking.headers['x-m2m-rsc'], '5206');
    const expired = await app.inject({
      method: 'GET',
      url: `/medward/${aei}`,
      headers: headers({ 'X-M2M-RET': '20000101T000000' }),
    });
    assert.equal(expired.headers['x-m2m-rsc'], '4008');
    const conflict = await app.inject({
      method: 'POST',
      url: `/medward/${aei}`,
      headers: headers({ 'Content-Type': 'application/json;ty=3' }),
      payload: { 'm2m:cnt': { rn: 'dq' } },
    });
    assert.equal(conflict.statusCode, 409);
    assert.equal(conflict.headers['x-m2m-rsc'], '4105');
  });

  test('notify without ty goes to an AE', async () => {
    const response = await app.inject({
      method: 'POST',
      url: `/medward`,
      headers: headers({ 'Content-Type': 'application/json', 'X-M2M-Origin': ADMIN }),
      payload: { 'm2m:sgn': {} },
    });
    assert.equal(response.headers['x-m2m-rsc'], '4005');
  });

  test('real port with keep-alive fetch', async () => {
    const address = env.cse.httpAddress;
    assert.ok(address);
    const base = `http://127.0.0.1:${address.port}`;
    const created = await fetch(`${base}/medward/${aei}`, {
      method: 'POST',
      headers: headers({ 'Content-Type': 'application/json;ty=3', 'X-M2M-RI': 'net-1' }),
      body: JSON.stringify({ 'm2m:cnt': { rn: 'over-tcp' } }),
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('x-m2m-rsc'), '2001');
    assert.equal(created.headers.get('x-m2m-ri'), 'net-1');
    const read = await fetch(`${base}/medward/${aei}/over-tcp`, { headers: headers() });
    const content = (await read.json()) as { 'm2m:cnt': { rn: string } };
    assert.equal(content['m2m:cnt'].rn, 'over-tcp');
  });
});
