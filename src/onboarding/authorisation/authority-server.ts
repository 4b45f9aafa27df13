import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Component } from '../../core/lifecycle.js';
import type { Logger } from '../../core/logger.js';
import { toPem } from '../ca/pem.js';
import {
  basicConstraintsExtension,
  buildCertificate,
  encodeName,
  extKeyUsageExtension,
  keyIdentifier,
  keyUsageExtension,
  oid,
  randomSerialNumber,
  sha256Hex,
  subjectAltNameExtension,
  subjectKeyIdentifierExtension,
} from '../ca/x509.js';
import { MAX_LIST_BYTES } from './authority-client.js';

export interface AuthorityServerOptions {
  /** Directory whose `*.json` files are served under /lists/. */
  directory: string;
  host: string;
  port: number;
  tlsCertificatePem: string;
  tlsKeyPem: string;
  logger: Logger;
}

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.json$/;

/** Checks whether an If-None-Match header value matches `etag` (RFC 9110 section 13.1.2, weak comparison). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) {
    return false;
  }
  if (header.trim() === '*') {
    return true;
  }
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === bare);
}

/**
 * A small HTTPS server an authority runs to publish signed authorisation
 * lists. GET /lists/<file>.json returns the file from its directory with a
 * strong ETag (SHA-256 of the bytes), and a request with a matching
 * If-None-Match gets 304. Files are read on each request, so a newly signed list is served
 * as soon as it is written.
 */
export class AuthorityServer implements Component {
  readonly name = 'authority-server';
  private server: Server | undefined;

  constructor(private readonly options: AuthorityServerOptions) {}

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.options.port;
  }

  async start(): Promise<void> {
    const server = createServer(
      { cert: this.options.tlsCertificatePem, key: this.options.tlsKeyPem, minVersion: 'TLSv1.2' },
      (request, response) => {
        this.handle(request, response);
      },
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.options.logger.info(
      { host: this.options.host, port: this.port, directory: this.options.directory },
      'authority server listening',
    );
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) {
      return;
    }
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
      server.closeAllConnections();
    });
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const send = (status: number, body: string, headers: Record<string, string> = {}): void => {
      response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      response.end(body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(405, 'only GET and HEAD are served\n', { allow: 'GET, HEAD' });
      return;
    }
    const name = path.startsWith('/lists/') ? decodeURIComponent(path.slice('/lists/'.length)) : '';
    if (!FILE_NAME.test(name)) {
      send(404, 'not found; lists are served at /lists/<name>.json\n');
      return;
    }
    const file = join(this.options.directory, name);
    let body: Buffer;
    try {
      if (statSync(file).size > MAX_LIST_BYTES) {
        send(500, 'list file is too large\n');
        return;
      }
      body = readFileSync(file);
    } catch {
      send(404, `no list ${name}\n`);
      return;
    }
    const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
    const headers = { etag, 'cache-control': 'no-cache' };
    if (etagMatches(request.headers['if-none-match'], etag)) {
      response.writeHead(304, headers);
      response.end();
      return;
    }
    response.writeHead(200, {
      ...headers,
      'content-type': 'application/json',
      'content-length': String(body.length),
    });
    response.end(request.method === 'HEAD' ? undefined : body);
    this.options.logger.info({ file: name, etag }, 'authorisation list served');
  }
}

/**
 * Returns the authority server's TLS certificate and key from `directory`,
 * creating a self-signed pair valid for `names` (DNS names and IP addresses)
 * on first use. Clients trust the certificate file through
 * onboarding.authority.tlsCaFile.
 */
export function ensureAuthorityTls(
  directory: string,
  names: readonly string[],
): { certificatePem: string; keyPem: string; certificateFile: string; fingerprint: string } {
  const certificateFile = join(directory, 'authority-tls-cert.pem');
  const keyFile = join(directory, 'authority-tls-key.pem');
  if (!existsSync(certificateFile) || !existsSync(keyFile)) {
    mkdirSync(directory, { recursive: true });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const subject = [{ type: oid.commonName, value: 'medward authority server' }];
    const now = Date.now();
    const der = buildCertificate(
      {
        serialNumber: randomSerialNumber(randomBytes),
        issuerNameDer: encodeName(subject),
        subject,
        notBefore: new Date(now - 5 * 60_000),
        notAfter: new Date(now + 825 * 86_400_000),
        subjectPublicKeyInfoDer: spki,
        extensions: [
          basicConstraintsExtension(true, 0),
          keyUsageExtension(['digitalSignature', 'keyCertSign']),
          extKeyUsageExtension([oid.serverAuth]),
          subjectAltNameExtension({
            dns: names.filter((name) => !/^[0-9.:]+$/.test(name)),
            ip: names.filter((name) => /^[0-9.:]+$/.test(name)),
          }),
          subjectKeyIdentifierExtension(keyIdentifier(spki)),
        ],
      },
      privateKey,
    );
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(certificateFile, toPem(der, 'CERTIFICATE'), { mode: 0o644 });
  }
  const certificatePem = readFileSync(certificateFile, 'utf8');
  const der = Buffer.from(certificatePem.replace(/-----[A-Z ]+-----|\s+/g, ''), 'base64');
  return {
    certificatePem,
    keyPem: readFileSync(keyFile, 'utf8'),
    certificateFile,
    fingerprint: sha256Hex(der),
  };
}
