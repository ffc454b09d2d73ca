import { Command, CommanderError } from 'commander';
import { AppError } from '../shared/errors.js';
import { blockCommand, bypassCommand, unblockCommand } from './commands/access.js';
import { adminKeyCommand } from './commands/admin-key.js';
import { appCommand } from './commands/app.js';
import { authCommand } from './commands/auth.js';
import { appPasswordCommand, locationCommand, policyCommand, rememberedDevicesCommand } from './commands/conditional-access.js';
import { groupCommand } from './commands/group.js';
import { questionCommand } from './commands/question.js';
import { migrateCommand } from './commands/migrate.js';
import { oathCommand } from './commands/oath.js';
import { outboxCommand } from './commands/outbox.js';
import { deviceCommand } from './commands/device.js';
import { reportCommand } from './commands/report.js';
import { gdprCommand, logsCommand, retentionCommand } from './commands/privacy.js';
import { serveCommand } from './commands/serve.js';
import { userCommand } from './commands/user.js';
import type { CliIo, GlobalOptions } from './io.js';

export function buildProgram(io: CliIo): Command {
  const program = new Command('countersign')
    .description('Countersign multi-factor authentication server')
    .version('0.1.0')
    .option('-c, --config <file>', 'JSON config file (default: $COUNTERSIGN_CONFIG)')
    .option('--json', 'print JSON for scripts instead of tables')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) })
    .exitOverride();
  const globals = () => program.opts<GlobalOptions>();
  for (const command of [serveCommand, migrateCommand, userCommand, groupCommand, questionCommand, oathCommand, adminKeyCommand, appCommand, bypassCommand, blockCommand, unblockCommand, authCommand, outboxCommand, deviceCommand, reportCommand, locationCommand, policyCommand, appPasswordCommand, rememberedDevicesCommand, gdprCommand, logsCommand, retentionCommand]) {
    program.addCommand(command(io, globals));
  }
  // Sub-commands inherit output and exit handling so every one has --help and clean errors.
  const inherit = (command: Command) => {
    command.configureOutput(program.configureOutput()).exitOverride().showHelpAfterError('(run with --help for usage)');
    command.commands.forEach(inherit);
  };
  program.commands.forEach(inherit);
  return program;
}

/** Runs the CLI and returns the exit code; errors become one clear line on stderr. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return io.exitCode ?? 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const message = error instanceof AppError ? error.message : error instanceof Error ? error.message : String(error);
    io.stderr.write(`countersign: error: ${message}\n`);
    return 1;
  }
}
