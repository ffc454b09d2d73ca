// Benchmark: verified TOTP authentications per second through the Auth API
// (`POST /auth/v1/auth` with a fresh valid code: rules, replay check, attempt
// record and sign-in event included), next to the no-op GET /healthz of the
// same server in the same run, the CPU time server and load client spend per
// request, and the rate the machine's cores could give at that cost (ceiling).
//
//   npm run bench:auth [-- --json]
//   env: BENCH_USERS (120000), BENCH_SECONDS (10), BENCH_CONNECTIONS (50), BENCH_DATABASE_URL (SQLite when unset),
//        BENCH_SQLITE_SYNCHRONOUS (full, the default, or normal)
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Runtime } from '../src/main.js';
import type { AuthSourceData } from './auth-source.js';
import { seedUsers } from './oath-users.js';
import { BenchFailure, type Cleanup, benchActor, createBenchRuntime, envInt, formatTable, hasFlag, progress, runBench, runLoad, startServer, type LoadSummary } from './lib.js';

const USERS = envInt('BENCH_USERS', 120_000);
const SECONDS = envInt('BENCH_SECONDS', 10);
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 50);

/** How the measured sign-ins ended, from the records the server wrote. */
async function outcomes(runtime: Runtime): Promise<Record<string, number>> {
  const rows = await runtime.storage.db.selectFrom('signins').select(['result_code', (eb) => eb.fn.countAll<number>().as('n')]).where('auth_type', '=', 'bench').groupBy('result_code').execute();
  return Object.fromEntries(rows.map((row) => [row.result_code ?? '(none)', Number(row.n)]));
}

type Measured = LoadSummary & { serverCpuMicrosPerRequest: number };

const CORES = availableParallelism();

/**
 * The most authentications per second this machine could give at the CPU
 * time they cost now, server and load client together, if every core were
 * busy with nothing else; and that rate's share of the no-op route as
 * measured. However the server spread its work over the cores, it could not
 * do better without spending less CPU per authentication.
 */
function cpuCeiling(auth: Measured, noop: Measured): { cpuMicros: number; perSecond: number; share: number } {
  const cpuMicros = auth.serverCpuMicrosPerRequest + auth.clientCpuMicrosPerRequest;
  const perSecond = (CORES * 1_000_000) / cpuMicros;
  return { cpuMicros, perSecond, share: perSecond / noop.requestsPerSecond };
}

function print(dialect: string, synchronous: string, noop: Measured, auth: Measured, results: Record<string, number>, seedSeconds: number): void {
  const total = Object.values(results).reduce((sum, n) => sum + n, 0);
  const verified = results.SUCCESS_OATH_CODE_VERIFIED ?? 0;
  const verifiedPerSecond = auth.requestsPerSecond * (verified / Math.max(1, total));
  const row = (route: string, load: Measured, perSecond: number) => [
    route,
    perSecond.toFixed(0),
    load.latencyP50Ms.toFixed(1),
    load.latencyP99Ms.toFixed(1),
    String(load.non2xx),
    String(load.errors),
    (perSecond / noop.requestsPerSecond).toFixed(3),
    load.serverCpuMicrosPerRequest.toFixed(0),
    load.clientCpuMicrosPerRequest.toFixed(0),
  ];
  console.log(`dialect: ${dialect}${dialect === 'sqlite' ? ` (synchronous = ${synchronous})` : ''}`);
  console.log(`users: ${USERS} with a TOTP token each (seeded in ${seedSeconds.toFixed(1)} s)`);
  console.log(`load: ${CONNECTIONS} connections, ${SECONDS} s per route after a 2 s warm-up\n`);
  console.log(formatTable(['route', 'per s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'vs /healthz', 'server CPU µs/req', 'client CPU µs/req'], [row('GET /healthz', noop, noop.requestsPerSecond), row('POST /auth/v1/auth (verified)', auth, verifiedPerSecond)]));
  console.log(`\nsign-ins written (warm-up included): ${JSON.stringify(results)}`);
  console.log(`verified auths/s: ${verifiedPerSecond.toFixed(0)}; share of the no-op route: ${(verifiedPerSecond / noop.requestsPerSecond).toFixed(3)}`);
  console.log(`server CPU per request: ${auth.serverCpuMicrosPerRequest.toFixed(0)} µs (auth) / ${noop.serverCpuMicrosPerRequest.toFixed(0)} µs (no-op) = ${(auth.serverCpuMicrosPerRequest / noop.serverCpuMicrosPerRequest).toFixed(1)}×`);
  const ceiling = cpuCeiling(auth, noop);
  // On PostgreSQL the database's own processes share the cores too, and are not counted: the ceiling is higher than the truth.
  const uncounted = dialect === 'postgres' ? ' (PostgreSQL’s own CPU not counted: lower in truth)' : '';
  console.log(`ceiling with every core busy (${CORES} cores / ${ceiling.cpuMicros.toFixed(0)} µs of server and client CPU per auth): ${ceiling.perSecond.toFixed(0)} auths/s, share ${ceiling.share.toFixed(3)}${uncounted}`);
  if (hasFlag('--json')) console.log(JSON.stringify({ dialect, users: USERS, connections: CONNECTIONS, seconds: SECONDS, noop, auth, results, verifiedPerSecond, ceiling }, null, 2));
}

async function run(cleanup: Cleanup): Promise<void> {
  const { runtime, dialect, location } = await createBenchRuntime(cleanup);
  progress(`database: ${dialect} (${location}); seeding ${USERS} users with TOTP tokens`);
  const seeded = performance.now();
  const users = await seedUsers(runtime, USERS);
  const seedSeconds = (performance.now() - seeded) / 1000;
  const { application, secret } = await runtime.applications.create({ name: 'bench' }, benchActor);
  const server = await startServer(runtime, cleanup);
  const common = { url: server.url, connections: CONNECTIONS, seconds: SECONDS };
  progress(`load: GET /healthz, ${CONNECTIONS} connections, ${SECONDS} s`);
  const noop = await server.measure(() => runLoad({ ...common, paths: ['/healthz'] }));
  progress(`load: POST /auth/v1/auth, ${CONNECTIONS} connections, ${SECONDS} s`);
  const data: AuthSourceData = { authorization: `Basic ${Buffer.from(`${application.integration_key}:${secret}`).toString('base64')}`, users, ip: '127.0.0.1' };
  const auth = await server.measure(() => runLoad({ ...common, paths: ['/auth/v1/auth'], requestSource: { module: fileURLToPath(new URL('./auth-source.ts', import.meta.url)), data } }));
  const results = await outcomes(runtime);
  print(dialect, runtime.config.database.sqliteSynchronous, noop, auth, results, seedSeconds);
  const total = Object.values(results).reduce((sum, n) => sum + n, 0);
  if (auth.non2xx > 0 || auth.errors > 0) throw new BenchFailure(`the auth route answered ${auth.non2xx} non-2xx and ${auth.errors} connection errors`);
  if ((results.SUCCESS_OATH_CODE_VERIFIED ?? 0) < total * 0.99) throw new BenchFailure(`fewer than 99% of the authentications were verified: ${JSON.stringify(results)}`);
}

await runBench('bench:auth', run);
