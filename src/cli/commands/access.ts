import { Command } from 'commander';
import type { Runtime } from '../../main.js';
import type { Page } from '../../modules/directory/directory.js';
import type { BlockView } from '../../modules/auth/blocks.js';
import { MAX_BYPASS_SECONDS, type BypassView } from '../../modules/auth/bypasses.js';
import { appError } from '../../shared/errors.js';
import { cliActor, withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { reasonOf } from '../options.js';
import { details, printJson, table } from '../output.js';

interface HistoryFlags {
  history?: boolean;
  user?: string;
  limit?: string;
  cursor?: string;
}

/** A whole number within bounds, or one clear error line naming the option. */
function wholeNumber(option: string, value: string, min: number, max: number): number {
  if (!/^[0-9]{1,10}$/.test(value.trim())) throw appError('validation_failed', `${option}: must be a whole number, got "${value}"`, { field: option.replace(/^--/, '') });
  const number = Number(value.trim());
  if (number < min || number > max) throw appError('validation_failed', `${option}: must be ${min} to ${max}, got ${number}`, { field: option.replace(/^--/, '') });
  return number;
}

/** Options of the history listing, shared by `bypass --history` and `block --history`. */
function withHistoryOptions(command: Command, what: string): Command {
  return command
    .option('--history', `list ${what}, newest first`)
    .option('--user <username>', 'with --history: only this user')
    .option('--limit <n>', 'with --history: records per page (1-1000, default 100)')
    .option('--cursor <cursor>', 'with --history: continue after a previous page');
}

/** Checks the history options; returns the query when --history was given, null otherwise. */
function historyQuery(username: string | undefined, flags: HistoryFlags): { username?: string; limit?: number; cursor?: string } | null {
  if (!flags.history) {
    const stray = (['user', 'limit', 'cursor'] as const).filter((name) => flags[name] !== undefined);
    if (stray.length > 0) throw appError('validation_failed', `${stray.map((name) => `--${name}`).join(', ')} goes with --history`);
    return null;
  }
  if (username !== undefined && flags.user !== undefined) throw appError('validation_failed', 'give the user once: as an argument or with --user');
  return {
    username: flags.user ?? username,
    limit: flags.limit === undefined ? undefined : wholeNumber('--limit', flags.limit, 1, 1000),
    cursor: flags.cursor,
  };
}

function needUser(username: string | undefined, command: string): string {
  if (username === undefined) throw appError('validation_failed', `give a username (or --history to list the ${command} history)`);
  return username;
}

function printPage<T>(io: CliIo, json: boolean | undefined, page: Page<T>, columns: string[], row: (item: T) => (string | number | null)[]): void {
  if (json) return printJson(io, page);
  io.stdout.write(table(columns, page.items.map(row)));
  if (page.next_cursor) io.stdout.write(`more: --cursor ${page.next_cursor}\n`);
}

/** What became of a bypass: how it ended, or whether it still waits to be used. */
const bypassStatus = (bypass: BypassView) => bypass.completion_reason ?? (Date.parse(bypass.expires_at) <= Date.now() ? 'expired' : 'open');

function printBypass(io: CliIo, json: boolean | undefined, bypass: BypassView): void {
  if (json) return printJson(io, bypass);
  io.stdout.write(
    details([
      ['id', bypass.id],
      ['user', bypass.username],
      ['status', bypassStatus(bypass)],
      ['granted', bypass.bypassed_at],
      ['granted by', bypass.bypassed_by],
      ['seconds', bypass.duration_seconds],
      ['expires', bypass.expires_at],
      ['reason', bypass.bypass_reason],
      ['used', bypass.bypass_used ? 'yes' : 'no'],
      ['completed', bypass.completed_at],
    ]),
  );
}

const blockStatus = (block: BlockView) => (block.completed_at === null ? 'blocked' : `ended: ${block.completion_reason ?? '-'}`);

function printBlock(io: CliIo, json: boolean | undefined, block: BlockView): void {
  if (json) return printJson(io, block);
  io.stdout.write(
    details([
      ['id', block.id],
      ['user', block.username],
      ['status', blockStatus(block)],
      ['blocked', block.blocked_at],
      ['blocked by', block.blocked_by],
      ['reason', block.block_reason],
      ['kind', block.account_lockout ? 'lockout' : block.fraud_alert ? 'fraud alert' : 'administrator'],
      ['expires', block.expires_at],
      ['completed', block.completed_at],
      ['completion reason', block.completion_reason],
    ]),
  );
}

export function bypassCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const run = <T>(work: (runtime: Runtime) => Promise<T>) => withRuntime(io, globals(), work);
  const command = new Command('bypass')
    .description("grant a one-time bypass of MFA (the user's next authentication within the window succeeds), cancel it, or list bypasses")
    .argument('[username]', 'the user')
    .option('--seconds <n>', `how long the bypass waits to be used (1-${MAX_BYPASS_SECONDS})`)
    .option('--reason <text>', 'why (recorded with the bypass)')
    .option('--cancel', "cancel the user's open bypass");
  return withHistoryOptions(command, 'bypasses').action(async (username: string | undefined, flags: HistoryFlags & { seconds?: string; reason?: string; cancel?: boolean }) => {
    const query = historyQuery(username, flags);
    if (query) {
      const used = (['seconds', 'reason', 'cancel'] as const).filter((name) => flags[name] !== undefined);
      if (used.length > 0) throw appError('validation_failed', `--history excludes ${used.map((name) => `--${name}`).join(', ')}`);
      const page = await run((runtime) => runtime.bypasses.history(query));
      return printPage(io, globals().json, page, ['id', 'user', 'granted', 'seconds', 'granted by', 'status', 'reason'], (item) => [
        item.id,
        item.username,
        item.bypassed_at,
        item.duration_seconds,
        item.bypassed_by,
        bypassStatus(item),
        item.bypass_reason,
      ]);
    }
    const user = needUser(username, 'bypass');
    if (flags.cancel) {
      if (flags.seconds !== undefined || flags.reason !== undefined) throw appError('validation_failed', '--cancel excludes --seconds and --reason');
      return printBypass(io, globals().json, await run((runtime) => runtime.bypasses.cancel(user, cliActor())));
    }
    if (flags.seconds === undefined) throw appError('validation_failed', '--seconds is required: how long the bypass waits to be used');
    const seconds = wholeNumber('--seconds', flags.seconds, 1, MAX_BYPASS_SECONDS);
    const reason = reasonOf(flags.reason);
    printBypass(io, globals().json, await run((runtime) => runtime.bypasses.grant(user, { seconds, reason }, cliActor())));
  });
}

export function blockCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const run = <T>(work: (runtime: Runtime) => Promise<T>) => withRuntime(io, globals(), work);
  const command = new Command('block')
    .description('block a user (every authentication is denied with SUCCESS_USER_BLOCKED until unblocked), or list blocks')
    .argument('[username]', 'the user')
    .option('--reason <text>', 'why (recorded with the block)');
  return withHistoryOptions(command, 'blocks').action(async (username: string | undefined, flags: HistoryFlags & { reason?: string }) => {
    const query = historyQuery(username, flags);
    if (query) {
      if (flags.reason !== undefined) throw appError('validation_failed', '--history excludes --reason');
      const page = await run((runtime) => runtime.blocks.history(query));
      return printPage(io, globals().json, page, ['id', 'user', 'blocked', 'blocked by', 'status', 'reason'], (item) => [
        item.id,
        item.username,
        item.blocked_at,
        item.blocked_by,
        blockStatus(item),
        item.block_reason,
      ]);
    }
    const user = needUser(username, 'block');
    const reason = reasonOf(flags.reason);
    printBlock(io, globals().json, await run((runtime) => runtime.blocks.block(user, reason, cliActor())));
  });
}

export function unblockCommand(io: CliIo, globals: () => GlobalOptions): Command {
  return new Command('unblock')
    .description("end a user's block")
    .argument('<username>', 'the user')
    .option('--reason <text>', 'why (recorded as the completion reason)')
    .action(async (username: string, flags: { reason?: string }) => {
      const reason = reasonOf(flags.reason);
      printBlock(io, globals().json, await withRuntime(io, globals(), (runtime) => runtime.blocks.unblock(username, reason, cliActor())));
    });
}
