/**
 * Configuration of the IEEE 11073-20601 manager: the listener agents connect
 * to, its limits, the protocol timers and the group commit of observations.
 */
import { Type, type Static } from '@sinclair/typebox';

/**
 * Protocol timers of the manager in milliseconds. The defaults are the values
 * of IEEE 11073-20601: 10 s to receive an AARQ on a new connection and for
 * the configuration report, 3 s for the answer to a GET, confirmed SET or
 * confirmed ACTION and for the RLRE after a release request.
 * NOTE: 10 s for association and configuration agree with the open-source
 * Antidote manager; the 3 s values are taken from the standard as medward's
 * authors know it, without a copy of its timer table at hand.
 */
export const Ieee11073TimeoutsSection = Type.Object(
  {
    /** TO_assoc: time a new connection has to send its AARQ. */
    associationMs: Type.Integer({ minimum: 100, maximum: 600000, default: 10000 }),
    /** TO_config: time an agent associated with an unknown configuration has to send it. */
    configurationMs: Type.Integer({ minimum: 100, maximum: 600000, default: 10000 }),
    /** TO_confirmed-action and TO_get: time the agent has to answer a GET or confirmed ACTION. */
    confirmedRequestMs: Type.Integer({ minimum: 100, maximum: 600000, default: 3000 }),
    /**
     * Time an agent waits for the RORS of a confirmed event report. The manager
     * counts and logs acknowledgements that its commit made later than this.
     */
    confirmedReportMs: Type.Integer({ minimum: 100, maximum: 600000, default: 3000 }),
    /** TO_release: time the agent has to answer the manager's RLRQ. */
    releaseMs: Type.Integer({ minimum: 100, maximum: 600000, default: 3000 }),
  },
  { additionalProperties: false, default: {} },
);

export const Ieee11073TlsSection = Type.Object(
  {
    enabled: Type.Boolean({ default: false }),
    /** PEM certificate chain of the manager. */
    certFile: Type.Optional(Type.String({ minLength: 1 })),
    /** PEM private key of the manager. */
    keyFile: Type.Optional(Type.String({ minLength: 1 })),
    /** PEM bundle of the certificate authorities that sign agent certificates. */
    caFile: Type.Optional(Type.String({ minLength: 1 })),
    /** Mutual TLS: reject agents without a certificate signed by caFile. */
    requireClientCert: Type.Boolean({ default: false }),
  },
  { additionalProperties: false, default: {} },
);

export const Ieee11073GroupCommitSection = Type.Object(
  {
    /** Observations per database transaction; a single larger report still commits whole. */
    maxBatch: Type.Integer({ minimum: 1, maximum: 20000, default: 2000 }),
    /**
     * Maximum time a report waits for others before its batch goes to the
     * database. With 0 a batch contains the reports of one event-loop turn, and
     * batches still grow while earlier ones commit, so only idle managers
     * commit small ones.
     */
    maxDelayMs: Type.Integer({ minimum: 0, maximum: 10000, default: 0 }),
  },
  { additionalProperties: false, default: {} },
);

/**
 * Transfer of the measurements an agent keeps in its PM-stores: the manager
 * reads each PM-store's segment info, triggers the transfer of every segment
 * that contains entries and stores the entries as observations.
 */
export const Ieee11073PmStoreSection = Type.Object(
  {
    /** Read the PM-stores of every operating agent whose configuration has one. */
    transfer: Type.Boolean({ default: true }),
    /**
     * Clear each segment (MDC_ACT_SEG_CLR) once all its entries are stored and
     * the agent supports clearing by segment list. Off keeps the patient data
     * on the device.
     */
    clearAfterTransfer: Type.Boolean({ default: false }),
    /**
     * Time a segment transfer may take from the trigger to its last entry,
     * unless the segment's Transfer-Timeout requests longer. A transfer that
     * takes longer aborts the association.
     */
    transferTimeoutMs: Type.Integer({ minimum: 100, maximum: 3600000, default: 60000 }),
    /** Maximum segment Transfer-Timeout the manager waits for. */
    maxTransferTimeoutMs: Type.Integer({ minimum: 100, maximum: 3600000, default: 600000 }),
  },
  { additionalProperties: false, default: {} },
);

export const Ieee11073Section = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    /** TCP listener for agents; port 0 picks a free port (tests). */
    listen: Type.Object(
      {
        host: Type.String({ minLength: 1, default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 6024 }),
      },
      { additionalProperties: false, default: {} },
    ),
    tls: Ieee11073TlsSection,
    /** EUI-64 of the manager as 16 hex digits, sent in every AARE. */
    systemId: Type.String({ pattern: '^[0-9a-fA-F]{16}$', default: '4d45445741524430' }),
    /** Largest APDU accepted, header included; 64512 is the 20601 maximum for a manager. */
    maxApduBytes: Type.Integer({ minimum: 64, maximum: 65539, default: 64512 }),
    /** Connections served at once; further connections are closed at once. */
    maxConnections: Type.Integer({ minimum: 1, maximum: 100000, default: 5000 }),
    /** Confirmed event reports of one connection waiting for their commit before reading pauses. */
    maxPendingReportsPerConnection: Type.Integer({ minimum: 1, maximum: 1024, default: 16 }),
    /** A connection that sends nothing for this long is aborted and closed. */
    idleTimeoutMs: Type.Integer({ minimum: 1000, maximum: 86400000, default: 600000 }),
    timeouts: Ieee11073TimeoutsSection,
    groupCommit: Ieee11073GroupCommitSection,
    /** Set the agent's clock (Set-Time or Set-Base-Offset-Time) when Mds-Time-Info allows it. */
    setTimeOnAssociation: Type.Boolean({ default: true }),
    pmStore: Ieee11073PmStoreSection,
  },
  { additionalProperties: false, default: {} },
);

export type Ieee11073Config = Static<typeof Ieee11073Section>;
export type Ieee11073PmStoreConfig = Static<typeof Ieee11073PmStoreSection>;
