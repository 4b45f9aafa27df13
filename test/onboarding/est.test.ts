import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { request } from 'node:https';
import { connect, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import assert from 'node:assert/strict';
import * as pkijs from 'pkijs';
import type { AuditRecord } from '../../src/core/audit/index.js';
import type { BusMessage } from '../../src/core/bus/index.js';
import { ActorKind } from '../../src/core/context.js';
import { hashSecret } from '../../src/onboarding/authorisation/index.js';
import { buildCsr, oid, readCertsOnlyPkcs7, toPem } from '../../src/onboarding/ca/index.js';
import { channelBindingOf } from '../../src/onboarding/est/channel-binding.js';
import {
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  buildCertificate,
  encodeName,
  keyIdentifier,
  keyUsageExtension,
  randomSerialNumber,
  subjectKeyIdentifierExtension,
} from '../../src/onboarding/ca/x509.js';
import {
  OnboardingEnvironment,
  type DeviceSpec,
} from '../../src/onboarding/simulation/onboarding-environment.js';
import {
  ProvisioningRequestFailed,
  SimulatedDevice,
  SimulatedManufacturer,
} from '../../src/onboarding/simulation/simulated-device.js';
import { requireService } from '../support/services.js';
import { createTestDatabase } from '../support/storage.js';
import { settle } from './core-harness.js';

const operator = { kind: ActorKind.User, id: 'user-1', display: 'Biomed' };

async function rejectsWithStatus(
  promise: Promise<unknown>,
  status: number,
  code: string,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(
      error instanceof ProvisioningRequestFailed,
      `expected an HTTP failure, got ${String(error)}`,
    );
    assert.equal(error.status, status, error.message);
    assert.equal(error.errorCode, code, error.message);
    return true;
  });
}

function pkcs7Certificates(body: Buffer): Buffer[] {
  return readCertsOnlyPkcs7(Buffer.from(body.toString('latin1').replace(/\s+/g, ''), 'base64'));
}

describe('EST provisioning listener', () => {
  let env: OnboardingEnvironment;
  const events: BusMessage[] = [];
  let specs: DeviceSpec[];
  let next = 0;

  before(async () => {
    env = await OnboardingEnvironment.create();
    await env.bus.subscribe({
      subject: 'onboarding.>',
      group: 'est-test',
      handler: (message) => {
        events.push(message);
      },
    });
    await env.start();
    specs = env.deviceSpecs(40);
    await env.authorise(specs);
  });

  after(async () => {
    await env.close();
  });

  /** Returns the next unused authorised device of the wanted birth identity kind. */
  function nextDevice(kind: 'idevid' | 'bootstrap-secret'): {
    spec: DeviceSpec;
    device: SimulatedDevice;
  } {
    for (;;) {
      const index = next;
      next += 1;
      const spec = specs[index];
      assert.ok(spec, 'test ran out of authorised devices');
      if (spec.birth.kind === kind) {
        return { spec, device: env.device(spec, index) };
      }
    }
  }

  async function records(targetId: string): Promise<AuditRecord[]> {
    return env.audit.list({ targetId, limit: 1000 });
  }

  async function deviceBySerial(serialNumber: string) {
    const page = await env.inventory.list({ text: serialNumber });
    return page.items.find((device) => device.serialNumber === serialNumber);
  }

  test('listener bound to loopback only', () => {
    assert.match(env.listenerUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(env.onboarding.provisioningListener.port, 0);
  });

  test('cacerts returns CA chain', async () => {
    const { device } = nextDevice('idevid');
    const response = await device.send('/.well-known/est/cacerts', { method: 'GET', headers: {} });
    assert.equal(response.headers['content-type'], 'application/pkcs7-mime; smime-type=certs-only');
    assert.equal(response.headers['content-transfer-encoding'], 'base64');
    const certificates = pkcs7Certificates(response.body);
    assert.equal(certificates.length, 1);
    assert.equal(
      new X509Certificate(certificates[0]!).fingerprint256,
      new X509Certificate(env.onboarding.ca.certificate.der).fingerprint256,
    );
    const parsed = pkijs.ContentInfo.fromBER(
      Buffer.from(response.body.toString('latin1').replace(/\s+/g, ''), 'base64'),
    );
    assert.equal(parsed.contentType, oid.signedData);
  });

  test('listener chain omits self-signed root', async () => {
    // Without the CA as trust anchor, the client sees only what the listener sent.
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const connection = connect(
        {
          host: '127.0.0.1',
          port: env.onboarding.provisioningListener.port,
          rejectUnauthorized: false,
        },
        () => {
          resolve(connection);
        },
      );
      connection.once('error', reject);
    });
    try {
      const sent = socket.getPeerCertificate(true);
      const caFingerprint = new X509Certificate(env.onboarding.ca.certificate.der).fingerprint256;
      assert.notEqual(sent.fingerprint256, caFingerprint);
      assert.ok(
        socket
          .getPeerX509Certificate()
          ?.checkIssued(new X509Certificate(env.onboarding.ca.certificate.der)),
      );
      // Node leaves issuerCertificate undefined when the peer sent no issuer for the certificate.
      const issuer: DetailedPeerCertificate | undefined = sent.issuerCertificate;
      assert.equal(issuer, undefined);
    } finally {
      socket.destroy();
    }
  });

  test('csrattrs lists requested attributes', async () => {
    const { device } = nextDevice('idevid');
    const response = await device.send('/.well-known/est/csrattrs', { method: 'GET', headers: {} });
    assert.equal(response.headers['content-type'], 'application/csrattrs');
    const der = Buffer.from(response.body.toString('latin1').replace(/\s+/g, ''), 'base64');
    assert.equal(der[0], 0x30);
    assert.ok(
      der.includes(Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])),
    );
  });

  test('unknown paths and labels rejected', async () => {
    const { device } = nextDevice('idevid');
    await rejectsWithStatus(
      device.send('/.well-known/est/ward7/cacerts', { method: 'GET', headers: {} }),
      404,
      'EST_PATH_UNKNOWN',
    );
    await rejectsWithStatus(
      device.send('/.well-known/est/serverkeygen', { method: 'POST', headers: {} }),
      404,
      'EST_OPERATION_UNSUPPORTED',
    );
    await rejectsWithStatus(
      device.send('/.well-known/est/cacerts', { method: 'POST', headers: {} }),
      405,
      'EST_METHOD_NOT_ALLOWED',
    );
  });

  test('IDevID enrolment reaches enrolled', async () => {
    const { spec, device } = nextDevice('idevid');
    const pem = await device.enroll();
    const certificate = new X509Certificate(pem);
    assert.ok(certificate.checkIssued(new X509Certificate(env.onboarding.ca.certificate.der)));
    assert.ok(certificate.verify(new X509Certificate(env.onboarding.ca.certificate.der).publicKey));
    assert.equal(certificate.subject, `CN=${spec.serialNumber}\nserialNumber=${spec.serialNumber}`);
    const stored = await deviceBySerial(spec.serialNumber);
    assert.ok(stored);
    assert.equal(certificate.subjectAltName, `URI:urn:medward:device:${stored.id}`);
    assert.equal(stored.state, 'enrolled');
    assert.equal(
      stored.certificateFingerprint,
      certificate.fingerprint256.replaceAll(':', '').toLowerCase(),
    );
    const trail = await records(stored.id);
    assert.deepEqual(
      trail.map((record) => record.event),
      [
        'device.create',
        'device.lifecycle',
        'device.lifecycle',
        'certificate.issue',
        'device.lifecycle',
      ],
    );
    const states = trail
      .filter((record) => record.event === 'device.lifecycle')
      .map((record) => record.details.to);
    assert.deepEqual(states, ['identity-verified', 'authorised', 'enrolled']);
    const created = trail[0];
    assert.equal((created?.details.after as { state: string } | undefined)?.state, 'provisioning');
    assert.equal((created?.details.evidence as { method: string }).method, 'idevid');
    const verified = trail.find((record) => record.details.to === 'identity-verified');
    assert.equal((verified?.details.evidence as { method: string }).method, 'idevid');
    assert.equal(verified?.actorKind, 'device');
    assert.ok(trail.every((record) => record.sourceAddress === '127.0.0.1'));
  });

  test('IDevID through intermediate accepted', async () => {
    const root = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const rootSpki = root.publicKey.export({ type: 'spki', format: 'der' });
    const rootName = [{ type: oid.commonName, value: 'Vent Example Root' }];
    const now = Date.now();
    const rootDer = buildCertificate(
      {
        serialNumber: randomSerialNumber(randomBytes),
        issuerNameDer: encodeName(rootName),
        subject: rootName,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 86_400_000),
        subjectPublicKeyInfoDer: rootSpki,
        extensions: [
          basicConstraintsExtension(true),
          keyUsageExtension(['keyCertSign']),
          subjectKeyIdentifierExtension(keyIdentifier(rootSpki)),
        ],
      },
      root.privateKey,
    );
    const middle = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const middleSpki = middle.publicKey.export({ type: 'spki', format: 'der' });
    const middleName = [{ type: oid.commonName, value: 'Vent Example IDevID issuing' }];
    const middleDer = buildCertificate(
      {
        serialNumber: randomSerialNumber(randomBytes),
        issuerNameDer: encodeName(rootName),
        subject: middleName,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 86_400_000),
        subjectPublicKeyInfoDer: middleSpki,
        extensions: [
          basicConstraintsExtension(true, 0),
          keyUsageExtension(['keyCertSign']),
          subjectKeyIdentifierExtension(keyIdentifier(middleSpki)),
          authorityKeyIdentifierExtension(keyIdentifier(rootSpki)),
        ],
      },
      root.privateKey,
    );
    const leafKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const serialNumber = 'VX2-CHAIN-1';
    const leafDer = buildCertificate(
      {
        serialNumber: randomSerialNumber(randomBytes),
        issuerNameDer: encodeName(middleName),
        subject: [
          { type: oid.commonName, value: serialNumber },
          { type: oid.serialNumber, value: serialNumber },
        ],
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 86_400_000),
        subjectPublicKeyInfoDer: leafKey.publicKey.export({ type: 'spki', format: 'der' }),
        extensions: [
          basicConstraintsExtension(false),
          authorityKeyIdentifierExtension(keyIdentifier(middleSpki)),
        ],
      },
      middle.privateKey,
    );
    const spec: DeviceSpec = {
      manufacturer: 'Vent Example AG',
      model: 'VX-2',
      serialNumber,
      birth: {
        kind: 'idevid',
        certificatePem: toPem(leafDer, 'CERTIFICATE') + toPem(middleDer, 'CERTIFICATE'),
        keyPem: leafKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      },
      entry: {
        entryId: 'chain-1',
        manufacturer: 'Vent Example AG',
        model: 'VX-2',
        serialNumber,
        birthIdentity: { kind: 'idevid', trustAnchors: [toPem(rootDer, 'CERTIFICATE')] },
        deviceClass: 'ventilator',
      },
    };
    await env.authorise([spec]);
    await env.device(spec, 9000).enroll();
    const stored = await deviceBySerial(serialNumber);
    assert.equal(stored?.state, 'enrolled');
    const verified = (await records(stored.id)).find(
      (record) => record.details.to === 'identity-verified',
    );
    assert.equal((verified?.details.evidence as { chainLength: number }).chainLength, 2);
  });

  test('bootstrap secret used once', async () => {
    const { spec, device } = nextDevice('bootstrap-secret');
    await device.enroll();
    const stored = await deviceBySerial(spec.serialNumber);
    assert.equal(stored?.state, 'enrolled');
    const version = stored.version;
    await rejectsWithStatus(device.enroll(), 401, 'EST_BOOTSTRAP_SECRET_REPLAYED');
    const after = await deviceBySerial(spec.serialNumber);
    assert.equal(after?.version, version);
    assert.equal(after.certificateFingerprint, stored.certificateFingerprint);
    const rejection = (await records(stored.id)).find((record) => record.event === 'est.enroll');
    assert.equal(rejection?.outcome, 'serious-failure');
    assert.equal(rejection.details.code, 'EST_BOOTSTRAP_SECRET_REPLAYED');
    assert.ok(
      !JSON.stringify(rejection).includes(
        spec.birth.kind === 'bootstrap-secret' ? spec.birth.secret : 'never',
      ),
    );
  });

  test('concurrent secret replay wins once', async () => {
    const { spec } = nextDevice('bootstrap-secret');
    const index = specs.indexOf(spec);
    const attempts = await Promise.allSettled([
      env.device(spec, index).enroll(),
      env.device(spec, index).enroll(),
      env.device(spec, index).enroll(),
    ]);
    assert.equal(attempts.filter((attempt) => attempt.status === 'fulfilled').length, 1);
    for (const attempt of attempts.filter((item) => item.status === 'rejected')) {
      assert.ok(attempt.reason instanceof ProvisioningRequestFailed);
      assert.equal(attempt.reason.status, 401);
    }
    const stored = await deviceBySerial(spec.serialNumber);
    assert.equal(
      (await env.audit.list({ targetId: stored?.id, event: 'certificate.issue' })).length,
      1,
    );
  });

  test('secret accepted in header', async () => {
    const { spec, device } = nextDevice('bootstrap-secret');
    assert.equal(spec.birth.kind, 'bootstrap-secret');
    const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const csr = buildCsr(
      [{ type: oid.commonName, value: spec.serialNumber }],
      {},
      keys.privateKey,
      keys.publicKey,
    );
    const response = await device.send('/.well-known/est/simpleenroll', {
      method: 'POST',
      headers: {
        'content-type': 'application/pkcs10',
        'medward-bootstrap-secret': spec.birth.secret,
      },
      body: csr.toString('base64'),
    });
    assert.equal(pkcs7Certificates(response.body).length, 1);
    assert.equal((await deviceBySerial(spec.serialNumber))?.state, 'enrolled');
  });

  test('csr bound to its session', async () => {
    const { spec, device } = nextDevice('bootstrap-secret');
    assert.equal(spec.birth.kind, 'bootstrap-secret');
    const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const response = await device.send('/.well-known/est/simpleenroll', {
      method: 'POST',
      headers: {
        'content-type': 'application/pkcs10',
        'medward-bootstrap-secret': spec.birth.secret,
      },
      body: (socket) => {
        const binding = channelBindingOf(socket, 'client');
        assert.equal(binding?.type, 'tls-exporter');
        return buildCsr(
          [{ type: oid.commonName, value: spec.serialNumber }],
          {},
          keys.privateKey,
          keys.publicKey,
          binding.value,
        ).toString('base64');
      },
    });
    assert.equal(pkcs7Certificates(response.body).length, 1);
  });

  test('csr from another session rejected', async () => {
    const { spec, device } = nextDevice('bootstrap-secret');
    assert.equal(spec.birth.kind, 'bootstrap-secret');
    const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    // The binding of an earlier connection, as a relay that replays a CSR would send.
    let earlier: string | undefined;
    await device.send('/.well-known/est/cacerts', {
      method: 'GET',
      headers: {},
      body: (socket) => {
        earlier = channelBindingOf(socket, 'client')?.value;
        return '';
      },
    });
    assert.ok(earlier !== undefined);
    const csr = buildCsr(
      [{ type: oid.commonName, value: spec.serialNumber }],
      {},
      keys.privateKey,
      keys.publicKey,
      earlier,
    );
    await rejectsWithStatus(
      device.send('/.well-known/est/simpleenroll', {
        method: 'POST',
        headers: {
          'content-type': 'application/pkcs10',
          'medward-bootstrap-secret': spec.birth.secret,
        },
        body: csr.toString('base64'),
      }),
      400,
      'EST_CSR_CHANNEL_BINDING_MISMATCH',
    );
    const stored = await deviceBySerial(spec.serialNumber);
    assert.notEqual(stored?.state, 'enrolled');
    const rejections = await env.audit.list({ event: 'est.enroll' });
    assert.ok(
      rejections.some((record) => record.reason?.includes('challengePassword')),
      'the rejection is audited with its reason',
    );
  });

  test('missing or wrong secret rejected', async () => {
    const { spec } = nextDevice('bootstrap-secret');
    const wrong = new SimulatedDevice({
      ...env.device(spec, 0).options,
      birth: { kind: 'bootstrap-secret', secret: 'not-the-secret-0123456789' },
    });
    await rejectsWithStatus(wrong.enroll(), 401, 'EST_BOOTSTRAP_SECRET_INVALID');
    const anonymous = env.device(spec, 0);
    await assert.rejects(
      anonymous.send('/.well-known/est/simpleenroll', {
        method: 'POST',
        headers: { 'content-type': 'application/pkcs10' },
        body: 'not base64 at all!',
      }),
      (error: unknown) =>
        error instanceof ProvisioningRequestFailed &&
        error.errorCode === 'EST_CSR_ENCODING_INVALID',
    );
    const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const csr = buildCsr(
      [{ type: oid.commonName, value: spec.serialNumber }],
      {},
      keys.privateKey,
      keys.publicKey,
    );
    await rejectsWithStatus(
      anonymous.send('/.well-known/est/simpleenroll', {
        method: 'POST',
        headers: { 'content-type': 'application/pkcs10' },
        body: csr.toString('base64'),
      }),
      401,
      'EST_AUTHENTICATION_REQUIRED',
    );
    assert.equal(await deviceBySerial(spec.serialNumber), undefined);
  });

  async function enrolWithCsr(spec: DeviceSpec, csr: Buffer): Promise<unknown> {
    const device = env.device(spec, specs.indexOf(spec));
    const birth = spec.birth;
    return device.send('/.well-known/est/simpleenroll', {
      method: 'POST',
      headers: {
        'content-type': 'application/pkcs10',
        ...(birth.kind === 'bootstrap-secret'
          ? {
              authorization: `Basic ${Buffer.from(`${spec.serialNumber}:${birth.secret}`).toString('base64')}`,
            }
          : {}),
      },
      ...(birth.kind === 'idevid' ? { cert: birth.certificatePem, key: birth.keyPem } : {}),
      body: csr.toString('base64'),
    });
  }

  test('CSR identity rules enforced', async () => {
    const { spec } = nextDevice('bootstrap-secret');
    const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const cases: [string, Buffer, number, string][] = [
      [
        'other CN',
        buildCsr(
          [{ type: oid.commonName, value: 'SIM-999999' }],
          {},
          keys.privateKey,
          keys.publicKey,
        ),
        400,
        'EST_CSR_IDENTITY_MISMATCH',
      ],
      [
        'empty subject',
        buildCsr([], {}, keys.privateKey, keys.publicKey),
        400,
        'EST_CSR_SUBJECT_EMPTY',
      ],
      [
        'IP in DNS name',
        buildCsr(
          [{ type: oid.commonName, value: spec.serialNumber }],
          { dns: ['10.20.30.40'] },
          keys.privateKey,
          keys.publicKey,
        ),
        400,
        'EST_CSR_DNS_NAME_IS_IP_ADDRESS',
      ],
      [
        'unauthorised DNS name',
        buildCsr(
          [{ type: oid.commonName, value: spec.serialNumber }],
          { dns: ['pump.example'] },
          keys.privateKey,
          keys.publicKey,
        ),
        400,
        'EST_CSR_IDENTITY_MISMATCH',
      ],
      [
        'IP address name',
        buildCsr(
          [{ type: oid.commonName, value: spec.serialNumber }],
          { ip: ['10.0.0.9'] },
          keys.privateKey,
          keys.publicKey,
        ),
        400,
        'EST_CSR_IDENTITY_MISMATCH',
      ],
      [
        'other organisation',
        buildCsr(
          [
            { type: oid.commonName, value: spec.serialNumber },
            { type: oid.organizationName, value: 'Counterfeit Ltd' },
          ],
          {},
          keys.privateKey,
          keys.publicKey,
        ),
        400,
        'EST_CSR_IDENTITY_MISMATCH',
      ],
    ];
    for (const [name, csr, status, code] of cases) {
      await rejectsWithStatus(enrolWithCsr(spec, csr), status, code).catch((error: unknown) => {
        throw new Error(`case ${name}: ${String(error)}`);
      });
    }
    assert.equal(
      await deviceBySerial(spec.serialNumber),
      undefined,
      'a rejected CSR must not create the device',
    );
    const secretHash = spec.birth.kind === 'bootstrap-secret' ? hashSecret(spec.birth.secret) : '';
    const secret = await env.onboarding.authorisation.findSecret(env.storage.db, secretHash);
    assert.equal(secret?.consumed_at, null, 'a rejected CSR must not consume the secret');
    const failures = await env.audit.list({ event: 'est.enroll', limit: 1000 });
    for (const [, , , code] of cases) {
      assert.ok(
        failures.some((record) => record.details.code === code),
        `no audit record for ${code}`,
      );
    }
    await enrolWithCsr(
      spec,
      buildCsr(
        [{ type: oid.commonName, value: spec.serialNumber }],
        {},
        keys.privateKey,
        keys.publicKey,
      ),
    );
    assert.equal((await deviceBySerial(spec.serialNumber))?.state, 'enrolled');
  });

  test('CSR key and signature rules', async () => {
    const { spec } = nextDevice('idevid');
    const subject = [{ type: oid.commonName, value: spec.serialNumber }];
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    await rejectsWithStatus(
      enrolWithCsr(spec, buildCsr(subject, {}, small.privateKey, small.publicKey)),
      400,
      'EST_CSR_KEY_UNSUPPORTED',
    );
    const p521 = generateKeyPairSync('ec', { namedCurve: 'secp521r1' });
    await rejectsWithStatus(
      enrolWithCsr(spec, buildCsr(subject, {}, p521.privateKey, p521.publicKey)),
      400,
      'EST_CSR_KEY_UNSUPPORTED',
    );
    const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    // The request names one public key but is signed with another: no proof of possession.
    const forged = buildCsr(subject, {}, other.privateKey, keys.publicKey);
    await rejectsWithStatus(enrolWithCsr(spec, forged), 400, 'EST_CSR_SIGNATURE_INVALID');
    await rejectsWithStatus(
      enrolWithCsr(spec, Buffer.from('30030201', 'hex')),
      400,
      'EST_CSR_INVALID',
    );
    assert.equal(await deviceBySerial(spec.serialNumber), undefined);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await enrolWithCsr(spec, buildCsr(subject, {}, rsa.privateKey, rsa.publicKey));
    assert.equal((await deviceBySerial(spec.serialNumber))?.state, 'enrolled');
  });

  test('IDevID of wrong serial rejected', async () => {
    const { spec } = nextDevice('idevid');
    const stranger = env.manufacturer.issueIdevid(spec.model, 'SIM-NOT-LISTED-1');
    const impostor = new SimulatedDevice({
      ...env.device(spec, 0).options,
      birth: { kind: 'idevid', ...stranger },
    });
    await rejectsWithStatus(impostor.enroll(), 403, 'EST_DEVICE_NOT_LISTED');
    const forgedCa = new SimulatedManufacturer('Counterfeit Ltd');
    const forged = new SimulatedDevice({
      ...env.device(spec, 0).options,
      birth: { kind: 'idevid', ...forgedCa.issueIdevid(spec.model, spec.serialNumber) },
    });
    await rejectsWithStatus(forged.enroll(), 401, 'EST_BIRTH_IDENTITY_INVALID');
    assert.equal(await deviceBySerial(spec.serialNumber), undefined);
  });

  test('unlisted device approved manually', async () => {
    const maker = new SimulatedManufacturer('Acme Imaging');
    const idevid = maker.issueIdevid('CT-1', 'CT1-0042');
    const spec: DeviceSpec = {
      manufacturer: 'Acme Imaging',
      model: 'CT-1',
      serialNumber: 'CT1-0042',
      birth: { kind: 'idevid', ...idevid },
      entry: {
        entryId: 'unused',
        manufacturer: 'Acme Imaging',
        model: 'CT-1',
        serialNumber: 'CT1-0042',
        birthIdentity: { kind: 'public-key', publicKey: '' },
        deviceClass: 'imaging',
      },
    };
    const device = env.device(spec, 9100);
    await rejectsWithStatus(device.enroll(), 403, 'EST_DEVICE_NOT_LISTED');
    await settle();
    const seen = events.filter((event) => event.subject === 'onboarding.device.unlisted');
    const event = seen.find(
      (item) => (item.data as { serialNumber: string }).serialNumber === 'CT1-0042',
    );
    assert.ok(event);
    const sightingId = (event.data as { sightingId: string }).sightingId;
    const [sighting] = (await env.onboarding.sightings.list('pending')).filter(
      (item) => item.id === sightingId,
    );
    assert.equal(sighting?.manufacturer, 'Acme Imaging');
    assert.equal(sighting.model, 'CT-1');
    await env.onboarding.sightings.approve(
      sightingId,
      {
        deviceClass: 'imaging',
        lifeSustaining: false,
        criticality: 'moderate',
        reason: 'new CT scanner in radiology',
      },
      operator,
    );
    await device.enroll();
    const stored = await deviceBySerial('CT1-0042');
    assert.equal(stored?.state, 'enrolled');
    const verified = (await records(stored.id)).find(
      (record) => record.details.to === 'identity-verified',
    );
    assert.equal((verified?.details.evidence as { method: string }).method, 'pinned-public-key');
  });

  test('expired entry blocks enrolment', async () => {
    const [spec] = env.deviceSpecs(1, 5000);
    assert.ok(spec);
    spec.entry.validUntil = new Date(Date.now() - 60_000).toISOString();
    spec.entry.validFrom = new Date(Date.now() - 120_000).toISOString();
    await env.authorise([spec]);
    await rejectsWithStatus(env.device(spec, 5000).enroll(), 403, 'EST_AUTHORISATION_EXPIRED');
    assert.equal(await deviceBySerial(spec.serialNumber), undefined);
  });
});

describe('EST sighting rate limit', () => {
  let env: OnboardingEnvironment;

  before(async () => {
    env = await OnboardingEnvironment.create({
      config: { sightings: { burst: 2, ratePerMinute: 1 } },
    });
    await env.start();
  });

  after(async () => {
    await env.close();
  });

  /** Sends simpleenroll with HTTP Basic for `serialNumber` and a made-up secret. */
  function enrolWithInventedSecret(
    serialNumber: string,
  ): Promise<{ status: number; code: unknown; retryAfter: unknown; body: string }> {
    const body = 'MAA=';
    const secret = randomBytes(18).toString('base64url');
    return new Promise((resolve, reject) => {
      const outgoing = request(
        new URL('/.well-known/est/simpleenroll', env.listenerUrl),
        {
          method: 'POST',
          ca: env.caPem,
          agent: false,
          headers: {
            'content-type': 'application/pkcs10',
            'content-length': String(body.length),
            authorization: `Basic ${Buffer.from(`${serialNumber}:${secret}`).toString('base64')}`,
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            resolve({
              status: response.statusCode ?? 0,
              code: response.headers['medward-error-code'],
              retryAfter: response.headers['retry-after'],
              body: Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }

  test('invented serials answered 429', async () => {
    for (const serialNumber of ['INVENTED-1', 'INVENTED-2']) {
      const outcome = await enrolWithInventedSecret(serialNumber);
      assert.equal(outcome.status, 401, outcome.body);
      assert.equal(outcome.code, 'EST_BOOTSTRAP_SECRET_INVALID');
    }
    for (const serialNumber of ['INVENTED-3', 'INVENTED-4', 'INVENTED-5']) {
      const outcome = await enrolWithInventedSecret(serialNumber);
      assert.equal(outcome.status, 429, outcome.body);
      assert.equal(outcome.code, 'EST_SIGHTING_RATE_LIMITED');
      assert.match(outcome.body, /^EST_SIGHTING_RATE_LIMITED: too many unlisted devices/);
      assert.ok(Number(outcome.retryAfter) >= 1, `Retry-After was ${String(outcome.retryAfter)}`);
    }

    const sightings = await env.onboarding.sightings.list(undefined, 100);
    assert.deepEqual(sightings.map((sighting) => sighting.serialNumber).sort(), [
      'INVENTED-1',
      'INVENTED-2',
    ]);
    // The two rejections that reported a sighting are audited one by one, the limited ones once.
    assert.equal((await env.audit.list({ event: 'est.enroll', limit: 100 })).length, 2);
    const limits = await env.audit.list({ event: 'onboarding.sighting-rate-limit' });
    assert.equal(limits.length, 1);
    assert.equal(limits[0]?.sourceAddress, '127.0.0.1');
  });
});

/**
 * Approves an IDevID device and a bootstrap-secret device on the manual
 * list, has the authority's list revoke both, and enrols them.
 */
async function revokedDeviceCases(storageUrl?: string): Promise<void> {
  const env = await OnboardingEnvironment.create(storageUrl === undefined ? {} : { storageUrl });
  try {
    await env.start();
    const [idevidSpec, secretSpec] = env.deviceSpecs(2, 8000);
    assert.equal(idevidSpec?.birth.kind, 'idevid');
    assert.equal(secretSpec?.birth.kind, 'bootstrap-secret');
    const approval = {
      deviceClass: 'infusion-pump',
      lifeSustaining: false,
      criticality: 'moderate' as const,
      reason: 'pump delivered without a list entry',
    };

    const idevidDevice = env.device(idevidSpec, 8000);
    await rejectsWithStatus(idevidDevice.enroll(), 403, 'EST_DEVICE_NOT_LISTED');
    const [seen] = await env.onboarding.sightings.list('pending');
    assert.ok(seen);
    await env.onboarding.sightings.approve(seen.id, approval, operator);

    const secretSighting = await env.onboarding.sightings.report({
      manufacturer: secretSpec.manufacturer,
      model: secretSpec.model,
      serialNumber: secretSpec.serialNumber,
      sourceAddress: '127.0.0.1',
      reason: 'pump without a birth certificate',
    });
    const approved = await env.onboarding.sightings.approve(secretSighting.id, approval, operator);
    assert.ok(approved.bootstrapSecret);
    const secretDevice = new SimulatedDevice({
      ...env.device(secretSpec, 8001).options,
      birth: { kind: 'bootstrap-secret', secret: approved.bootstrapSecret.secret },
    });

    const revokedAt = new Date(Date.now() - 60_000).toISOString();
    await env.importList(
      [],
      [idevidSpec, secretSpec].map((spec) => ({
        manufacturer: spec.manufacturer,
        model: spec.model,
        serialNumber: spec.serialNumber,
        action: 'reject' as const,
        reason: 'returned to the manufacturer',
        revokedAt,
      })),
    );
    for (const device of [idevidDevice, secretDevice]) {
      await rejectsWithStatus(device.enroll(), 403, 'EST_DEVICE_REVOKED');
      const page = await env.inventory.list({ text: device.options.serialNumber });
      assert.equal(page.items.length, 0, `${device.options.birth.kind} device was created`);
    }
    const rejections = await env.audit.list({ event: 'est.enroll', limit: 100 });
    assert.deepEqual(
      rejections.map((record) => record.details.code),
      ['EST_DEVICE_NOT_LISTED', 'EST_DEVICE_REVOKED', 'EST_DEVICE_REVOKED'],
    );
  } finally {
    await env.close();
  }
}

describe('EST revoked devices', () => {
  test('revoked device rejected on SQLite', async () => {
    await revokedDeviceCases();
  });

  test('revoked device rejected on PostgreSQL', async (t) => {
    if (!(await requireService(t, 'postgres'))) {
      return;
    }
    const database = await createTestDatabase('postgres', { migrate: false });
    try {
      await revokedDeviceCases(database.url);
    } finally {
      await database.dispose();
    }
  });
});
