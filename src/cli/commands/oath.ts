import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { lineReader } from '../../shared/lines.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Runtime } from '../../main.js';
import { HARDWARE_COLUMNS, type HardwareImportReport } from '../../modules/methods/oath/hardware-import.js';
import { OATH_ALGORITHMS, OATH_TYPES, type OathTokenView } from '../../modules/methods/oath/token-view.js';
import type { EnrollOptions } from '../../modules/methods/oath/tokens.js';
import { appError } from '../../shared/errors.js';
import { cliActor, withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { details, printJson, table } from '../output.js';

const whole = (value: string): number => {
  if (!/^[0-9]{1,9}$/.test(value)) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
};

function printToken(io: CliIo, json: boolean | undefined, token: OathTokenView): void {
  if (json) return printJson(io, token);
  io.stdout.write(
    details([
      ['id', token.id],
      ['serial', token.serial],
      ['kind', token.kind],
      ['type', `${token.type} (${token.algorithm}, ${token.digits} digits${token.type === 'totp' ? `, ${token.period} s` : ''})`],
      ['status', token.status],
      ['name', token.name],
      ['user', token.user],
      ['created', token.created_at],
      ['last used', token.last_used_at],
    ]),
  );
}

function printTokens(io: CliIo, tokens: OathTokenView[]): void {
  io.stdout.write(
    table(
      ['id', 'serial', 'kind', 'type', 'algorithm', 'digits', 'status', 'user', 'name', 'last used'],
      tokens.map((token) => [token.id, token.serial, token.kind, token.type, token.algorithm, token.digits, token.status, token.user, token.name, token.last_used_at]),
    ),
  );
}

function printImport(io: CliIo, report: HardwareImportReport): void {
  io.stdout.write(`${report.rows} rows: ${report.imported} imported, ${report.failed} failed\n`);
  if (report.errors.length > 0) io.stdout.write(table(['line', 'serial', 'field', 'problem'], report.errors.map((error) => [error.line, error.serial, error.field, error.message])));
}

function readInput(io: CliIo, file: string): Buffer | NodeJS.ReadableStream {
  if (file === '-') return io.stdin;
  try {
    return readFileSync(file);
  } catch (error) {
    throw appError('validation_failed', `${file}: cannot read file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

const tokensOf = (runtime: Runtime) => runtime.oathTokens;

interface EnrollFlags {
  type?: EnrollOptions['type'];
  algorithm?: EnrollOptions['algorithm'];
  digits?: number;
  period?: number;
  name?: string;
  png?: string;
}

export function oathCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const oath = new Command('oath').description('manage OATH tokens (software TOTP/HOTP apps and hardware tokens)');
  const run = <T>(work: (runtime: Runtime) => Promise<T>) => withRuntime(io, globals(), work);

  oath
    .command('enroll <username>')
    .description('enrol a software token: prints its otpauth URI, secret and QR code once; activate it with its first code')
    .addOption(new Option('--type <type>', 'time-based or counter-based').choices(OATH_TYPES).default('totp'))
    .addOption(new Option('--algorithm <name>', 'HMAC algorithm').choices(OATH_ALGORITHMS).default('SHA1'))
    .option('--digits <n>', 'code length, 6 or 8', whole, 6)
    .option('--period <seconds>', 'TOTP time step', whole, 30)
    .option('--name <text>', 'a label for the token ("Work phone")')
    .option('--png <file>', 'also write the QR code as a PNG file (readable by you only: it holds the secret)')
    .option('--no-activate', 'do not ask for the first code: leave the token pending (oath activate)')
    .action(async (username: string, flags: EnrollFlags & { activate: boolean }) => {
      const { png, activate, ...options } = flags;
      const { enrolled, qr, image } = await run(async (runtime) => {
        const enrolled = await tokensOf(runtime).enrollSoftware(username, options, cliActor());
        return {
          enrolled,
          qr: globals().json ? null : await tokensOf(runtime).qrTerminal(enrolled.uri, Boolean(io.stdout.isTTY)),
          image: png ? await tokensOf(runtime).qrPng(enrolled.uri) : null,
        };
      });
      if (png && image) {
        // The picture holds the secret: readable by its owner only, even when the file existed.
        writeFileSync(png, image, { mode: 0o600 });
        chmodSync(png, 0o600);
      }
      if (globals().json) return printJson(io, { ...enrolled, ...(png ? { png } : {}) });
      io.stdout.write(`enrolled ${enrolled.token.type} token ${enrolled.token.id} for ${enrolled.token.user} (pending)\n`);
      io.stdout.write(details([['uri', enrolled.uri], ['secret', enrolled.secret]]));
      io.stdout.write(`${qr}\n`);
      if (png) io.stdout.write(`QR code written to ${png}\n`);
      io.stdout.write('The secret is not shown again.\n');
      const later = `Activate it later with: countersign oath activate ${enrolled.token.user} ${enrolled.token.id} <code>\n`;
      if (!activate) return void io.stdout.write(later);
      // Scan the QR code, then type the code the app shows: the token is usable as soon as this command ends.
      io.stderr.write('Type the code the app shows now to activate the token (empty: leave it pending): ');
      const lines = lineReader(io.stdin);
      const code = (await lines.next())?.trim() ?? '';
      lines.close();
      if (code === '') {
        io.stderr.write('\n');
        return void io.stdout.write(`The token is pending. ${later}`);
      }
      const active = await run((runtime) => tokensOf(runtime).activate(enrolled.token.user!, enrolled.token.id, code, cliActor()));
      io.stdout.write(`activated token ${active.id} for ${active.user}: it can be used to sign in\n`);
    });

  oath
    .command('activate <username> <token-id> <code>')
    .description('activate a pending token with the code it shows now')
    .action(async (username: string, tokenId: string, code: string) => {
      printToken(io, globals().json, await run((runtime) => tokensOf(runtime).activate(username, tokenId, code, cliActor())));
    });

  oath
    .command('import [file]')
    .description('import hardware tokens from a CSV seed file with a header row ("-" reads stdin)')
    .option('--template', `print the header row (${HARDWARE_COLUMNS.join(',')}) and exit`)
    .action(async (file: string | undefined, flags: { template?: boolean }) => {
      if (flags.template) return void io.stdout.write(HARDWARE_COLUMNS.join(',') + '\n');
      if (!file) throw appError('validation_failed', 'give a CSV file to import, or - for stdin');
      const input = readInput(io, file);
      const report = await run((runtime) => tokensOf(runtime).importHardware(input, cliActor()));
      if (globals().json) printJson(io, report);
      else printImport(io, report);
      // Exit 3: the import ran but some rows were refused (as user import).
      if (report.failed > 0) io.exitCode = 3;
    });

  oath
    .command('list')
    .description("list a user's tokens, or hardware tokens by serial")
    .option('--user <username>', "this user's tokens")
    .option('--unassigned', 'only hardware tokens no user holds')
    .option('--limit <n>', 'hardware tokens per page (1-1000)', whole, 100)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (flags: { user?: string; unassigned?: boolean; limit: number; cursor?: string }) => {
      if (flags.user !== undefined && flags.unassigned) throw appError('validation_failed', '--user and --unassigned exclude each other');
      if (flags.user !== undefined) {
        const items = await run((runtime) => tokensOf(runtime).listForUser(flags.user!));
        return globals().json ? printJson(io, { items }) : printTokens(io, items);
      }
      const page = await run((runtime) => tokensOf(runtime).listHardware({ unassigned: flags.unassigned, limit: flags.limit, cursor: flags.cursor }));
      if (globals().json) return printJson(io, page);
      printTokens(io, page.items);
      if (page.next_cursor) io.stdout.write(`more: --cursor ${page.next_cursor}\n`);
    });

  oath
    .command('assign <serial> <username>')
    .description('give an unassigned hardware token to a user')
    .action(async (serial: string, username: string) => {
      printToken(io, globals().json, await run((runtime) => tokensOf(runtime).assign(serial, username, cliActor())));
    });

  oath
    .command('unassign <serial>')
    .description('take a hardware token back from its user')
    .action(async (serial: string) => {
      printToken(io, globals().json, await run((runtime) => tokensOf(runtime).unassign(serial, cliActor())));
    });

  oath
    .command('resync <username> <token-id> <code1> <code2>')
    .description('resynchronise a token with two consecutive codes (HOTP counter, TOTP clock drift)')
    .action(async (username: string, tokenId: string, code1: string, code2: string) => {
      printToken(io, globals().json, await run((runtime) => tokensOf(runtime).resync(username, tokenId, code1, code2, cliActor())));
    });

  oath
    .command('delete <token-id>')
    .description('delete a token')
    .option('--user <username>', 'only if this user holds it')
    .action(async (tokenId: string, flags: { user?: string }) => {
      await run((runtime) => tokensOf(runtime).delete(flags.user, tokenId, cliActor()));
      if (globals().json) printJson(io, { deleted: tokenId });
      else io.stdout.write(`deleted ${tokenId}\n`);
    });

  return oath;
}
