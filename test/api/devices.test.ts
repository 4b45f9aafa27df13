import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Device } from '../../src/inventory/index.js';
import { bearer, createApiHarness, storedState, type ApiHarness } from './support.js';

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown>; requestId: string };
}

let serial = 0;
function deviceBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  serial += 1;
  return {
    manufacturer: 'Acme Medical',
    model: 'Infusor 3000',
    serialNumber: `API-${serial}`,
    lifeSustaining: false,
    criticality: 'high',
    ...overrides,
  };
}

describe('device routes', () => {
  let harness: ApiHarness;
  let operator: Record<string, string>;

  before(async () => {
    harness = await createApiHarness({ config: { bodyLimitBytes: 4096 } });
    operator = bearer(harness.tokens.operator);
  });

  after(async () => {
    await harness.close();
  });

  const create = async (body: Record<string, unknown>): Promise<Device> => {
    const response = await harness.server.app.inject({
      method: 'POST',
      url: '/api/v1/devices',
      headers: operator,
      payload: body,
    });
    assert.equal(response.statusCode, 201, response.body);
    return response.json<Device>();
  };

  test('create, read and audit', async () => {
    const response = await harness.server.app.inject({
      method: 'POST',
      url: '/api/v1/devices',
      headers: { ...operator, 'x-request-id': 'create-1' },
      payload: deviceBody({
        macAddresses: ['02:AB:CD:EF:00:01'],
        systemId: '00A0C9FFFE123456',
        softwareComponents: [
          { name: 'openssl', version: '3.0.13', purl: 'pkg:generic/openssl@3.0.13' },
        ],
      }),
    });
    assert.equal(response.statusCode, 201);
    const device = response.json<Device>();
    assert.equal(response.headers.location, `/api/v1/devices/${device.id}`);
    assert.equal(response.headers.etag, '"1"');
    assert.deepEqual(device.macAddresses, ['02:ab:cd:ef:00:01']);
    assert.equal(device.systemId, '00a0c9fffe123456');

    const read = await harness.server.app.inject({
      method: 'GET',
      url: `/api/v1/devices/${device.id}`,
      headers: bearer(harness.tokens.auditor),
    });
    assert.equal(read.statusCode, 200);
    assert.equal(read.headers.etag, '"1"');
    assert.deepEqual(read.json(), device);

    const [record] = await harness.audit.list({ targetId: device.id });
    assert.equal(record?.event, 'device.create');
    assert.equal(record.actorKind, 'api-token');
    assert.equal(record.actorId, harness.tokens.operator.slice(4, 20));
    assert.equal(record.actorDisplay, 'operator');
    assert.equal(record.correlationId, 'create-1');
    assert.equal(record.sourceAddress, '127.0.0.1');
  });

  test('unknown device is 404', async () => {
    const response = await harness.server.app.inject({
      method: 'GET',
      url: '/api/v1/devices/00000000-0000-4000-8000-000000000000',
      headers: operator,
    });
    assert.equal(response.statusCode, 404);
    assert.equal(response.json<ErrorBody>().error.code, 'INVENTORY_DEVICE_NOT_FOUND');
    const badId = await harness.server.app.inject({
      method: 'GET',
      url: '/api/v1/devices/not-a-uuid',
      headers: operator,
    });
    assert.equal(badId.statusCode, 400);
    assert.equal(badId.json<ErrorBody>().error.code, 'API_VALIDATION_FAILED');
  });

  test('patch with If-Match or body version', async () => {
    const device = await create(deviceBody());
    const app = harness.server.app;
    const byHeader = await app.inject({
      method: 'PATCH',
      url: `/api/v1/devices/${device.id}`,
      headers: { ...operator, 'if-match': '"1"' },
      payload: { segment: 'icu', state: 'production' },
    });
    assert.equal(byHeader.statusCode, 200, byHeader.body);
    assert.equal(byHeader.headers.etag, '"2"');
    assert.equal(byHeader.json<Device>().segment, 'icu');

    const byBody = await app.inject({
      method: 'PATCH',
      url: `/api/v1/devices/${device.id}`,
      headers: operator,
      payload: { expectedVersion: 2, location: 'bed 3', segment: null },
    });
    assert.equal(byBody.statusCode, 200, byBody.body);
    assert.equal(byBody.json<Device>().version, 3);
    assert.equal(byBody.json<Device>().segment, null);
  });

  test('patch version problems', async () => {
    const device = await create(deviceBody());
    const app = harness.server.app;
    const url = `/api/v1/devices/${device.id}`;
    const cases: {
      headers: Record<string, string>;
      payload: object;
      status: number;
      code: string;
    }[] = [
      { headers: {}, payload: { owner: 'x' }, status: 400, code: 'API_EXPECTED_VERSION_REQUIRED' },
      {
        headers: { 'if-match': '"2"' },
        payload: { owner: 'x' },
        status: 409,
        code: 'INVENTORY_VERSION_CONFLICT',
      },
      {
        headers: {},
        payload: { owner: 'x', expectedVersion: 7 },
        status: 409,
        code: 'INVENTORY_VERSION_CONFLICT',
      },
      {
        headers: { 'if-match': '"1"' },
        payload: { owner: 'x', expectedVersion: 2 },
        status: 400,
        code: 'API_EXPECTED_VERSION_MISMATCH',
      },
      {
        headers: { 'if-match': 'W/"1"' },
        payload: { owner: 'x' },
        status: 400,
        code: 'API_IF_MATCH_INVALID',
      },
      {
        headers: { 'if-match': '*' },
        payload: { owner: 'x' },
        status: 400,
        code: 'API_IF_MATCH_INVALID',
      },
      {
        headers: {},
        payload: { owner: 'x', expectedVersion: 0 },
        status: 400,
        code: 'API_VALIDATION_FAILED',
      },
    ];
    for (const { headers, payload, status, code } of cases) {
      const before = await storedState(harness);
      const response = await app.inject({
        method: 'PATCH',
        url,
        headers: { ...operator, ...headers },
        payload,
      });
      const label = JSON.stringify({ headers, payload });
      assert.equal(response.statusCode, status, label);
      assert.equal(response.json<ErrorBody>().error.code, code, label);
      assert.deepEqual(await storedState(harness), before, label);
    }
    const conflict = await app.inject({
      method: 'PATCH',
      url,
      headers: { ...operator, 'if-match': '"5"' },
      payload: { owner: 'x' },
    });
    assert.deepEqual(conflict.json<ErrorBody>().error.details, {
      deviceId: device.id,
      expectedVersion: 5,
      currentVersion: 1,
    });
  });

  test('decommission keeps the record', async () => {
    const device = await create(deviceBody({ state: 'production' }));
    const app = harness.server.app;
    const url = `/api/v1/devices/${device.id}/decommission`;
    const stale = await app.inject({
      method: 'POST',
      url,
      headers: { ...operator, 'if-match': '"3"' },
    });
    assert.equal(stale.statusCode, 409);

    const retired = await app.inject({
      method: 'POST',
      url,
      headers: operator,
      payload: { reason: 'replaced by model 4000', expectedVersion: 1 },
    });
    assert.equal(retired.statusCode, 200, retired.body);
    assert.equal(retired.json<Device>().state, 'decommissioned');

    const again = await app.inject({ method: 'POST', url, headers: operator });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json<ErrorBody>().error.code, 'INVENTORY_DEVICE_DECOMMISSIONED');

    const [record] = await harness.audit.list({
      targetId: device.id,
      event: 'device.decommission',
    });
    assert.equal(record?.reason, 'replaced by model 4000');
    const read = await app.inject({
      method: 'GET',
      url: `/api/v1/devices/${device.id}`,
      headers: operator,
    });
    assert.equal(read.json<Device>().state, 'decommissioned');
  });

  test('identity clash is 409', async () => {
    const first = await create(deviceBody({ macAddresses: ['02:00:00:00:aa:01'] }));
    const before = await storedState(harness);
    const response = await harness.server.app.inject({
      method: 'POST',
      url: '/api/v1/devices',
      headers: operator,
      payload: deviceBody({ macAddresses: ['02-00-00-00-AA-01'] }),
    });
    assert.equal(response.statusCode, 409);
    const body = response.json<ErrorBody>();
    assert.equal(body.error.code, 'INVENTORY_IDENTITY_CONFLICT');
    assert.deepEqual(body.error.details.conflicts, [
      { field: 'macAddresses', value: '02:00:00:00:aa:01', deviceId: first.id },
    ]);
    assert.deepEqual(await storedState(harness), before);
  });

  test('list pages without duplicates or gaps', async () => {
    const created: string[] = [];
    for (let i = 0; i < 23; i += 1) {
      created.push((await create(deviceBody({ manufacturer: 'Paging GmbH' }))).id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `manufacturer=Paging%20GmbH&limit=5${cursor === null ? '' : `&cursor=${cursor}`}`;
      const response = await harness.server.app.inject({
        method: 'GET',
        url: `/api/v1/devices?${query}`,
        headers: bearer(harness.tokens.auditor),
      });
      assert.equal(response.statusCode, 200, response.body);
      const page = response.json<{ items: Device[]; nextCursor: string | null }>();
      assert.ok(page.items.length <= 5);
      seen.push(...page.items.map((d) => d.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== null && pages < 20);
    assert.equal(pages, 5);
    assert.equal(new Set(seen).size, seen.length, 'no duplicates');
    assert.deepEqual(seen, created, 'no gaps, creation order');
  });

  test('list filters', async () => {
    const match = await create(
      deviceBody({
        manufacturer: 'Filter AG',
        model: 'Vent-X',
        state: 'quarantined',
        segment: 'or-2',
        classification: 'restricted',
        lifeSustaining: true,
        criticality: 'critical',
      }),
    );
    await create(deviceBody({ manufacturer: 'Filter AG', model: 'Vent-X', segment: 'or-2' }));
    const app = harness.server.app;
    const query = async (text: string): Promise<string[]> => {
      const response = await app.inject({
        method: 'GET',
        url: `/api/v1/devices?manufacturer=Filter%20AG&${text}`,
        headers: operator,
      });
      assert.equal(response.statusCode, 200, response.body);
      return response.json<{ items: Device[] }>().items.map((d) => d.id);
    };
    assert.deepEqual(await query('state=quarantined'), [match.id]);
    assert.deepEqual(await query('lifeSustaining=true'), [match.id]);
    assert.deepEqual(await query('classification=restricted&segment=or-2'), [match.id]);
    assert.equal((await query('q=vent-x')).length, 2);
    assert.equal((await query('model=Vent-X&segment=or-2')).length, 2);
  });

  test('bad list queries are 400', async () => {
    const app = harness.server.app;
    const cases: [string, string, string[]][] = [
      ['limit=501', 'API_VALIDATION_FAILED', ['/querystring/limit']],
      [
        'limit=abc&state=lost',
        'API_VALIDATION_FAILED',
        ['/querystring/state', '/querystring/limit'],
      ],
      ['colour=red', 'API_VALIDATION_FAILED', ['/querystring/colour']],
      ['lifeSustaining=maybe', 'API_VALIDATION_FAILED', ['/querystring/lifeSustaining']],
      ['cursor=bm9wZQ', 'INVENTORY_CURSOR_INVALID', []],
    ];
    for (const [query, code, paths] of cases) {
      const response = await app.inject({
        method: 'GET',
        url: `/api/v1/devices?${query}`,
        headers: operator,
      });
      assert.equal(response.statusCode, 400, query);
      const body = response.json<ErrorBody>();
      assert.equal(body.error.code, code, query);
      if (paths.length > 0) {
        const problems = body.error.details.problems as { path: string }[];
        assert.deepEqual(problems.map((p) => p.path).sort(), [...paths].sort(), query);
      }
    }
  });
});

describe('device routes reject bad input', () => {
  let harness: ApiHarness;

  before(async () => {
    harness = await createApiHarness({ config: { bodyLimitBytes: 4096 } });
    const seed = await harness.inventory.create({
      manufacturer: 'Seed',
      model: 'S',
      serialNumber: 'SEED-1',
      lifeSustaining: false,
      criticality: 'low',
      macAddresses: ['02:00:00:00:00:99'],
    });
    assert.ok(seed.id);
  });

  after(async () => {
    await harness.close();
  });

  const json = { 'content-type': 'application/json' };

  const cases: {
    name: string;
    headers?: Record<string, string>;
    payload: string;
    status: number;
    code: string;
    paths?: string[];
  }[] = [
    {
      name: 'malformed JSON',
      headers: json,
      payload: '{"manufacturer": ',
      status: 400,
      code: 'API_MALFORMED_JSON',
    },
    {
      name: 'empty JSON body',
      headers: json,
      payload: '',
      status: 400,
      code: 'API_MALFORMED_JSON',
    },
    {
      name: 'prototype poisoning',
      headers: json,
      payload: '{"__proto__": {"admin": true}, "manufacturer": "A"}',
      status: 400,
      code: 'API_MALFORMED_JSON',
    },
    {
      name: 'unknown fields',
      headers: json,
      payload: JSON.stringify({ ...deviceBody(), colour: 'red', owner_id: 7 }),
      status: 400,
      code: 'API_VALIDATION_FAILED',
      paths: ['/body/colour', '/body/owner_id'],
    },
    {
      name: 'wrong types',
      headers: json,
      payload: JSON.stringify({
        ...deviceBody(),
        lifeSustaining: 'false',
        criticality: 3,
        macAddresses: 'aa:bb:cc:dd:ee:ff',
        serialNumber: 12,
      }),
      status: 400,
      code: 'API_VALIDATION_FAILED',
      paths: [
        '/body/lifeSustaining',
        '/body/criticality',
        '/body/macAddresses',
        '/body/serialNumber',
      ],
    },
    {
      name: 'bad identifiers',
      headers: json,
      payload: JSON.stringify({
        ...deviceBody(),
        systemId: '0123',
        macAddresses: ['02:00:00:00:00:01', 'zz:00:00:00:00:01'],
        certificateFingerprint: 'abc',
        segment: 'ICU WARD',
        softwareComponents: [{ name: 'x', version: '1', purl: 'npm:x' }],
      }),
      status: 400,
      code: 'API_VALIDATION_FAILED',
      paths: [
        '/body/systemId',
        '/body/macAddresses/1',
        '/body/certificateFingerprint',
        '/body/segment',
        '/body/softwareComponents/0/purl',
      ],
    },
    {
      name: 'control characters',
      headers: json,
      payload: JSON.stringify({ ...deviceBody(), model: 'Pump\u0000' }),
      status: 400,
      code: 'API_VALIDATION_FAILED',
      paths: ['/body/model'],
    },
    {
      name: 'multicast MAC',
      headers: json,
      payload: JSON.stringify({ ...deviceBody(), macAddresses: ['01:00:5e:00:00:01'] }),
      status: 400,
      code: 'INVENTORY_DEVICE_INVALID',
      paths: ['/macAddresses/0'],
    },
    {
      name: 'taken MAC',
      headers: json,
      payload: JSON.stringify({ ...deviceBody(), macAddresses: ['02:00:00:00:00:99'] }),
      status: 409,
      code: 'INVENTORY_IDENTITY_CONFLICT',
    },
    {
      name: 'oversized body',
      headers: json,
      payload: JSON.stringify({ ...deviceBody(), location: 'x'.repeat(5000) }),
      status: 413,
      code: 'API_BODY_TOO_LARGE',
    },
    {
      name: 'text body',
      headers: { 'content-type': 'text/plain' },
      payload: 'manufacturer=Acme',
      status: 415,
      code: 'API_UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'form body',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'manufacturer=Acme',
      status: 415,
      code: 'API_UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'array body',
      headers: json,
      payload: '[]',
      status: 400,
      code: 'API_VALIDATION_FAILED',
    },
    { name: 'no body', payload: '', status: 400, code: 'API_VALIDATION_FAILED' },
  ];

  for (const testCase of cases) {
    test(`create: ${testCase.name}`, async () => {
      const before = await storedState(harness);
      const response = await harness.server.app.inject({
        method: 'POST',
        url: '/api/v1/devices',
        headers: { ...bearer(harness.tokens.operator), ...testCase.headers },
        payload: testCase.payload,
      });
      assert.equal(response.statusCode, testCase.status, response.body);
      const body = response.json<ErrorBody>();
      assert.equal(body.error.code, testCase.code);
      assert.equal(typeof body.error.message, 'string');
      assert.equal(body.error.requestId, response.headers['x-request-id']);
      assert.equal(response.headers['cache-control'], 'no-store');
      if (testCase.paths !== undefined) {
        const problems = body.error.details.problems as { path: string }[];
        assert.deepEqual(problems.map((p) => p.path).sort(), [...testCase.paths].sort());
      }
      // Input errors are not security events: no device and no audit record.
      assert.deepEqual(await storedState(harness), before);
    });
  }

  test('patch: unknown and wrong fields', async () => {
    const [device] = (await harness.inventory.list({ manufacturer: 'Seed' })).items;
    assert.ok(device);
    const before = await storedState(harness);
    const response = await harness.server.app.inject({
      method: 'PATCH',
      url: `/api/v1/devices/${device.id}`,
      headers: { ...bearer(harness.tokens.operator), 'if-match': '"1"' },
      payload: { id: 'forged', version: 9, createdAt: 'x', state: 'gone', lifeSustaining: null },
    });
    assert.equal(response.statusCode, 400);
    const problems = response.json<ErrorBody>().error.details.problems as { path: string }[];
    assert.deepEqual(problems.map((p) => p.path).sort(), [
      '/body/createdAt',
      '/body/id',
      '/body/lifeSustaining',
      '/body/state',
      '/body/version',
    ]);
    assert.deepEqual(await storedState(harness), before);
  });
});
