import { Command, InvalidArgumentError, Option } from 'commander';
import { allRoles, type ApiTokenInfo, type Role } from '../../access/index.js';
import { asLocalUser, type OpenRuntime } from '../runtime.js';
import { formatTable } from '../format.js';

const MAX_EXPIRY_DAYS = 3650;
const DAY_MS = 86_400_000;

function parseExpiryDays(value: string): number {
  const days = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(days) || days < 1 || days > MAX_EXPIRY_DAYS) {
    throw new InvalidArgumentError(`expected whole days from 1 to ${MAX_EXPIRY_DAYS}`);
  }
  return days;
}

function describeTokens(tokens: readonly ApiTokenInfo[]): string {
  if (tokens.length === 0) {
    return 'no API tokens';
  }
  return formatTable(
    ['ID', 'LABEL', 'ROLES', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED'],
    tokens.map((token) => [
      token.id,
      token.label,
      token.roles.join(','),
      token.status,
      token.createdAt,
      token.expiresAt ?? 'never',
      token.lastUsedAt ?? 'never',
    ]),
  );
}

/**
 * `medward token`: API tokens managed directly in the configured database.
 * Changes are audited with the operating-system user as the actor.
 */
export function tokenCommand(openRuntime: OpenRuntime): Command {
  const token = new Command('token').description('create, list and revoke API tokens');

  token
    .command('create')
    .description('create an API token and print it; the token text is shown only this once')
    .requiredOption('--label <label>', 'who or what holds the token (1 to 100 characters)')
    .addOption(
      new Option(
        '--role <role...>',
        'one or more roles: admin (everything, including tokens), ' +
          'operator (read and change devices), auditor (read-only, including the audit trail)',
      )
        .choices(allRoles)
        .makeOptionMandatory(),
    )
    .option(
      '--expires-in-days <days>',
      `days until the token stops working, 1 to ${MAX_EXPIRY_DAYS} (default: never expires)`,
      parseExpiryDays,
    )
    .option('--json', 'print the result as JSON')
    .action(
      async (options: { label: string; role: Role[]; expiresInDays?: number; json?: boolean }) => {
        const runtime = await openRuntime({ json: options.json });
        try {
          const expiresAt =
            options.expiresInDays === undefined
              ? undefined
              : new Date(Date.now() + options.expiresInDays * DAY_MS);
          const created = await asLocalUser(() =>
            runtime.access.createToken({
              label: options.label,
              roles: options.role,
              ...(expiresAt === undefined ? {} : { expiresAt }),
            }),
          );
          runtime.print(
            created,
            () =>
              `created API token ${created.info.id} (${created.info.roles.join(', ')}), ` +
              `expires ${created.info.expiresAt ?? 'never'}. It is shown only this once:\n\n` +
              `  ${created.token}\n`,
          );
        } finally {
          await runtime.close();
        }
      },
    );

  token
    .command('list')
    .description('list API tokens with their status; secrets are never shown')
    .option('--json', 'print the tokens as JSON')
    .action(async (options: { json?: boolean }) => {
      const runtime = await openRuntime({ json: options.json });
      try {
        const tokens = await runtime.access.listTokens();
        runtime.print(tokens, () => describeTokens(tokens));
      } finally {
        await runtime.close();
      }
    });

  token
    .command('revoke')
    .description('revoke an API token at once; it never authenticates again')
    .argument('<id>', 'token id: the 16 hex digits after "mwd_"')
    .option('--reason <text>', 'why the token is revoked, kept in the audit trail')
    .option('--json', 'print the revoked token as JSON')
    .action(async (id: string, options: { reason?: string; json?: boolean }) => {
      const runtime = await openRuntime({ json: options.json });
      try {
        const revoked = await asLocalUser(() => runtime.access.revokeToken(id, options.reason));
        runtime.print(revoked, () => `revoked API token ${revoked.id} (${revoked.label})`);
      } finally {
        await runtime.close();
      }
    });

  return token;
}
