import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { request, type RequestOptions } from 'node:https';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import { ErrorKind, MedwardError } from '../../core/errors.js';
import { toPem } from '../ca/pem.js';
import { channelBindingOf } from '../est/channel-binding.js';
import {
  basicConstraintsExtension,
  buildCertificate,
  buildCsr,
  encodeName,
  keyIdentifier,
  keyUsageExtension,
  oid,
  randomSerialNumber,
  readCertsOnlyPkcs7,
  subjectKeyIdentifierExtension,
  authorityKeyIdentifierExtension,
} from '../ca/x509.js';

/** A manufacturer CA that issues IEEE 802.1AR IDevIDs to simulated devices. */
export class SimulatedManufacturer {
  readonly certificatePem: string;
  private readonly privateKey: KeyObject;
  private readonly nameDer: Buffer;
  private readonly keyId: Buffer;

  constructor(readonly name: string) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const subject = [
      { type: oid.commonName, value: `${name} IDevID CA` },
      { type: oid.organizationName, value: name },
    ];
    this.privateKey = privateKey;
    this.nameDer = encodeName(subject);
    this.keyId = keyIdentifier(spki);
    const now = Date.now();
    const der = buildCertificate(
      {
        serialNumber: randomSerialNumber(randomBytes),
        issuerNameDer: this.nameDer,
        subject,
        notBefore: new Date(now - 86_400_000),
        notAfter: new Date(now + 20 * 365 * 86_400_000),
        subjectPublicKeyInfoDer: spki,
        extensions: [
          basicConstraintsExtension(true, 0),
          keyUsageExtension(['keyCertSign', 'cRLSign']),
          subjectKeyIdentifierExtension(this.keyId),
        ],
      },
      privateKey,
    );
    this.certificatePem = toPem(der, 'CERTIFICATE');
  }

  /** Issues an IDevID with the serial number in the subject's serialNumber attribute, where IEEE 802.1AR puts it. */
  issueIdevid(model: string, serialNumber: string): { certificatePem: string; keyPem: string } {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const now = Date.now();
    const der = buildCertificate(
      {
        serialNumber: randomSerialNumber(randomBytes),
        issuerNameDer: this.nameDer,
        subject: [
          { type: oid.commonName, value: serialNumber },
          { type: oid.serialNumber, value: serialNumber },
          { type: oid.organizationName, value: this.name },
          { type: oid.organizationalUnitName, value: model },
        ],
        notBefore: new Date(now - 86_400_000),
        // IEEE 802.1AR-2018 lets an IDevID never expire: notAfter 9999-12-31T23:59:59Z.
        notAfter: new Date(Date.UTC(9999, 11, 31, 23, 59, 59)),
        subjectPublicKeyInfoDer: publicKey.export({ type: 'spki', format: 'der' }),
        extensions: [
          basicConstraintsExtension(false),
          keyUsageExtension(['digitalSignature']),
          authorityKeyIdentifierExtension(this.keyId),
        ],
      },
      this.privateKey,
    );
    return {
      certificatePem: toPem(der, 'CERTIFICATE'),
      keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  }
}

export type BirthCredential =
  | { kind: 'idevid'; certificatePem: string; keyPem: string }
  | { kind: 'bootstrap-secret'; secret: string };

export interface SimulatedDeviceOptions {
  manufacturer: string;
  model: string;
  serialNumber: string;
  birth: BirthCredential;
  /** Base URL of the provisioning listener, for example https://127.0.0.1:8443. */
  listenerUrl: string;
  /** PEM certificates the device trusts for the listener (medward's CA). */
  trustedCaPem: string;
  interfaces: { name: string; mac: string; kind: 'wired' | 'wireless' }[];
  firmwareVersion: string;
  sbom?: unknown;
  requestTimeoutMs?: number;
  /**
   * Whether CSRs carry the channel binding of their TLS session in
   * challengePassword (RFC 7030 section 3.5); default true.
   */
  bindCsr?: boolean;
}

/** A request body, or a function that builds it once the TLS handshake is done. */
type RequestBody = string | Buffer | ((socket: TLSSocket) => string | Buffer);

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Raised when the listener responds with a status other than 200. */
export class ProvisioningRequestFailed extends MedwardError {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(ErrorKind.Unavailable, 'SIMULATION_REQUEST_FAILED', message, {
      details: { status, errorCode },
    });
  }
}

/**
 * A device that onboards the way a real one does. It creates a key pair and
 * requests its operational certificate over EST, with mutual TLS and its
 * IDevID or with HTTP Basic and its bootstrap secret. It then registers its
 * fact sheet with the new certificate and reports its configuration hash.
 * Every request is a new TLS connection to the provisioning listener.
 */
export class SimulatedDevice {
  private operationalKey: { privateKey: KeyObject; publicKey: KeyObject } | undefined;
  private operationalCertificatePem: string | undefined;
  private preparedCsr: Buffer | undefined;
  private readonly contexts = new Map<string, SecureContext>();

  constructor(readonly options: SimulatedDeviceOptions) {}

  get certificatePem(): string | undefined {
    return this.operationalCertificatePem;
  }

  /**
   * Creates the key pair, the CSR and the TLS context of the birth
   * credential ahead of enrolment, so enrolment measures the exchange alone.
   */
  prepare(): void {
    const birth = this.options.birth;
    this.contextFor(
      birth.kind === 'idevid' ? { cert: birth.certificatePem, key: birth.keyPem } : {},
    );
    this.operationalKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    if (this.options.bindCsr === false) {
      this.preparedCsr = this.csrFor(this.operationalKey);
    }
  }

  /** Builds the CSR for `key`, carrying `socket`'s channel binding when one is given. */
  private csrFor(key: { privateKey: KeyObject; publicKey: KeyObject }, socket?: TLSSocket): Buffer {
    const binding = socket === undefined ? undefined : channelBindingOf(socket, 'client');
    return buildCsr(
      [
        { type: oid.commonName, value: this.options.serialNumber },
        { type: oid.serialNumber, value: this.options.serialNumber },
      ],
      {},
      key.privateKey,
      key.publicKey,
      binding?.value,
    );
  }

  /** Returns the CSR body for `key`, bound to the request's TLS session unless binding is off. */
  private csrBody(key: { privateKey: KeyObject; publicKey: KeyObject }): RequestBody {
    if (this.options.bindCsr === false) {
      return this.csrFor(key).toString('base64');
    }
    return (socket) => this.csrFor(key, socket).toString('base64');
  }

  /** POST /.well-known/est/simpleenroll; stores and returns the issued certificate (PEM). */
  async enroll(): Promise<string> {
    if (this.operationalKey === undefined) {
      this.prepare();
    }
    const key = this.operationalKey as { privateKey: KeyObject; publicKey: KeyObject };
    const prepared = this.preparedCsr;
    this.preparedCsr = undefined;
    const body = prepared === undefined ? this.csrBody(key) : prepared.toString('base64');
    const birth = this.options.birth;
    const result = await this.send('/.well-known/est/simpleenroll', {
      method: 'POST',
      headers: {
        'content-type': 'application/pkcs10',
        'content-transfer-encoding': 'base64',
        ...(birth.kind === 'bootstrap-secret'
          ? {
              authorization: `Basic ${Buffer.from(`${this.options.serialNumber}:${birth.secret}`).toString('base64')}`,
            }
          : {}),
      },
      ...(birth.kind === 'idevid' ? { cert: birth.certificatePem, key: birth.keyPem } : {}),
      body,
    });
    const [certificate] = readCertsOnlyPkcs7(
      Buffer.from(result.body.toString('latin1').replace(/\s+/g, ''), 'base64'),
    );
    if (certificate === undefined) {
      throw new MedwardError(
        ErrorKind.Invalid,
        'SIMULATION_RESPONSE_INVALID',
        'enrolment response holds no certificate',
      );
    }
    this.operationalCertificatePem = toPem(certificate, 'CERTIFICATE');
    return this.operationalCertificatePem;
  }

  /** POST /.well-known/est/simplereenroll with the operational certificate and a new key. */
  async reenroll(): Promise<string> {
    const current = this.requireOperational();
    const next = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const result = await this.send('/.well-known/est/simplereenroll', {
      method: 'POST',
      headers: { 'content-type': 'application/pkcs10' },
      cert: current.certificatePem,
      key: current.keyPem,
      body: this.csrBody(next),
    });
    const [certificate] = readCertsOnlyPkcs7(
      Buffer.from(result.body.toString('latin1').replace(/\s+/g, ''), 'base64'),
    );
    if (certificate === undefined) {
      throw new MedwardError(
        ErrorKind.Invalid,
        'SIMULATION_RESPONSE_INVALID',
        're-enrolment response holds no certificate',
      );
    }
    this.operationalKey = next;
    this.operationalCertificatePem = toPem(certificate, 'CERTIFICATE');
    return this.operationalCertificatePem;
  }

  /** POST /medward/v1/registration with the fact sheet; returns the parsed JSON response. */
  async register(extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const current = this.requireOperational();
    const body = JSON.stringify({
      model: this.options.model,
      firmwareVersion: this.options.firmwareVersion,
      firmwareSha256: createHash('sha256')
        .update(`${this.options.model}/${this.options.firmwareVersion}`)
        .digest('hex'),
      interfaces: this.options.interfaces,
      services: [{ name: 'device-api', port: 443, protocol: 'tcp' }],
      ...(this.options.sbom === undefined ? {} : { sbom: this.options.sbom }),
      ...extra,
    });
    const result = await this.send('/medward/v1/registration', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      cert: current.certificatePem,
      key: current.keyPem,
      body,
    });
    return JSON.parse(result.body.toString('utf8')) as Record<string, unknown>;
  }

  /** POST /medward/v1/report with a configuration hash; returns the drift findings medward recorded. */
  async report(
    configurationSha256: string,
    firmwareVersion?: string,
  ): Promise<Record<string, unknown>> {
    const current = this.requireOperational();
    const result = await this.send('/medward/v1/report', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      cert: current.certificatePem,
      key: current.keyPem,
      body: JSON.stringify({
        configurationSha256,
        ...(firmwareVersion === undefined ? {} : { firmwareVersion }),
      }),
    });
    return JSON.parse(result.body.toString('utf8')) as Record<string, unknown>;
  }

  /** Returns the TLS context for a client certificate (or none), creating it once per certificate. */
  private contextFor(credential: { cert?: string; key?: string }): SecureContext {
    const cacheKey = credential.cert ?? '';
    let context = this.contexts.get(cacheKey);
    if (context === undefined) {
      context = createSecureContext({
        ca: this.options.trustedCaPem,
        ...(credential.cert === undefined ? {} : { cert: credential.cert, key: credential.key }),
      });
      this.contexts.set(cacheKey, context);
    }
    return context;
  }

  private requireOperational(): { certificatePem: string; keyPem: string } {
    if (this.operationalCertificatePem === undefined || this.operationalKey === undefined) {
      throw new MedwardError(
        ErrorKind.Invalid,
        'SIMULATION_NOT_ENROLLED',
        'the simulated device has not enrolled yet',
      );
    }
    return {
      certificatePem: this.operationalCertificatePem,
      keyPem: this.operationalKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  }

  /** Sends one request on a new TLS connection; a status other than 200 raises ProvisioningRequestFailed. */
  send(
    path: string,
    options: {
      method: string;
      headers: Record<string, string>;
      cert?: string;
      key?: string;
      body?: RequestBody;
    },
  ): Promise<HttpResult> {
    const url = new URL(path, this.options.listenerUrl);
    const body = options.body;
    // https passes secureContext on to tls.connect; Node's type of RequestOptions omits it.
    const requestOptions: RequestOptions & { secureContext: SecureContext } = {
      method: options.method,
      headers: {
        ...options.headers,
        ...(body === undefined || typeof body === 'function'
          ? {}
          : { 'content-length': String(Buffer.byteLength(body)) }),
      },
      secureContext: this.contextFor(
        options.cert === undefined ? {} : { cert: options.cert, key: options.key ?? '' },
      ),
      agent: false,
      timeout: this.options.requestTimeoutMs ?? 30_000,
    };
    return new Promise((resolve, reject) => {
      const outgoing = request(url, requestOptions, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const body = Buffer.concat(chunks);
          const status = response.statusCode ?? 0;
          if (status !== 200) {
            const code = response.headers['medward-error-code'];
            reject(
              new ProvisioningRequestFailed(
                status,
                typeof code === 'string' ? code : 'UNKNOWN',
                `${options.method} ${path} answered ${status}: ${body.toString('utf8').slice(0, 500).trim()}`,
              ),
            );
            return;
          }
          resolve({ status, headers: response.headers, body });
        });
      });
      outgoing.on('timeout', () => {
        outgoing.destroy(new Error(`${options.method} ${path} timed out`));
      });
      outgoing.on('error', reject);
      if (typeof body !== 'function') {
        outgoing.end(body);
        return;
      }
      // The body depends on the TLS session, so it is built after the
      // handshake; headers leave with it.
      outgoing.once('socket', (socket) => {
        if (!(socket instanceof TLSSocket)) {
          outgoing.destroy(new Error(`${options.method} ${path} did not run over TLS`));
          return;
        }
        socket.once('secureConnect', () => {
          const built = body(socket);
          outgoing.setHeader('content-length', String(Buffer.byteLength(built)));
          outgoing.end(built);
        });
      });
    });
  }
}
