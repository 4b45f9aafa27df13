import { randomUUID, X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { isIP, type AddressInfo } from 'node:net';
import { TLSSocket } from 'node:tls';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { AuditTrail } from '../../core/audit/index.js';
import { ActorKind, runWithContext } from '../../core/context.js';
import {
  ErrorKind,
  MedwardError,
  httpStatusOf,
  invalid,
  toMedwardError,
} from '../../core/errors.js';
import type { Component } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import type { Storage } from '../../core/storage/index.js';
import type { CertificateAuthority, IssuedCertificate } from '../ca/certificate-authority.js';
import { objectIdentifier, sequence, setOf } from '../../core/der.js';
import { certsOnlyPkcs7, oid, parseCertificate, type ParsedCertificate } from '../ca/x509.js';
import type { ProvisioningListenerConfig } from '../config.js';
import { excessiveDepthOffset } from '../json-depth.js';
import type { RegistrationService } from '../registration/registration-service.js';
import { auditRejection, auditedRejections, type DeviceCredential } from './credentials.js';
import { channelBindingOf } from './channel-binding.js';
import { MAX_CSR_BYTES } from './csr-policy.js';
import type { EnrolmentService } from './enrolment-service.js';

/** Paths of the provisioning listener besides the EST ones. */
export const REGISTRATION_PATH = '/medward/v1/registration';
export const REPORT_PATH = '/medward/v1/report';
export const CRL_PATH = '/crl';
const EST_PREFIX = '/.well-known/est/';
/** Intermediates read from a client's certificate chain. */
const MAX_PEER_CHAIN = 5;

export interface EstServerOptions {
  config: ProvisioningListenerConfig;
  ca: CertificateAuthority;
  enrolment: EnrolmentService;
  registration: RegistrationService;
  storage: Storage;
  audit: AuditTrail;
  logger: Logger;
  /** Time before the listener certificate's expiry from which it is replaced. */
  renewalWindowMs: number;
  /** Nesting allowed in JSON bodies: the SBOM's limit plus the fact sheet's own levels. */
  maxJsonDepth: number;
  metrics?: Registry;
  now?: () => Date;
}

type Operation =
  'cacerts' | 'simpleenroll' | 'simplereenroll' | 'csrattrs' | 'crl' | 'registration' | 'report';

interface Route {
  operation: Operation;
  method: 'GET' | 'POST';
}

class HttpFailure extends MedwardError {}

/** Audit events of the operations that change state; their rejections are audited. */
const auditEvents: Partial<Record<Operation, string>> = {
  simpleenroll: 'est.enroll',
  simplereenroll: 'est.reenroll',
  registration: 'onboarding.register',
  report: 'onboarding.report',
};

function routeOf(path: string): Route | MedwardError {
  if (path.startsWith(EST_PREFIX)) {
    const operation = path.slice(EST_PREFIX.length);
    switch (operation) {
      case 'cacerts':
      case 'csrattrs':
        return { operation, method: 'GET' };
      case 'simpleenroll':
      case 'simplereenroll':
        return { operation, method: 'POST' };
      case 'serverkeygen':
      case 'fullcmc':
        return new HttpFailure(
          ErrorKind.NotFound,
          'EST_OPERATION_UNSUPPORTED',
          `EST operation ${operation} is not supported`,
        );
      default:
        return new HttpFailure(
          ErrorKind.NotFound,
          'EST_PATH_UNKNOWN',
          operation.includes('/')
            ? 'CA labels are not supported; use /.well-known/est/<operation>'
            : `no EST operation ${operation.slice(0, 40)}`,
        );
    }
  }
  if (path === CRL_PATH) {
    return { operation: 'crl', method: 'GET' };
  }
  if (path === REGISTRATION_PATH) {
    return { operation: 'registration', method: 'POST' };
  }
  if (path === REPORT_PATH) {
    return { operation: 'report', method: 'POST' };
  }
  return new HttpFailure(
    ErrorKind.NotFound,
    'EST_PATH_UNKNOWN',
    `no resource at ${path.slice(0, 100)}`,
  );
}

/** Base64 with line breaks every 64 characters, as RFC 7030 responses carry it. */
function base64Lines(bytes: Uint8Array): string {
  return `${(
    Buffer.from(bytes)
      .toString('base64')
      .match(/.{1,64}/g) ?? []
  ).join('\r\n')}\r\n`;
}

/** CsrAttrs of RFC 7030 section 4.5.2: ECDSA with SHA-256 on P-256, and the serialNumber subject attribute. */
const CSR_ATTRIBUTES = sequence(
  objectIdentifier(oid.ecdsaWithSha256),
  sequence(objectIdentifier(oid.ecPublicKey), setOf(objectIdentifier(oid.secp256r1))),
  objectIdentifier(oid.serialNumber),
);

/** The same, asking for the channel binding in challengePassword (RFC 7030 section 3.5). */
const CSR_ATTRIBUTES_WITH_BINDING = sequence(
  objectIdentifier(oid.challengePassword),
  objectIdentifier(oid.ecdsaWithSha256),
  sequence(objectIdentifier(oid.ecPublicKey), setOf(objectIdentifier(oid.secp256r1))),
  objectIdentifier(oid.serialNumber),
);

/**
 * The provisioning listener: an HTTPS server, apart from every production
 * listener and bound only to onboarding.provisioning.host and port, that
 * serves EST (RFC 7030: /.well-known/est/cacerts, simpleenroll,
 * simplereenroll, csrattrs), the CRL at /crl, and device registration and
 * drift reports under /medward/v1/. Responses that report stored rows wait
 * for Storage.backgroundSyncsSettled(), because enrolments commit without
 * waiting for the disk (TransactionBatcher). It requests a certificate from every
 * client but verifies it itself, because birth certificates chain to
 * manufacturer CAs that differ per list entry. Its own certificate is issued by the CA at
 * start and replaced before it expires.
 */
export class EstServer implements Component {
  readonly name = 'provisioning-listener';
  private server: Server | undefined;
  private serverCertificate: IssuedCertificate | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly requests: Counter<'operation' | 'status'> | undefined;
  private readonly durations: Histogram<'operation'> | undefined;
  private readonly now: () => Date;

  constructor(private readonly options: EstServerOptions) {
    this.now = options.now ?? (() => new Date());
    if (options.metrics !== undefined) {
      this.requests = new Counter({
        name: 'medward_onboarding_requests_total',
        help: 'Requests to the provisioning listener by operation and HTTP status.',
        labelNames: ['operation', 'status'],
        registers: [options.metrics],
      });
      this.durations = new Histogram({
        name: 'medward_onboarding_request_seconds',
        help: 'Time to respond to a provisioning listener request, by operation.',
        labelNames: ['operation'],
        buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [options.metrics],
      });
    }
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.options.config.port;
  }

  /** The listener's base URL as devices reach it. */
  get url(): string {
    const host =
      isIP(this.options.config.host) === 6
        ? `[${this.options.config.host}]`
        : this.options.config.host;
    return this.options.config.publicUrl ?? `https://${host}:${this.port}`;
  }

  /** The certificate the listener presents, for clients that pin it. */
  get certificatePem(): string | undefined {
    return this.serverCertificate?.pem;
  }

  async start(): Promise<void> {
    const credentials = await this.issueServerCertificate();
    const server = createServer(
      {
        ...credentials,
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
      },
      (request, response) => {
        void this.handle(request, response);
      },
    );
    server.requestTimeout = this.options.config.requestTimeoutMs;
    server.headersTimeout = Math.min(this.options.config.requestTimeoutMs, 10_000);
    server.on('tlsClientError', (error) => {
      this.options.logger.debug({ err: error }, 'TLS handshake with a provisioning client failed');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.config.port, this.options.config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.renewTimer = setInterval(
      () => {
        void this.renewServerCertificate();
      },
      Math.max(60_000, Math.floor(this.options.renewalWindowMs / 4)),
    );
    this.renewTimer.unref();
    this.options.logger.info(
      { host: this.options.config.host, port: this.port },
      'provisioning listener started',
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.renewTimer);
    const server = this.server;
    this.server = undefined;
    if (server === undefined) {
      return;
    }
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
      server.closeIdleConnections();
      setTimeout(() => {
        server.closeAllConnections();
      }, 2000).unref();
    });
  }

  private async issueServerCertificate(): Promise<{ cert: string; key: string }> {
    const names = [
      ...new Set([this.options.config.host, 'localhost', ...this.options.config.serverNames]),
    ].filter((name) => name !== '0.0.0.0' && name !== '::');
    const issued = this.options.ca.signServerCertificate(names);
    await this.options.storage.db
      .transaction()
      .execute((trx) =>
        this.options.ca.record(trx, issued, { deviceId: null, kind: 'server', details: { names } }),
      );
    this.serverCertificate = issued;
    // A self-signed root is left out of the chain, as RFC 8446 section 4.4.2
    // allows: clients must hold it as their trust anchor anyway, and every
    // certificate sent is parsed again by each client in its handshake.
    const chain = [
      issued.pem,
      ...this.options.ca.caCertificates
        .filter((certificate) => !certificate.issuerNameDer.equals(certificate.subjectNameDer))
        .map((certificate) => new X509Certificate(certificate.der).toString()),
    ];
    return { cert: chain.join(''), key: issued.privateKeyPem };
  }

  private async renewServerCertificate(): Promise<void> {
    const current = this.serverCertificate;
    if (this.server === undefined || current === undefined) {
      return;
    }
    if (current.parsed.notAfter.getTime() - this.now().getTime() > this.options.renewalWindowMs) {
      return;
    }
    try {
      this.server.setSecureContext({ ...(await this.issueServerCertificate()) });
      this.options.logger.info(
        { notAfter: this.serverCertificate?.parsed.notAfter.toISOString() },
        'provisioning listener certificate renewed',
      );
    } catch (error) {
      this.options.logger.error({ err: error }, 'provisioning listener certificate renewal failed');
    }
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const sourceAddress = request.socket.remoteAddress;
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const route = routeOf(path);
    const operation = route instanceof MedwardError ? 'unknown' : route.operation;
    const started = performance.now();
    const context = {
      requestId,
      correlationId: requestId,
      actor: { kind: ActorKind.Device, id: 'provisioning-client' },
      ...(sourceAddress === undefined ? {} : { sourceAddress }),
    };
    await runWithContext(context, async () => {
      try {
        if (route instanceof MedwardError) {
          throw route;
        }
        if (
          request.method !== route.method &&
          !(route.method === 'GET' && request.method === 'HEAD')
        ) {
          response.setHeader('allow', route.method);
          throw new HttpFailure(
            ErrorKind.Invalid,
            'EST_METHOD_NOT_ALLOWED',
            `${path} accepts ${route.method} only`,
            {
              details: { status: 405 },
            },
          );
        }
        await this.dispatch(route.operation, request, response, sourceAddress);
      } catch (error) {
        if (operation !== 'unknown') {
          await this.auditEarlyRejection(operation, request, sourceAddress, error);
        }
        // A rejection may report what the request read (a consumed secret).
        const unsynced = await this.options.storage.backgroundSyncsSettled().then(
          () => undefined,
          (syncError: unknown) => syncError,
        );
        this.sendError(request, response, unsynced ?? error, operation, requestId);
      } finally {
        this.requests?.inc({ operation, status: String(response.statusCode) });
        this.durations?.observe({ operation }, (performance.now() - started) / 1000);
      }
    });
  }

  private async dispatch(
    operation: Operation,
    request: IncomingMessage,
    response: ServerResponse,
    sourceAddress: string | undefined,
  ): Promise<void> {
    switch (operation) {
      case 'cacerts':
        this.sendPkcs7(response, this.options.ca.caCertificates);
        return;
      case 'csrattrs':
        response.writeHead(200, {
          'content-type': 'application/csrattrs',
          'content-transfer-encoding': 'base64',
        });
        response.end(
          base64Lines(
            this.options.config.csrChannelBinding === 'off'
              ? CSR_ATTRIBUTES
              : CSR_ATTRIBUTES_WITH_BINDING,
          ),
        );
        return;
      case 'crl': {
        const crl = await this.options.ca.crl();
        await this.options.storage.backgroundSyncsSettled();
        response.writeHead(200, {
          'content-type': 'application/pkix-crl',
          'content-length': String(crl.length),
          'cache-control': 'max-age=60',
        });
        response.end(request.method === 'HEAD' ? undefined : crl);
        return;
      }
      case 'simpleenroll':
      case 'simplereenroll': {
        const csr = decodeCsr(
          await readBody(request, MAX_CSR_BYTES * 2),
          request.headers['content-type'],
        );
        const credential = this.credentialOf(request, sourceAddress, operation === 'simpleenroll');
        const connection =
          request.socket instanceof TLSSocket
            ? channelBindingOf(request.socket, 'server')
            : undefined;
        const result =
          operation === 'simpleenroll'
            ? await this.options.enrolment.enroll(credential, csr, connection)
            : await this.options.enrolment.reenroll(credential, csr, connection);
        await this.options.storage.backgroundSyncsSettled();
        this.sendPkcs7(response, [result.certificate.parsed]);
        return;
      }
      case 'registration':
      case 'report': {
        const body = parseJsonBody(
          await readBody(request, this.options.config.maxRequestBytes),
          request.headers['content-type'],
          this.options.maxJsonDepth,
        );
        const credential = this.credentialOf(request, sourceAddress, false);
        const result =
          operation === 'registration'
            ? await this.options.registration.register(credential, body)
            : await this.options.registration.report(credential, body);
        await this.options.storage.backgroundSyncsSettled();
        const text = JSON.stringify(result);
        response.writeHead(200, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(text)),
        });
        response.end(text);
        return;
      }
    }
  }

  private sendPkcs7(response: ServerResponse, certificates: readonly ParsedCertificate[]): void {
    response.writeHead(200, {
      'content-type': 'application/pkcs7-mime; smime-type=certs-only',
      'content-transfer-encoding': 'base64',
    });
    response.end(base64Lines(certsOnlyPkcs7(certificates)));
  }

  /**
   * Reads how the client authenticated: a bootstrap secret (HTTP Basic, the
   * user name being the serial number, or the Medward-Bootstrap-Secret
   * header) when `acceptSecret`, else the certificate it presented in the
   * TLS handshake.
   */
  private credentialOf(
    request: IncomingMessage,
    sourceAddress: string | undefined,
    acceptSecret: boolean,
  ): DeviceCredential {
    const address = sourceAddress === undefined ? {} : { sourceAddress };
    if (acceptSecret) {
      const header = request.headers['medward-bootstrap-secret'];
      if (typeof header === 'string' && header !== '') {
        return { kind: 'bootstrap-secret', secret: header, ...address };
      }
      const authorization = request.headers.authorization;
      if (authorization?.startsWith('Basic ') === true) {
        const decoded = Buffer.from(authorization.slice('Basic '.length).trim(), 'base64').toString(
          'utf8',
        );
        const separator = decoded.indexOf(':');
        if (separator >= 0) {
          const user = decoded.slice(0, separator);
          return {
            kind: 'bootstrap-secret',
            secret: decoded.slice(separator + 1),
            ...(user === '' ? {} : { claimedSerialNumber: user }),
            ...address,
          };
        }
      }
    }
    const [leafDer, ...chainDer] = peerCertificateChain(request.socket);
    if (leafDer === undefined) {
      return { kind: 'none', ...address };
    }
    const leaf = parseCertificate(leafDer, 'EST_CLIENT_CERTIFICATE_INVALID');
    const intermediates = chainDer.map((der) =>
      parseCertificate(der, 'EST_CLIENT_CERTIFICATE_INVALID'),
    );
    return { kind: 'client-certificate', presented: { leaf, intermediates }, ...address };
  }

  /**
   * Audits a rejected enrolment, registration or report that failed before
   * reaching its service (unreadable body, wrong media type, too large), so
   * every rejected request leaves an audit record. Reads of public resources
   * are not audited.
   */
  private async auditEarlyRejection(
    operation: Operation,
    request: IncomingMessage,
    sourceAddress: string | undefined,
    error: unknown,
  ): Promise<void> {
    const event = auditEvents[operation];
    const failure = toMedwardError(error);
    if (event === undefined || auditedRejections.has(failure)) {
      return;
    }
    let credential: DeviceCredential;
    try {
      credential = this.credentialOf(request, sourceAddress, operation === 'simpleenroll');
    } catch {
      credential = { kind: 'none', ...(sourceAddress === undefined ? {} : { sourceAddress }) };
    }
    await auditRejection(this.options.audit, this.options.logger, event, credential, failure);
  }

  private sendError(
    request: IncomingMessage,
    response: ServerResponse,
    error: unknown,
    operation: string,
    requestId: string,
  ): void {
    const failure = toMedwardError(error);
    const status =
      typeof failure.details.status === 'number'
        ? failure.details.status
        : httpStatusOf(failure.kind);
    const internal = failure.kind === 'internal';
    if (internal) {
      this.options.logger.error(
        { err: error, operation, requestId },
        'provisioning request failed',
      );
    }
    const message = internal
      ? `internal error; see the medward log for request ${requestId}`
      : failure.message;
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const headers: Record<string, string> = {
      'medward-error-code': failure.code,
      'medward-request-id': requestId,
    };
    if (status === 401) {
      headers['www-authenticate'] = 'Basic realm="medward EST", charset="UTF-8"';
    }
    if (typeof failure.details.retryAfterSeconds === 'number') {
      headers['retry-after'] = String(failure.details.retryAfterSeconds);
    }
    if (status === 413) {
      headers.connection = 'close';
    }
    const json = operation === 'registration' || operation === 'report';
    const body = json
      ? JSON.stringify({ error: { code: failure.code, message, requestId } })
      : `${failure.code}: ${message}\n`;
    response.writeHead(status, {
      ...headers,
      'content-type': json ? 'application/json' : 'text/plain; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
    });
    response.end(body);
    if (status === 413) {
      request.destroy();
    }
  }
}

/**
 * Returns the DER certificates a TLS client sent, leaf first, with at most
 * MAX_PEER_CHAIN intermediates, or none. Node links each certificate to its
 * issuer when the client sent the issuer.
 */
function peerCertificateChain(socket: unknown): Buffer[] {
  if (!(socket instanceof TLSSocket)) {
    return [];
  }
  const chain: Buffer[] = [];
  let certificate: X509Certificate | undefined = socket.getPeerX509Certificate();
  while (certificate !== undefined && chain.length <= MAX_PEER_CHAIN) {
    const raw = certificate.raw;
    if (chain.some((known) => known.equals(raw))) {
      break;
    }
    chain.push(raw);
    certificate = certificate.issuerCertificate;
  }
  return chain;
}

/** Reads a request body up to `maxBytes`; a longer body raises EST_REQUEST_TOO_LARGE. */
function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? '0');
    if (declared > maxBytes) {
      reject(tooLarge(maxBytes));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        request.removeAllListeners('data');
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    request.on('error', reject);
  });
}

function tooLarge(maxBytes: number): MedwardError {
  return new MedwardError(
    ErrorKind.TooLarge,
    'EST_REQUEST_TOO_LARGE',
    `request body exceeds ${maxBytes} bytes`,
  );
}

/** Decodes a PKCS#10 body: base64 (RFC 7030, whitespace allowed) or, from lenient clients, DER. */
function decodeCsr(body: Buffer, contentType: string | undefined): Buffer {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/pkcs10') {
    throw new HttpFailure(
      ErrorKind.Invalid,
      'EST_CONTENT_TYPE_INVALID',
      `enrolment requests must be application/pkcs10, not ${mediaType === '' ? '(none)' : (mediaType ?? '')}`,
      { details: { status: 415 } },
    );
  }
  if (body.length > 0 && body[0] === 0x30) {
    return body;
  }
  const text = body.toString('latin1').replace(/\s+/g, '');
  if (text === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
    throw invalid(
      'EST_CSR_ENCODING_INVALID',
      'CSR body is neither base64 nor DER; send the PKCS#10 request base64-encoded',
    );
  }
  return Buffer.from(text, 'base64');
}

function parseJsonBody(body: Buffer, contentType: string | undefined, maxDepth: number): unknown {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new HttpFailure(
      ErrorKind.Invalid,
      'EST_CONTENT_TYPE_INVALID',
      'send the body as application/json',
      {
        details: { status: 415 },
      },
    );
  }
  const text = body.toString('utf8');
  const offset = excessiveDepthOffset(text, maxDepth);
  if (offset >= 0) {
    throw invalid(
      'EST_JSON_TOO_DEEP',
      `request body nests deeper than ${maxDepth} levels (at character ${offset})`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalid(
      'EST_JSON_INVALID',
      `request body is not valid JSON: ${(error as Error).message}`,
    );
  }
}
