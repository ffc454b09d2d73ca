import { Command } from 'commander';
import { ROLE_NAMES } from '../../modules/admin-access/roles.js';
import { cliActor, withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { printJson, table } from '../output.js';

export function adminKeyCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const adminKey = new Command('admin-key').description('manage admin API keys');

  adminKey
    .command('create')
    .description('create an admin API key; the secret is printed once')
    .requiredOption('--name <name>', 'what the key is for')
    .requiredOption('--role <role>', `one of ${ROLE_NAMES.join(', ')}`)
    .action(async (flags: { name: string; role: string }) => {
      const created = await withRuntime(io, globals(), (rt) => rt.adminKeys.create(flags, cliActor()));
      if (globals().json) return printJson(io, created);
      io.stdout.write(`created key ${created.key.id} (${created.key.role})\n${created.secret}\nStore the secret now: it is not shown again.\n`);
    });

  adminKey
    .command('list')
    .description('list admin API keys')
    .option('--all', 'include revoked keys')
    .action(async (flags: { all?: boolean }) => {
      const keys = await withRuntime(io, globals(), (rt) => rt.adminKeys.list(flags.all ?? false));
      if (globals().json) return printJson(io, { items: keys });
      io.stdout.write(table(['id', 'name', 'role', 'created', 'last used', 'revoked'], keys.map((key) => [key.id, key.name, key.role, key.created_at, key.last_used_at, key.revoked_at])));
    });

  adminKey
    .command('revoke <id>')
    .description('revoke an admin API key at once')
    .action(async (id: string) => {
      const key = await withRuntime(io, globals(), (rt) => rt.adminKeys.revoke(id, cliActor()));
      if (globals().json) return printJson(io, key);
      io.stdout.write(`revoked ${key.id} (${key.name})\n`);
    });

  return adminKey;
}
