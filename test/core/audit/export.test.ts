import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { text } from 'node:stream/consumers';
import { AuditTrail, exportAuditTrail } from '../../../src/core/audit/index.js';
import { canonicalJson } from '../../../src/core/audit/canonical-json.js';
import { runWithContext } from '../../../src/core/context.js';
import { createTestDatabase } from '../../support/storage.js';

async function exported(trail: AuditTrail, format: 'jsonl' | 'fhir-bundle'): Promise<string> {
  const out = new PassThrough();
  const collected = text(out);
  await exportAuditTrail(trail, format, out);
  out.end();
  return collected;
}

test('canonical JSON sorts keys at every level', () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 2 }], c: null } }),
    '{"a":{"c":null,"d":[2,{"e":2,"f":1}]},"b":1}',
  );
  assert.equal(canonicalJson({ a: undefined, b: 'x' }), '{"b":"x"}');
  assert.throws(() => canonicalJson({ a: Number.NaN }), /non-finite/);
});

test('audit record takes actor from context', async () => {
  const database = await createTestDatabase('sqlite');
  try {
    const trail = new AuditTrail(database.storage, { siteId: 'ward-7' });
    const record = await runWithContext(
      {
        requestId: 'r1',
        correlationId: 'corr-1',
        actor: { kind: 'api-token', id: 'tok1', display: 'ops' },
        sourceAddress: '127.0.0.1',
      },
      () => trail.record({ event: 'device.create', action: 'C', outcome: 'success' }),
    );
    assert.equal(record.actorKind, 'api-token');
    assert.equal(record.actorId, 'tok1');
    assert.equal(record.correlationId, 'corr-1');
    assert.equal(record.sourceAddress, '127.0.0.1');
    assert.equal(record.siteId, 'ward-7');
    await assert.rejects(trail.record({ event: 'NotDotted', action: 'C', outcome: 'success' }), {
      code: 'AUDIT_EVENT_INVALID',
    });
  } finally {
    await database.dispose();
  }
});

test('audit export writes JSON lines and FHIR', async () => {
  const database = await createTestDatabase('sqlite');
  try {
    const trail = new AuditTrail(database.storage, { siteId: 'test' });
    await trail.record({
      event: 'device.create',
      action: 'C',
      outcome: 'success',
      target: { kind: 'device', id: 'd1' },
      sourceAddress: '10.0.0.5',
    });
    await trail.record({
      event: 'auth.failure',
      action: 'E',
      outcome: 'minor-failure',
      reason: 'unknown token',
    });

    const lines = (await exported(trail, 'jsonl')).trim().split('\n');
    assert.equal(lines.length, 2);
    const first = JSON.parse(lines[0]!) as { seq: number; event: string; hash: string };
    assert.equal(first.seq, 1);
    assert.equal(first.event, 'device.create');
    assert.match(first.hash, /^[0-9a-f]{64}$/);

    const bundle = JSON.parse(await exported(trail, 'fhir-bundle')) as {
      resourceType: string;
      type: string;
      entry: { resource: Record<string, unknown> }[];
    };
    assert.equal(bundle.resourceType, 'Bundle');
    assert.equal(bundle.type, 'collection');
    assert.equal(bundle.entry.length, 2);
    const [create, failure] = bundle.entry.map((entry) => entry.resource);
    assert.equal(create!.resourceType, 'AuditEvent');
    assert.equal(create!.action, 'C');
    assert.equal(create!.outcome, '0');
    assert.deepEqual((create!.agent as { network: unknown }[])[0]!.network, {
      address: '10.0.0.5',
      type: '2',
    });
    assert.equal((failure!.type as { code: string }).code, '110114');
    assert.equal(failure!.outcome, '4');
    assert.equal(failure!.outcomeDesc, 'unknown token');
  } finally {
    await database.dispose();
  }
});
