import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { buildRuntime } from '../src/main.js';
import { testActor, TEST_MASTER_KEY } from './helpers/runtime.js';

const run = promisify(execFile);
const BIN = new URL('../bin/countersign.js', import.meta.url).pathname;
const USERS = 8;
const WORKERS = 4;

/**
 * docs/cli.md: one-shot commands work while the server runs on the same
 * SQLite file. Every write takes the write lock at its start (BEGIN
 * IMMEDIATE), waiting for the server's batch to commit, so a command never
 * fails with "database is locked" however busy the server is.
 */
describe('CLI writes against a server under load (SQLite)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'countersign-cli-load-'));
  const env = { ...process.env, COUNTERSIGN_DATA_DIR: dataDir, COUNTERSIGN_SECURITY_MASTER_KEY: TEST_MASTER_KEY, COUNTERSIGN_LOG_LEVEL: 'warn' };
  let server: ChildProcess;
  let base: string;
  let authorization: string;

  beforeAll(async () => {
    const runtime = await buildRuntime(loadConfig({ overrides: { dataDir, security: { masterKey: TEST_MASTER_KEY } } }), { log: pino({ level: 'warn' }) });
    const { application, secret } = await runtime.applications.create({ name: 'Corporate VPN' }, testActor);
    for (let i = 0; i < USERS; i += 1) await runtime.directory.create({ username: `user${i}@contoso.com`, mfa_state: 'Disabled' }, testActor);
    for (let i = 0; i < 6; i += 1) await runtime.directory.create({ username: `target${i}@contoso.com`, phone: { number: '2025550123' } }, testActor);
    await runtime.close();
    authorization = `Basic ${Buffer.from(`${application.integration_key}:${secret}`).toString('base64')}`;
    server = spawn(process.execPath, [BIN, 'serve', '--port', '0'], { env: { ...env, COUNTERSIGN_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stderr!.resume();
    base = await new Promise<string>((resolve, reject) => {
      createInterface({ input: server.stdout! }).on('line', (line) => {
        const address = /"event":"server.started","address":"([^"]+)"/.exec(line)?.[1];
        if (address) resolve(address);
      });
      server.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    });
  }, 60_000);

  afterAll(() => {
    server?.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs 24 CLI writes (user add, block, unblock, bypass) without one failure while authentications stream in', async () => {
    let loading = true;
    const statuses: number[] = [];
    let counter = 0;
    const workers = Array.from({ length: WORKERS }, async () => {
      while (loading) {
        counter += 1;
        const response = await fetch(`${base}/auth/v1/auth`, {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/json' },
          body: JSON.stringify({ username: `user${counter % USERS}@contoso.com`, ip: '198.51.100.7' }),
        });
        await response.arrayBuffer();
        statuses.push(response.status);
      }
    });
    const commandsFor = (i: number): string[][] => {
      const target = `target${i}@contoso.com`;
      return [['user', 'add', `new${i}@contoso.com`], ['block', target, '--reason', 'lost phone'], ['unblock', target, '--reason', 'found it'], ['bypass', target, '--seconds', '600', '--reason', 'travel']];
    };
    const failures: string[] = [];
    // Two at a time, as two administrators at their terminals, each working through their own users in order.
    const lanes = [0, 1].map(async (lane) => {
      for (let i = lane; i < 6; i += 2) {
        for (const command of commandsFor(i)) {
          try {
            await run(process.execPath, [BIN, ...command], { env });
          } catch (error) {
            failures.push(`${command.join(' ')}: ${String((error as { stderr?: string }).stderr ?? error)}`);
          }
        }
      }
    });
    await Promise.all(lanes);
    loading = false;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.every((status) => status === 200)).toBe(true);
    const listed = await run(process.execPath, [BIN, 'user', 'list', '--json'], { env });
    expect((JSON.parse(listed.stdout) as { items: { username: string }[] }).items.filter((user) => user.username.startsWith('new'))).toHaveLength(6);
  }, 120_000);
});
