import { createPrivateKey, type KeyObject } from 'node:crypto';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig, type MedwardConfig } from '../../core/config/index.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { resolveDataPath } from '../../onboarding/ca/ca-material.js';
import {
  runOnboardingSimulation,
  runOnboardingSimulationAgainst,
  type OnboardingSimulationSummary,
  type RunningMedwardTarget,
} from '../../onboarding/simulation/run-simulation.js';
import { AdminApiClient, TOKEN_ENV, localUrl } from '../admin-api.js';
import { CommandFailed } from '../errors.js';
import { readText } from '../files.js';
import type { GlobalOptions } from '../runtime.js';

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
  authorityKey?: string;
  listener?: string;
  caFile?: string;
  apiUrl?: string;
  standalone?: boolean;
  port?: number;
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
 * Returns how to reach the medward that `config` describes: its provisioning
 * listener, the CA certificates its listener presents (read from its data
 * directory unless `caFile` is given), and its admin API for the list import.
 */
function runningMedwardTarget(
  config: MedwardConfig,
  options: SimulateOnboardingOptions & { authorityKey: string },
): RunningMedwardTarget {
  if (!config.onboarding.enabled) {
    throw new CommandFailed(
      'onboarding.enabled is false in the configuration, so medward runs no provisioning listener',
      2,
    );
  }
  const provisioning = config.onboarding.provisioning;
  if (
    options.listener === undefined &&
    provisioning.publicUrl === undefined &&
    provisioning.port === 0
  ) {
    throw new CommandFailed(
      'onboarding.provisioning.port is 0, so the operating system chose the port: give --listener ' +
        'with the address in the "provisioning listener started" log line',
      2,
    );
  }
  const listenerUrl =
    options.listener ??
    provisioning.publicUrl ??
    localUrl('https', provisioning.host, provisioning.port);
  const caFiles =
    options.caFile === undefined
      ? [config.onboarding.ca.certificateFile, config.onboarding.ca.chainFile]
          .filter((file) => file !== undefined)
          .map((file) => resolveDataPath(config.dataDir, file))
      : [options.caFile];
  const trustedCaPem = caFiles.map((file) => readText(file, 'CA certificate')).join('\n');
  let authorityKey: KeyObject;
  try {
    authorityKey = createPrivateKey(readText(options.authorityKey, 'authority key'));
  } catch (error) {
    if (error instanceof CommandFailed) {
      throw error;
    }
    throw new CommandFailed(
      `cannot read authority key ${options.authorityKey}: ${(error as Error).message}`,
      2,
    );
  }
  const api = AdminApiClient.fromConfig(config, options.apiUrl);
  return {
    listenerUrl,
    trustedCaPem,
    authorityKey,
    importList: async (envelope) => {
      await api.request('POST', '/api/v1/onboarding/authorisation-lists', { envelope });
    },
    countInProduction: async (text) => {
      let count = 0;
      let cursor: string | null = null;
      do {
        const query = new URLSearchParams({ state: 'production', q: text, limit: '500' });
        if (cursor !== null) {
          query.set('cursor', cursor);
        }
        const page: { items: unknown[]; nextCursor: string | null } = await api.request(
          'GET',
          `/api/v1/devices?${query.toString()}`,
        );
        count += page.items.length;
        cursor = page.nextCursor;
      } while (cursor !== null);
      return count;
    },
  };
}

/**
 * `medward simulate onboarding --count N`: onboards N simulated devices end
 * to end (authorisation list entry, EST enrolment over TLS, registration,
 * move to production) and prints what happened. By default the devices
 * onboard into the running medward the configuration describes, authorised
 * by lists signed with --authority-key and imported through the admin API;
 * with --standalone they onboard into a medward instance of the command's
 * own. Exits 1 when a device did not reach production.
 */
export function simulateOnboardingCommand(globalOptions: () => GlobalOptions): Command {
  return new Command('onboarding')
    .description(
      'onboard simulated devices end to end over EST into the running medward (or, with ' +
        "--standalone, into a medward of the command's own)",
    )
    .option('--count <n>', 'simulated devices', integerFrom('count', 1, 100_000), 10)
    .option(
      '--concurrency <n>',
      'devices onboarding at the same time',
      integerFrom('concurrency', 1, 512),
      16,
    )
    .option(
      '--authority-key <file>',
      "private key that signs the simulated devices' list; its public key must be in " +
        'onboarding.authority.publicKeyFiles (see "medward authority keygen")',
    )
    .option(
      '--listener <url>',
      'provisioning listener (default: from onboarding.provisioning in the configuration)',
    )
    .option(
      '--ca-file <file>',
      'CA certificates (PEM) the devices trust for the listener (default: the issuing CA in dataDir)',
    )
    .option(
      '--api-url <url>',
      `medward's admin API, called with the admin token in ${TOKEN_ENV} (default: from api.host and api.port)`,
    )
    .option(
      '--standalone',
      "run a medward of the command's own with a temporary database instead of the running one",
    )
    .option(
      '--port <port>',
      'with --standalone: provisioning listener port on 127.0.0.1 (0: a free port)',
      integerFrom('port', 0, 65535),
    )
    .option(
      '--data-dir <directory>',
      'with --standalone: keep the database, CA and keys here (default: a temporary directory, removed afterwards)',
    )
    .option('--json', 'print the summary as JSON')
    .action(async (options: SimulateOnboardingOptions) => {
      const logger = createLogger({ level: 'warn', destination: process.stderr });
      const json = options.json === true || globalOptions().json === true;
      const summary =
        options.standalone === true
          ? await runStandalone(options, logger)
          : await runAgainstRunningMedward(options, globalOptions, logger);
      process.stdout.write(
        json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatSummary(summary)}\n`,
      );
      if (summary.inProduction < summary.devices) {
        throw new CommandFailed(
          `${summary.devices - summary.inProduction} of ${summary.devices} devices did not reach production`,
          1,
        );
      }
    });
}

function runStandalone(
  options: SimulateOnboardingOptions,
  logger: Logger,
): Promise<OnboardingSimulationSummary> {
  for (const [given, name] of [
    [options.authorityKey, '--authority-key'],
    [options.listener, '--listener'],
    [options.caFile, '--ca-file'],
    [options.apiUrl, '--api-url'],
  ] as const) {
    if (given !== undefined) {
      throw new CommandFailed(`${name} applies to the running medward, not to --standalone`, 2);
    }
  }
  return runOnboardingSimulation({
    count: options.count,
    concurrency: options.concurrency,
    port: options.port ?? 0,
    logger,
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
  });
}

function runAgainstRunningMedward(
  options: SimulateOnboardingOptions,
  globalOptions: () => GlobalOptions,
  logger: Logger,
): Promise<OnboardingSimulationSummary> {
  if (options.port !== undefined || options.dataDir !== undefined) {
    throw new CommandFailed('--port and --data-dir apply only with --standalone', 2);
  }
  const authorityKey = options.authorityKey;
  if (authorityKey === undefined) {
    throw new CommandFailed(
      'give --authority-key with the private key whose public key is in ' +
        'onboarding.authority.publicKeyFiles (see "medward authority keygen"), or --standalone ' +
        "to onboard into a medward of the command's own",
      2,
    );
  }
  const global = globalOptions();
  const config = loadConfig(global.config === undefined ? {} : { file: global.config });
  return runOnboardingSimulationAgainst({
    count: options.count,
    concurrency: options.concurrency,
    target: runningMedwardTarget(config, { ...options, authorityKey }),
    logger,
  });
}
