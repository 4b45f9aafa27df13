/**
 * Runs many simulated agents against one manager and summarizes what they
 * saw.
 */
import { randomBytes } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import { SimulatedAgent, type AckRecord, type AgentResult } from './agent.js';
import {
  createScenario,
  type AgentKind,
  type ExpectedObservation,
  type ScenarioOptions,
} from './scenarios.js';

export interface SimulationOptions extends ScenarioOptions {
  kind: AgentKind;
  /** Agents, each with its own connection and system id. */
  count: number;
  /** Confirmed reports per second per agent. */
  ratePerSecond: number;
  /** Time each agent sends reports for. */
  durationMs: number;
  /** Reports per agent; the agent stops at this count or at `durationMs`, whichever comes first. */
  reportsPerAgent?: number;
  host: string;
  port: number;
  tls?: ConnectionOptions;
  /** First 4 bytes of every agent's system id as 8 hex digits; random when absent. */
  systemIdPrefix?: string;
  /** Agents connecting and associating at the same time; default 100. */
  connectConcurrency?: number;
  clockSkewMs?: number;
  onAck?: (systemId: string, ack: AckRecord) => void;
  /** Called when the manager confirmed stored readings, with their expected observations. */
  onStoredConfirmed?: (systemId: string, expected: ExpectedObservation[]) => void;
  /** Stops every agent when aborted. */
  signal?: AbortSignal;
}

export interface SimulationSummary {
  kind: AgentKind;
  agents: number;
  /** Sessions that associated, reported and released without an error. */
  sessionsCompleted: number;
  sessionsFailed: number;
  reportsSent: number;
  acksReceived: number;
  /** Readings the agents kept in their PM-stores. */
  storedEntries: number;
  /** Stored readings whose transfer the manager confirmed. */
  storedEntriesConfirmed: number;
  /** Report-to-RORS latency as each agent measured it. */
  latencyMs: { p50: number; p99: number; max: number };
  durationMs: number;
  /** Failed sessions by their first error. */
  errors: Record<string, number>;
}

/** Returns the q-quantile (0..1) of the samples by nearest rank; NaN without samples. */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) {
    return Number.NaN;
  }
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** Builds the EUI-64 of agent `index`: the 4-byte prefix, then the index. */
export function agentSystemId(prefixHex: string, index: number): Uint8Array {
  const id = Buffer.alloc(8);
  Buffer.from(prefixHex, 'hex').copy(id, 0, 0, 4);
  id.writeUInt32BE(index >>> 0, 4);
  return new Uint8Array(id);
}

/** Runs `count` agents, at most `connectConcurrency` of them connecting at once. */
export async function runSimulation(options: SimulationOptions): Promise<SimulationSummary> {
  const prefix = options.systemIdPrefix ?? randomBytes(4).toString('hex');
  const scenario = createScenario(options.kind, options);
  const startedAtMs = performance.now();
  const concurrency = Math.max(1, options.connectConcurrency ?? 100);
  const agents: SimulatedAgent[] = [];
  const runs: Promise<AgentResult>[] = [];
  let connecting = 0;
  const slotFreed: (() => void)[] = [];
  const abort = (): void => {
    for (const agent of agents) {
      agent.stop();
    }
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  for (let index = 0; index < options.count; index += 1) {
    while (connecting >= concurrency) {
      await new Promise<void>((resolve) => slotFreed.push(resolve));
    }
    if (options.signal?.aborted === true) {
      break;
    }
    connecting += 1;
    const systemId = agentSystemId(prefix, index);
    const hex = Buffer.from(systemId).toString('hex');
    const agent = new SimulatedAgent({
      host: options.host,
      port: options.port,
      scenario,
      systemId,
      ratePerSecond: options.ratePerSecond,
      durationMs: options.durationMs,
      ...(options.reportsPerAgent === undefined ? {} : { reports: options.reportsPerAgent }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.clockSkewMs === undefined ? {} : { clockSkewMs: options.clockSkewMs }),
      // Without a callback the agent skips building the expected observations of each report.
      ...(options.onAck === undefined
        ? {}
        : { onAck: (ack: AckRecord) => options.onAck?.(hex, ack) }),
      ...(options.onStoredConfirmed === undefined
        ? {}
        : {
            onStoredConfirmed: (expected: ExpectedObservation[]) =>
              options.onStoredConfirmed?.(hex, expected),
          }),
      onAssociated: () => {
        connecting -= 1;
        slotFreed.shift()?.();
      },
    });
    agents.push(agent);
    runs.push(agent.run());
  }
  const results = await Promise.all(runs);
  options.signal?.removeEventListener('abort', abort);
  return summarize(options.kind, results, performance.now() - startedAtMs);
}

function summarize(kind: AgentKind, results: AgentResult[], durationMs: number): SimulationSummary {
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let reportsSent = 0;
  let acksReceived = 0;
  let storedEntries = 0;
  let storedEntriesConfirmed = 0;
  let failed = 0;
  for (const result of results) {
    reportsSent += result.reportsSent;
    acksReceived += result.acksReceived;
    storedEntries += result.storedEntries;
    storedEntriesConfirmed += result.storedEntriesConfirmed;
    for (const latency of result.latenciesMs) {
      latencies.push(latency);
    }
    if (result.error !== undefined) {
      failed += 1;
      // Numbers (sequence numbers, reasons) would split one kind of failure into many.
      const key = result.error.replace(/\d+/g, 'N');
      errors[key] = (errors[key] ?? 0) + 1;
    }
  }
  return {
    kind,
    agents: results.length,
    sessionsCompleted: results.length - failed,
    sessionsFailed: failed,
    reportsSent,
    acksReceived,
    storedEntries,
    storedEntriesConfirmed,
    latencyMs: {
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      max:
        latencies.length === 0
          ? Number.NaN
          : latencies.reduce((max, latency) => Math.max(max, latency), Number.NEGATIVE_INFINITY),
    },
    durationMs,
    errors,
  };
}
