import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runSimulation } from '../../../src/ieee11073/index.js';
import { loadTlsOptions } from '../../../src/ieee11073/transport/tls.js';
import { startManager, type LiveManager } from './support.js';

/** Creates a CA, a server certificate for 127.0.0.1 and a client certificate with openssl. */
function createCertificates(dir: string): void {
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=medward test CA',
  );
  for (const name of ['server', 'client']) {
    run(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=medward ${name}`,
    );
  }
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > server.ext'], { cwd: dir });
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  );
  run(
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.pem',
    '-days',
    '2',
  );
}

describe('ieee11073 manager over mutual tls', () => {
  let dir: string;
  let live: LiveManager;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'medward-tls-'));
    createCertificates(dir);
    live = await startManager({
      config: {
        tls: {
          enabled: true,
          certFile: join(dir, 'server.pem'),
          keyFile: join(dir, 'server.key'),
          caFile: join(dir, 'ca.pem'),
          requireClientCert: true,
        },
      },
    });
  });

  after(async () => {
    await live.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('agent with client certificate reports', async () => {
    const summary = await runSimulation({
      kind: 'scale',
      count: 1,
      ratePerSecond: 20,
      durationMs: 1000,
      reportsPerAgent: 3,
      host: '127.0.0.1',
      port: live.port,
      systemIdPrefix: '7e570000',
      tls: {
        ca: readFileSync(join(dir, 'ca.pem')),
        cert: readFileSync(join(dir, 'client.pem')),
        key: readFileSync(join(dir, 'client.key')),
      },
    });
    assert.equal(summary.sessionsFailed, 0, JSON.stringify(summary.errors));
    assert.equal(summary.acksReceived, 3);
    const records = await live.audit.list({
      event: 'ieee11073.association.accept',
      targetId: '7e57000000000000',
    });
    assert.equal(records[0]?.details.transport, 'tls');
    assert.equal(records[0].details.peerCertificateSubject, 'CN=medward client');
  });

  test('agent without certificate refused', async () => {
    const summary = await runSimulation({
      kind: 'scale',
      count: 1,
      ratePerSecond: 20,
      durationMs: 500,
      reportsPerAgent: 1,
      host: '127.0.0.1',
      port: live.port,
      systemIdPrefix: '7e580000',
      tls: { ca: readFileSync(join(dir, 'ca.pem')) },
    });
    assert.equal(summary.sessionsFailed, 1);
    assert.equal(summary.acksReceived, 0);
  });

  test('mutual tls needs a ca file', () => {
    assert.throws(
      () =>
        loadTlsOptions({
          enabled: true,
          certFile: join(dir, 'server.pem'),
          keyFile: join(dir, 'server.key'),
          requireClientCert: true,
        }),
      { code: 'IEEE11073_TLS_FILE_MISSING' },
    );
  });
});
