/**
 * Prometheus metrics of the IEEE 11073 manager.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { GroupCommitMetrics } from '../store/group-commit.js';

export class ManagerMetrics implements GroupCommitMetrics {
  readonly associations: Counter<'result'>;
  readonly protocolErrors: Counter<'reaction'>;
  readonly observationsCommitted: Counter;
  readonly commitBatch: Histogram;
  readonly commitSeconds: Histogram;
  readonly commitFailures: Counter;
  readonly reportAckSeconds: Histogram;
  readonly lateAcks: Counter;
  readonly connectionsRejected: Counter;
  readonly publishFailures: Counter;
  readonly quirks: Counter;

  constructor(registry: Registry, connectionCount: () => number, associatedCount: () => number) {
    const registers = [registry];
    new Gauge({
      name: 'medward_ieee11073_connections',
      help: 'Open agent connections',
      registers,
      collect() {
        this.set(connectionCount());
      },
    });
    new Gauge({
      name: 'medward_ieee11073_associations',
      help: 'Associations in the configuring, operating or disassociating state',
      registers,
      collect() {
        this.set(associatedCount());
      },
    });
    this.associations = new Counter({
      name: 'medward_ieee11073_association_requests_total',
      help: 'Association requests by AssociateResult name',
      labelNames: ['result'],
      registers,
    });
    this.protocolErrors = new Counter({
      name: 'medward_ieee11073_protocol_errors_total',
      help: 'Malformed or unexpected APDUs by the reaction sent (rorj, roer, abrt, manager-abort of a segment transfer)',
      labelNames: ['reaction'],
      registers,
    });
    this.observationsCommitted = new Counter({
      name: 'medward_ieee11073_observations_committed_total',
      help: 'Observations committed to the database',
      registers,
    });
    this.commitBatch = new Histogram({
      name: 'medward_ieee11073_commit_batch_observations',
      help: 'Observations per group-commit transaction',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000],
      registers,
    });
    this.commitSeconds = new Histogram({
      name: 'medward_ieee11073_commit_duration_seconds',
      help: 'Duration of group-commit transactions',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.commitFailures = new Counter({
      name: 'medward_ieee11073_commit_failures_total',
      help: 'Group-commit transactions that failed',
      registers,
    });
    this.reportAckSeconds = new Histogram({
      name: 'medward_ieee11073_report_ack_seconds',
      help: 'Time from receiving a confirmed event report to sending its RORS',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 3],
      registers,
    });
    this.lateAcks = new Counter({
      name: 'medward_ieee11073_late_acks_total',
      help: 'RORS sent later than timeouts.confirmedReportMs after the report',
      registers,
    });
    this.connectionsRejected = new Counter({
      name: 'medward_ieee11073_connections_rejected_total',
      help: 'Connections closed because maxConnections were open',
      registers,
    });
    this.publishFailures = new Counter({
      name: 'medward_ieee11073_publish_failures_total',
      help: 'Committed observation batches the event bus did not accept',
      registers,
    });
    this.quirks = new Counter({
      name: 'medward_ieee11073_quirks_total',
      help: 'Agent deviations from IEEE 11073-20601 that the decoder tolerated',
      registers,
    });
  }

  observeBatch(observations: number, seconds: number): void {
    this.commitBatch.observe(observations);
    this.commitSeconds.observe(seconds);
    this.observationsCommitted.inc(observations);
  }

  countFailure(): void {
    this.commitFailures.inc();
  }
}
