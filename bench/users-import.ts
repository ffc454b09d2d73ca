// Benchmark: bulk CSV import of N users (rows/s), then the read throughput of
// GET /admin/v1/users/<username> (admin key, a random existing user per
// request) next to the no-op GET /healthz, measured in the same run so the
// ratio between them is comparable across machines; then a second import of
// N users through POST /admin/v1/users/import while /healthz is asked every
// 20 ms, whose latency shows whether an import stops the server (target: p99
// under 200 ms).
//
//   npm run bench:users [-- --json]
//   env: BENCH_USERS (100000), BENCH_SECONDS (10 per route), BENCH_DATABASE_URL (SQLite when unset)
import { usersRepository } from '../src/storage/repositories/users.js';
import type { Runtime } from '../src/main.js';
import {
  BenchFailure,
  type Cleanup,
  benchActor,
  createBenchRuntime,
  envInt,
  formatTable,
  hasFlag,
  progress,
  runBench,
  runLoad,
  startServer,
  type LoadSummary,
} from './lib.js';

const USERS = envInt('BENCH_USERS', 100_000);
const SECONDS = envInt('BENCH_SECONDS', 10);
const CONNECTIONS = 50;
const HEADER = 'username,first_name,last_name,email,phone_country_code,phone_number,groups';
const GROUPS = ['staff', 'engineering', 'finance', 'support', 'contractors'];
// Real US area codes: libphonenumber (max metadata) accepts <area><exchange 200-999><line> for each.
const AREA_CODES = ['202', '206', '212', '305', '312', '415', '512', '617', '713', '718'];

const usernameOf = (i: number) => `user${String(i).padStart(Math.max(6, String(USERS).length), '0')}@bench.example`;

function csvLine(i: number): string {
  const phone = `${AREA_CODES[i % AREA_CODES.length]}${200 + (i % 800)}${String(i % 10_000).padStart(4, '0')}`;
  return [usernameOf(i), `First${i}`, `Last${i}`, `person${i}@bench.example`, '1', phone, GROUPS[i % GROUPS.length]].join(',');
}

function usersCsv(count: number): Buffer {
  const lines = [HEADER];
  for (let i = 1; i <= count; i += 1) lines.push(csvLine(i));
  return Buffer.from(`${lines.join('\n')}\n`);
}

interface ImportFigures {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  csvBytes: number;
}

async function importUsers(runtime: Runtime, count: number): Promise<ImportFigures> {
  const csv = usersCsv(count);
  const step = Math.max(1000, Math.ceil(count / 10));
  let reported = 0;
  const onProgress = (rows: number) => {
    if (rows === reported || (rows - reported < step && rows < count)) return;
    reported = rows;
    progress(`  imported ${rows}/${count}`);
  };
  const started = performance.now();
  const report = await runtime.csvImport.run(csv, benchActor, { createGroups: true, onProgress });
  const seconds = (performance.now() - started) / 1000;
  if (report.failed !== 0 || report.created !== count) {
    const first = report.errors[0];
    const detail = first ? `; first error: line ${first.line} ${first.code}: ${first.message}` : '';
    throw new BenchFailure(`import created ${report.created} of ${count} users, ${report.failed} rows failed${detail}`);
  }
  const stored = await usersRepository.count(runtime.storage.db);
  if (stored !== count) throw new BenchFailure(`the database holds ${stored} users after importing ${count}`);
  return { rows: report.rows, seconds, rowsPerSecond: report.rows / seconds, csvBytes: csv.length };
}

/** One request by hand before the load: a wrong key or path fails here with the server's own answer. */
async function checkUserRoute(baseUrl: string, headers: Record<string, string>, username: string): Promise<void> {
  const response = await fetch(`${baseUrl}/admin/v1/users/${encodeURIComponent(username)}`, { headers });
  const body = await response.text();
  if (response.status !== 200) throw new BenchFailure(`GET /admin/v1/users/${username} answered ${response.status}: ${body}`);
  if ((JSON.parse(body) as { username?: string }).username !== username) throw new BenchFailure(`GET /admin/v1/users/${username} returned another user: ${body}`);
}

interface RouteResult {
  route: string;
  load: LoadSummary;
}

/** Fails when a route answered anything but 2xx or lost connections. */
function assertClean({ route, load }: RouteResult): void {
  if (load.non2xx === 0 && load.errors === 0 && load.requests > 0) return;
  const codes = Object.entries(load.statusCodes).map(([code, count]) => `${code}×${count}`).join(', ');
  throw new BenchFailure(`${route}: ${load.non2xx} non-2xx answers, ${load.errors} connection errors of ${load.requests} requests (status codes: ${codes || 'none'})`);
}

async function measureRoutes(baseUrl: string, secret: string): Promise<RouteResult[]> {
  const headers = { authorization: `Bearer ${secret}` };
  await checkUserRoute(baseUrl, headers, usernameOf(1));
  const userPaths = Array.from({ length: USERS }, (_, index) => `/admin/v1/users/${encodeURIComponent(usernameOf(index + 1))}`);
  const common = { url: baseUrl, connections: CONNECTIONS, seconds: SECONDS };
  progress(`load: GET /healthz, ${CONNECTIONS} connections, ${SECONDS} s`);
  const health = { route: 'GET /healthz', load: await runLoad({ ...common, paths: ['/healthz'] }) };
  progress(`load: GET /admin/v1/users/:username, ${CONNECTIONS} connections, ${SECONDS} s`);
  const user = { route: 'GET /admin/v1/users/:username', load: await runLoad({ ...common, paths: userPaths, headers }) };
  return [health, user];
}

interface ImportWhileServing {
  rows: number;
  seconds: number;
  probes: number;
  healthP50Ms: number;
  healthP99Ms: number;
  healthMaxMs: number;
}

/**
 * A second import of `count` users, through the HTTP API as an administrator
 * would send it, while /healthz is asked every 20 ms from this process: its
 * latency is how long the server kept every other request waiting.
 */
async function importWhileServing(baseUrl: string, secret: string, count: number): Promise<ImportWhileServing> {
  const lines = [HEADER];
  for (let i = 1; i <= count; i += 1) lines.push(csvLine(i).replace(/^user/, 'second'));
  const body = `${lines.join('\n')}\n`;
  let importing = true;
  const latencies: number[] = [];
  const probe = (async () => {
    while (importing) {
      const started = performance.now();
      await (await fetch(`${baseUrl}/healthz`)).arrayBuffer();
      latencies.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const started = performance.now();
  const response = await fetch(`${baseUrl}/admin/v1/users/import?create_groups=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'text/csv' },
    body,
  });
  const report = (await response.json()) as { created?: number };
  const seconds = (performance.now() - started) / 1000;
  importing = false;
  await probe;
  if (response.status !== 200 || report.created !== count) throw new BenchFailure(`the HTTP import answered ${response.status}: ${JSON.stringify(report).slice(0, 300)}`);
  latencies.sort((a, b) => a - b);
  const at = (share: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * share))] ?? 0;
  return { rows: count, seconds, probes: latencies.length, healthP50Ms: at(0.5), healthP99Ms: at(0.99), healthMaxMs: latencies[latencies.length - 1] ?? 0 };
}

interface Summary {
  dialect: string;
  users: number;
  import: ImportFigures;
  connections: number;
  secondsPerRoute: number;
  routes: RouteResult[];
  /** Requests/s of the user route divided by those of /healthz. */
  userToNoopRatio: number;
  whileServing: ImportWhileServing;
}

function printSummary(summary: Summary): void {
  const noop = summary.routes[0]!.load.requestsPerSecond;
  const rows = summary.routes.map(({ route, load }) => [
    route,
    load.requestsPerSecond.toFixed(0),
    load.latencyP50Ms.toFixed(1),
    load.latencyP99Ms.toFixed(1),
    String(load.non2xx),
    String(load.errors),
    (load.requestsPerSecond / noop).toFixed(3),
  ]);
  const { import: imported } = summary;
  console.log(`dialect: ${summary.dialect}`);
  console.log(`users: ${summary.users}`);
  console.log(`import: ${imported.rows} rows in ${imported.seconds.toFixed(1)} s = ${imported.rowsPerSecond.toFixed(0)} rows/s (${(imported.csvBytes / 1e6).toFixed(1)} MB CSV)`);
  console.log(`load: ${summary.connections} connections, ${summary.secondsPerRoute} s per route after a 2 s warm-up\n`);
  console.log(formatTable(['route', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'vs /healthz'], rows));
  console.log(`\nuser route / no-op route throughput: ${summary.userToNoopRatio.toFixed(3)}`);
  const serving = summary.whileServing;
  console.log(
    `\nimport over HTTP while serving: ${serving.rows} rows in ${serving.seconds.toFixed(1)} s = ${(serving.rows / serving.seconds).toFixed(0)} rows/s; ` +
      `/healthz meanwhile (${serving.probes} probes): p50 ${serving.healthP50Ms.toFixed(1)} ms, p99 ${serving.healthP99Ms.toFixed(1)} ms, max ${serving.healthMaxMs.toFixed(1)} ms ` +
      `(target p99 < 200 ms: ${serving.healthP99Ms < 200 ? 'met' : 'NOT met'})`,
  );
  if (hasFlag('--json')) console.log(JSON.stringify(summary, null, 2));
}

async function run(cleanup: Cleanup): Promise<void> {
  const { runtime, dialect, location } = await createBenchRuntime(cleanup);
  progress(`database: ${dialect} (${location}); importing ${USERS} users`);
  const imported = await importUsers(runtime, USERS);
  const { secret } = await runtime.adminKeys.create({ name: 'bench', role: 'reports_reader' }, benchActor);
  const writer = await runtime.adminKeys.create({ name: 'bench import', role: 'privileged_authentication_administrator' }, benchActor);
  const server = await startServer(runtime, cleanup);
  const routes = await measureRoutes(server.url, secret);
  const userToNoopRatio = routes[1]!.load.requestsPerSecond / routes[0]!.load.requestsPerSecond;
  progress(`import over HTTP: ${USERS} more users while /healthz is probed`);
  const whileServing = await importWhileServing(server.url, writer.secret, USERS);
  printSummary({ dialect, users: USERS, import: imported, connections: CONNECTIONS, secondsPerRoute: SECONDS, routes, userToNoopRatio, whileServing });
  routes.forEach(assertClean);
}

await runBench('bench:users', run);
