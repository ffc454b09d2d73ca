import { serviceLogFile } from '../../config/paths.js';
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import type { Runtime } from '../../main.js';
import type { ErasureReceipt } from '../../modules/privacy/privacy.js';
import { appError } from '../../shared/errors.js';
import { cliActor, withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { details, printJson, table } from '../output.js';

/** Collects a repeatable option's values (`--file a --file b`). */
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

function printReceipt(io: CliIo, receipt: ErasureReceipt): void {
  io.stdout.write(
    details([
      ['receipt', receipt.id],
      ['erased at', receipt.erased_at],
      ['erased by', receipt.erased_by],
      ['users', String(receipt.users)],
      ['username hash', receipt.username_hash],
      ...(receipt.storage ? ([['wal truncated', receipt.storage.wal_truncated === null ? '-' : receipt.storage.wal_truncated ? 'yes' : 'no']] as [string, string][]) : []),
    ]),
  );
  io.stdout.write(table(['category', 'rows'], Object.entries(receipt.counts).map(([category, n]) => [category, String(n)])));
}

/** `countersign gdpr ...`: the privacy requests of SPEC.md §6. */
export function gdprCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const gdpr = new Command('gdpr').description('privacy requests: export or erase everything held about a user');
  const run = <T>(work: (runtime: Runtime) => Promise<T>) => withRuntime(io, globals(), work);

  gdpr
    .command('export <username>')
    .description('everything held about a user, as one JSON document (docs/privacy.md)')
    .option('--output <file>', 'write the document to this file (mode 0600) instead of standard output')
    .action(async (username: string, flags: { output?: string }) => {
      const document = await run((runtime) => runtime.privacy.export(username, cliActor()));
      const text = `${JSON.stringify(document, null, 2)}\n`;
      if (flags.output === undefined) {
        io.stdout.write(text);
        return;
      }
      writeFileSync(flags.output, text, { mode: 0o600 });
      io.stdout.write(`exported ${username} to ${flags.output}\n`);
    });

  gdpr
    .command('delete <username>')
    .description('erase everything held about a user at once: the user, its methods, every record and its service-log keys')
    .option('--yes', 'confirm the erasure (it cannot be undone)')
    .action(async (username: string, flags: { yes?: boolean }) => {
      if (!flags.yes) throw appError('validation_failed', `erasing ${username} cannot be undone: add --yes to confirm`);
      const receipt = await run((runtime) => runtime.privacy.erase(username, cliActor()));
      if (globals().json) return printJson(io, receipt);
      printReceipt(io, receipt);
    });

  gdpr
    .command('receipts')
    .description('deletion receipts, newest first')
    .option('--username <name>', 'say for each receipt whether it erased this name')
    .action(async (flags: { username?: string }) => {
      const items = await run((runtime) => runtime.privacy.receipts(flags.username));
      if (globals().json) return printJson(io, { items });
      const matches = flags.username !== undefined;
      io.stdout.write(
        table(
          ['receipt', 'erased at', 'erased by', 'users', ...(matches ? ['matches'] : [])],
          items.map((item) => [item.id, item.erased_at, item.erased_by, String(item.users), ...(matches ? [item.matches ? 'yes' : 'no'] : [])]),
        ),
      );
    });
  return gdpr;
}

/** `countersign logs search <username>`: a user's service-log lines, their sealed fields opened. */
export function logsCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const logs = new Command('logs').description('read the service log');
  logs
    .command('search <username>')
    .description("the service-log lines about a user (from log.file and any --file), personal fields opened while their key exists")
    .option('--file <path>', 'also search this file (a rotated log); repeat for more', collect)
    .action(async (username: string, flags: { file?: string[] }) => {
      await withRuntime(io, globals(), async (runtime) => {
        const own = serviceLogFile(runtime.config);
        const files = [...(own ? [own] : []), ...(flags.file ?? [])];
        if (files.length === 0) throw appError('validation_failed', 'no file to search: log.file is empty; give --file');
        let found = 0;
        for await (const line of runtime.privacy.searchLog(username, files)) {
          found += 1;
          if (globals().json) {
            io.stdout.write(`${JSON.stringify(line)}\n`);
            continue;
          }
          const personal = line.personal === null ? '[key destroyed]' : Object.entries(line.personal).map(([key, value]) => `${key}=${String(value)}`).join(' ');
          io.stdout.write(`${line.time ?? '-'} ${line.event ?? '-'} ${line.message ?? ''} ${personal}\n`);
        }
        if (found === 0 && !globals().json) io.stderr.write(`no service-log lines about ${username}\n`);
      });
    });
  return logs;
}

/** `countersign retention run`: the purge of SPEC.md §5, now. */
export function retentionCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const retention = new Command('retention').description('the retention purge: delete what is older than retention.* days');
  retention
    .command('run')
    .description('purge every category past its retention now, in batches (a running server is not held up)')
    .action(async () => {
      const report = await withRuntime(io, globals(), (runtime) => runtime.retention.run(cliActor()));
      if (globals().json) return printJson(io, report);
      io.stdout.write(table(['table', 'deleted'], Object.entries(report.deleted).map(([name, n]) => [name, String(n)])));
      io.stdout.write(`${report.batches} batches, ${report.started_at} to ${report.finished_at}\n`);
    });
  return retention;
}
