import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { buildRuntime } from '../src/main.js';
import { openStorage } from '../src/storage/database.js';
import { testActor, TEST_MASTER_KEY } from './helpers/runtime.js';
import { ownPostgresAvailable, startOwnPostgres, type OwnPostgres } from './helpers/own-postgres.js';

const USERS = 8;
const WORKERS = 6;
const BIN = new URL('../bin/countersign.js', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sent {
  startedAt: number;
  endedAt: number;
  status: number;
  code: string | null;
  retryAfter: string | null;
  ip: string;
}

if (!ownPostgresAvailable() && process.env.CI) throw new Error('CI needs PostgreSQL binaries and a postgres user for the database outage test');

/**
 * A node and its PostgreSQL under load, while the database drops its
 * connections, stops, and freezes: the node never crashes, answers 503
 * database_unavailable (never 500) while the database is away, says so on
 * /readyz within 2 s, comes back by itself within 5 s, and loses no attempt
 * it acknowledged.
 */
describe.skipIf(!ownPostgresAvailable())('a node whose database goes away', () => {
  let database: OwnPostgres;
  let server: ChildProcess;
  let base: string;
  let authorization: string;
  const sent: Sent[] = [];
  let counter = 0;
  let loading = false;
  let workers: Promise<void>[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'countersign-outage-'));

  beforeAll(async () => {
    database = await startOwnPostgres();
    // Set-up through a runtime of the test's own: an application and users whose MFA state lets them in without a code.
    const config = loadConfig({ overrides: { security: { masterKey: TEST_MASTER_KEY }, database: { url: database.url } } });
    const storage = openStorage({ url: database.url, dataDir, poolSize: 2 });
    const runtime = await buildRuntime(config, { storage, log: pino({ level: 'warn' }) });
    const { application, secret } = await runtime.applications.create({ name: 'Corporate VPN' }, testActor);
    for (let i = 0; i < USERS; i += 1) await runtime.directory.create({ username: `user${i}@contoso.com`, mfa_state: 'Disabled' }, testActor);
    await runtime.close();
    await storage.close();
    authorization = `Basic ${Buffer.from(`${application.integration_key}:${secret}`).toString('base64')}`;

    server = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
      env: {
        ...process.env,
        COUNTERSIGN_DATA_DIR: dataDir,
        COUNTERSIGN_DATABASE_URL: database.url,
        COUNTERSIGN_DATABASE_POOL_SIZE: '4',
        COUNTERSIGN_DATABASE_CONNECT_TIMEOUT_MS: '1000',
        COUNTERSIGN_DATABASE_STATEMENT_TIMEOUT_MS: '1500',
        COUNTERSIGN_SECURITY_MASTER_KEY: TEST_MASTER_KEY,
        COUNTERSIGN_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stderr!.resume();
    base = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: server.stdout! });
      lines.on('line', (line) => {
        const address = /"event":"server.started","address":"([^"]+)"/.exec(line)?.[1];
        if (address) resolve(address);
      });
      server.once('exit', (code) => reject(new Error(`the server exited with ${code} before it listened`)));
    });
  }, 90_000);

  afterAll(async () => {
    loading = false;
    await Promise.all(workers);
    server?.kill('SIGTERM');
    database?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function authenticate(): Promise<void> {
    counter += 1;
    const n = counter;
    const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
    const startedAt = Date.now();
    try {
      const response = await fetch(`${base}/auth/v1/auth`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ username: `user${n % USERS}@contoso.com`, ip }),
        signal: AbortSignal.timeout(20_000),
      });
      const body = (await response.json()) as { code?: string };
      sent.push({ startedAt, endedAt: Date.now(), status: response.status, code: body.code ?? null, retryAfter: response.headers.get('retry-after'), ip });
    } catch {
      sent.push({ startedAt, endedAt: Date.now(), status: 0, code: null, retryAfter: null, ip });
    }
  }

  function startLoad(): void {
    loading = true;
    workers = Array.from({ length: WORKERS }, async () => {
      while (loading) {
        await authenticate();
        await sleep(10);
      }
    });
  }

  /** How long after `since` a request that started then succeeded: the node's recovery time. */
  async function recoveredAfter(since: number, limitMs: number): Promise<number> {
    for (;;) {
      const ok = sent.find((item) => item.startedAt >= since && item.status === 200);
      if (ok) return ok.endedAt - since;
      if (Date.now() - since > limitMs + 5_000) return Infinity;
      await sleep(50);
    }
  }

  async function readyz(): Promise<{ status: number; ms: number }> {
    const startedAt = Date.now();
    const response = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return { status: response.status, ms: Date.now() - startedAt };
  }

  it('serves under load, survives its connections being terminated, the database stopping and freezing, and loses nothing it acknowledged', async () => {
    startLoad();
    await sleep(1_000);
    expect(sent.length).toBeGreaterThan(10);
    expect(sent.every((item) => item.status === 200)).toBe(true);

    // 1. Every connection terminated by an administrator.
    const terminatedAt = Date.now();
    expect(await database.terminateBackends()).toBeGreaterThan(0);
    expect(await recoveredAfter(terminatedAt, 5_000)).toBeLessThan(5_000);
    await sleep(500);

    // 2. The database stops.
    database.stop('fast');
    const stoppedAt = Date.now();
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.ms).toBeLessThan(2_000);
    await sleep(2_500);
    database.start();
    const startedAgain = Date.now();
    expect(await recoveredAfter(startedAgain, 5_000)).toBeLessThan(5_000);
    expect((await readyz()).status).toBe(200);
    const whileStopped = sent.filter((item) => item.startedAt >= stoppedAt + 200 && item.endedAt <= startedAgain);
    expect(whileStopped.length).toBeGreaterThan(0);
    expect(whileStopped.every((item) => item.status === 503 && item.code === 'database_unavailable' && item.retryAfter === '2')).toBe(true);

    // 3. The database freezes: it takes connections but answers nothing.
    database.freeze();
    const frozenAt = Date.now();
    const frozen = await readyz();
    expect(frozen.status).toBe(503);
    expect(frozen.ms).toBeLessThan(2_000);
    await sleep(4_000);
    database.thaw();
    const thawedAt = Date.now();
    expect(await recoveredAfter(thawedAt, 5_000)).toBeLessThan(5_000);
    const whileFrozen = sent.filter((item) => item.startedAt >= frozenAt && item.endedAt <= thawedAt);
    expect(whileFrozen.filter((item) => item.status === 503).length).toBeGreaterThan(0);

    await sleep(500);
    loading = false;
    await Promise.all(workers);

    // Never a crash, never a 500 (nor a request left without an answer), and every acknowledged attempt is in the log.
    expect(server.exitCode).toBeNull();
    expect(sent.filter((item) => item.status !== 200 && item.status !== 503)).toEqual([]);
    const acknowledged = sent.filter((item) => item.status === 200).map((item) => item.ip);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query<{ ip: string }>('select ip from signins');
    await client.end();
    const recorded = new Set(rows.map((row) => row.ip));
    expect(acknowledged.filter((ip) => !recorded.has(ip))).toEqual([]);
  }, 120_000);
});
