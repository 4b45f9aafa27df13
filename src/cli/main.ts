#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { auditCommand } from './commands/audit.js';
import { authorityCommand } from './commands/authority.js';
import { devicesCommand } from './commands/devices.js';
import { simulateOnboardingCommand } from './commands/simulate-onboarding.js';
import { simulateCommand } from './commands/simulate.js';
import { startCommand } from './commands/start.js';
import { tokenCommand } from './commands/token.js';
import { handleCliError } from './errors.js';
import { runtimeOpener, type GlobalOptions } from './runtime.js';

function packageVersion(): string {
  const manifest = JSON.parse(
    readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  return manifest.version;
}

export function buildProgram(): Command {
  const program = new Command('medward')
    .description('security gateway and control plane for connected medical device fleets')
    .version(packageVersion())
    .option(
      '--config <file>',
      'YAML configuration file (default: $MEDWARD_CONFIG, else ./medward.yaml)',
    )
    .option('--json', 'print data as JSON')
    .option('--verbose', 'print the cause chain of errors')
    .showHelpAfterError()
    .exitOverride();
  const globalOptions = (): GlobalOptions => program.opts<GlobalOptions>();
  const openRuntime = runtimeOpener(globalOptions);

  program.addCommand(startCommand(globalOptions));
  program.addCommand(auditCommand(openRuntime));
  program.addCommand(tokenCommand(openRuntime));
  program.addCommand(devicesCommand(openRuntime));
  program.addCommand(simulateCommand().addCommand(simulateOnboardingCommand(globalOptions)));
  program.addCommand(authorityCommand(globalOptions));
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) {
      sub.exitOverride();
    }
  }
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    process.exitCode = handleCliError(
      error,
      program.opts<{ verbose?: boolean }>().verbose === true,
    );
  }
}

await main();
