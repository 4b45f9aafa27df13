import { Command, InvalidArgumentError, Option } from 'commander';
import {
  agentKinds,
  isAgentKind,
  runSimulation,
  type AgentKind,
  type SimulationSummary,
} from '../../ieee11073/index.js';
import { CommandFailed } from '../errors.js';

function integerFrom(name: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    }
    return parsed;
  };
}

function positiveInteger(name: string, max: number): (value: string) => number {
  return integerFrom(name, 1, max);
}

function positiveNumber(name: string, max: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0 || parsed > max) {
      throw new InvalidArgumentError(`${name} must be a number above 0 and at most ${max}`);
    }
    return parsed;
  };
}

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65535) {
    throw new InvalidArgumentError('port must be an integer from 1 to 65535');
  }
  return parsed;
}

interface AgentsOptions {
  kind: string;
  count: number;
  rate: number;
  durationMs: number;
  host: string;
  port: number;
  extended?: boolean;
  measurementsPerReport: number;
  stored: number;
  json?: boolean;
}

function formatSummary(summary: SimulationSummary): string {
  const lines = [
    `${summary.agents} ${summary.kind} agents in ${(summary.durationMs / 1000).toFixed(1)} s`,
    `sessions: ${summary.sessionsCompleted} completed, ${summary.sessionsFailed} failed`,
    `reports sent: ${summary.reportsSent}, acks received: ${summary.acksReceived}`,
    `stored readings confirmed: ${summary.storedEntriesConfirmed} of ${summary.storedEntries}`,
    `report-to-ack latency: p50 ${summary.latencyMs.p50.toFixed(1)} ms, p99 ${summary.latencyMs.p99.toFixed(1)} ms`,
  ];
  for (const [error, count] of Object.entries(summary.errors)) {
    lines.push(`  ${count} x ${error}`);
  }
  return lines.join('\n');
}

/**
 * `medward simulate agents`: plays IEEE 11073-20601 agent sessions against a
 * manager and prints what the agents saw. Exits 1 when a session failed.
 */
export function simulateCommand(): Command {
  const simulate = new Command('simulate').description(
    'simulate devices against medward for testing and load measurement',
  );
  simulate
    .command('agents')
    .description(
      'run IEEE 11073-20601 agents that associate, send confirmed measurement reports and release',
    )
    .addOption(
      new Option('--kind <kind>', 'device specialization to simulate')
        .choices([...agentKinds])
        .default('pulseox'),
    )
    .option(
      '--count <n>',
      'agents, each with its own connection',
      positiveInteger('count', 100000),
      1,
    )
    .option('--rate <r>', 'confirmed reports per second per agent', positiveNumber('rate', 1000), 1)
    .option(
      '--duration-ms <ms>',
      'time each agent sends reports for, in milliseconds',
      positiveInteger('duration-ms', 86400000),
      10000,
    )
    .option('--host <host>', 'manager host', '127.0.0.1')
    .option('--port <port>', 'manager port', port, 6024)
    .option('--extended', 'announce an extended configuration instead of the standard one')
    .option(
      '--measurements-per-report <n>',
      'stored readings each report carries, 1 s apart',
      positiveInteger('measurements-per-report', 100),
      1,
    )
    .option(
      '--stored <n>',
      'readings each agent keeps in a PM-store, 60 s apart, for the manager to transfer (0: no PM-store)',
      integerFrom('stored', 0, 100000),
      0,
    )
    .option('--json', 'print the summary as JSON')
    .action(async (options: AgentsOptions, command: Command) => {
      // medward's global --json may claim the flag before this command sees it.
      const json =
        options.json === true || command.optsWithGlobals<{ json?: boolean }>().json === true;
      const kind: AgentKind = isAgentKind(options.kind) ? options.kind : 'pulseox';
      const summary = await runSimulation({
        kind,
        count: options.count,
        ratePerSecond: options.rate,
        durationMs: options.durationMs,
        host: options.host,
        port: options.port,
        measurementsPerReport: options.measurementsPerReport,
        storedReadings: options.stored,
        ...(options.extended === true ? { extended: true } : {}),
      });
      process.stdout.write(
        json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatSummary(summary)}\n`,
      );
      if (summary.sessionsFailed > 0) {
        throw new CommandFailed(
          `${summary.sessionsFailed} of ${summary.agents} sessions failed`,
          1,
        );
      }
    });
  return simulate;
}
