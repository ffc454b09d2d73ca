import { Command, Option } from 'commander';
import { csvLine, type CsvValue } from '../../shared/csv-write.js';
import { withRuntime, type CliIo, type GlobalOptions } from '../io.js';
import { printJson, table } from '../output.js';

type Format = 'table' | 'csv' | 'json';
const formatOption = () => new Option('--format <format>', 'table, csv or json').choices(['table', 'csv', 'json']).default('table');

/** Rows as a table, CSV (header row) or JSON (the whole answer). */
function print(io: CliIo, format: Format, json: unknown, columns: string[], rows: CsvValue[][]): void {
  if (format === 'json') return printJson(io, json);
  if (format === 'csv') return void io.stdout.write([csvLine(columns), ...rows.map((row) => csvLine(row))].join(''));
  io.stdout.write(table(columns, rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? null : String(cell))))));
}

/** `countersign report`: the SPEC.md §4 reports, as a table, CSV or JSON. */
export function reportCommand(io: CliIo, globals: () => GlobalOptions): Command {
  const report = new Command('report').description('reports of SPEC.md §4: registration, MFA status, insights, entry points, server status');
  const formatOf = (flags: { format: Format }): Format => (globals().json ? 'json' : flags.format);

  for (const [name, registered, description] of [
    ['registered', true, 'users registered for MFA (enabled accounts only)'],
    ['unregistered', false, 'users not registered for MFA (enabled accounts only)'],
  ] as const) {
    report
      .command(name)
      .description(description)
      .addOption(formatOption())
      .option('--limit <n>', 'users per page (1-1000)', (value) => Number(value), 100)
      .option('--cursor <cursor>', 'continue after a previous page')
      .action(async (flags: { format: Format; limit: number; cursor?: string }) => {
        const page = await withRuntime(io, globals(), (runtime) => runtime.reports.registration(registered, { limit: flags.limit, cursor: flags.cursor }));
        print(io, formatOf(flags), page, ['username', 'mfa state', 'methods'], page.items.map((item) => [item.username, item.mfa_state, item.methods.join(', ')]));
        if (formatOf(flags) === 'table') io.stdout.write(`${page.count} users${page.next_cursor ? `; more: --cursor ${page.next_cursor}` : ''}\n`);
      });
  }

  report
    .command('mfa-status')
    .description('every user: UserPrincipalName, MFA Status, MFA Methods, as CSV')
    .option('--bom', 'start with a UTF-8 byte order mark')
    .action(async (flags: { bom?: boolean }) => {
      await withRuntime(io, globals(), async (runtime) => {
        for await (const chunk of runtime.reports.perUserCsv(flags.bom)) io.stdout.write(chunk);
      });
    });

  report
    .command('insights')
    .description('MFA insights for a period (default: the last 30 days)')
    .addOption(formatOption())
    .option('--from <date>', 'ISO 8601, inclusive')
    .option('--to <date>', 'ISO 8601, exclusive (default: now)')
    .action(async (flags: { format: Format; from?: string; to?: string }) => {
      const insights = await withRuntime(io, globals(), (runtime) => runtime.reports.insights(flags.from, flags.to));
      const format = formatOf(flags);
      if (format === 'json') return printJson(io, insights);
      if (format === 'csv') return print(io, 'csv', insights, ['day', 'signins', 'mfa required', 'succeeded', 'failed'], insights.daily.map((row) => [row.day, row.signins, row.mfa_required, row.succeeded, row.failed]));
      io.stdout.write(`${insights.from} to ${insights.to}\n`);
      io.stdout.write(`sign-ins ${insights.signins}, MFA required ${insights.mfa_required}, completed ${insights.mfa_completed}, failed ${insights.mfa_failed}\n\n`);
      io.stdout.write(table(['method', 'sign-ins', 'succeeded', 'failed'], insights.by_method.map((row) => [row.method, String(row.signins), String(row.succeeded), String(row.failed)])));
      io.stdout.write(`\n${table(['denied because', 'sign-ins'], insights.top_denied_details.map((row) => [row.detail, String(row.signins)]))}`);
      io.stdout.write(`\n${table(['repeated failures', 'failures'], insights.users_with_repeated_failures.map((row) => [row.username, String(row.failures)]))}`);
      io.stdout.write(`\n${table(['day', 'sign-ins', 'MFA required', 'succeeded', 'failed'], insights.daily.map((row) => [row.day, String(row.signins), String(row.mfa_required), String(row.succeeded), String(row.failed)]))}`);
    });

  report
    .command('entry-points')
    .description('sign-ins by entry point for a period (default: the last 30 days)')
    .addOption(formatOption())
    .option('--from <date>', 'ISO 8601, inclusive')
    .option('--to <date>', 'ISO 8601, exclusive (default: now)')
    .action(async (flags: { format: Format; from?: string; to?: string }) => {
      const usage = await withRuntime(io, globals(), (runtime) => runtime.reports.usageByEntryPoint(flags.from, flags.to));
      print(io, formatOf(flags), usage, ['entry point', 'sign-ins', 'succeeded', 'failed'], usage.entry_points.map((row) => [row.entry_point, row.signins, row.succeeded, row.failed]));
    });

  report
    .command('servers')
    .description('every server node: version, started, last heartbeat, up / down / stopped')
    .addOption(formatOption())
    .action(async (flags: { format: Format }) => {
      const nodes = await withRuntime(io, globals(), (runtime) => runtime.reports.serverStatus());
      print(io, formatOf(flags), nodes, ['id', 'host', 'version', 'status', 'started', 'last seen'], nodes.map((node) => [node.id, node.host, node.version, node.status, node.started_at, node.last_seen_at]));
    });

  return report;
}
