// The sign-in log at scale (issue: sign-in log and reports): fills a fresh
// database with BENCH_EVENTS sign-ins (default 1,000,000) of BENCH_USERS users
// (default 100,000) and measures the queries administrators run:
//
//   npm run bench:signins                                  (SQLite)
//   BENCH_DATABASE_URL=postgres://127.0.0.1/test npm run bench:signins
//   BENCH_SEEDED_DATA_DIR=./data npm run bench:signins     (a store `npm run bench:seed` filled)
//   BENCH_SEEDED_DATABASE_URL=postgres://127.0.0.1/bench npm run bench:signins
//
// Targets (on 10M events): a user's last 50 sign-ins < 10 ms, a filtered page
// < 50 ms, 90-day insights < 1 s, CSV export >= 200k rows/s with RSS < 200 MB.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { loadConfig } from '../src/config/load.js';
import { buildRuntime, type Runtime } from '../src/main.js';
import { BenchFailure, createBenchRuntime, envInt, formatTable, progress, runBench, type Cleanup } from './lib.js';
import { analyzeAfterLoad, seedSignins } from './seed-signins.js';

const DAY = 86_400_000;

/** Runs the CSV export in a forked process (bench/export-child.mjs) and returns its rows, seconds and peak RSS. */
function exportInChild(url: string, dataDir: string, pgSchema: string | undefined, from: number, warmUpFrom: number): Promise<{ rows: number; seconds: number; peakRss: number; peakHeap: number }> {
  // Plain Node on the built code (npm run bench:signins builds first): the download as a server runs it.
  const child = fork(fileURLToPath(new URL('./export-child.mjs', import.meta.url)), [], { serialization: 'advanced', execArgv: [] });
  return new Promise((resolve, reject) => {
    child.once('message', (reply: { rows: number; seconds: number; peakRss: number; peakHeap: number; error?: string }) => {
      child.kill();
      if (reply.error) reject(new BenchFailure(`export failed: ${reply.error}`));
      else resolve(reply);
    });
    child.once('exit', (code) => reject(new BenchFailure(`export process exited (code ${String(code)}) without a result`)));
    child.send({ url, dataDir, from, warmUpFrom, ...(pgSchema ? { pgSchema } : {}) });
  });
}

/** The median time of `runs` calls, in milliseconds. */
async function median(runs: number, call: (run: number) => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const began = process.hrtime.bigint();
    await call(run);
    times.push(Number(process.hrtime.bigint() - began) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** An existing store filled by `npm run bench:seed`, when BENCH_SEEDED_DATA_DIR (SQLite) or BENCH_SEEDED_DATABASE_URL (PostgreSQL) names one. */
async function seededRuntime(cleanup: Cleanup): Promise<{ runtime: Runtime; dialect: string; location: string } | null> {
  const dataDir = process.env.BENCH_SEEDED_DATA_DIR?.trim();
  const url = process.env.BENCH_SEEDED_DATABASE_URL?.trim();
  if (!dataDir && !url) return null;
  const scratch = mkdtempSync(join(tmpdir(), 'countersign-bench-'));
  cleanup.defer('remove scratch dir', () => rmSync(scratch, { recursive: true, force: true }));
  const config = loadConfig({ overrides: { dataDir: dataDir ?? scratch, log: { level: 'warn' }, database: { url: url ?? '' } } });
  const runtime = await buildRuntime(config, { log: pino({ level: 'warn' }, pino.destination({ dest: 2, sync: true })) });
  cleanup.defer('close runtime', () => runtime.close());
  return { runtime, dialect: runtime.storage.dialect, location: '' };
}

await runBench('signin-log', async (cleanup: Cleanup) => {
  let users = envInt('BENCH_USERS', 100_000);
  let events = envInt('BENCH_EVENTS', 1_000_000);
  const seeded = await seededRuntime(cleanup);
  const { runtime, dialect, location } = seeded ?? (await createBenchRuntime(cleanup));
  let now = Date.now();
  let seedSeconds = 0;
  if (seeded) {
    const db = runtime.storage.db;
    users = Number((await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    events = Number((await db.selectFrom('signins').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    now = Number((await db.selectFrom('signins').select((eb) => eb.fn.max('at').as('last')).executeTakeFirstOrThrow()).last) + 1;
    progress(`using a seeded store: ${events} events of ${users} users`);
  } else {
    const seeding = Date.now();
    await seedSignins(runtime, { users, events, now, onProgress: (done) => done % 500_000 === 0 && progress(`${done} events`) });
    await analyzeAfterLoad(runtime);
    seedSeconds = (Date.now() - seeding) / 1000;
    progress(`seeded ${events} events in ${seedSeconds.toFixed(1)} s; measuring`);
  }
  const log = runtime.signinLog;
  const user = (run: number) => `user${String((run * 7919) % users).padStart(6, '0')}@contoso.com`;
  const from30 = new Date(now - 30 * DAY).toISOString();

  const last50 = await median(51, (run) => log.list({ user: user(run) }, { limit: 50 }));
  const pageApp = await median(21, () => log.list({ application: 'Payroll', status: 'failure', from: from30 }, { limit: 100 }));
  const pageIp = await median(21, (run) => log.list({ ip: `198.51.${100 + (run % 4)}.0/24` }, { limit: 100 }));
  const pageCode = await median(21, () => log.list({ result_code: 'FAILED_PHONE_APP_DENIED' }, { limit: 100 }));
  // The daily roll-ups the reports read: made once per past day (the server does it in the background, hourly).
  const rolling = Date.now();
  const rolledDays = await runtime.reports.rollUp();
  const rollUpSeconds = (Date.now() - rolling) / 1000;
  const insights = await median(5, () => runtime.reports.insights(new Date(now - 90 * DAY).toISOString(), new Date(now).toISOString()));

  // The CSV download of the newest million sign-ins (all of them when fewer), read as a client would, in a process of
  // its own so its RSS is the export's alone.
  const exportFrom = events <= 1_000_000 ? 0 : Number((await runtime.storage.db.selectFrom('signins').select('at').orderBy('at', 'desc').orderBy('id', 'desc').offset(999_999).limit(1).executeTakeFirstOrThrow()).at);
  const expected = Number((await runtime.storage.db.selectFrom('signins').where('at', '>=', exportFrom).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const { rows, seconds: exportSeconds, peakRss, peakHeap } = await exportInChild(runtime.config.database.url, runtime.config.dataDir, dialect === 'postgres' ? location : undefined, exportFrom, now - 3_600_000);

  const ms = (value: number) => `${value.toFixed(1)} ms`;
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  process.stdout.write(`sign-in log on ${dialect}: ${events.toLocaleString('en')} sign-ins, ${users.toLocaleString('en')} users${seeded ? ' (seeded store)' : ` (seeded in ${seedSeconds.toFixed(0)} s)`}\n\n`);
  process.stdout.write(
    `${formatTable(
      ['query', 'median', 'target (10M events)', 'here'],
      [
        ["a user's last 50 sign-ins", ms(last50), '< 10 ms', verdict(last50 < 10)],
        ['page: application + failures + 30 days', ms(pageApp), '< 50 ms', verdict(pageApp < 50)],
        ['page: IP /24', ms(pageIp), '< 50 ms', verdict(pageIp < 50)],
        ['page: one result code', ms(pageCode), '< 50 ms', verdict(pageCode < 50)],
        [`daily roll-ups (once: ${rolledDays} days)`, `${rollUpSeconds.toFixed(1)} s`, '', ''],
        ['90-day insights', ms(insights), '< 1000 ms', verdict(insights < 1000)],
        [`CSV export of ${rows.toLocaleString('en')} rows (rows/s)`, `${Math.round(rows / exportSeconds).toLocaleString('en')}`, '>= 200,000', verdict(rows / exportSeconds >= 200_000)],
        ['CSV export process peak RSS', `${Math.round(peakRss / 1048576)} MB`, '< 200 MB', verdict(peakRss < 200 * 1048576)],
        ['CSV export process peak JS heap (main thread)', `${Math.round(peakHeap / 1048576)} MB`, '', ''],
      ],
    )}\n`,
  );
  if (rows !== expected) throw new Error(`the export had ${rows} rows, not ${expected}`);
});
