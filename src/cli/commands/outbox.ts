import { Command } from 'commander';
import { withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { printJson, table } from '../output.js';

/** `countersign outbox`: the messages the outbox gateway kept instead of sending, newest first. */
export function outboxCommand(io: CliIo, globals: () => GlobalOptions): Command {
  return new Command('outbox')
    .description('show text messages the outbox gateway kept (telephony.gateway = outbox: nothing reaches a phone; not for production)')
    .option('--limit <n>', 'messages per page (1-1000)', (value) => Number(value), 20)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (flags: { limit: number; cursor?: string }) => {
      const page = await withRuntime(io, globals(), (runtime) => runtime.telephony.list({ gateway: 'outbox', limit: flags.limit, cursor: flags.cursor }));
      if (globals().json) return printJson(io, page);
      io.stdout.write(table(['sent', 'user', 'to', 'text'], page.items.map((item) => [item.created_at, item.username, item.to, item.body])));
      if (page.next_cursor) io.stdout.write(`more: --cursor ${page.next_cursor}\n`);
    });
}
