// Shared pieces of the benchmarks in bench/ (measures nothing itself): a
// throw-away Countersign runtime on SQLite or PostgreSQL, its HTTP server on a
// free 127.0.0.1 port, HTTP load with autocannon in a child process
// (bench/load-client.ts), and plain-text result tables. Traffic stays on 127.0.0.1.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import pino from 'pino';
import { loadConfig } from '../src/config/load.js';
import { buildRuntime, type Runtime } from '../src/main.js';
import { buildHttpApp } from '../src/protocols/http/app.js';
import type { Actor } from '../src/shared/actor.js';
import { openStorage, withDefaultUser, type DialectName, type Storage } from '../src/storage/database.js';

/** The actor benchmark set-up acts as (imports, admin keys). */
export const benchActor: Actor = { type: 'system', id: 'bench', role: null, requestId: null, entryPoint: 'bench' };

/** A failed expectation of a benchmark: printed as one line, exit code 1. */
export class BenchFailure extends Error {}

/** A positive whole number from the environment, or the fallback when unset. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  if (!/^[1-9]\d*$/.test(raw)) throw new BenchFailure(`${name} must be a positive whole number, got "${raw}"`);
  return Number(raw);
}

export const hasFlag = (flag: string): boolean => process.argv.slice(2).includes(flag);

/** Progress lines go to stderr so stdout holds only the results. */
export const progress = (message: string): void => void process.stderr.write(`${message}\n`);

/** Teardown steps, run last-registered first, so a run that fails half-way still cleans up what it made. */
export class Cleanup {
  private readonly steps: { name: string; step: () => Promise<void> | void }[] = [];

  defer(name: string, step: () => Promise<void> | void): void {
    this.steps.push({ name, step });
  }

  async run(): Promise<void> {
    for (const { name, step } of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        process.stderr.write(`cleanup: ${name} failed: ${String(error)}\n`);
      }
    }
  }
}

export interface BenchRuntime {
  runtime: Runtime;
  dialect: DialectName;
  /** SQLite file or PostgreSQL schema the run uses. */
  location: string;
}

const isPostgresUrl = (url: string) => /^postgres(ql)?:\/\//.test(url);

async function withPgClient(url: string, work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: withDefaultUser(url), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

/** A PostgreSQL schema of the run's own, dropped at cleanup, after its storage is closed (a runtime does not close a storage handed to it). */
async function openPgStorage(url: string, dataDir: string, cleanup: Cleanup): Promise<{ storage: Storage; schema: string }> {
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  await withPgClient(url, (client) => client.query(`create schema ${schema}`));
  cleanup.defer(`drop schema ${schema}`, () => withPgClient(url, (client) => client.query(`drop schema ${schema} cascade`)));
  const storage = openStorage({ url, dataDir, poolSize: 10, pgSchema: schema });
  cleanup.defer('close storage', () => storage.close());
  return { storage, schema };
}

/**
 * A migrated runtime on a fresh temp data dir: SQLite in that dir, or the
 * PostgreSQL of BENCH_DATABASE_URL in a schema of its own.
 */
export async function createBenchRuntime(cleanup: Cleanup): Promise<BenchRuntime> {
  const dataDir = mkdtempSync(join(tmpdir(), 'countersign-bench-'));
  cleanup.defer('remove data dir', () => rmSync(dataDir, { recursive: true, force: true }));
  const url = process.env.BENCH_DATABASE_URL?.trim() ?? '';
  const pgStore = isPostgresUrl(url) ? await openPgStorage(url, dataDir, cleanup) : null;
  const config = loadConfig({
    overrides: {
      dataDir,
      log: { level: 'warn' },
      security: { masterKey: randomBytes(32).toString('base64') },
      // BENCH_SQLITE_SYNCHRONOUS: database.sqliteSynchronous (full unless set), to weigh durability against speed.
      database: { url, ...(process.env.BENCH_SQLITE_SYNCHRONOUS ? { sqliteSynchronous: process.env.BENCH_SQLITE_SYNCHRONOUS } : {}) },
    },
  });
  const log = pino({ level: 'warn' }, pino.destination({ dest: 2, sync: true }));
  const runtime = await buildRuntime(config, { log, ...(pgStore ? { storage: pgStore.storage } : {}) });
  cleanup.defer('close runtime', () => runtime.close());
  return { runtime, dialect: runtime.storage.dialect, location: pgStore?.schema ?? runtime.storage.file ?? '' };
}

export interface BenchServer {
  /** Base URL: http://127.0.0.1:<port>. */
  url: string;
  /**
   * Runs a load and measures this process's CPU time (user + system) per request the server answered
   * meanwhile, warm-up included. On a shared machine whose speed changes from minute to minute this
   * is steadier than requests per second, and it does not count the load generator.
   */
  measure(load: () => Promise<LoadSummary>): Promise<LoadSummary & { serverCpuMicrosPerRequest: number }>;
}

/** Builds the HTTP app on the runtime and listens on a free 127.0.0.1 port. */
export async function startServer(runtime: Runtime, cleanup: Cleanup): Promise<BenchServer> {
  const app = await buildHttpApp(runtime);
  await app.listen({ host: '127.0.0.1', port: 0 });
  // autocannon drops connections with requests in flight when a run ends; drain lets their handlers finish
  // before the runtime closes the database under them.
  cleanup.defer('close HTTP server', async () => {
    await app.close();
    await app.drain(10_000);
  });
  const { port } = app.server.address() as AddressInfo;
  let answered = 0;
  app.server.on('request', (_request, response: ServerResponse) => response.once('finish', () => (answered += 1)));
  return {
    url: `http://127.0.0.1:${port}`,
    async measure(load) {
      const before = { answered, cpu: process.cpuUsage() };
      const summary = await load();
      const cpu = process.cpuUsage(before.cpu);
      return { ...summary, serverCpuMicrosPerRequest: (cpu.user + cpu.system) / Math.max(1, answered - before.answered) };
    },
  };
}

/** What bench/load-client.ts is asked to do. */
export interface LoadJob {
  url: string;
  /** One path, or several: each request then takes one at random. */
  paths: string[];
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  /**
   * A module (absolute path) whose `createRequestSource(data)` returns a function
   * that fills in each request (method, path, headers, body) just before it is
   * sent: for requests that must differ each time, such as fresh TOTP codes.
   */
  requestSource?: { module: string; data: unknown };
}

export interface LoadSummary {
  /** Mean of the per-second request counts. */
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  requests: number;
  non2xx: number;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  seconds: number;
  /** The load client's own CPU time (user + system) per request of the measured run: what the load costs the machine besides the server. */
  clientCpuMicrosPerRequest: number;
}

export type LoadOptions = Pick<LoadJob, 'url' | 'paths'> & Partial<Omit<LoadJob, 'url' | 'paths'>>;

type ClientReply = { ok: true; summary: LoadSummary } | { ok: false; error: string };

/** Runs autocannon in a child process; the child is killed if it overruns its time by 30 s. */
export function runLoad(options: LoadOptions): Promise<LoadSummary> {
  const job: LoadJob = { headers: {}, connections: 50, seconds: 10, warmupSeconds: 2, ...options };
  const child = fork(fileURLToPath(new URL('./load-client.ts', import.meta.url)), [], { serialization: 'advanced' });
  const limitMs = (job.warmupSeconds + job.seconds + 30) * 1000;
  return new Promise<LoadSummary>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new BenchFailure(`load client did not finish within ${limitMs / 1000} s`));
    }, limitMs);
    child.once('message', (reply: ClientReply) => {
      clearTimeout(timer);
      if (reply.ok) resolve(reply.summary);
      else reject(new BenchFailure(`load client failed: ${reply.error}`));
    });
    // 'close' comes after the IPC channel has delivered every message, so a result is never lost to it.
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new BenchFailure(`load client exited (code ${String(code)}) without a result`));
    });
    child.send(job);
  });
}

/** A plain-text table: first column left-aligned, the others right-aligned. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

/** Runs a benchmark with its cleanup: exit code 1 and one line saying why when it fails. */
export async function runBench(name: string, run: (cleanup: Cleanup) => Promise<void>): Promise<void> {
  const cleanup = new Cleanup();
  try {
    await run(cleanup);
  } catch (error) {
    process.exitCode = 1;
    process.stderr.write(`${name} failed: ${error instanceof BenchFailure ? error.message : String((error as Error).stack ?? error)}\n`);
  } finally {
    await cleanup.run();
  }
}
