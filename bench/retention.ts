// Benchmark: the retention purge on a large sign-in log while authentications
// run. Prints the purge's rows/s and the authentications' rate and latency
// before and during the purge, in the same run.
//
//   npm run bench:retention
//   BENCH_SEEDED_DATA_DIR=./data npm run bench:retention   (a SQLite store `npm run bench:seed` filled; copied first, the purge deletes)
//   env: BENCH_EVENTS (300000, without a seeded store), BENCH_KEEP_DAYS (81: of the seeded 90 days, about a tenth goes),
//        BENCH_SECONDS (10, the baseline), BENCH_CONCURRENCY (16), BENCH_BATCH_SIZE (retention.batchSize)
//
// Target: the purge works in batches and never holds authentications for long
// (their p99 during the purge stays within a few batches' time).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { loadConfig } from '../src/config/load.js';
import { buildRuntime, type Runtime } from '../src/main.js';
import type { AuthenticatedApplication } from '../src/modules/applications/applications.js';
import { base32Decode } from '../src/modules/methods/oath/base32.js';
import { hotp, timeStep, type OathParameters } from '../src/modules/methods/oath/otp.js';
import { systemActor } from '../src/shared/actor.js';
import { BenchFailure, benchActor, envInt, formatTable, hasFlag, progress, runBench, type Cleanup } from './lib.js';
import { seedUsers } from './oath-users.js';

const KEEP_DAYS = envInt('BENCH_KEEP_DAYS', 81);
const SECONDS = envInt('BENCH_SECONDS', 10);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 16);
const USERS = 60_000;
const BATCH_SIZE = envInt('BENCH_BATCH_SIZE', 0);

interface LoadFigures {
  auths: number;
  seconds: number;
  p50: number;
  p99: number;
  max: number;
}

/** A store to purge: a copy of the seeded one, or a fresh one seeded here. */
function prepareStore(cleanup: Cleanup): string {
  const scratch = mkdtempSync(join(tmpdir(), 'countersign-bench-retention-'));
  cleanup.defer('remove scratch dir', () => rmSync(scratch, { recursive: true, force: true }));
  const seeded = process.env.BENCH_SEEDED_DATA_DIR?.trim();
  if (seeded) {
    progress(`copying ${seeded} (the purge deletes from the copy)`);
    cpSync(seeded, scratch, { recursive: true });
    return scratch;
  }
  const events = envInt('BENCH_EVENTS', 300_000);
  progress(`seeding ${events} events`);
  execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./seed-signins.ts', import.meta.url)), '--data-dir', scratch], {
    env: { ...process.env, SEED_EVENTS: String(events), SEED_USERS: '10000' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return scratch;
}

/** The users taking turns, each with the next time step whose code it may use (a code is good once). */
interface Signer {
  username: string;
  params: OathParameters;
  nextStep: number;
}
let turn = 0;

/** Authentications with fresh TOTP codes, `CONCURRENCY` at a time, until `until()` says stop. */
async function authenticate(runtime: Runtime, application: AuthenticatedApplication, signers: Signer[], until: () => boolean): Promise<LoadFigures> {
  const latencies: number[] = [];
  const started = performance.now();
  const worker = async () => {
    while (!until()) {
      const user = signers[turn++ % signers.length]!;
      const step = Math.max(timeStep(Date.now(), 30), user.nextStep);
      if (step > timeStep(Date.now(), 30) + 1) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      user.nextStep = step + 1;
      const begun = performance.now();
      const answer = await runtime.engine.auth({ username: user.username, application, ip: '192.0.2.10', authType: 'bench', entryPoint: 'http_api', factor: 'oath', passcode: hotp(user.params, step) });
      latencies.push(performance.now() - begun);
      if (answer.result !== 'allow') throw new BenchFailure(`an authentication was refused: ${answer.result_code ?? answer.detail}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (share: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * share))] ?? 0;
  return { auths: latencies.length, seconds, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? 0 };
}

await runBench('bench:retention', async (cleanup) => {
  const dataDir = prepareStore(cleanup);
  const retention = { attempts: KEEP_DAYS, signins: KEEP_DAYS, activations: KEEP_DAYS, blocks: KEEP_DAYS, bypasses: KEEP_DAYS, changes: KEEP_DAYS, telephony: KEEP_DAYS, mail: KEEP_DAYS, selfService: KEEP_DAYS, challenges: KEEP_DAYS, serviceLog: KEEP_DAYS };
  const config = loadConfig({ overrides: { dataDir, log: { level: 'warn' }, retention: { ...retention, ...(BATCH_SIZE > 0 ? { batchSize: BATCH_SIZE } : {}) } } });
  progress('opening the store (and migrating it if it was seeded by an older version)');
  const runtime = await buildRuntime(config, { log: pino({ level: 'warn' }, pino.destination({ dest: 2, sync: true })) });
  cleanup.defer('close runtime', () => runtime.close());
  const count = async () => Number((await runtime.storage.db.selectFrom('signins').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const signinsBefore = await count();
  const signers = (await seedUsers(runtime, USERS)).map((user) => ({ username: user.username, params: { secret: base32Decode(user.secret)!, algorithm: 'SHA1', digits: 6 } satisfies OathParameters, nextStep: 0 }));
  const { application: view } = await runtime.applications.create({ name: `bench ${Date.now()}` }, benchActor);
  const application = { id: view.id, name: view.name };

  progress(`baseline: ${SECONDS} s of authentications, ${CONCURRENCY} at a time`);
  const baselineEnd = performance.now() + SECONDS * 1000;
  const baseline = await authenticate(runtime, application, signers, () => performance.now() > baselineEnd);

  progress(`purge: keeping ${KEEP_DAYS} days of ${signinsBefore} sign-ins, with authentications running`);
  let purging = true;
  const purgeStarted = performance.now();
  const purge = runtime.retention.run(systemActor('bench')).finally(() => (purging = false));
  // Whatever happens to the authentications, the purge ends before the store closes.
  const during = await authenticate(runtime, application, signers, () => !purging).finally(() => purge.catch(() => undefined));
  const report = await purge;
  const purgeSeconds = (performance.now() - purgeStarted) / 1000;
  const rows = Object.values(report.deleted).reduce((sum, n) => sum + n, 0);

  const line = (name: string, load: LoadFigures) => [name, (load.auths / load.seconds).toFixed(0), load.p50.toFixed(1), load.p99.toFixed(1), load.max.toFixed(1)];
  console.log(`dialect: ${runtime.storage.dialect}; sign-ins before: ${signinsBefore}; batch size: ${config.retention.batchSize}`);
  console.log(`purge: ${rows} rows in ${purgeSeconds.toFixed(1)} s = ${(rows / purgeSeconds).toFixed(0)} rows/s over ${report.batches} batches (${JSON.stringify(report.deleted)})\n`);
  console.log(formatTable(['authentications', 'per s', 'p50 ms', 'p99 ms', 'max ms'], [line('before the purge', baseline), line('during the purge', during)]));
  console.log(`\nduring/before: ${(during.auths / during.seconds / (baseline.auths / baseline.seconds)).toFixed(2)} of the rate, p99 ${(during.p99 / Math.max(0.001, baseline.p99)).toFixed(1)}×`);
  if (hasFlag('--json')) console.log(JSON.stringify({ signinsBefore, rows, purgeSeconds, report, baseline, during }, null, 2));
  if (rows === 0) throw new BenchFailure('the purge deleted nothing: is the store older than BENCH_KEEP_DAYS?');
});
