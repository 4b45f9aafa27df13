import {
  X509Certificate,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ErrorKind, MedwardError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { CaConfig } from '../config.js';
import { readDer } from '../../core/der.js';
import { fromPem, fromPemAll, toPem } from './pem.js';
import {
  basicConstraintsExtension,
  buildCertificate,
  encodeName,
  keyIdentifier,
  keyUsageExtension,
  oid,
  parseCertificate,
  randomSerialNumber,
  subjectKeyIdentifierExtension,
  type ParsedCertificate,
} from './x509.js';

/** The issuing CA's certificate, the certificates above it, and its key. */
export interface CaMaterial {
  certificate: ParsedCertificate;
  /** Certificates above the CA (intermediates, then the root), as sent in /cacerts. */
  chain: ParsedCertificate[];
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Subject key identifier, written as the authority key identifier of issued certificates. */
  keyIdentifier: Buffer;
}

export interface CaMaterialOptions {
  config: CaConfig;
  /** Base directory of relative paths in `config`. */
  dataDir: string;
  logger: Logger;
  now?: () => Date;
}

function caError(
  code: string,
  message: string,
  details: Record<string, unknown>,
  cause?: unknown,
): MedwardError {
  return new MedwardError(ErrorKind.Invalid, code, message, {
    details,
    ...(cause === undefined ? {} : { cause }),
  });
}

export function resolveDataPath(dataDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dataDir, path);
}

function readPassphrase(config: CaConfig, dataDir: string): string | undefined {
  if (config.passphrase !== undefined) {
    return config.passphrase;
  }
  if (config.passphraseFile === undefined) {
    return undefined;
  }
  const file = resolveDataPath(dataDir, config.passphraseFile);
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw caError(
      'CA_PASSPHRASE_UNREADABLE',
      `cannot read the CA key passphrase from ${file}: ${(error as Error).message}`,
      { file },
      error,
    );
  }
}

/** Writes a file that must not exist yet, readable by the owner only when `mode` is 0600. */
function writeNewFile(path: string, content: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const descriptor = openSync(temporary, 'wx', mode);
  try {
    writeSync(descriptor, content);
  } finally {
    closeSync(descriptor);
  }
  renameSync(temporary, path);
}

/**
 * Loads the issuing CA from its key and certificate files. In `self-signed`
 * mode both files are created on first start (a new key, and a certificate
 * valid for `validityDays`); in `intermediate` mode they must exist. Checks
 * that the key file is readable by its owner only, that the certificate is a
 * CA certificate for that key, and that it is valid now.
 */
export function loadOrCreateCaMaterial(options: CaMaterialOptions): CaMaterial {
  const { config, dataDir, logger } = options;
  const now = options.now ?? (() => new Date());
  const keyFile = resolveDataPath(dataDir, config.keyFile);
  const certificateFile = resolveDataPath(dataDir, config.certificateFile);
  const passphrase = readPassphrase(config, dataDir);
  const keyExists = existsSync(keyFile);
  const certificateExists = existsSync(certificateFile);

  if (!keyExists && !certificateExists) {
    if (config.mode === 'intermediate') {
      throw caError(
        'CA_FILES_MISSING',
        `onboarding.ca.mode is intermediate but ${keyFile} and ${certificateFile} do not exist; ` +
          "install the CA certificate issued by the site's root and its key there",
        { keyFile, certificateFile },
      );
    }
    createSelfSignedCa(config, keyFile, certificateFile, passphrase, now());
    logger.info(
      { keyFile, certificateFile, encrypted: passphrase !== undefined },
      'issuing CA created',
    );
  } else if (!keyExists || !certificateExists) {
    throw caError(
      'CA_FILES_INCOMPLETE',
      `only one of ${keyFile} and ${certificateFile} exists; restore the other or remove both ` +
        'to create a new CA (every issued certificate then becomes untrusted)',
      { keyFile, certificateFile },
    );
  }
  return loadCaMaterial(config, dataDir, keyFile, certificateFile, passphrase, now(), logger);
}

function createSelfSignedCa(
  config: CaConfig,
  keyFile: string,
  certificateFile: string,
  passphrase: string | undefined,
  now: Date,
): void {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: config.keyAlgorithm === 'ec-p384' ? 'secp384r1' : 'prime256v1',
  });
  const subject = [
    { type: oid.commonName, value: config.commonName },
    { type: oid.organizationName, value: 'medward' },
  ];
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const certificate = buildCertificate(
    {
      serialNumber: randomSerialNumber(randomBytes),
      issuerNameDer: encodeName(subject),
      subject,
      notBefore: new Date(now.getTime() - 5 * 60_000),
      notAfter: new Date(now.getTime() + config.validityDays * 86_400_000),
      subjectPublicKeyInfoDer: spki,
      extensions: [
        basicConstraintsExtension(true, 0),
        keyUsageExtension(['keyCertSign', 'cRLSign', 'digitalSignature']),
        subjectKeyIdentifierExtension(keyIdentifier(spki)),
      ],
    },
    privateKey,
  );
  const keyPem =
    passphrase === undefined
      ? privateKey.export({ type: 'pkcs8', format: 'pem' })
      : privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase });
  writeNewFile(keyFile, keyPem.toString(), 0o600);
  writeNewFile(certificateFile, toPem(certificate, 'CERTIFICATE'), 0o644);
}

function loadCaMaterial(
  config: CaConfig,
  dataDir: string,
  keyFile: string,
  certificateFile: string,
  passphrase: string | undefined,
  now: Date,
  logger: Logger,
): CaMaterial {
  if (process.platform !== 'win32' && (statSync(keyFile).mode & 0o077) !== 0) {
    throw caError(
      'CA_KEY_PERMISSIONS',
      `CA key file ${keyFile} is readable by group or others; restrict it with chmod 600`,
      { keyFile },
    );
  }
  let privateKey: KeyObject;
  try {
    const pem = readFileSync(keyFile, 'utf8');
    privateKey = createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase });
  } catch (error) {
    throw caError(
      'CA_KEY_UNREADABLE',
      `cannot read the CA key ${keyFile}: ${(error as Error).message}; ` +
        'if the key is encrypted, set onboarding.ca.passphrase or passphraseFile',
      { keyFile },
      error,
    );
  }
  const publicKey = createPublicKey(privateKey);
  const certificateDer = fromPem(
    readFileSync(certificateFile, 'utf8'),
    'CERTIFICATE',
    certificateFile,
  );
  const certificate = parseCertificate(certificateDer, 'CA_CERTIFICATE_INVALID');
  const x509 = new X509Certificate(certificateDer);
  if (!x509.ca) {
    throw caError(
      'CA_CERTIFICATE_NOT_CA',
      `${certificateFile} is not a CA certificate (basicConstraints cA is false)`,
      {
        certificateFile,
      },
    );
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw caError(
      'CA_KEY_MISMATCH',
      `CA key ${keyFile} does not belong to the certificate ${certificateFile}`,
      {
        keyFile,
        certificateFile,
      },
    );
  }
  if (now < certificate.notBefore || now > certificate.notAfter) {
    throw caError(
      'CA_CERTIFICATE_EXPIRED',
      `CA certificate ${certificateFile} is valid from ${certificate.notBefore.toISOString()} to ` +
        `${certificate.notAfter.toISOString()}, which excludes now; replace the CA`,
      { certificateFile },
    );
  }
  const chain: ParsedCertificate[] = [];
  if (config.chainFile !== undefined) {
    const chainFile = resolveDataPath(dataDir, config.chainFile);
    for (const der of fromPemAll(readFileSync(chainFile, 'utf8'), 'CERTIFICATE')) {
      chain.push(parseCertificate(der, 'CA_CERTIFICATE_INVALID'));
    }
  }
  const ski = certificate.extensions.get(oid.subjectKeyIdentifier);
  const identifier =
    ski === undefined
      ? keyIdentifier(certificate.subjectPublicKeyInfoDer)
      : Buffer.from(readDer(ski.value, 'subject key identifier').content);
  const remainingDays = (certificate.notAfter.getTime() - now.getTime()) / 86_400_000;
  if (remainingDays < 30) {
    logger.warn(
      { certificateFile, notAfter: certificate.notAfter.toISOString() },
      'CA certificate expires within 30 days',
    );
  }
  return { certificate, chain, privateKey, publicKey, keyIdentifier: identifier };
}
