import { Command } from 'commander';
import { OUTBOX_CALL_ACTIONS, playOutboxCall, replyThroughOutbox, type OutboxCallAction } from '../../modules/telephony/outbox.js';
import { appError } from '../../shared/errors.js';
import { withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { details, printJson, table } from '../output.js';

const E164 = /^\+[1-9][0-9]{6,14}$/;

/** `countersign outbox`: the messages the outbox gateway kept instead of sending, and replies as a phone would send them. */
export function outboxCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const outbox = new Command('outbox')
    .description('show text messages and calls the outbox gateway kept (telephony.gateway = outbox: nothing reaches a phone; not for production)')
    .option('--limit <n>', 'messages per page (1-1000)', (value) => Number(value), 20)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (flags: { limit: number; cursor?: string }) => {
      const page = await withRuntime(io, globals(), (runtime) => runtime.telephony.list({ gateway: 'outbox', limit: flags.limit, cursor: flags.cursor }));
      if (globals().json) return printJson(io, page);
      io.stdout.write(
        table(
          ['time', 'id', 'kind', 'user', 'number', 'way', 'status', 'text'],
          page.items.map((item) => [item.created_at, item.id, item.kind, item.username, item.to, item.direction === 'inbound' ? 'from' : 'to', item.status, item.body]),
        ),
      );
      if (page.next_cursor) io.stdout.write(`more: --cursor ${page.next_cursor}\n`);
    });

  outbox
    .command('reply <from> <text>')
    .description('reply to a two-way text message as the phone <from> (E.164, +12025550123) would')
    .action(async (from: string, text: string) => {
      if (!E164.test(from)) throw appError('validation_failed', 'from: must be a number in E.164, such as +12025550123');
      const answer = await withRuntime(io, globals(), (runtime) => replyThroughOutbox(runtime.telephony, runtime.engine, from, text));
      if (globals().json) return printJson(io, { answered: answer !== null, ...(answer ?? {}) });
      io.stdout.write(answer ? `${answer.result}: ${answer.result_code ?? answer.status_msg}\n` : `no two-way text message is waiting for ${from}\n`);
    });
  outbox
    .command('call <id> <action> [keys]')
    .description(`play the phone's part on call <id>: ${OUTBOX_CALL_ACTIONS.join(', ')} (keys: 0-9, * and #; a # ends the entry)`)
    .action(async (id: string, action: string, keys: string | undefined) => {
      if (!(OUTBOX_CALL_ACTIONS as readonly string[]).includes(action)) throw appError('validation_failed', `action: must be one of ${OUTBOX_CALL_ACTIONS.join(', ')}`);
      const turn = await withRuntime(io, globals(), (runtime) => playOutboxCall(runtime.telephony, runtime.engine, id, action as OutboxCallAction, keys));
      if (globals().json) return printJson(io, turn);
      io.stdout.write(`${turn.says ? `says: ${turn.says}\n` : ''}${turn.waits_for_keys ? 'waits for keys' : 'hung up'}\n`);
    });
  outbox
    .command('mail')
    .description('show e-mails the mail outbox kept (mail.gateway = outbox: nothing reaches a mailbox; not for production)')
    .option('--limit <n>', 'e-mails to show, newest first (1-1000, default 20)', (value) => Number(value))
    .action(async (_flags: unknown, command: Command) => {
      // commander hands options written after `mail` to `outbox` (its parent has the same --limit): read both.
      const flags = command.optsWithGlobals<{ limit: number; cursor?: string }>();
      if (flags.cursor !== undefined) throw appError('validation_failed', 'cursor: outbox mail shows the newest e-mails only; use --limit');
      const items = await withRuntime(io, globals(), (runtime) => runtime.mail.list({ gateway: 'outbox', limit: flags.limit }));
      if (globals().json) return printJson(io, { items });
      if (items.length === 0) return void io.stdout.write('no e-mail in the outbox\n');
      // A block per e-mail: a body has several lines, which a table cell cannot hold.
      const blocks = items.map((item) => {
        const head = details([
          ['time', item.created_at],
          ['id', item.id],
          ['to', item.to],
          ['subject', item.subject],
          ['status', item.status],
        ]);
        const body = (item.body ?? '').replace(/\r\n/g, '\n').replace(/\n+$/, '').split('\n').map((line) => `  ${line}`.trimEnd()).join('\n');
        return `${head}\n${body}\n`;
      });
      io.stdout.write(blocks.join('\n'));
    });
  return outbox;
}
