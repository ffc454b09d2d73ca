import { createReadStream, readFileSync } from 'node:fs';
import { ROLE_NAMES } from '../../modules/admin-access/roles.js';
import { Command, Option } from 'commander';
import { IMPORT_COLUMNS } from '../../modules/directory/csv-import.js';
import { APP_MODES, CALL_MODES, MFA_STATES, OATH_MODES, SMS_DIRECTIONS, SMS_MODES, type MfaState, type UserFields } from '../../modules/directory/user-input.js';
import type { UserView } from '../../modules/directory/user-view.js';
import { appError } from '../../shared/errors.js';
import { cliActor, withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { details, printJson, progressBar, table } from '../output.js';

interface UserFlags {
  username?: string;
  firstName?: string;
  lastName?: string;
  email?: string;
  language?: string;
  enabled?: boolean;
  mfaState?: MfaState;
  adminRole?: string;
  pin?: string;
  clearPin?: boolean;
  pinChangeRequired?: boolean;
  oathMode?: (typeof OATH_MODES)[number];
  smsMode?: (typeof SMS_MODES)[number];
  smsDirection?: (typeof SMS_DIRECTIONS)[number];
  callMode?: (typeof CALL_MODES)[number];
  appMode?: (typeof APP_MODES)[number];
  countryCode?: string;
  phone?: string;
  extension?: string;
  clearPhone?: boolean;
  backupCountryCode?: string;
  backupPhone?: string;
  backupExtension?: string;
  clearBackupPhone?: boolean;
  group?: string[];
}

const phoneText = (phone: UserView['phone']) => (phone ? `+${phone.country_code} ${phone.number}${phone.extension ? ` x${phone.extension}` : ''}` : null);

export function printUser(io: CliIo, json: boolean | undefined, user: UserView): void {
  if (json) return printJson(io, user);
  io.stdout.write(
    details([
      ['username', user.username],
      ['id', user.id],
      ['name', [user.first_name, user.last_name].filter(Boolean).join(' ') || null],
      ['email', user.email],
      ['language', user.language],
      ['account', user.account_enabled ? 'enabled' : 'disabled'],
      ['mfa state', user.mfa_state],
      ['admin role', user.admin_role],
      ['groups', user.groups.join(', ') || null],
      ['pin', user.pin_set ? (user.pin_change_required ? 'set (change required)' : 'set') : 'not set'],
      ['oath mode', user.oath_mode],
      ['sms mode', user.sms_mode],
      ['sms direction', user.sms_direction],
      ['call mode', user.call_mode],
      ['app mode', user.app_mode],
      ['phone', phoneText(user.phone)],
      ['backup phone', phoneText(user.backup_phone)],
      ['created', user.created_at],
      ['updated', user.updated_at],
    ]),
  );
}

/** Options shared by `user add` and `user update`. */
function withUserOptions(command: Command): Command {
  return command
    .option('--first-name <text>', 'first name')
    .option('--last-name <text>', 'last name')
    .option('--email <address>', 'e-mail address')
    .option('--language <tag>', 'language for voice and SMS texts (e.g. en, fr)')
    .option('--enabled', 'account may sign in')
    .option('--disabled', 'block sign-in altogether (disabled account)')
    .addOption(new Option('--mfa-state <state>', 'per-user MFA state').choices(MFA_STATES))
    .addOption(new Option('--admin-role <role>', 'the administrator role the person holds, or none').choices([...ROLE_NAMES, 'none']))
    .option('--pin <digits>', 'PIN for PIN mode (stored as a keyed hash)')
    .option('--pin-change-required', 'ask the user to change the PIN at the next sign-in')
    .addOption(new Option('--oath-mode <mode>', 'OATH tokens: the code alone, or the PIN typed before it').choices(OATH_MODES))
    .addOption(new Option('--sms-mode <mode>', 'text messages: the code alone, or the code followed by the PIN').choices(SMS_MODES))
    .addOption(new Option('--sms-direction <direction>', 'text messages: the code typed into the application, or sent back as a reply').choices(SMS_DIRECTIONS))
    .addOption(new Option('--call-mode <mode>', 'voice calls: answer and press #, or enter the PIN then #').choices(CALL_MODES))
    .addOption(new Option('--app-mode <mode>', 'authenticator app: approve, or approve with the PIN').choices(APP_MODES))
    .option('--country-code <digits>', 'primary phone country code (default from config)')
    .option('--phone <number>', 'primary phone number')
    .option('--extension <ext>', 'primary phone extension (digits , * #, optional @ prefix)')
    .option('--backup-country-code <digits>', 'backup phone country code')
    .option('--backup-phone <number>', 'backup phone number')
    .option('--backup-extension <ext>', 'backup phone extension')
    .option('--group <name...>', 'group(s) the user belongs to (replaces the list)');
}

function fieldsFrom(flags: UserFlags & { disabled?: boolean }): UserFields {
  if (flags.enabled && flags.disabled) throw appError('validation_failed', '--enabled and --disabled exclude each other');
  const fields: UserFields = {
    username: flags.username,
    first_name: flags.firstName,
    last_name: flags.lastName,
    email: flags.email,
    language: flags.language,
    mfa_state: flags.mfaState,
    admin_role: flags.adminRole === 'none' ? null : flags.adminRole,
    pin: flags.clearPin ? null : flags.pin,
    pin_change_required: flags.pinChangeRequired,
    oath_mode: flags.oathMode,
    sms_mode: flags.smsMode,
    sms_direction: flags.smsDirection,
    call_mode: flags.callMode,
    app_mode: flags.appMode,
    groups: flags.group,
    account_enabled: flags.disabled ? false : flags.enabled ? true : undefined,
  };
  if (flags.clearPhone) fields.phone = null;
  else if (flags.phone) fields.phone = { country_code: flags.countryCode, number: flags.phone, extension: flags.extension };
  if (flags.clearBackupPhone) fields.backup_phone = null;
  else if (flags.backupPhone) fields.backup_phone = { country_code: flags.backupCountryCode, number: flags.backupPhone, extension: flags.backupExtension };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as UserFields;
}

function countLines(path: string): number {
  const text = readFileSync(path);
  let lines = 0;
  for (const byte of text) if (byte === 10) lines += 1;
  return Math.max(0, lines - 1 + (text[text.length - 1] === 10 ? 0 : 1));
}

export function userCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const user = new Command('user').description('manage users of the directory');

  withUserOptions(user.command('add <username>').description('create a user')).action(async (username: string, flags: UserFlags) => {
    const created = await withRuntime(io, globals(), (runtime) => runtime.directory.create({ ...fieldsFrom(flags), username }, cliActor()));
    printUser(io, globals().json, created);
  });

  user
    .command('get <username>')
    .description('show a user')
    .action(async (username: string) => printUser(io, globals().json, await withRuntime(io, globals(), (runtime) => runtime.directory.get(username))));

  user
    .command('list')
    .description('list users, sorted by username')
    .option('--search <text>', 'part of username, name or e-mail')
    .option('--group <name>', 'only members of this group')
    .option('--limit <n>', 'users per page (1-1000)', (value) => Number(value), 100)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (flags: { search?: string; group?: string; limit: number; cursor?: string }) => {
      const page = await withRuntime(io, globals(), (runtime) => runtime.directory.list(flags));
      if (globals().json) return printJson(io, page);
      io.stdout.write(
        table(
          ['username', 'name', 'mfa state', 'account', 'phone', 'groups'],
          page.items.map((item) => [
            item.username,
            [item.first_name, item.last_name].filter(Boolean).join(' ') || null,
            item.mfa_state,
            item.account_enabled ? 'enabled' : 'disabled',
            phoneText(item.phone),
            item.groups.join(',') || null,
          ]),
        ),
      );
      if (page.next_cursor) io.stdout.write(`more: --cursor ${page.next_cursor}\n`);
    });

  withUserOptions(user.command('update <username>').description('change a user (only the options given change)'))
    .option('--username <new>', 'rename the user')
    .option('--clear-pin', 'remove the PIN')
    .option('--clear-phone', 'remove the primary phone')
    .option('--clear-backup-phone', 'remove the backup phone')
    .action(async (username: string, flags: UserFlags) => {
      const fields = fieldsFrom(flags);
      if (Object.keys(fields).length === 0) throw appError('validation_failed', 'nothing to change: give at least one option (see --help)');
      printUser(io, globals().json, await withRuntime(io, globals(), (runtime) => runtime.directory.update(username, fields, cliActor())));
    });

  user
    .command('delete <username>')
    .description('delete a user (records of past activity are kept until retention removes them)')
    .option('--yes', 'confirm the deletion')
    .action(async (username: string, flags: { yes?: boolean }) => {
      if (!flags.yes) throw appError('validation_failed', `deleting ${username} needs --yes to confirm`);
      await withRuntime(io, globals(), (runtime) => runtime.directory.delete(username, cliActor()));
      if (globals().json) printJson(io, { deleted: username });
      else io.stdout.write(`deleted ${username}\n`);
    });

  user
    .command('import [file]')
    .description('import users from a CSV file with a header row ("-" reads stdin)')
    .option('--create-groups', 'create groups named in the file that do not exist')
    .option('--template', `print the header row (${IMPORT_COLUMNS.length} columns) and exit`)
    .action(async (file: string | undefined, flags: { createGroups?: boolean; template?: boolean }) => {
      if (flags.template) return void io.stdout.write(IMPORT_COLUMNS.join(',') + '\n');
      if (!file) throw appError('validation_failed', 'give a CSV file to import, or - for stdin');
      const total = file === '-' ? 0 : countLinesSafe(file);
      const bar = progressBar(io, total, 'importing');
      const input = file === '-' ? io.stdin : createReadStream(file);
      const report = await withRuntime(io, globals(), (runtime) =>
        runtime.csvImport.run(input, cliActor(), { createGroups: flags.createGroups, onProgress: (done) => bar.update(done) }),
      );
      bar.finish();
      if (globals().json) return printJson(io, report);
      io.stdout.write(`${report.rows} rows: ${report.created} created, ${report.failed} failed\n`);
      if (report.groups_created.length > 0) io.stdout.write(`groups created: ${report.groups_created.join(', ')}\n`);
      if (report.errors.length > 0) io.stdout.write(table(['line', 'username', 'field', 'problem'], report.errors.map((error) => [error.line, error.username, error.field, error.message])));
      // Exit 3: the import ran but some rows were refused (scripts can tell this from a failure to run).
      if (report.failed > 0) io.exitCode = 3;
    });

  return user;
}

function countLinesSafe(path: string): number {
  try {
    return countLines(path);
  } catch (error) {
    throw appError('validation_failed', `${path}: cannot read file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
