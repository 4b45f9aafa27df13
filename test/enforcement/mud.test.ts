import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isMedwardError } from '../../src/core/errors.js';
import {
  compileMudFile,
  mudToFlows,
  parseMudFile,
  verifyMudSignature,
} from '../../src/enforcement/mud/index.js';
import { validateDevice } from '../../src/enforcement/segments.js';
import { makeDevice } from './support.js';

const fixture = readFileSync(new URL('../fixtures/mud-infusion-pump.json', import.meta.url));
const maxBytes = 262144;

/** Returns the fixture with the member at `path` set to `value`. */
function edit(path: readonly (string | number)[], value: unknown): Buffer {
  const document = JSON.parse(fixture.toString('utf8')) as unknown;
  let node = document as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) {
    node = node[key] as Record<string | number, unknown>;
  }
  node[path[path.length - 1]!] = value;
  return Buffer.from(JSON.stringify(document));
}

const firstAce = ['ietf-access-control-list:acls', 'acl', 0, 'aces', 'ace', 0];

function rejects(bytes: Uint8Array, code: string, pattern?: RegExp): void {
  assert.throws(
    () => parseMudFile(bytes, maxBytes),
    (error: unknown) => {
      assert.ok(isMedwardError(error), String(error));
      assert.equal(error.code, code);
      if (pattern !== undefined) {
        assert.match(error.message, pattern);
      }
      return true;
    },
  );
}

/** Signs `bytes` as a detached compact JWS. */
function detachedJws(
  bytes: Buffer,
  alg: 'EdDSA' | 'ES256',
  key: KeyObject,
  unencoded = false,
): string {
  const header = Buffer.from(
    JSON.stringify(unencoded ? { alg, b64: false, crit: ['b64'] } : { alg }),
  ).toString('base64url');
  const payload = unencoded ? bytes : Buffer.from(bytes.toString('base64url'));
  const input = Buffer.concat([Buffer.from(`${header}.`), payload]);
  const signature =
    alg === 'EdDSA'
      ? sign(null, input, key)
      : sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' });
  return `${header}..${signature.toString('base64url')}`;
}

describe('MUD file parser', () => {
  test('parses example pump file', () => {
    const mud = parseMudFile(fixture, maxBytes);
    assert.equal(mud.mudUrl, 'https://mud.example.com/infusion/ip-200.json');
    assert.equal(mud.cacheValidityHours, 24);
    assert.deepEqual(mud.fromDeviceAcls, ['ip200-v4-out']);
    assert.equal(mud.acls.get('ip200-v4-out')?.aces.length, 3);
  });

  test('compiles accept entries to flows', () => {
    const { flows, unresolved } = mudToFlows(parseMudFile(fixture, maxBytes));
    assert.deepEqual(
      flows.map(({ direction, protocol, peer, ports }) => ({ direction, protocol, peer, ports })),
      [
        {
          direction: 'from-device',
          protocol: 'tcp',
          peer: '203.0.113.10/32',
          ports: { first: 443, last: 443 },
        },
        {
          direction: 'from-device',
          protocol: 'udp',
          peer: '203.0.113.0/28',
          ports: { first: 123, last: 123 },
        },
        {
          direction: 'to-device',
          protocol: 'tcp',
          peer: '198.51.100.0/24',
          ports: { first: 8080, last: 8081 },
        },
      ],
    );
    assert.equal(unresolved.length, 1);
    assert.equal(unresolved[0]!.ace, 'vendor-cloud');
    validateDevice(makeDevice({ mudFlows: flows }));
  });

  test('entries after a drop stay blocked', () => {
    const bytes = edit([...firstAce, 'actions', 'forwarding'], 'drop');
    const { flows, unresolved } = mudToFlows(parseMudFile(bytes, maxBytes));
    assert.equal(flows.filter((flow) => flow.direction === 'from-device').length, 0);
    assert.deepEqual(
      unresolved.map((item) => item.ace),
      ['time', 'vendor-cloud'],
    );
  });

  test('rejects unknown member', () => {
    rejects(edit(['ietf-mud:mud', 'colour'], 'blue'), 'MUD_FILE_INVALID', /colour/);
    rejects(
      edit([...firstAce, 'matches', 'ipv4', 'destination-network'], '1.2.3.4/32'),
      'MUD_FILE_INVALID',
      /destination-network/,
    );
  });

  test('rejects missing access list', () => {
    rejects(
      edit(['ietf-mud:mud', 'to-device-policy', 'access-lists', 'access-list', 0, 'name'], 'nope'),
      'MUD_FILE_INVALID',
      /nope/,
    );
  });

  test('rejects wrong version and http URL', () => {
    rejects(edit(['ietf-mud:mud', 'mud-version'], 2), 'MUD_FILE_INVALID', /mud-version/);
    rejects(
      edit(['ietf-mud:mud', 'mud-url'], 'http://mud.example.com/x.json'),
      'MUD_FILE_INVALID',
      /https/,
    );
  });

  test('rejects family mismatch and bad prefix', () => {
    rejects(
      edit([...firstAce, 'matches', 'ipv4', 'destination-ipv4-network'], '2001:db8::/32'),
      'MUD_FILE_INVALID',
    );
    rejects(
      edit(['ietf-access-control-list:acls', 'acl', 0, 'type'], 'eth-acl-type'),
      'MUD_FILE_INVALID',
    );
  });

  test('rejects oversize and non-UTF-8', () => {
    assert.throws(() => parseMudFile(fixture, 100), /exceeds 100/);
    rejects(Buffer.from([0x7b, 0xff, 0x7d]), 'MUD_FILE_INVALID', /UTF-8/);
  });

  test('parser throws only MedwardError', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parseMudFile(Buffer.from(JSON.stringify(value)), maxBytes);
        } catch (error) {
          assert.ok(isMedwardError(error), String(error));
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('mutated file never throws raw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: fixture.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        (index, value) => {
          const bytes = Buffer.from(fixture);
          bytes[index] = value;
          try {
            mudToFlows(parseMudFile(bytes, maxBytes));
          } catch (error) {
            assert.ok(isMedwardError(error), String(error));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('MUD signature', () => {
  const ed = generateKeyPairSync('ed25519');
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const other = generateKeyPairSync('ed25519');
  const config = { trustKeyFiles: [], requireSignature: true, maxFileBytes: maxBytes };

  test('Ed25519 detached JWS verifies', () => {
    verifyMudSignature(fixture, detachedJws(fixture, 'EdDSA', ed.privateKey), [
      ec.publicKey,
      ed.publicKey,
    ]);
    verifyMudSignature(fixture, detachedJws(fixture, 'EdDSA', ed.privateKey, true), [ed.publicKey]);
  });

  test('ES256 detached JWS verifies', () => {
    verifyMudSignature(fixture, detachedJws(fixture, 'ES256', ec.privateKey), [ec.publicKey]);
  });

  test('changed file fails signature', () => {
    const jws = detachedJws(fixture, 'EdDSA', ed.privateKey);
    const changed = Buffer.from(fixture);
    changed[10] = changed[10]! ^ 1;
    assert.throws(() => {
      verifyMudSignature(changed, jws, [ed.publicKey]);
    }, /not valid for any configured trust key/);
  });

  test('untrusted key fails signature', () => {
    const jws = detachedJws(fixture, 'EdDSA', other.privateKey);
    assert.throws(() => {
      verifyMudSignature(fixture, jws, [ed.publicKey]);
    }, /not valid/);
  });

  test('rejects alg none and attached payload', () => {
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}..`;
    assert.throws(() => {
      verifyMudSignature(fixture, none, [ed.publicKey]);
    }, /not accepted/);
    const attached = detachedJws(fixture, 'EdDSA', ed.privateKey).replace('..', '.cGF5bG9hZA.');
    assert.throws(() => {
      verifyMudSignature(fixture, attached, [ed.publicKey]);
    }, /detached JWS/);
  });

  test('unsigned file rejected by default', () => {
    assert.throws(() => compileMudFile(fixture, undefined, config, [ed.publicKey]), /no signature/);
    const compiled = compileMudFile(fixture, detachedJws(fixture, 'EdDSA', ed.privateKey), config, [
      ed.publicKey,
    ]);
    assert.equal(compiled.signed, true);
    assert.equal(compiled.flows.length, 3);
  });
});
