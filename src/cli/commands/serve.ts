import { Command } from 'commander';
import { buildRuntime } from '../../main.js';
import { appError } from '../../shared/errors.js';
import { systemActor } from '../../shared/actor.js';
import { VERSION } from '../../shared/version.js';
import { Heartbeat } from '../../modules/reports/heartbeat.js';
import { cliConfig, type CliIo, type GlobalOptions } from '../io.js';
import { removeServerFile, writeServerFile } from '../server-file.js';

const port = (value: string): number => {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw appError('validation_failed', `--port: expected 0 to 65535, got "${value}"`);
  return Number(value);
};

export function serveCommand(io: CliIo, globals: () => GlobalOptions): Command {
  return new Command('serve')
    .description('run the server (creates and migrates the database on first start)')
    .option('--host <address>', 'address to bind (overrides http.host)')
    .option('--port <port>', 'TCP port, 0 for any free one (overrides http.port)', port)
    .action(async (flags: { host?: string; port?: number }) => {
      const config = cliConfig(io, globals(), { http: { host: flags.host, port: flags.port } });
      const runtime = await buildRuntime(config);
      const secret = await runtime.adminKeys.bootstrap(systemActor('bootstrap'));
      if (secret) {
        // Printed once, to the terminal only: the service log never holds a secret.
        io.stdout.write(
          `\nFirst start: a Global Administrator API key was created.\n\n    ${secret}\n\nStore it now: it is not shown again. Use it as "Authorization: Bearer <key>".\n\n`,
        );
      }
      // Loaded here, not at the top: every other command starts without Fastify and its schemas.
      const { buildHttpApp } = await import('../../protocols/http/app.js');
      const app = await buildHttpApp(runtime);
      const address = await app.listen({ host: config.http.host, port: config.http.port });
      // Challenges nobody asks about any more still end, with their timeout code and records.
      const stopSweeper = runtime.engine.startSweeper(5_000);
      // The server status report: this node's heartbeat.
      const heartbeat = new Heartbeat({ db: runtime.storage.db, clock: runtime.clock, log: runtime.log, version: VERSION, seconds: config.cluster.heartbeatSeconds, retentionHours: config.cluster.nodeRetentionHours });
      const stopHeartbeat = await heartbeat.start();
      // The reports' daily roll-ups: each past day is counted once, soon after it ends (at start, then hourly).
      const stopRollups = runtime.reports.startRollups(3_600_000, (error) => runtime.log.warn({ err: error, event: 'reports.rollup_failed' }, 'daily roll-up not made'));
      // The retention purge of SPEC.md §5: at start, then every retention.intervalMinutes.
      const stopRetention =
        config.retention.intervalMinutes === 0
          ? async () => undefined
          : runtime.retention.start(
              config.retention.intervalMinutes * 60_000,
              systemActor('retention'),
              (report) => runtime.log.info({ event: 'retention.purged', deleted: report.deleted, batches: report.batches }, 'retention purge done'),
              (error) => runtime.log.warn({ err: error, event: 'retention.failed' }, 'retention purge failed'),
            );
      // One-shot commands on this data folder (device activation, say) find the server here, whatever its port.
      writeServerFile(config.dataDir, address);
      runtime.log.info({ event: 'server.started', address, dialect: runtime.storage.dialect }, `Countersign listening on ${address}`);
      const stop = async (signal: string) => {
        runtime.log.info({ event: 'server.stopping', signal }, 'stopping');
        removeServerFile(config.dataDir);
        stopSweeper();
        stopRollups();
        await stopRetention();
        await app.close();
        await stopHeartbeat().catch(() => undefined);
        if (!(await app.drain(10_000))) runtime.log.warn({ event: 'server.drain_timeout' }, 'requests still running after 10 s; closing the database anyway');
        await runtime.close();
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
}
