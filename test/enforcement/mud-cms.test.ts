import assert from 'node:assert/strict';
import { createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { isMedwardError } from '../../src/core/errors.js';
import {
  compileMudFile,
  loadMudTrustKeys,
  verifyMudSignature,
  type MudTrustKey,
} from '../../src/enforcement/mud/index.js';
import { TestPki, type Credential } from './mud-pki.js';

const fixture = readFileSync(new URL('../fixtures/mud-infusion-pump.json', import.meta.url));
const config = { trustKeyFiles: [], requireSignature: true, maxFileBytes: 262144 };

/** Asserts that `run` raises a MedwardError with `code` and a message matching `pattern`. */
function throwsMedwardError(run: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(isMedwardError(error), String(error));
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

/** Asserts that verification fails with MUD_SIGNATURE_INVALID and a message matching `pattern`. */
function rejects(
  signature: Uint8Array | string,
  trustKeys: readonly MudTrustKey[],
  pattern: RegExp,
  fileBytes: Uint8Array = fixture,
  now?: Date,
): void {
  throwsMedwardError(
    () => {
      verifyMudSignature(fileBytes, signature, trustKeys, now);
    },
    'MUD_SIGNATURE_INVALID',
    pattern,
  );
}

describe('MUD CMS signature', () => {
  const pki = new TestPki();
  let root: Credential;
  let intermediate: Credential;
  let ecSigner: Credential;
  let anchors: MudTrustKey[];

  before(() => {
    root = pki.createRoot('Lumen Root CA');
    intermediate = pki.issueCa(root, 'Lumen MUD Signing CA');
    ecSigner = pki.issue(intermediate, 'Lumen MUD signer');
    anchors = loadMudTrustKeys([pki.path(root.certificate)]);
  });

  after(() => {
    pki.remove();
  });

  function withIntermediate(signer: Credential, ...extraArgs: string[]): Buffer {
    return pki.signCms(fixture, signer, '-certfile', intermediate.certificate, ...extraArgs);
  }

  test('EC P-256 signature verifies', () => {
    verifyMudSignature(fixture, withIntermediate(ecSigner), anchors);
  });

  test('RSA-2048 signature verifies', () => {
    const rsaSigner = pki.issue(intermediate, 'Lumen RSA signer', { key: 'rsa-2048' });
    verifyMudSignature(fixture, withIntermediate(rsaSigner), anchors);
    const pss = withIntermediate(rsaSigner, '-keyopt', 'rsa_padding_mode:pss');
    verifyMudSignature(fixture, pss, anchors);
  });

  test('P-384 with SHA-384 verifies', () => {
    const signer = pki.issue(intermediate, 'Lumen P-384 signer', { key: 'ec-p384' });
    verifyMudSignature(fixture, withIntermediate(signer, '-md', 'sha384'), anchors);
  });

  test('Ed25519 signature verifies', () => {
    const signer = pki.issue(intermediate, 'Lumen Ed25519 signer', { key: 'ed25519' });
    const carried = [intermediate.certificate];
    const signature = pki.signCmsEd25519(fixture, signer, carried);
    verifyMudSignature(fixture, signature, anchors);
    const tampered = Buffer.from(fixture);
    tampered[30] = tampered[30]! ^ 0x01;
    rejects(signature, anchors, /message-digest attribute does not match/, tampered);
  });

  test('signed attributes verify in DER order', () => {
    const signer = pki.issue(intermediate, 'Lumen Ed25519 signer', { key: 'ed25519' });
    const carried = [intermediate.certificate];
    const unsorted = pki.signCmsEd25519(fixture, signer, carried, { unsortedAttributes: true });
    verifyMudSignature(fixture, unsorted, anchors);
  });

  test('content-type attribute must be id-data', () => {
    const signer = pki.issue(intermediate, 'Lumen Ed25519 signer', { key: 'ed25519' });
    const carried = [intermediate.certificate];
    const signature = pki.signCmsEd25519(fixture, signer, carried, { contentType: '1.2.3.4' });
    rejects(signature, anchors, /content-type attribute is 1\.2\.3\.4, not id-data/);
  });

  test('PEM and key identifier forms verify', () => {
    const pem = withIntermediate(ecSigner, '-outform', 'PEM').toString('latin1');
    assert.match(pem, /^-----BEGIN CMS-----/);
    verifyMudSignature(fixture, pem, anchors);
    verifyMudSignature(fixture, Buffer.from(pem), anchors);
    verifyMudSignature(fixture, withIntermediate(ecSigner, '-keyid'), anchors);
    writeFileSync(pki.path('pump.json'), fixture);
    const pkcs7 = pki
      .openssl(
        'smime',
        '-sign',
        '-binary',
        '-in',
        'pump.json',
        '-signer',
        ecSigner.certificate,
        '-inkey',
        ecSigner.key,
        '-certfile',
        intermediate.certificate,
        '-outform',
        'PEM',
      )
      .toString('latin1');
    assert.match(pkcs7, /^-----BEGIN PKCS7-----/);
    verifyMudSignature(fixture, pkcs7, anchors);
  });

  test('compiles file with CMS signature', () => {
    const compiled = compileMudFile(fixture, withIntermediate(ecSigner), config, anchors);
    assert.equal(compiled.signed, true);
    assert.equal(compiled.flows.length, 3);
    assert.throws(
      () => compileMudFile(fixture, pki.signCms(fixture, ecSigner), config, anchors),
      /does not chain/,
    );
  });

  test('pinned signer verifies without chain', () => {
    const signature = pki.signCms(fixture, ecSigner);
    const signerCertificate = pki.path(ecSigner.certificate);
    verifyMudSignature(fixture, signature, loadMudTrustKeys([signerCertificate]));
    const publicKey: KeyObject = createPublicKey(readFileSync(signerCertificate));
    verifyMudSignature(fixture, signature, [publicKey]);
  });

  test('tampered MUD file fails digest', () => {
    const signature = withIntermediate(ecSigner);
    const tampered = Buffer.from(fixture);
    tampered[20] = tampered[20]! ^ 0x01;
    rejects(signature, anchors, /message-digest attribute does not match/, tampered);
  });

  test('untrusted signer rejected', () => {
    const otherRoot = pki.createRoot('Lumen Root CA');
    const otherIntermediate = pki.issueCa(otherRoot, 'Lumen MUD Signing CA');
    const impostor = pki.issue(otherIntermediate, 'Lumen MUD signer');
    const signature = pki.signCms(fixture, impostor, '-certfile', otherIntermediate.certificate);
    rejects(signature, anchors, /does not chain to a trust anchor \(.*does not verify/);
  });

  test('missing intermediate rejected', () => {
    rejects(
      pki.signCms(fixture, ecSigner),
      anchors,
      /neither a trust anchor nor a certificate in the signature is its issuer CN=Lumen MUD Signing CA; .*-certfile/,
    );
  });

  test('expired signer rejected', () => {
    const expired = pki.issue(intermediate, 'Lumen expired signer', {
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2021-01-01T00:00:00Z'),
    });
    rejects(
      withIntermediate(expired),
      anchors,
      /signer certificate CN=Lumen expired signer is valid from 2020-01-01T00:00:00.000Z to 2021-01-01T00:00:00.000Z/,
    );
  });

  test('signer not yet valid rejected', () => {
    const signature = withIntermediate(ecSigner);
    rejects(
      signature,
      anchors,
      /is valid from .* not at 2001-01-01/,
      fixture,
      new Date('2001-01-01'),
    );
  });

  test('signer without digitalSignature rejected', () => {
    const encipherOnly = pki.issue(intermediate, 'Lumen encipherment', {
      key: 'rsa-2048',
      extensions: ['basicConstraints = critical,CA:false', 'keyUsage = critical,keyEncipherment'],
    });
    rejects(withIntermediate(encipherOnly), anchors, /does not allow digitalSignature/);
  });

  test('CA certificate as signer rejected', () => {
    rejects(pki.signCms(fixture, intermediate), anchors, /is a CA certificate/);
  });

  test('leaf certificate as issuer rejected', () => {
    const leaf = pki.issue(intermediate, 'Lumen leaf');
    const underLeaf = pki.issue(leaf, 'Lumen signer under leaf');
    const certificates = pki.path('leaf-chain.pem');
    writeFileSync(
      certificates,
      Buffer.concat([pki.read(leaf.certificate), pki.read(intermediate.certificate)]),
    );
    rejects(
      pki.signCms(fixture, underLeaf, '-certfile', certificates),
      anchors,
      /intermediate certificate CN=Lumen leaf is not a CA certificate/,
    );
  });

  test('RSA-1024 signer rejected', () => {
    const weak = pki.issue(intermediate, 'Lumen weak signer', { key: 'rsa-1024' });
    rejects(withIntermediate(weak), anchors, /RSA key has 1024 bits, fewer than the 2048 required/);
  });

  test('wrong content type rejected', () => {
    rejects(
      withIntermediate(ecSigner, '-econtent_type', '1.2.3.4'),
      anchors,
      /signs content of type 1\.2\.3\.4, not id-data/,
    );
    writeFileSync(pki.path('data.json'), fixture);
    const data = pki.openssl('cms', '-data_create', '-in', 'data.json', '-outform', 'DER');
    rejects(data, anchors, /content type 1\.2\.840\.113549\.1\.7\.1, not id-signedData/);
  });

  test('attached or attribute-free CMS rejected', () => {
    rejects(withIntermediate(ecSigner, '-nodetach'), anchors, /is not detached/);
    rejects(withIntermediate(ecSigner, '-noattr'), anchors, /has no signed attributes/);
    rejects(withIntermediate(ecSigner, '-nocerts'), anchors, /no certificate that matches/);
  });

  test('two signers rejected', () => {
    const second = pki.issue(intermediate, 'Lumen second signer');
    const signature = withIntermediate(
      ecSigner,
      '-signer',
      second.certificate,
      '-inkey',
      second.key,
    );
    rejects(signature, anchors, /has 2 SignerInfos/);
  });

  test('truncated and garbage DER rejected', () => {
    const signature = withIntermediate(ecSigner);
    for (const length of [1, 2, 10, signature.length / 2, signature.length - 1]) {
      rejects(signature.subarray(0, length), anchors, /is malformed/);
    }
    rejects(
      Buffer.concat([signature, Buffer.from([0])]),
      anchors,
      /1 bytes follow the outer element/,
    );
    rejects(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]), anchors, /is malformed/);
    rejects(Buffer.from([0x00, 0xff, 0x13, 0x37]), anchors, /neither a detached JWS/);
    rejects(Buffer.alloc(65537, 0x30), anchors, /more than the 65536 accepted/);
    rejects(
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
      anchors,
      /PEM CERTIFICATE block/,
    );
  });

  test('mutated DER never verifies', () => {
    const signatures = [
      withIntermediate(ecSigner),
      withIntermediate(pki.issue(intermediate, 'Lumen RSA signer', { key: 'rsa-2048' })),
    ];
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('replace' as const),
        index: fc.nat(),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ kind: fc.constant('truncate' as const), index: fc.nat() }),
      fc.record({
        kind: fc.constant('insert' as const),
        index: fc.nat(),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
      }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...signatures), mutation, (signature, change) => {
        const index = change.index % signature.length;
        let mutated: Buffer;
        if (change.kind === 'replace') {
          fc.pre(signature[index] !== change.value);
          mutated = Buffer.from(signature);
          mutated[index] = change.value;
        } else if (change.kind === 'truncate') {
          mutated = signature.subarray(0, index);
        } else {
          mutated = Buffer.concat([
            signature.subarray(0, index),
            change.bytes,
            signature.subarray(index),
          ]);
        }
        try {
          verifyMudSignature(fixture, mutated, anchors);
        } catch (error) {
          assert.ok(isMedwardError(error), String(error));
          assert.equal(error.code, 'MUD_SIGNATURE_INVALID', error.message);
          return;
        }
        assert.fail(`mutated signature verified: ${change.kind} at ${index}`);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('MUD trust key files', () => {
  const pki = new TestPki();

  after(() => {
    pki.remove();
  });

  function rejectsFile(content: string, pattern: RegExp): void {
    const file = pki.path('trust.pem');
    writeFileSync(file, content);
    throwsMedwardError(() => loadMudTrustKeys([file]), 'MUD_TRUST_KEY_INVALID', pattern);
  }

  test('loads certificates and public keys', () => {
    const root = pki.createRoot('Lumen Root CA');
    const publicKey = pki.openssl('pkey', '-in', root.key, '-pubout');
    const file = pki.path('bundle.pem');
    writeFileSync(file, Buffer.concat([pki.read(root.certificate), publicKey]));
    const keys = loadMudTrustKeys([file]);
    assert.equal(keys.length, 2);
    assert.equal((keys[0] as X509Certificate).subject, 'CN=Lumen Root CA');
    assert.equal((keys[1] as KeyObject).type, 'public');
  });

  test('rejects private key and empty file', () => {
    const key = pki.read(pki.generateKey('ec-p256')).toString('latin1');
    rejectsFile(key, /contains a PRIVATE KEY block/);
    rejectsFile('', /contains no PEM certificate or public key/);
    rejectsFile(
      '-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n',
      /contains a certificate that cannot be used/,
    );
  });
});
