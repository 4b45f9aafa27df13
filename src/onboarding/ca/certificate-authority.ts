import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type { Kysely } from 'kysely';
import type { AuditEntry, AuditTrail, Executor } from '../../core/audit/index.js';
import { ErrorKind, MedwardError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { CompiledQueries } from '../../core/storage/compiled-queries.js';
import type { Storage } from '../../core/storage/index.js';
import type { CertificatesConfig } from '../config.js';
import type { CaMaterial } from './ca-material.js';
import { signJws } from './jws.js';
import { toPem } from './pem.js';
import {
  CrlReason,
  authorityKeyIdentifierExtension,
  basicConstraintsExtension,
  buildCertificate,
  buildCrl,
  crlDistributionPointsExtension,
  extKeyUsageExtension,
  formatName,
  isIssuedBy,
  keyUsageExtension,
  oid,
  parseCertificate,
  preencodedExtension,
  randomSerialNumber,
  subjectAltNameExtension,
  type Extension,
  type GeneralNameInput,
  type NameAttribute,
  type ParsedCertificate,
} from './x509.js';

export interface CertificateTable {
  /** Lowercase hex without leading zero octets. */
  serial_number: string;
  device_id: string | null;
  /** `device` for operational certificates, `server` for the provisioning listener's own. */
  kind: string;
  /** SHA-256 of the DER, lowercase hex. */
  fingerprint: string;
  subject: string;
  not_before: string;
  not_after: string;
  issued_at: string;
  /** `valid` or `revoked`; expiry is read from not_after. */
  status: string;
  revoked_at: string | null;
  revocation_reason: number | null;
  /** Base64 DER. */
  der: string;
}

export interface CaStateTable {
  id: number;
  crl_number: number;
}

// A type alias, not an interface: Kysely's withTables needs an index-compatible type.
export type CaTables = {
  onboarding_certificate: CertificateTable;
  onboarding_ca_state: CaStateTable;
};

/** Filing details of a certificate for record() and storeIssued(). */
export interface RecordOptions {
  deviceId: string | null;
  kind: 'device' | 'server';
  details?: Record<string, unknown>;
}

export interface CertificateRequest {
  subject: readonly NameAttribute[];
  subjectAltNames: GeneralNameInput;
  subjectPublicKeyInfoDer: Uint8Array;
  publicKey: KeyObject;
}

/** A signed certificate, not yet recorded. */
export interface IssuedCertificate {
  parsed: ParsedCertificate;
  pem: string;
}

/** Extensions shared by many certificates, each with its DER attached. */
interface EncodedExtensions {
  /** Written into every device certificate, by the key type of the device. */
  device: { ec: Extension[]; rsa: Extension[] };
  /** Naming this CA, written last into every certificate. */
  issuer: Extension[];
}

export interface CertificateAuthorityOptions {
  material: CaMaterial;
  storage: Storage;
  audit: AuditTrail;
  logger: Logger;
  certificates: CertificatesConfig;
  /** URL of the CRL, written into issued certificates; none when undefined. */
  crlUrl: string | undefined;
  now?: () => Date;
}

/** Issued certificates may start this far in the past, for device clocks that run slow. */
const BACKDATE_MS = 5 * 60_000;

/**
 * medward's issuing CA: signs operational certificates for enrolled devices
 * and the provisioning listener's own, records every issued certificate,
 * revokes them and publishes the revocations as a signed CRL. Recording and
 * revoking run in the caller's transaction with an audit record each.
 */
export class CertificateAuthority {
  private readonly material: CaMaterial;
  private readonly storage: Storage;
  private readonly audit: AuditTrail;
  private readonly logger: Logger;
  private readonly config: CertificatesConfig;
  private readonly crlUrl: string | undefined;
  private readonly now: () => Date;
  private crlCache: { der: Buffer; stamp: string; thisUpdate: number } | undefined;
  private encodedExtensions: EncodedExtensions | undefined;
  private readonly queries = new CompiledQueries();
  private crlBuilding: Promise<Buffer> | undefined;

  constructor(options: CertificateAuthorityOptions) {
    this.material = options.material;
    this.storage = options.storage;
    this.audit = options.audit;
    this.logger = options.logger;
    this.config = options.certificates;
    this.crlUrl = options.crlUrl;
    this.now = options.now ?? (() => new Date());
  }

  get certificate(): ParsedCertificate {
    return this.material.certificate;
  }

  /** The CA certificate followed by those above it, as EST /cacerts returns them. */
  get caCertificates(): ParsedCertificate[] {
    return [this.material.certificate, ...this.material.chain];
  }

  get lifetimeMs(): number {
    return this.config.lifetimeHours * 3_600_000;
  }

  /** Signs a document as a compact JWS with the CA key; devices verify it with the CA certificate. */
  signJws(payload: unknown): string {
    return signJws(payload, this.material.privateKey, this.material.certificate.der);
  }

  /** Checks that `certificate` carries a valid signature of this CA. */
  issued(certificate: ParsedCertificate): boolean {
    return isIssuedBy(certificate, this.material.certificate, this.material.publicKey);
  }

  /** Signs an operational certificate for a device; the caller records it with record(). */
  signDeviceCertificate(request: CertificateRequest): IssuedCertificate {
    const now = this.now();
    const { device } = this.extensions();
    return this.sign(
      request,
      now,
      new Date(now.getTime() + this.lifetimeMs),
      request.publicKey.asymmetricKeyType === 'rsa' ? device.rsa : device.ec,
    );
  }

  /**
   * Creates a key and a server certificate for the provisioning listener,
   * with `names` (DNS names and IP addresses) as subject alternative names.
   */
  signServerCertificate(names: readonly string[]): IssuedCertificate & { privateKeyPem: string } {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const now = this.now();
    const issued = this.sign(
      {
        subject: [
          { type: oid.commonName, value: names[0] ?? 'medward provisioning' },
          { type: oid.organizationName, value: 'medward' },
        ],
        subjectAltNames: {
          dns: names.filter((name) => isIP(name) === 0),
          ip: names.filter((name) => isIP(name) !== 0),
        },
        subjectPublicKeyInfoDer: publicKey.export({ type: 'spki', format: 'der' }),
        publicKey,
      },
      now,
      new Date(now.getTime() + this.lifetimeMs),
      [
        basicConstraintsExtension(false),
        keyUsageExtension(['digitalSignature']),
        extKeyUsageExtension([oid.serverAuth]),
      ],
    );
    return {
      ...issued,
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  }

  /** Returns the extensions every certificate of a kind carries, encoded on first use. */
  private extensions(): EncodedExtensions {
    if (this.encodedExtensions === undefined) {
      const constraints = preencodedExtension(basicConstraintsExtension(false));
      const purposes = preencodedExtension(extKeyUsageExtension([oid.clientAuth, oid.serverAuth]));
      this.encodedExtensions = {
        device: {
          ec: [constraints, preencodedExtension(keyUsageExtension(['digitalSignature'])), purposes],
          rsa: [
            constraints,
            preencodedExtension(keyUsageExtension(['digitalSignature', 'keyEncipherment'])),
            purposes,
          ],
        },
        issuer: [
          preencodedExtension(authorityKeyIdentifierExtension(this.material.keyIdentifier)),
          ...(this.crlUrl === undefined
            ? []
            : [preencodedExtension(crlDistributionPointsExtension(this.crlUrl))]),
        ],
      };
    }
    return this.encodedExtensions;
  }

  private sign(
    request: CertificateRequest,
    now: Date,
    notAfter: Date,
    extensions: readonly Extension[],
  ): IssuedCertificate {
    const der = buildCertificate(
      {
        serialNumber: randomSerialNumber(randomBytes),
        issuerNameDer: this.material.certificate.subjectNameDer,
        subject: request.subject,
        notBefore: new Date(now.getTime() - BACKDATE_MS),
        notAfter,
        subjectPublicKeyInfoDer: request.subjectPublicKeyInfoDer,
        extensions: [
          ...extensions,
          subjectAltNameExtension(request.subjectAltNames),
          ...this.extensions().issuer,
        ],
      },
      this.material.privateKey,
    );
    return {
      parsed: parseCertificate(der, 'CA_CERTIFICATE_INVALID'),
      pem: toPem(der, 'CERTIFICATE'),
    };
  }

  /** Stores an issued certificate and appends `certificate.issue` in the caller's transaction. */
  async record(
    executor: Executor<object>,
    issued: IssuedCertificate,
    options: RecordOptions,
  ): Promise<void> {
    await this.audit.append(executor, await this.storeIssued(executor, issued, options));
  }

  /**
   * Stores an issued certificate in the caller's transaction and returns its
   * `certificate.issue` audit entry, which the caller must append in the same
   * transaction (with other records, through AuditTrail.appendMany).
   */
  async storeIssued(
    executor: Executor<object>,
    issued: IssuedCertificate,
    options: RecordOptions,
  ): Promise<AuditEntry> {
    const certificate = issued.parsed;
    const subject = formatName(certificate.subject);
    const row: CertificateTable = {
      serial_number: certificate.serialNumberHex,
      device_id: options.deviceId,
      kind: options.kind,
      fingerprint: certificate.fingerprint,
      subject,
      not_before: certificate.notBefore.toISOString(),
      not_after: certificate.notAfter.toISOString(),
      issued_at: this.now().toISOString(),
      status: 'valid',
      revoked_at: null,
      revocation_reason: null,
      der: certificate.der.toString('base64'),
    };
    await this.queries.execute(executor, 'certificate:insert', Object.values(row), () =>
      executor.withTables<CaTables>().insertInto('onboarding_certificate').values(row),
    );
    return {
      event: 'certificate.issue',
      action: 'C',
      outcome: 'success',
      target:
        options.deviceId === null
          ? { kind: 'certificate', id: certificate.serialNumberHex }
          : { kind: 'device', id: options.deviceId },
      details: {
        serialNumber: certificate.serialNumberHex,
        fingerprint: certificate.fingerprint,
        subject,
        subjectAltNames: certificate.subjectAltNames,
        notAfter: certificate.notAfter.toISOString(),
        kind: options.kind,
        ...options.details,
      },
    };
  }

  /**
   * Decides whether a device may re-enrol with `record`, the stored record of
   * the certificate it authenticated with. The certificate must be one this
   * CA issued to a device and not revoked, and now must lie in the renewal
   * window before its expiry. After expiry, renewal is allowed only when
   * `allowRenewAfterExpiry` is set and the grace period has not passed. The
   * result then has `expired` set, and the caller audits the renewal.
   */
  checkRenewal(record: CertificateTable | undefined): { expired: boolean } {
    if (record?.kind !== 'device' || record.device_id === null) {
      throw new MedwardError(
        ErrorKind.Unauthenticated,
        'CA_CERTIFICATE_UNKNOWN',
        'the client certificate was not issued by medward to a device; enrol with /simpleenroll',
      );
    }
    const details = {
      serialNumber: record.serial_number,
      deviceId: record.device_id,
      notAfter: record.not_after,
    };
    if (record.status === 'revoked') {
      throw new MedwardError(
        ErrorKind.Forbidden,
        'CA_CERTIFICATE_REVOKED',
        `certificate ${record.serial_number} was revoked at ${record.revoked_at ?? '?'}; the device must be authorised again`,
        { details },
      );
    }
    const nowMs = this.now().getTime();
    const notAfterMs = Date.parse(record.not_after);
    if (nowMs <= notAfterMs) {
      const windowStartMs = notAfterMs - this.config.renewalWindowHours * 3_600_000;
      if (nowMs < windowStartMs) {
        throw new MedwardError(
          ErrorKind.Conflict,
          'CA_RENEWAL_TOO_EARLY',
          `certificate ${record.serial_number} can be renewed from ${new Date(windowStartMs).toISOString()}, ` +
            `${this.config.renewalWindowHours} h before it expires; retry then`,
          { details: { ...details, renewableFrom: new Date(windowStartMs).toISOString() } },
        );
      }
      return { expired: false };
    }
    if (!this.config.allowRenewAfterExpiry) {
      throw new MedwardError(
        ErrorKind.Forbidden,
        'CA_RENEWAL_AFTER_EXPIRY_FORBIDDEN',
        `certificate ${record.serial_number} expired at ${record.not_after} and policy forbids renewing ` +
          'expired certificates; the device must enrol again with its birth identity',
        { details },
      );
    }
    const graceEndMs = notAfterMs + this.config.renewAfterExpiryGraceHours * 3_600_000;
    if (nowMs > graceEndMs) {
      throw new MedwardError(
        ErrorKind.Forbidden,
        'CA_RENEWAL_GRACE_EXCEEDED',
        `certificate ${record.serial_number} expired at ${record.not_after}, more than ` +
          `${this.config.renewAfterExpiryGraceHours} h ago; the device must enrol again with its birth identity`,
        { details },
      );
    }
    return { expired: true };
  }

  /** The stored record of a certificate by its SHA-256 fingerprint. */
  async findByFingerprint(
    executor: Executor<object>,
    fingerprint: string,
  ): Promise<CertificateTable | undefined> {
    return executor
      .withTables<CaTables>()
      .selectFrom('onboarding_certificate')
      .selectAll()
      .where('fingerprint', '=', fingerprint)
      .executeTakeFirst();
  }

  /**
   * Revokes every unexpired, unrevoked certificate of a device and appends
   * `certificate.revoke` for each, in the caller's transaction. Returns the
   * revoked serial numbers.
   */
  async revokeDeviceCertificates(
    executor: Executor<object>,
    deviceId: string,
    reason: CrlReason,
    explanation: string,
  ): Promise<string[]> {
    const db = executor.withTables<CaTables>();
    const nowIso = this.now().toISOString();
    const rows = await db
      .selectFrom('onboarding_certificate')
      .select(['serial_number', 'fingerprint'])
      .where('device_id', '=', deviceId)
      .where('status', '=', 'valid')
      .where('not_after', '>', nowIso)
      .execute();
    for (const row of rows) {
      await this.revokeRow(executor, row.serial_number, deviceId, reason, explanation, nowIso);
    }
    return rows.map((row) => row.serial_number);
  }

  /** Revokes one certificate by serial number; false when it is unknown or already revoked. */
  async revoke(
    executor: Executor<object>,
    serialNumberHex: string,
    reason: CrlReason,
    explanation: string,
  ): Promise<boolean> {
    const row = await executor
      .withTables<CaTables>()
      .selectFrom('onboarding_certificate')
      .select(['device_id', 'status'])
      .where('serial_number', '=', serialNumberHex)
      .executeTakeFirst();
    if (row === undefined || row.status !== 'valid') {
      return false;
    }
    await this.revokeRow(
      executor,
      serialNumberHex,
      row.device_id,
      reason,
      explanation,
      this.now().toISOString(),
    );
    return true;
  }

  private async revokeRow(
    executor: Executor<object>,
    serialNumberHex: string,
    deviceId: string | null,
    reason: CrlReason,
    explanation: string,
    nowIso: string,
  ): Promise<void> {
    await executor
      .withTables<CaTables>()
      .updateTable('onboarding_certificate')
      .set({ status: 'revoked', revoked_at: nowIso, revocation_reason: reason })
      .where('serial_number', '=', serialNumberHex)
      .where('status', '=', 'valid')
      .execute();
    await this.audit.append(executor, {
      event: 'certificate.revoke',
      action: 'U',
      outcome: 'success',
      target:
        deviceId === null
          ? { kind: 'certificate', id: serialNumberHex }
          : { kind: 'device', id: deviceId },
      reason: explanation,
      details: { serialNumber: serialNumberHex, crlReason: reason },
    });
    this.crlCache = undefined;
  }

  /**
   * Returns the current CRL (DER). It is rebuilt, with the next CRL number,
   * when a revocation was recorded since the last one (also by another
   * medward instance on the same database) or when half its validity passed.
   */
  async crl(): Promise<Buffer> {
    const stamp = await this.revocationStamp();
    const cache = this.crlCache;
    const halfValidityMs = (this.config.crlValidityHours * 3_600_000) / 2;
    if (
      cache !== undefined &&
      cache.stamp === stamp &&
      this.now().getTime() - cache.thisUpdate < halfValidityMs
    ) {
      return cache.der;
    }
    this.crlBuilding ??= this.buildCrl(stamp).finally(() => {
      this.crlBuilding = undefined;
    });
    return this.crlBuilding;
  }

  private async revocationStamp(): Promise<string> {
    const row = await this.db()
      .selectFrom('onboarding_certificate')
      .select((eb) => [
        eb.fn.countAll<number | string>().as('count'),
        eb.fn.max('revoked_at').as('latest'),
      ])
      .where('status', '=', 'revoked')
      .executeTakeFirst();
    return `${Number(row?.count ?? 0)}:${row?.latest ?? ''}`;
  }

  private async buildCrl(stamp: string): Promise<Buffer> {
    const now = this.now();
    const { crlNumber, revoked } = await this.storage.db.transaction().execute(async (trx) => {
      const db = trx.withTables<CaTables>();
      const state = await db
        .updateTable('onboarding_ca_state')
        .set((eb) => ({ crl_number: eb('crl_number', '+', 1) }))
        .where('id', '=', 1)
        .returning('crl_number')
        .executeTakeFirstOrThrow();
      const rows = await db
        .selectFrom('onboarding_certificate')
        .select(['serial_number', 'revoked_at', 'revocation_reason'])
        .where('status', '=', 'revoked')
        .where('not_after', '>', now.toISOString())
        .orderBy('revoked_at')
        .execute();
      return { crlNumber: state.crl_number, revoked: rows };
    });
    const der = buildCrl(
      {
        issuerNameDer: this.material.certificate.subjectNameDer,
        authorityKeyIdentifier: this.material.keyIdentifier,
        thisUpdate: now,
        nextUpdate: new Date(now.getTime() + this.config.crlValidityHours * 3_600_000),
        crlNumber,
        revoked: revoked.map((row) => ({
          serialNumberHex: row.serial_number,
          revokedAt: new Date(row.revoked_at ?? now.toISOString()),
          reason: (row.revocation_reason ?? CrlReason.Unspecified) as CrlReason,
        })),
      },
      this.material.privateKey,
    );
    this.crlCache = { der, stamp, thisUpdate: now.getTime() };
    this.logger.debug({ crlNumber, revoked: revoked.length }, 'CRL issued');
    return der;
  }

  private db(): Kysely<CaTables> {
    return this.storage.db.withTables<CaTables>();
  }
}
