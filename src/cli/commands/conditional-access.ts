import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { Runtime } from '../../main.js';
import type { AppPasswordView } from '../../modules/access/app-passwords.js';
import type { NamedLocationView } from '../../modules/access/locations.js';
import type { PolicyFields, PolicyView, Selection } from '../../modules/access/policies.js';
import { revokeRememberedDevices } from '../../modules/access/remember.js';
import { appError } from '../../shared/errors.js';
import { cliActor, withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { details, printJson, table } from '../output.js';

/** Collects a repeatable option's values (`--range a --range b`). */
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** The ranges given with --range, each value possibly a comma-separated list; an empty entry is refused. */
function rangesOf(values: string[]): string[] {
  const ranges = values.flatMap((value) => value.split(',')).map((range) => range.trim());
  if (ranges.some((range) => range === '')) throw appError('validation_failed', '--range: empty entry: give IP addresses or CIDR blocks, such as 192.0.2.0/24', { field: 'range' });
  return ranges;
}

/** A list in a table cell or a details line: null (shown as "-") when empty. */
const joined = (items: string[]): string | null => (items.length === 0 ? null : items.join(', '));

// ---------- named locations ----------

function printLocation(io: CliIo, json: boolean | undefined, location: NamedLocationView): void {
  if (json) return printJson(io, location);
  io.stdout.write(
    details([
      ['name', location.name],
      ['id', location.id],
      ['trusted', location.trusted ? 'yes' : 'no'],
      ['ranges', joined(location.ranges)],
      ['created', location.created_at],
      ['updated', location.updated_at],
    ]),
  );
}

export function locationCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const location = new Command('location').description('manage named locations: sets of IP ranges that conditional access policies name');
  const run = <T>(work: (runtime: Runtime) => Promise<T>) => withRuntime(io, globals(), work);

  location
    .command('list')
    .description('list named locations')
    .action(async () => {
      const items = await run((runtime) => runtime.namedLocations.list());
      if (globals().json) return printJson(io, { items });
      io.stdout.write(table(['name', 'trusted', 'ranges', 'updated'], items.map((item) => [item.name, item.trusted ? 'yes' : 'no', joined(item.ranges), item.updated_at])));
    });

  location
    .command('show <name>')
    .description('show a named location')
    .action(async (name: string) => printLocation(io, globals().json, await run((runtime) => runtime.namedLocations.get(name))));

  location
    .command('add <name>')
    .description('create a named location')
    .option('--range <cidr>', 'an IP address or CIDR block; repeat, or separate with commas', collect)
    .option('--trusted', 'mark the location trusted (policies can name every trusted location as "trusted")')
    .action(async (name: string, flags: { range?: string[]; trusted?: boolean }) => {
      if (flags.range === undefined) throw appError('validation_failed', '--range is required: give at least one IP address or CIDR block', { field: 'range' });
      const fields = { name, ranges: rangesOf(flags.range), trusted: flags.trusted ?? false };
      printLocation(io, globals().json, await run((runtime) => runtime.namedLocations.create(fields, cliActor())));
    });

  location
    .command('update <name>')
    .description('rename a named location, replace its ranges or change whether it is trusted (only the options given change)')
    .option('--name <new>', 'new name')
    .option('--range <cidr>', 'the new ranges, replacing all of them; repeat, or separate with commas', collect)
    .option('--trusted', 'mark the location trusted')
    .option('--untrusted', 'mark the location not trusted')
    .action(async (name: string, flags: { name?: string; range?: string[]; trusted?: boolean; untrusted?: boolean }) => {
      if (flags.trusted && flags.untrusted) throw appError('validation_failed', '--trusted and --untrusted exclude each other');
      const trusted = flags.trusted ? true : flags.untrusted ? false : undefined;
      const ranges = flags.range === undefined ? undefined : rangesOf(flags.range);
      if (flags.name === undefined && ranges === undefined && trusted === undefined) throw appError('validation_failed', 'nothing to change: give --name, --range, --trusted or --untrusted');
      printLocation(io, globals().json, await run((runtime) => runtime.namedLocations.update(name, { name: flags.name, ranges, trusted }, cliActor())));
    });

  location
    .command('delete <name>')
    .description('delete a named location (refused while a policy names it)')
    .action(async (name: string) => {
      await run((runtime) => runtime.namedLocations.delete(name, cliActor()));
      if (globals().json) printJson(io, { deleted: name });
      else io.stdout.write(`deleted named location ${name}\n`);
    });

  return location;
}

// ---------- conditional access policies ----------

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
  return text;
}

/** The policy fields in a JSON file ("-" reads stdin): the same JSON object as the body of the HTTP API. */
async function readPolicyFile(io: CliIo, file: string | undefined, option: string): Promise<PolicyFields> {
  if (file === undefined) throw appError('validation_failed', `${option} is required: a JSON file with the policy's fields ("-" reads stdin)`, { field: option.replace(/^--/, '') });
  const label = file === '-' ? 'standard input' : file;
  let text: string;
  try {
    text = file === '-' ? await readAll(io.stdin) : readFileSync(file, 'utf8');
  } catch (error) {
    throw appError('validation_failed', `${label}: cannot read file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // JSON.parse quotes the input in its message: keep it to one line.
    throw appError('validation_failed', `${label}: not valid JSON (${(error as Error).message.replace(/\s+/g, ' ')})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw appError('validation_failed', `${label}: must hold a JSON object with the policy's fields`);
  return value as PolicyFields;
}

/** A selection in one cell: `a, b except c`; a long list shows as a count. */
function selectionCell(include: string[], exclude: string[]): string | null {
  const list = (items: string[]) => (items.length <= 3 ? items.join(', ') : `${items.length} names`);
  if (include.length === 0 && exclude.length === 0) return null;
  return exclude.length === 0 ? list(include) : `${list(include) || '-'} except ${list(exclude)}`;
}

/** Who a policy applies to: users and groups together, groups marked `group:`. */
function whoCell(users: Selection, groups: Selection): string | null {
  const named = (selection: Selection, mode: keyof Selection) => [
    ...selection[mode].map((name) => (name === 'all' && mode === 'include' ? 'all users' : name)),
    ...groups[mode].map((name) => `group:${name}`),
  ];
  return selectionCell(named(users, 'include'), named(users, 'exclude'));
}

function printPolicy(io: CliIo, json: boolean | undefined, policy: PolicyView): void {
  if (json) return printJson(io, policy);
  io.stdout.write(
    details([
      ['name', policy.name],
      ['id', policy.id],
      ['state', policy.state],
      ['grant', policy.grant],
      ['users', joined(policy.users.include)],
      ['users excluded', joined(policy.users.exclude)],
      ['groups', joined(policy.groups.include)],
      ['groups excluded', joined(policy.groups.exclude)],
      ['applications', joined(policy.applications.include)],
      ['applications excluded', joined(policy.applications.exclude)],
      ['locations', joined(policy.locations.include)],
      ['locations excluded', joined(policy.locations.exclude)],
      ['client types', joined(policy.client_types)],
      ['device states', joined(policy.device_states)],
      ['remember MFA days', policy.remember_mfa_days],
      ['created', policy.created_at],
      ['updated', policy.updated_at],
    ]),
  );
}

export function policyCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const policy = new Command('policy').description('manage conditional access policies (block, allow or require MFA by user, application, location, client and device)');
  const run = <T>(work: (runtime: Runtime) => Promise<T>) => withRuntime(io, globals(), work);
  const setState = (name: string, state: 'enabled' | 'disabled') => run((runtime) => runtime.policies.update(name, { state }, cliActor()));

  policy
    .command('list')
    .description('list policies')
    .action(async () => {
      const items = await run((runtime) => runtime.policies.list());
      if (globals().json) return printJson(io, { items });
      io.stdout.write(
        table(
          ['name', 'state', 'grant', 'users', 'applications', 'locations', 'remember days'],
          items.map((item) => [
            item.name,
            item.state,
            item.grant,
            whoCell(item.users, item.groups),
            selectionCell(item.applications.include, item.applications.exclude),
            selectionCell(item.locations.include, item.locations.exclude),
            item.remember_mfa_days,
          ]),
        ),
      );
    });

  policy
    .command('show <name>')
    .description('show a policy')
    .action(async (name: string) => printPolicy(io, globals().json, await run((runtime) => runtime.policies.get(name))));

  policy
    .command('add')
    .description('create a policy from a JSON file (the same fields as the HTTP API)')
    .option('--file <policy.json>', 'the policy as a JSON object ("-" reads stdin)')
    .action(async (flags: { file?: string }) => {
      const fields = await readPolicyFile(io, flags.file, '--file');
      printPolicy(io, globals().json, await run((runtime) => runtime.policies.create(fields, cliActor())));
    });

  policy
    .command('update <name>')
    .description('change a policy: the fields in the JSON file replace theirs, the others stay')
    .option('--file <patch.json>', 'the fields to change as a JSON object ("-" reads stdin)')
    .action(async (name: string, flags: { file?: string }) => {
      const fields = await readPolicyFile(io, flags.file, '--file');
      if (Object.keys(fields).length === 0) throw appError('validation_failed', `${flags.file === '-' ? 'standard input' : flags.file}: no fields to change`);
      printPolicy(io, globals().json, await run((runtime) => runtime.policies.update(name, fields, cliActor())));
    });

  policy
    .command('enable <name>')
    .description('apply the policy to sign-ins')
    .action(async (name: string) => printPolicy(io, globals().json, await setState(name, 'enabled')));

  policy
    .command('disable <name>')
    .description('keep the policy but stop applying it')
    .action(async (name: string) => printPolicy(io, globals().json, await setState(name, 'disabled')));

  policy
    .command('delete <name>')
    .description('delete a policy')
    .action(async (name: string) => {
      await run((runtime) => runtime.policies.delete(name, cliActor()));
      if (globals().json) printJson(io, { deleted: name });
      else io.stdout.write(`deleted policy ${name}\n`);
    });

  return policy;
}

// ---------- app passwords and remembered devices ----------

export function appPasswordCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const appPassword = new Command('app-password').description("manage users' app passwords for legacy clients that cannot ask for a second factor");
  const run = <T>(work: (runtime: Runtime) => Promise<T>) => withRuntime(io, globals(), work);

  appPassword
    .command('create <username>')
    .description('create an app password; it is printed once')
    .option('--name <text>', 'what it is for, such as "Mail on the old laptop"')
    .action(async (username: string, flags: { name?: string }) => {
      if (flags.name === undefined) throw appError('validation_failed', '--name is required: say what the app password is for', { field: 'name' });
      const created = await run((runtime) => runtime.appPasswords.create(username, flags.name, cliActor()));
      if (globals().json) return printJson(io, created);
      io.stdout.write(details([['user', username], ['id', created.id], ['name', created.name], ['created', created.created_at], ['password', created.password]]));
      io.stdout.write('Store the password now: it is not shown again.\n');
    });

  appPassword
    .command('list <username>')
    .description("list a user's app passwords (never the passwords)")
    .action(async (username: string) => {
      const items: AppPasswordView[] = await run((runtime) => runtime.appPasswords.list(username));
      if (globals().json) return printJson(io, { items });
      io.stdout.write(table(['id', 'name', 'created', 'last used'], items.map((item) => [item.id, item.name, item.created_at, item.last_used_at])));
    });

  appPassword
    .command('revoke <username> <id>')
    .description('revoke an app password: it stops working at once')
    .action(async (username: string, id: string) => {
      await run((runtime) => runtime.appPasswords.revoke(username, id, cliActor()));
      if (globals().json) printJson(io, { revoked: id, user: username });
      else io.stdout.write(`revoked app password ${id} of ${username}\n`);
    });

  return appPassword;
}

export function rememberedDevicesCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const remembered = new Command('remembered-devices').description('manage devices that remember MFA for a user');

  remembered
    .command('revoke <username>')
    .description('forget every device that remembers MFA for the user: each asks for MFA at its next sign-in')
    .action(async (username: string) => {
      const revokedAt = await withRuntime(io, globals(), (runtime) =>
        revokeRememberedDevices({ transact: runtime.storage.transact, clock: runtime.clock, directory: runtime.directory }, username, cliActor()),
      );
      if (globals().json) printJson(io, { revoked_at: revokedAt });
      else io.stdout.write(`remembered devices of ${username} revoked: tokens issued until ${revokedAt} are no longer honoured\n`);
    });

  return remembered;
}
