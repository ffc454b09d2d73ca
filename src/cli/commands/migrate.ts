import { Command } from 'commander';
import { openStorage } from '../../storage/database.js';
import { migrateToLatest, migrationStatus, rollbackLast } from '../../storage/migrator.js';
import { systemClock } from '../../shared/clock.js';
import { cliConfig, type CliIo, type GlobalOptions } from '../io.js';
import { printJson, table } from '../output.js';

export function migrateCommand(io: CliIo, globals: () => GlobalOptions): Command {
  return new Command('migrate')
    .description('apply pending database migrations (serve does this at start too)')
    .option('--status', 'list migrations and when each was applied')
    .option('--rollback', 'revert the most recently applied migration')
    .action(async (flags: { status?: boolean; rollback?: boolean }) => {
      const config = cliConfig(io, globals());
      const storage = openStorage({ url: config.database.url, dataDir: config.dataDir, poolSize: 1 });
      try {
        if (flags.status) {
          const status = await migrationStatus(storage.db);
          if (globals().json) return printJson(io, status);
          io.stdout.write(table(['migration', 'applied'], status.map((row) => [row.name, row.appliedAt ? new Date(row.appliedAt).toISOString() : 'pending'])));
        } else if (flags.rollback) {
          const reverted = await rollbackLast(storage.db, storage.dialect);
          if (globals().json) return printJson(io, { reverted });
          io.stdout.write(reverted ? `reverted ${reverted}\n` : 'nothing to revert\n');
        } else {
          const applied = await migrateToLatest(storage.db, storage.dialect, systemClock);
          if (globals().json) return printJson(io, { applied });
          io.stdout.write(applied.length > 0 ? `applied ${applied.join(', ')}\n` : 'database is up to date\n');
        }
      } finally {
        await storage.close();
      }
    });
}
