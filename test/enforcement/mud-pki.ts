import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  childrenOf,
  explicit,
  integer,
  objectIdentifier,
  octetString,
  readDer,
  sequence,
  setOf,
  tlv,
} from '../../src/core/der.js';

/**
 * A certificate authority in a temporary directory, driven by the openssl
 * command, for MUD signatures made the way manufacturers make them
 * (`openssl cms -sign -binary -outform DER`).
 */

export type KeyKind = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-1024' | 'ed25519';

const keyOptions: Readonly<Record<KeyKind, readonly string[]>> = {
  'ec-p256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ec-p384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  'rsa-2048': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  'rsa-1024': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
  ed25519: ['-algorithm', 'ED25519'],
};

/** A certificate and its private key, as file names inside the PKI directory. */
export interface Credential {
  certificate: string;
  key: string;
}

export interface IssueOptions {
  key?: KeyKind;
  /** Lines of the X.509 v3 extension section, for example `keyUsage = critical,digitalSignature`. */
  extensions?: readonly string[];
  notBefore?: Date;
  notAfter?: Date;
}

const DAY_MS = 86_400_000;

const signerExtensions = [
  'basicConstraints = critical,CA:false',
  'keyUsage = critical,digitalSignature',
  'subjectKeyIdentifier = hash',
];

const caExtensions = [
  'basicConstraints = critical,CA:true',
  'keyUsage = critical,keyCertSign,cRLSign',
  'subjectKeyIdentifier = hash',
];

/** GeneralizedTime as `openssl ca -startdate` takes it. */
function opensslTime(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace(/[-T:]/g, '')}Z`;
}

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'medward-mud-pki-'));
  private names = 0;

  constructor() {
    writeFileSync(this.path('index.txt'), '');
    writeFileSync(this.path('serial'), '1000\n');
    writeFileSync(
      this.path('ca.cnf'),
      [
        '[ca]',
        'default_ca = test_ca',
        '[test_ca]',
        `database = ${this.path('index.txt')}`,
        `new_certs_dir = ${this.dir}`,
        `serial = ${this.path('serial')}`,
        'default_md = sha256',
        'policy = any_name',
        'unique_subject = no',
        '[any_name]',
        'commonName = supplied',
        '',
      ].join('\n'),
    );
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  read(name: string): Buffer {
    return readFileSync(this.path(name));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  openssl(...args: string[]): Buffer {
    return execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  private uniqueName(prefix: string): string {
    this.names += 1;
    return `${prefix}-${this.names}`;
  }

  generateKey(kind: KeyKind): string {
    const key = `${this.uniqueName('key')}.pem`;
    this.openssl('genpkey', ...keyOptions[kind], '-out', key);
    return key;
  }

  /** Creates a self-signed root CA valid for 30 days from now. */
  createRoot(commonName: string, kind: KeyKind = 'ec-p256'): Credential {
    const key = this.generateKey(kind);
    const certificate = `${this.uniqueName('root')}.pem`;
    this.openssl(
      'req',
      '-x509',
      '-new',
      '-key',
      key,
      '-subj',
      `/CN=${commonName}`,
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:true',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      certificate,
    );
    return { certificate, key };
  }

  /** Issues a certificate from `issuer` with `openssl ca`; a signer certificate by default. */
  issue(issuer: Credential, commonName: string, options: IssueOptions = {}): Credential {
    const key = this.generateKey(options.key ?? 'ec-p256');
    const name = this.uniqueName('cert');
    this.openssl('req', '-new', '-key', key, '-subj', `/CN=${commonName}`, '-out', `${name}.csr`);
    writeFileSync(
      this.path(`${name}.ext`),
      `${(options.extensions ?? signerExtensions).join('\n')}\n`,
    );
    const now = Date.now();
    this.openssl(
      'ca',
      '-batch',
      '-config',
      'ca.cnf',
      '-cert',
      issuer.certificate,
      '-keyfile',
      issuer.key,
      '-in',
      `${name}.csr`,
      '-out',
      `${name}.pem`,
      '-extfile',
      `${name}.ext`,
      '-startdate',
      opensslTime(options.notBefore ?? new Date(now - DAY_MS)),
      '-enddate',
      opensslTime(options.notAfter ?? new Date(now + 20 * DAY_MS)),
      '-notext',
    );
    return { certificate: `${name}.pem`, key };
  }

  /** Issues an intermediate CA certificate. */
  issueCa(issuer: Credential, commonName: string, extensions = caExtensions): Credential {
    return this.issue(issuer, commonName, { extensions });
  }

  /**
   * Signs `content` as manufacturers sign MUD files: `openssl cms -sign
   * -binary -outform DER`, with `extraArgs` such as `-certfile`. Returns the
   * signature file.
   */
  signCms(content: Buffer, signer: Credential, ...extraArgs: string[]): Buffer {
    const input = `${this.uniqueName('content')}.json`;
    const output = `${this.uniqueName('signature')}.p7s`;
    writeFileSync(this.path(input), content);
    this.openssl(
      'cms',
      '-sign',
      '-binary',
      '-in',
      input,
      '-signer',
      signer.certificate,
      '-inkey',
      signer.key,
      '-outform',
      'DER',
      '-out',
      output,
      ...extraArgs,
    );
    return this.read(output);
  }

  /**
   * Signs `content` with an Ed25519 signer as RFC 8419 describes: SHA-512
   * message digest and a signature over the DER of the signed attributes.
   * OpenSSL 3.0 cannot sign CMS with Ed25519 ("invalid digest"), so the
   * SignedData is encoded here, carrying the signer and `carried`
   * certificates. The options set the content-type attribute and send the
   * signed attributes out of DER order, which changes neither their DER
   * encoding nor the signature.
   */
  signCmsEd25519(
    content: Buffer,
    signer: Credential,
    carried: readonly string[],
    options: { contentType?: string; unsortedAttributes?: boolean } = {},
  ): Buffer {
    const signerDer = new X509Certificate(this.read(signer.certificate)).raw;
    const tbsFields = childrenOf(childrenOf(readDer(signerDer, 'signer'), 'signer')[0]!, 'tbs');
    const [, serialNumber, , issuer] = tbsFields;
    const sha512 = sequence(objectIdentifier('2.16.840.1.101.3.4.2.3'));
    // Listed in DER order, because the encoding of the content-type attribute is shorter.
    const attributes = [
      sequence(
        objectIdentifier('1.2.840.113549.1.9.3'),
        setOf(objectIdentifier(options.contentType ?? '1.2.840.113549.1.7.1')),
      ),
      sequence(
        objectIdentifier('1.2.840.113549.1.9.4'),
        setOf(octetString(createHash('sha512').update(content).digest())),
      ),
    ];
    const signature = sign(null, setOf(...attributes), createPrivateKey(this.read(signer.key)));
    const sent = options.unsortedAttributes === true ? [...attributes].reverse() : attributes;
    const signerInfo = sequence(
      integer(1),
      sequence(issuer!.bytes, serialNumber!.bytes),
      sha512,
      // signedAttrs is [0] IMPLICIT SET OF Attribute.
      tlv(0xa0, Buffer.concat(sent)),
      sequence(objectIdentifier('1.3.101.112')),
      octetString(signature),
    );
    const certificates = [
      signerDer,
      ...carried.map((file) => new X509Certificate(this.read(file)).raw),
    ];
    const signedData = sequence(
      integer(1),
      setOf(sha512),
      sequence(objectIdentifier('1.2.840.113549.1.7.1')),
      tlv(0xa0, Buffer.concat(certificates)),
      setOf(signerInfo),
    );
    return sequence(objectIdentifier('1.2.840.113549.1.7.2'), explicit(0, signedData));
  }
}
