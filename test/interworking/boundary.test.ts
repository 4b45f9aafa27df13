import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { AuditTrail } from '../../src/core/audit/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { encodeApdu } from '../../src/ieee11073/index.js';
import { BoundaryGuard, detectProtocol } from '../../src/interworking/index.js';
import { createTestDatabase, type TestDatabase } from '../support/storage.js';

const rlrq = encodeApdu({ kind: 'rlrq', reason: 0 });
const primitive = { op: 2, to: 'medward/ae', fr: 'Capp', rqi: 'r1', rvi: '3' };

describe('detectProtocol', () => {
  test('accepts a framed apdu', () => {
    const detection = detectProtocol(rlrq);
    assert.equal(detection.accepted, true);
    assert.equal(detection.protocol, 'ieee11073-20601');
  });

  test('accepts a primitive as bytes', () => {
    const detection = detectProtocol(new TextEncoder().encode(JSON.stringify(primitive)));
    assert.equal(detection.accepted, true);
    assert.equal(detection.protocol, 'onem2m');
  });

  test('rejects apdu with bad body', () => {
    const bytes = new Uint8Array([0xe7, 0x00, 0x00, 0x02, 0xff, 0xff]);
    const detection = detectProtocol(bytes);
    assert.equal(detection.accepted, false);
    assert.equal(detection.protocol, 'ieee11073-20601');
  });

  test('rejects primitive without rqi', () => {
    const detection = detectProtocol({ op: 2, to: 'medward', fr: 'C' });
    assert.equal(detection.protocol, 'onem2m');
    assert.ok(!detection.accepted);
    assert.match(detection.reason, /rqi/);
  });

  test('rejects other json as unknown', () => {
    const detection = detectProtocol('{"hello":1}');
    assert.equal(detection.accepted, false);
    assert.equal(detection.protocol, 'unknown');
  });

  test('random bytes never cross unvalidated', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        const detection = detectProtocol(bytes);
        if (detection.accepted && detection.protocol === 'ieee11073-20601') {
          assert.equal(bytes[0]! >= 0xe2 && bytes[0]! <= 0xe7, true);
          assert.equal(((bytes[2]! << 8) | bytes[3]!) + 4, bytes.byteLength);
        }
        if (!detection.accepted) {
          assert.ok(detection.reason.length > 0);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('framed random bodies are decoded', () => {
    const tags = [0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7];
    fc.assert(
      fc.property(fc.constantFrom(...tags), fc.uint8Array({ maxLength: 200 }), (tag, body) => {
        const bytes = new Uint8Array([tag, 0, body.length >> 8, body.length & 0xff, ...body]);
        const detection = detectProtocol(bytes);
        assert.equal(detection.protocol, 'ieee11073-20601');
      }),
      { numRuns: 2000 },
    );
  });

  test('random json is classified', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const detection = detectProtocol(JSON.stringify(value));
        if (detection.accepted) {
          assert.equal(detection.protocol, 'onem2m');
          assert.equal(typeof detection.request.rqi, 'string');
          assert.ok(detection.request.op >= 1 && detection.request.op <= 5);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('mutated primitives stay validated', () => {
    fc.assert(
      fc.property(
        fc.record({
          op: fc.oneof(fc.integer({ min: -2, max: 8 }), fc.string()),
          to: fc.string({ maxLength: 8 }),
          fr: fc.string({ maxLength: 8 }),
          rqi: fc.string({ maxLength: 8 }),
        }),
        (candidate) => {
          const detection = detectProtocol(candidate);
          assert.equal(detection.protocol, 'onem2m');
          const valid =
            typeof candidate.op === 'number' &&
            candidate.op >= 1 &&
            candidate.op <= 5 &&
            candidate.to.length > 0 &&
            candidate.rqi.length > 0;
          if (!valid) {
            assert.equal(detection.accepted, false);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('BoundaryGuard', () => {
  let database: TestDatabase;
  let audit: AuditTrail;

  before(async () => {
    database = await createTestDatabase('sqlite');
    audit = new AuditTrail(database.storage, { siteId: 'test' });
  });

  after(async () => {
    await database.dispose();
  });

  test('rejection is audited', async () => {
    const guard = new BoundaryGuard(audit, silentLogger());
    const detection = await guard.check(new Uint8Array([1, 2, 3]), '127.0.0.1:4000');
    assert.equal(detection.accepted, false);
    const records = await audit.list();
    const record = records.find((entry) => entry.event === 'interworking.boundary.reject');
    assert.ok(record);
    assert.equal(record.sourceAddress, '127.0.0.1:4000');
    assert.match(record.reason ?? '', /neither an APDU/);
  });

  test('acceptance is not audited', async () => {
    const guard = new BoundaryGuard(audit, silentLogger());
    const before = (await audit.list()).length;
    const detection = await guard.check(rlrq, 'agent');
    assert.equal(detection.accepted, true);
    assert.equal((await audit.list()).length, before);
  });
});
