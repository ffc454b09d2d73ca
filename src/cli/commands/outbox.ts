import { Command } from 'commander';
import { replyThroughOutbox } from '../../modules/telephony/outbox.js';
import { appError } from '../../shared/errors.js';
import { withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { printJson, table } from '../output.js';

const E164 = /^\+[1-9][0-9]{6,14}$/;

/** `countersign outbox`: the messages the outbox gateway kept instead of sending, and replies as a phone would send them. */
export function outboxCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const outbox = new Command('outbox')
    .description('show text messages the outbox gateway kept (telephony.gateway = outbox: nothing reaches a phone; not for production)')
    .option('--limit <n>', 'messages per page (1-1000)', (value) => Number(value), 20)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (flags: { limit: number; cursor?: string }) => {
      const page = await withRuntime(io, globals(), (runtime) => runtime.telephony.list({ gateway: 'outbox', limit: flags.limit, cursor: flags.cursor }));
      if (globals().json) return printJson(io, page);
      io.stdout.write(
        table(
          ['time', 'user', 'number', 'way', 'text'],
          page.items.map((item) => [item.created_at, item.username, item.to, item.direction === 'inbound' ? 'from' : 'to', item.body]),
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
  return outbox;
}
