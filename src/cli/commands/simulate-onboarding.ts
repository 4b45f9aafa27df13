import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '../../core/logger.js';
import {
  runOnboardingSimulation,
  type OnboardingSimulationSummary,
} from '../../onboarding/simulation/run-simulation.js';
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

interface SimulateOnboardingOptions {
  count: number;
  concurrency: number;
  port: number;
  dataDir?: string;
  json?: boolean;
}

function formatSummary(summary: OnboardingSimulationSummary): string {
  const lines = [
    `${summary.devices} simulated devices against ${summary.listenerUrl} in ${(summary.durationMs / 1000).toFixed(1)} s ` +
      `(${summary.devicesPerSecond.toFixed(1)} devices/s)`,
    `enrolled ${summary.enrolled}, registered ${summary.registered}, in production ${summary.inProduction}, failed ${summary.failed}`,
    `enrolment: p50 ${summary.enrolmentMs.p50.toFixed(1)} ms, p99 ${summary.enrolmentMs.p99.toFixed(1)} ms`,
    `registration with segment move: p50 ${summary.registrationMs.p50.toFixed(1)} ms, p99 ${summary.registrationMs.p99.toFixed(1)} ms`,
  ];
  for (const [code, count] of Object.entries(summary.errors)) {
    lines.push(`  ${count} x ${code}`);
  }
  return lines.join('\n');
}

/**
 * `medward simulate onboarding --count N`: onboards N simulated devices end
 * to end (authorisation list entry, EST enrolment over TLS to a provisioning
 * listener on 127.0.0.1, registration, move to production) in a medward
 * instance of its own, and prints what happened. Exits 1 when a device did
 * not reach production.
 */
export function simulateOnboardingCommand(): Command {
  return new Command('onboarding')
    .description(
      'onboard simulated devices end to end over EST against a provisioning listener on 127.0.0.1',
    )
    .option('--count <n>', 'simulated devices', integerFrom('count', 1, 100_000), 10)
    .option(
      '--concurrency <n>',
      'devices onboarding at the same time',
      integerFrom('concurrency', 1, 512),
      16,
    )
    .option(
      '--port <port>',
      'provisioning listener port on 127.0.0.1 (0: a free port)',
      integerFrom('port', 0, 65535),
      0,
    )
    .option(
      '--data-dir <directory>',
      'keep the database, CA and keys here (default: a temporary directory, removed afterwards)',
    )
    .option('--json', 'print the summary as JSON')
    .action(async (options: SimulateOnboardingOptions) => {
      const logger = createLogger({ level: 'warn', destination: process.stderr });
      const summary = await runOnboardingSimulation({
        count: options.count,
        concurrency: options.concurrency,
        port: options.port,
        logger,
        ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
      });
      process.stdout.write(
        options.json === true
          ? `${JSON.stringify(summary, null, 2)}\n`
          : `${formatSummary(summary)}\n`,
      );
      if (summary.inProduction < summary.devices) {
        throw new CommandFailed(
          `${summary.devices - summary.inProduction} of ${summary.devices} devices did not reach production`,
          1,
        );
      }
    });
}
