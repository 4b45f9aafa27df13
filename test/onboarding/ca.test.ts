import { X509Certificate, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as pkijs from 'pkijs';
import { AuditTrail } from '../../src/core/audit/index.js';
import { silentLogger } from '../../src/core/logger.js';
import {
  CertificateAuthority,
  CrlReason,
  buildCsr,
  loadOrCreateCaMaterial,
  oid,
  parseCsr,
  toPem,
  type CertificateTable,
} from '../../src/onboarding/ca/index.js';
import {
  basicConstraintsExtension,
  buildCertificate,
  encodeName,
  keyIdentifier,
  keyUsageExtension,
  randomSerialNumber,
  subjectKeyIdentifierExtension,
  authorityKeyIdentifierExtension,
  certsOnlyPkcs7,
  importPublicKey,
  parseCertificate,
  readCertsOnlyPkcs7,
  verifySignature,
} from '../../src/onboarding/ca/x509.js';
import { createTestDatabase, type TestDatabase } from '../support/storage.js';
import { onboardingConfig, temporaryDirectory, throwsWithCode } from './support.js';

const logger = silentLogger();

function deviceRequest(serial: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const csr = parseCsr(
    buildCsr(
      [{ type: oid.commonName, value: serial }],
      { uri: ['urn:example'] },
      privateKey,
      publicKey,
    ),
  );
  return {
    subject: csr.subject,
    subjectAltNames: { uri: [`urn:medward:device:${serial}`], dns: [`${serial}.devices.test`] },
    subjectPublicKeyInfoDer: csr.subjectPublicKeyInfoDer,
    publicKey: csr.publicKey,
  };
}

describe('CA files', () => {
  test('created on first start', (t) => {
    const directory = temporaryDirectory();
    t.after(() => {
      directory.remove();
    });
    const config = onboardingConfig().ca;
    const first = loadOrCreateCaMaterial({ config, dataDir: directory.path, logger });
    const keyFile = join(directory.path, 'onboarding/ca/ca-key.pem');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.match(readFileSync(keyFile, 'utf8'), /BEGIN PRIVATE KEY/);
    const certificate = new X509Certificate(first.certificate.der);
    assert.equal(certificate.ca, true);
    assert.ok(certificate.verify(first.publicKey));
    assert.equal(first.privateKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const second = loadOrCreateCaMaterial({ config, dataDir: directory.path, logger });
    assert.equal(second.certificate.fingerprint, first.certificate.fingerprint);
  });

  test('encrypted key needs passphrase', (t) => {
    const directory = temporaryDirectory();
    t.after(() => {
      directory.remove();
    });
    const config = onboardingConfig({
      ca: { passphrase: 'correct horse battery', keyAlgorithm: 'ec-p384' },
    }).ca;
    const material = loadOrCreateCaMaterial({ config, dataDir: directory.path, logger });
    assert.equal(material.privateKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
    const keyText = readFileSync(join(directory.path, config.keyFile), 'utf8');
    assert.match(keyText, /BEGIN ENCRYPTED PRIVATE KEY/);
    const withoutPassphrase = { ...config, passphrase: undefined };
    throwsWithCode(
      () => loadOrCreateCaMaterial({ config: withoutPassphrase, dataDir: directory.path, logger }),
      'CA_KEY_UNREADABLE',
    );
    throwsWithCode(
      () =>
        loadOrCreateCaMaterial({
          config: { ...config, passphrase: 'wrong passphrase' },
          dataDir: directory.path,
          logger,
        }),
      'CA_KEY_UNREADABLE',
    );
  });

  test('loose key permissions rejected', (t) => {
    const directory = temporaryDirectory();
    t.after(() => {
      directory.remove();
    });
    const config = onboardingConfig().ca;
    loadOrCreateCaMaterial({ config, dataDir: directory.path, logger });
    chmodSync(join(directory.path, config.keyFile), 0o644);
    throwsWithCode(
      () => loadOrCreateCaMaterial({ config, dataDir: directory.path, logger }),
      'CA_KEY_PERMISSIONS',
    );
  });

  test('intermediate mode needs files', (t) => {
    const directory = temporaryDirectory();
    t.after(() => {
      directory.remove();
    });
    const config = onboardingConfig({ ca: { mode: 'intermediate' } }).ca;
    throwsWithCode(
      () => loadOrCreateCaMaterial({ config, dataDir: directory.path, logger }),
      'CA_FILES_MISSING',
    );
  });

  test('intermediate under site root', (t) => {
    const directory = temporaryDirectory();
    t.after(() => {
      directory.remove();
    });
    const root = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const rootSpki = root.publicKey.export({ type: 'spki', format: 'der' });
    const rootName = [{ type: oid.commonName, value: 'Hospital Root CA' }];
    const now = Date.now();
    const rootDer = buildCertificate(
      {
        serialNumber: randomSerialNumber(randomBytes),
        issuerNameDer: encodeName(rootName),
        subject: rootName,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 86_400_000 * 365),
        subjectPublicKeyInfoDer: rootSpki,
        extensions: [
          basicConstraintsExtension(true),
          keyUsageExtension(['keyCertSign', 'cRLSign']),
          subjectKeyIdentifierExtension(keyIdentifier(rootSpki)),
        ],
      },
      root.privateKey,
    );
    const intermediate = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const intermediateSpki = intermediate.publicKey.export({ type: 'spki', format: 'der' });
    const intermediateDer = buildCertificate(
      {
        serialNumber: randomSerialNumber(randomBytes),
        issuerNameDer: encodeName(rootName),
        subject: [{ type: oid.commonName, value: 'medward at Ward 7' }],
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 86_400_000 * 90),
        subjectPublicKeyInfoDer: intermediateSpki,
        extensions: [
          basicConstraintsExtension(true, 0),
          keyUsageExtension(['keyCertSign', 'cRLSign']),
          subjectKeyIdentifierExtension(keyIdentifier(intermediateSpki)),
          authorityKeyIdentifierExtension(keyIdentifier(rootSpki)),
        ],
      },
      root.privateKey,
    );
    writeFileSync(join(directory.path, 'ca.pem'), toPem(intermediateDer, 'CERTIFICATE'));
    writeFileSync(join(directory.path, 'root.pem'), toPem(rootDer, 'CERTIFICATE'));
    writeFileSync(
      join(directory.path, 'ca-key.pem'),
      intermediate.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      { mode: 0o600 },
    );
    const config = onboardingConfig({
      ca: {
        mode: 'intermediate',
        keyFile: 'ca-key.pem',
        certificateFile: 'ca.pem',
        chainFile: 'root.pem',
      },
    }).ca;
    const material = loadOrCreateCaMaterial({ config, dataDir: directory.path, logger });
    assert.equal(material.chain.length, 1);
    assert.deepEqual(material.keyIdentifier, keyIdentifier(intermediateSpki));
    const authority = new CertificateAuthority({
      material,
      storage: undefined as never,
      audit: undefined as never,
      logger,
      certificates: onboardingConfig().certificates,
      crlUrl: undefined,
    });
    const issued = authority.signDeviceCertificate(deviceRequest('SN-77'));
    const leaf = new X509Certificate(issued.parsed.der);
    const intermediateCertificate = new X509Certificate(intermediateDer);
    const rootCertificate = new X509Certificate(rootDer);
    assert.ok(leaf.checkIssued(intermediateCertificate));
    assert.ok(leaf.verify(intermediate.publicKey));
    assert.ok(intermediateCertificate.checkIssued(rootCertificate));
    assert.ok(intermediateCertificate.verify(root.publicKey));
    assert.deepEqual(
      authority.caCertificates.map((certificate) => certificate.fingerprint),
      [material.certificate.fingerprint, material.chain[0]?.fingerprint],
    );
  });
});

describe('certificate authority', () => {
  let database: TestDatabase;
  let audit: AuditTrail;
  let authority: CertificateAuthority;
  let directory: { path: string; remove(): void };

  before(async () => {
    database = await createTestDatabase('sqlite');
    audit = new AuditTrail(database.storage, { siteId: 'test' });
    directory = temporaryDirectory();
    const config = onboardingConfig();
    authority = new CertificateAuthority({
      material: loadOrCreateCaMaterial({ config: config.ca, dataDir: directory.path, logger }),
      storage: database.storage,
      audit,
      logger,
      certificates: config.certificates,
      crlUrl: 'https://127.0.0.1:8443/crl',
    });
  });

  after(async () => {
    await database.dispose();
    directory.remove();
  });

  test('device certificate carries identity', () => {
    const issued = authority.signDeviceCertificate(deviceRequest('SN-1'));
    const certificate = new X509Certificate(issued.parsed.der);
    assert.equal(certificate.subject, 'CN=SN-1');
    assert.equal(certificate.subjectAltName, 'DNS:SN-1.devices.test, URI:urn:medward:device:SN-1');
    assert.ok(certificate.checkIssued(new X509Certificate(authority.certificate.der)));
    assert.equal(certificate.ca, false);
    assert.deepEqual(certificate.keyUsage, ['1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.1']);
    const lifetimeMs = Date.parse(certificate.validTo) - Date.parse(certificate.validFrom);
    assert.equal(lifetimeMs, 168 * 3_600_000 + 5 * 60_000);
    assert.ok(authority.issued(issued.parsed));
    assert.ok(issued.pem.startsWith('-----BEGIN CERTIFICATE-----'));
  });

  test('certificate from another CA not issued', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spki = other.publicKey.export({ type: 'spki', format: 'der' });
    const forged = buildCertificate(
      {
        serialNumber: randomSerialNumber(randomBytes),
        issuerNameDer: authority.certificate.subjectNameDer,
        subject: [{ type: oid.commonName, value: 'SN-forged' }],
        notBefore: new Date(),
        notAfter: new Date(Date.now() + 60_000),
        subjectPublicKeyInfoDer: spki,
        extensions: [basicConstraintsExtension(false)],
      },
      other.privateKey,
    );
    const genuine = authority.signDeviceCertificate(deviceRequest('SN-genuine')).parsed;
    assert.equal(authority.issued(genuine), true);
    assert.equal(authority.issued({ ...genuine, signature: Buffer.alloc(70) }), false);
    assert.equal(authority.issued(parseCertificate(forged)), false);
  });

  test('revocation appears in CRL', async () => {
    const first = authority.signDeviceCertificate(deviceRequest('SN-2'));
    const second = authority.signDeviceCertificate(deviceRequest('SN-2'));
    const kept = authority.signDeviceCertificate(deviceRequest('SN-3'));
    await database.storage.db.transaction().execute(async (trx) => {
      await authority.record(trx, first, { deviceId: 'device-2', kind: 'device' });
      await authority.record(trx, second, { deviceId: 'device-2', kind: 'device' });
      await authority.record(trx, kept, { deviceId: 'device-3', kind: 'device' });
    });
    const before = pkijs.CertificateRevocationList.fromBER(await authority.crl());
    assert.equal(before.revokedCertificates?.length ?? 0, 0);
    assert.equal(await authority.crl(), await authority.crl());

    const revoked = await database.storage.db
      .transaction()
      .execute((trx) =>
        authority.revokeDeviceCertificates(
          trx,
          'device-2',
          CrlReason.PrivilegeWithdrawn,
          'test revocation',
        ),
      );
    assert.deepEqual(
      revoked.sort(),
      [first.parsed.serialNumberHex, second.parsed.serialNumberHex].sort(),
    );

    const der = await authority.crl();
    const crl = pkijs.CertificateRevocationList.fromBER(der);
    const serials = (crl.revokedCertificates ?? []).map((entry) =>
      Buffer.from(entry.userCertificate.valueBlock.valueHexView)
        .toString('hex')
        .replace(/^(00)+/, ''),
    );
    assert.deepEqual(serials.sort(), revoked.sort());
    assert.ok(
      verifySignature(
        crl.tbsView,
        crl.signatureAlgorithm.algorithmId,
        crl.signatureValue.valueBlock.valueHexView,
        createPublicKey({
          key: authority.certificate.subjectPublicKeyInfoDer,
          format: 'der',
          type: 'spki',
        }),
      ),
    );
    const numberOf = (list: pkijs.CertificateRevocationList): number => {
      const extension = list.crlExtensions?.extensions.find(
        (item) => item.extnID === oid.crlNumber,
      );
      return (extension?.parsedValue as { valueBlock: { valueDec: number } }).valueBlock.valueDec;
    };
    assert.ok(numberOf(crl) > numberOf(before));

    const again = await database.storage.db
      .transaction()
      .execute((trx) =>
        authority.revokeDeviceCertificates(trx, 'device-2', CrlReason.PrivilegeWithdrawn, 'again'),
      );
    assert.deepEqual(again, []);

    const records = await audit.list({ targetId: 'device-2' });
    assert.deepEqual(
      records.map((record) => record.event),
      ['certificate.issue', 'certificate.issue', 'certificate.revoke', 'certificate.revoke'],
    );
    assert.equal(records[2]?.reason, 'test revocation');
  });
});

describe('DER encoding', () => {
  test('EC keys imported like SPKI', () => {
    for (const namedCurve of ['prime256v1', 'secp384r1', 'secp521r1']) {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve });
      const spki = publicKey.export({ type: 'spki', format: 'der' });
      const imported = importPublicKey(spki, 'test key');
      assert.ok(imported.equals(publicKey), namedCurve);
      assert.equal(imported.asymmetricKeyDetails?.namedCurve, namedCurve);
    }
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    assert.ok(importPublicKey(rsa.export({ type: 'spki', format: 'der' }), 'test key').equals(rsa));
  });

  test('EC point off curve rejected', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const altered = Buffer.from(spki);
    const last = altered.length - 1;
    altered[last] = (altered[last] ?? 0) ^ 0x01;
    assert.throws(() => importPublicKey(altered, 'test key'));
  });

  test('certs-only PKCS#7 keeps order', () => {
    const certificates = ['SN-a', 'SN-c', 'SN-b'].map((serial) => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const subject = [{ type: oid.commonName, value: serial }];
      return parseCertificate(
        buildCertificate(
          {
            serialNumber: randomSerialNumber(randomBytes),
            issuerNameDer: encodeName(subject),
            subject,
            notBefore: new Date(),
            notAfter: new Date(Date.now() + 60_000),
            subjectPublicKeyInfoDer: publicKey.export({ type: 'spki', format: 'der' }),
            extensions: [basicConstraintsExtension(false)],
          },
          privateKey,
        ),
      );
    });
    const der = certsOnlyPkcs7(certificates);
    assert.deepEqual(
      readCertsOnlyPkcs7(der),
      certificates.map((certificate) => certificate.der),
    );
    const signedData = new pkijs.SignedData({
      schema: pkijs.ContentInfo.fromBER(der).content,
    });
    assert.equal(signedData.version, 1);
    assert.equal(signedData.signerInfos.length, 0);
    assert.equal(signedData.encapContentInfo.eContentType, oid.data);
    assert.deepEqual(
      (signedData.certificates ?? []).map((certificate) =>
        Buffer.from((certificate as pkijs.Certificate).toSchema().toBER()),
      ),
      certificates.map((certificate) => certificate.der),
    );
  });
});

describe('renewal policy', () => {
  const hour = 3_600_000;
  const notAfter = Date.parse('2026-06-10T12:00:00Z');

  function authorityAt(
    nowMs: number,
    certificates: Record<string, unknown> = {},
  ): CertificateAuthority {
    return new CertificateAuthority({
      material: undefined as never,
      storage: undefined as never,
      audit: undefined as never,
      logger,
      certificates: onboardingConfig({ certificates }).certificates,
      crlUrl: undefined,
      now: () => new Date(nowMs),
    });
  }

  function record(overrides: Partial<CertificateTable> = {}): CertificateTable {
    return {
      serial_number: '0a1b',
      device_id: 'device-1',
      kind: 'device',
      fingerprint: 'f'.repeat(64),
      subject: 'CN=SN-1',
      not_before: new Date(notAfter - 168 * hour).toISOString(),
      not_after: new Date(notAfter).toISOString(),
      issued_at: new Date(notAfter - 168 * hour).toISOString(),
      status: 'valid',
      revoked_at: null,
      revocation_reason: null,
      der: '',
      ...overrides,
    };
  }

  test('renewal inside window allowed', () => {
    assert.deepEqual(authorityAt(notAfter - 47 * hour).checkRenewal(record()), { expired: false });
  });

  test('renewal before window rejected', () => {
    throwsWithCode(
      () => authorityAt(notAfter - 49 * hour).checkRenewal(record()),
      'CA_RENEWAL_TOO_EARLY',
    );
  });

  test('expired renewal follows policy', () => {
    throwsWithCode(
      () => authorityAt(notAfter + hour).checkRenewal(record()),
      'CA_RENEWAL_AFTER_EXPIRY_FORBIDDEN',
    );
    const lenient = { allowRenewAfterExpiry: true, renewAfterExpiryGraceHours: 24 };
    assert.deepEqual(authorityAt(notAfter + hour, lenient).checkRenewal(record()), {
      expired: true,
    });
    throwsWithCode(
      () => authorityAt(notAfter + 25 * hour, lenient).checkRenewal(record()),
      'CA_RENEWAL_GRACE_EXCEEDED',
    );
  });

  test('revoked or unknown rejected', () => {
    const authority = authorityAt(notAfter - hour);
    throwsWithCode(
      () =>
        authority.checkRenewal(record({ status: 'revoked', revoked_at: '2026-06-09T00:00:00Z' })),
      'CA_CERTIFICATE_REVOKED',
    );
    throwsWithCode(() => authority.checkRenewal(undefined), 'CA_CERTIFICATE_UNKNOWN');
    throwsWithCode(
      () => authority.checkRenewal(record({ kind: 'server', device_id: null })),
      'CA_CERTIFICATE_UNKNOWN',
    );
  });
});
