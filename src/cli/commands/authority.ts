import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../../core/config/index.js';
import { createLogger } from '../../core/logger.js';
import {
  AuthorisationListSchema,
  AuthorityServer,
  ensureAuthorityTls,
  keyIdOf,
  signList,
} from '../../onboarding/authorisation/index.js';
import type { ImportResult } from '../../onboarding/authorisation/authorisation-service.js';
import { checkListContents } from '../../onboarding/authorisation/list-checks.js';
import { AdminApiClient, TOKEN_ENV } from '../admin-api.js';
import { CommandFailed } from '../errors.js';
import { readText } from '../files.js';
import type { GlobalOptions } from '../runtime.js';

const listCheck = TypeCompiler.Compile(AuthorisationListSchema);

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
    throw new InvalidArgumentError('port must be an integer from 0 to 65535');
  }
  return parsed;
}

function writeAtomically(file: string, content: string, mode: number): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, content, { mode });
  renameSync(temporary, file);
}

interface ServeOptions {
  dir: string;
  host: string;
  port: number;
  tlsCert?: string;
  tlsKey?: string;
}

interface SignOptions {
  key: string;
  in: string;
  out?: string;
  passphraseEnv?: string;
}

interface ImportOptions {
  in: string;
  apiUrl?: string;
}

interface KeygenOptions {
  out: string;
  publicOut: string;
  algorithm: 'ed25519' | 'es256' | 'es384';
}

/**
 * `medward authority`: tools for the authority that publishes authorisation
 * lists. `keygen` creates a signing key, `sign` turns a list into a signed
 * envelope, `serve` publishes a directory of signed lists over HTTPS with
 * ETags for medward to poll, and `import` hands a signed list to the
 * running medward through its admin API.
 */
export function authorityCommand(globalOptions: () => GlobalOptions): Command {
  const authority = new Command('authority').description(
    'create, sign and serve authorisation lists of expected devices',
  );

  authority
    .command('keygen')
    .description('create a list signing key pair (private key file mode 0600)')
    .requiredOption('--out <file>', 'private key file to create (PEM PKCS#8)')
    .requiredOption(
      '--public-out <file>',
      'public key file to create, for onboarding.authority.publicKeyFiles',
    )
    .addOption(
      new Option('--algorithm <name>', 'signature algorithm')
        .choices(['ed25519', 'es256', 'es384'])
        .default('ed25519'),
    )
    .action((options: KeygenOptions) => {
      if (existsSync(options.out)) {
        throw new CommandFailed(`${options.out} exists; choose another file or remove it first`, 4);
      }
      const pair =
        options.algorithm === 'ed25519'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('ec', {
              namedCurve: options.algorithm === 'es256' ? 'prime256v1' : 'secp384r1',
            });
      writeFileSync(options.out, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
        mode: 0o600,
        flag: 'wx',
      });
      writeFileSync(options.publicOut, pair.publicKey.export({ type: 'spki', format: 'pem' }), {
        mode: 0o644,
      });
      process.stdout.write(`key id ${keyIdOf(pair.publicKey)}\n`);
    });

  authority
    .command('sign')
    .description('check an authorisation list and sign it with a private key file')
    .requiredOption('--key <file>', 'private key (PEM; Ed25519, ECDSA P-256 or P-384)')
    .requiredOption('--in <file>', 'authorisation list JSON to sign')
    .option('--out <file>', 'signed envelope to write (default: standard output)')
    .option('--passphrase-env <name>', 'environment variable holding the key passphrase')
    .action((options: SignOptions) => {
      const keyText = readText(options.key, 'private key');
      const passphrase =
        options.passphraseEnv === undefined ? undefined : process.env[options.passphraseEnv];
      let privateKey;
      try {
        privateKey = createPrivateKey(
          passphrase === undefined ? keyText : { key: keyText, passphrase },
        );
      } catch (error) {
        throw new CommandFailed(
          `cannot read private key ${options.key}: ${(error as Error).message}`,
          2,
        );
      }
      let list: unknown;
      try {
        list = JSON.parse(readText(options.in, 'list')) as unknown;
      } catch (error) {
        throw new CommandFailed(`${options.in} is not valid JSON: ${(error as Error).message}`, 2);
      }
      if (!listCheck.Check(list)) {
        const problems = [...listCheck.Errors(list)]
          .slice(0, 10)
          .map((error) => `  ${error.path || '/'}: ${error.message}`);
        throw new CommandFailed(
          `${options.in} is not a valid authorisation list:\n${problems.join('\n')}`,
          2,
        );
      }
      checkListContents(list);
      const envelope = `${JSON.stringify(signList(list, privateKey), null, 2)}\n`;
      if (options.out === undefined) {
        process.stdout.write(envelope);
      } else {
        writeAtomically(options.out, envelope, 0o644);
        process.stderr.write(
          `signed ${list.listId} version ${list.version} with key ${keyIdOf(createPublicKey(privateKey))} into ${options.out}\n`,
        );
      }
    });

  authority
    .command('serve')
    .description(
      'serve the signed lists of a directory at https://<host>:<port>/lists/<file>.json with ETags',
    )
    .requiredOption('--dir <directory>', 'directory of signed list files')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', port, 8444)
    .option(
      '--tls-cert <file>',
      'TLS certificate (PEM); a self-signed one is created in --dir when omitted',
    )
    .option('--tls-key <file>', 'TLS private key (PEM) for --tls-cert')
    .action(async (options: ServeOptions) => {
      if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
        throw new CommandFailed('give both --tls-cert and --tls-key, or neither', 2);
      }
      let certificatePem: string;
      let keyPem: string;
      if (options.tlsCert !== undefined && options.tlsKey !== undefined) {
        certificatePem = readText(options.tlsCert, 'TLS certificate');
        keyPem = readText(options.tlsKey, 'TLS key');
      } else {
        const tls = ensureAuthorityTls(options.dir, [options.host, 'localhost']);
        certificatePem = tls.certificatePem;
        keyPem = tls.keyPem;
        process.stderr.write(
          `TLS certificate ${tls.certificateFile} (SHA-256 ${tls.fingerprint}); ` +
            'give it to medward as onboarding.authority.tlsCaFile\n',
        );
      }
      const logger = createLogger({ level: 'info', destination: process.stderr });
      const server = new AuthorityServer({
        directory: options.dir,
        host: options.host,
        port: options.port,
        tlsCertificatePem: certificatePem,
        tlsKeyPem: keyPem,
        logger,
      });
      await server.start();
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.stop();
    });

  authority
    .command('import')
    .description(
      `import a signed authorisation list into the running medward through its admin API, ` +
        `with the admin token in ${TOKEN_ENV}`,
    )
    .requiredOption('--in <file>', 'signed list to import, as "medward authority sign" writes it')
    .option('--api-url <url>', "medward's admin API (default: from api.host and api.port)")
    .action(async (options: ImportOptions) => {
      const global = globalOptions();
      const envelope = readText(options.in, 'signed list');
      const config = loadConfig(global.config === undefined ? {} : { file: global.config });
      const api = AdminApiClient.fromConfig(config, options.apiUrl);
      const result = await api.request<ImportResult>(
        'POST',
        '/api/v1/onboarding/authorisation-lists',
        { envelope },
      );
      process.stdout.write(
        global.json === true
          ? `${JSON.stringify(result, null, 2)}\n`
          : `${result.status} list ${result.listId} version ${result.version} ` +
              `(stored before: ${result.previousVersion ?? 'none'}): ${result.devices} devices, ` +
              `${result.revocations} revocations\n`,
      );
    });

  return authority;
}
