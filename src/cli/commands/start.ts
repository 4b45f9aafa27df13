import { Command } from 'commander';
import { createMedward } from '../../app.js';
import { loadConfig } from '../../core/config/index.js';
import { createLogger } from '../../core/logger.js';
import type { GlobalOptions } from '../runtime.js';

/**
 * `medward start`: runs every configured component in this process until
 * SIGTERM or SIGINT, then stops them in reverse order within
 * shutdown.drainTimeoutMs.
 */
export function startCommand(globalOptions: () => GlobalOptions): Command {
  return new Command('start')
    .description('start medward with the configured components and serve until SIGTERM or SIGINT')
    .action(async () => {
      const global = globalOptions();
      const config = loadConfig(global.config === undefined ? {} : { file: global.config });
      const logger = createLogger({ level: config.log.level });
      const medward = createMedward(config, logger);
      await medward.start();
      if (medward.bootstrapToken !== undefined) {
        // Printed once, to the terminal only: logs never carry tokens.
        process.stdout.write(
          `\nmedward created the first admin API token. It is shown only this once:\n\n` +
            `  ${medward.bootstrapToken}\n\n` +
            `Use it as "Authorization: Bearer <token>" on http://${config.api.host}:${medward.apiPort}\n\n`,
        );
      }
      await waitForShutdownSignal();
      logger.info({ drainTimeoutMs: config.shutdown.drainTimeoutMs }, 'shutdown requested');
      const drained = await Promise.race([
        medward.stop().then(() => true),
        new Promise<false>((resolve) =>
          setTimeout(() => {
            resolve(false);
          }, config.shutdown.drainTimeoutMs).unref(),
        ),
      ]);
      if (!drained) {
        logger.error(
          { drainTimeoutMs: config.shutdown.drainTimeoutMs },
          'shutdown timed out; exiting',
        );
        process.exit(1);
      }
      logger.info('medward stopped');
      logger.flush();
    });
}

function waitForShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
