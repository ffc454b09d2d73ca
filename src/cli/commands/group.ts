import { Command } from 'commander';
import type { GroupView } from '../../modules/directory/groups.js';
import { cliActor, withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { details, printJson, table } from '../output.js';

function printGroup(io: CliIo, json: boolean | undefined, group: GroupView): void {
  if (json) return printJson(io, group);
  io.stdout.write(details([['name', group.name], ['id', group.id], ['description', group.description], ['members', group.member_count], ['created', group.created_at]]));
}

export function groupCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const group = new Command('group').description('manage groups of users');
  const run = <T>(work: Parameters<typeof withRuntime<T>>[2]) => withRuntime(io, globals(), work);

  group
    .command('create <name>')
    .description('create a group')
    .option('--description <text>', 'what the group is for')
    .action(async (name: string, flags: { description?: string }) => printGroup(io, globals().json, await run((rt) => rt.groups.create({ name, description: flags.description }, cliActor()))));

  group
    .command('list')
    .description('list groups')
    .option('--search <text>', 'part of the group name')
    .option('--limit <n>', 'groups per page (1-1000)', (value) => Number(value), 100)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (flags: { search?: string; limit: number; cursor?: string }) => {
      const page = await run((rt) => rt.groups.list(flags));
      if (globals().json) return printJson(io, page);
      io.stdout.write(table(['name', 'members', 'description'], page.items.map((item) => [item.name, item.member_count, item.description])));
      if (page.next_cursor) io.stdout.write(`more: --cursor ${page.next_cursor}\n`);
    });

  group
    .command('get <name>')
    .description('show a group')
    .action(async (name: string) => printGroup(io, globals().json, await run((rt) => rt.groups.get(name))));

  group
    .command('update <name>')
    .description('rename a group or change its description')
    .option('--name <new>', 'new name')
    .option('--description <text>', 'new description')
    .action(async (name: string, flags: { name?: string; description?: string }) =>
      printGroup(io, globals().json, await run((rt) => rt.groups.update(name, flags, cliActor()))),
    );

  group
    .command('delete <name>')
    .description('delete a group (its users stay)')
    .action(async (name: string) => {
      await run((rt) => rt.groups.delete(name, cliActor()));
      if (globals().json) printJson(io, { deleted: name });
      else io.stdout.write(`deleted group ${name}\n`);
    });

  group
    .command('add-member <name> <usernames...>')
    .description('add users to a group')
    .action(async (name: string, usernames: string[]) => printGroup(io, globals().json, await run((rt) => rt.groups.addMembers(name, usernames, cliActor()))));

  group
    .command('remove-member <name> <username>')
    .description('remove a user from a group')
    .action(async (name: string, username: string) => {
      await run((rt) => rt.groups.removeMember(name, username, cliActor()));
      if (globals().json) printJson(io, { removed: username, group: name });
      else io.stdout.write(`removed ${username} from ${name}\n`);
    });

  return group;
}
