import { userInfo } from 'node:os';
import { AccessService } from '../access/index.js';
import { AuditTrail } from '../core/audit/index.js';
import { loadConfig, type MedwardConfig } from '../core/config/index.js';
import { ActorKind, runWithContext, systemContext } from '../core/context.js';
import { createLogger, type Logger } from '../core/logger.js';
import { Storage, migrateToLatest } from '../core/storage/index.js';
import { InventoryService } from '../inventory/index.js';
import { allMigrations } from '../migrations.js';

/** The storage-backed services a CLI command uses, without medward's network listeners. */
export interface CliRuntime {
  config: MedwardConfig;
  logger: Logger;
  storage: Storage;
  audit: AuditTrail;
  access: AccessService;
  inventory: InventoryService;
  /** Prints `data` as JSON when --json was given, else the text. */
  print(data: unknown, text: () => string): void;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  json?: boolean;
}

export type OpenRuntime = (options?: RuntimeOptions) => Promise<CliRuntime>;

export interface GlobalOptions {
  config?: string;
  json?: boolean;
}

/**
 * Opens the configured database (applying pending migrations) for one CLI
 * command. Local commands act as the operating-system user, so their audit
 * records name who ran them.
 */
export function runtimeOpener(globalOptions: () => GlobalOptions): OpenRuntime {
  return async (options = {}) => {
    const global = globalOptions();
    const config = loadConfig(global.config === undefined ? {} : { file: global.config });
    const logger = createLogger({ level: 'warn', destination: process.stderr });
    const storage = new Storage(config.storage, logger);
    await storage.start();
    await migrateToLatest(storage, allMigrations, logger);
    const audit = new AuditTrail(storage, { siteId: config.siteId });
    const access = new AccessService({ storage, audit, logger });
    const inventory = new InventoryService({ storage, audit, logger });
    const json = options.json === true || global.json === true;
    return {
      config,
      logger,
      storage,
      audit,
      access,
      inventory,
      print(data, text) {
        process.stdout.write(json ? JSON.stringify(data, null, 2) + '\n' : text() + '\n');
      },
      close: () => storage.stop(),
    };
  };
}

/** Runs a local CLI action with the operating-system user as the audited actor. */
export function asLocalUser<T>(fn: () => T): T {
  const username = userInfo().username;
  const context = systemContext({ kind: ActorKind.User, id: `os:${username}`, display: username });
  return runWithContext({ ...context, sourceAddress: 'local' }, fn);
}
