import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect, createServer, type SecureVersion, type Server, type TLSSocket } from 'node:tls';
import { generateKeyPairSync } from 'node:crypto';
import { buildCsr, oid, parseCsr } from '../../src/onboarding/ca/index.js';
import {
  channelBindingOf,
  checkChannelBinding,
  type ChannelBinding,
} from '../../src/onboarding/est/channel-binding.js';

let dir: string;
let key: string;
let cert: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'medward-binding-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
    ],
    { stdio: 'ignore' },
  );
  key = readFileSync(join(dir, 'key.pem'), 'utf8');
  cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Connects once with `version` and returns both ends' bindings. */
async function bindingsOver(
  version: SecureVersion,
): Promise<{ server: ChannelBinding | undefined; client: ChannelBinding | undefined }> {
  const serverSide = new Promise<ChannelBinding | undefined>((resolve) => {
    server.once('secureConnection', (socket: TLSSocket) => {
      resolve(channelBindingOf(socket, 'server'));
      socket.end();
    });
  });
  const address = server.address();
  assert.ok(address !== null);
  assert.ok(typeof address === 'object');
  const client = connect({
    host: '127.0.0.1',
    port: address.port,
    ca: cert,
    servername: 'localhost',
    minVersion: version,
    maxVersion: version,
  });
  await once(client, 'secureConnect');
  const clientSide = channelBindingOf(client, 'client');
  const serverBinding = await serverSide;
  client.destroy();
  return { server: serverBinding, client: clientSide };
}

let server: Server;

before(async () => {
  server = createServer({ key, cert, minVersion: 'TLSv1.2' });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});

after(() => {
  server.close();
});

test('tls 1.3 binds with tls-exporter', async () => {
  const { server: seenByServer, client: seenByClient } = await bindingsOver('TLSv1.3');
  assert.equal(seenByServer?.type, 'tls-exporter');
  assert.equal(Buffer.from(seenByServer.value, 'base64').length, 32);
  assert.deepEqual(seenByClient, seenByServer);
});

test('tls 1.2 binds with tls-unique', async () => {
  const { server: seenByServer, client: seenByClient } = await bindingsOver('TLSv1.2');
  assert.equal(seenByServer?.type, 'tls-unique');
  // The Finished message's verify_data: 12 bytes in TLS 1.2.
  assert.equal(Buffer.from(seenByServer.value, 'base64').length, 12);
  assert.deepEqual(seenByClient, seenByServer);
});

test('sessions have different bindings', async () => {
  const first = await bindingsOver('TLSv1.3');
  const second = await bindingsOver('TLSv1.3');
  assert.notEqual(first.server?.value, second.server?.value);
});

test('policy decides on missing binding', () => {
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const subject = [{ type: oid.commonName, value: 'SN-1' }];
  const connection: ChannelBinding = { type: 'tls-exporter', value: 'AAAA' };
  const unbound = parseCsr(buildCsr(subject, {}, keys.privateKey, keys.publicKey));
  const bound = parseCsr(buildCsr(subject, {}, keys.privateKey, keys.publicKey, 'AAAA'));
  const other = parseCsr(buildCsr(subject, {}, keys.privateKey, keys.publicKey, 'BBBB'));
  assert.equal(bound.challengePassword, 'AAAA');

  checkChannelBinding(unbound, connection, 'optional');
  checkChannelBinding(bound, connection, 'required');
  checkChannelBinding(other, connection, 'off');
  assert.throws(
    () => {
      checkChannelBinding(unbound, connection, 'required');
    },
    { code: 'EST_CSR_CHANNEL_BINDING_MISSING' },
  );
  assert.throws(
    () => {
      checkChannelBinding(other, connection, 'optional');
    },
    { code: 'EST_CSR_CHANNEL_BINDING_MISMATCH' },
  );
  // A connection without a binding cannot match a CSR that carries one.
  assert.throws(
    () => {
      checkChannelBinding(bound, undefined, 'optional');
    },
    { code: 'EST_CSR_CHANNEL_BINDING_MISMATCH' },
  );
});
