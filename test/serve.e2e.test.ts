import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDefaultUser } from '../src/storage/database.js';
import { DIALECTS, PG_URL } from './helpers/storage.js';

const BIN = resolve(import.meta.dirname, '../bin/countersign.js');
const run = promisify(execFile);

interface Server {
  process: ChildProcess;
  address: string;
  output: () => string;
}

/** Starts the built `countersign serve` as a user would, and waits for it to listen. */
function serve(cwd: string, env: Record<string, string>): Promise<Server> {
  const { COUNTERSIGN_CONFIG: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], { cwd, env: { ...inherited, ...env } });
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Countersign listening on (http:\/\/[^"]+)"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolvePromise({ process: child, address: match[1]!, output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
}

const stop = (server: Server) =>
  new Promise<void>((done) => {
    server.process.removeAllListeners('exit');
    server.process.once('exit', () => done());
    server.process.kill('SIGTERM');
  });

describe.each(DIALECTS)('`countersign serve` on a fresh folder with %s', (dialect) => {
  const cwd = mkdtempSync(join(tmpdir(), 'countersign-e2e-'));
  const schema = `e2e_${randomBytes(5).toString('hex')}`;
  const env: Record<string, string> = {};

  beforeAll(async () => {
    if (dialect === 'postgres') {
      const client = new pg.Client({ connectionString: withDefaultUser(PG_URL) });
      await client.connect();
      await client.query(`create schema ${schema}`);
      await client.end();
      env.COUNTERSIGN_DATABASE_URL = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    }
  });

  afterAll(async () => {
    rmSync(cwd, { recursive: true, force: true });
    if (dialect === 'postgres') {
      const client = new pg.Client({ connectionString: withDefaultUser(PG_URL) });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    }
  });

  it('creates the database, prints a first admin key once, and serves the API with it', async () => {
    const first = await serve(cwd, env);
    let secret: string;
    try {
      const printed = /First start: a Global Administrator API key was created\.\s+(csk_\S+)/.exec(first.output());
      expect(printed, first.output()).not.toBeNull();
      secret = printed![1]!;
      expect(await (await fetch(`${first.address}/readyz`)).json()).toEqual({ status: 'ready' });
      const created = await fetch(`${first.address}/admin/v1/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'first@contoso.com', phone: { number: '2025550123' } }),
      });
      expect(created.status).toBe(201);
    } finally {
      await stop(first);
    }
    expect(statSync(join(cwd, 'data', 'master.key')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(cwd, 'data', 'countersign.db'))).toBe(dialect === 'sqlite');

    const second = await serve(cwd, env);
    try {
      expect(second.output()).not.toContain('First start');
      const read = await fetch(`${second.address}/admin/v1/users/first@contoso.com`, { headers: { authorization: `Bearer ${secret}` } });
      expect(await read.json()).toMatchObject({ username: 'first@contoso.com' });
      // Each start wrote its heartbeat; the first stopped cleanly.
      const nodes = await fetch(`${second.address}/admin/v1/reports/server-status`, { headers: { authorization: `Bearer ${secret}` } });
      expect(((await nodes.json()) as { status: string }[]).map((node) => node.status)).toEqual(['up', 'stopped']);
      // A one-shot command on the same folder finds the running server's address (serve --port 0 here), not http.port.
      const { COUNTERSIGN_CONFIG: _ignored, ...inherited } = process.env;
      const activation = await run(process.execPath, [BIN, '--json', 'device', 'activation', 'first@contoso.com'], { cwd, env: { ...inherited, ...env } });
      expect((JSON.parse(activation.stdout) as { url: string }).url).toBe(second.address);
    } finally {
      await stop(second);
    }
    // A clean stop removes the address: a later command does not point apps at a server that is gone.
    expect(existsSync(join(cwd, 'data', 'server.json'))).toBe(false);
    // Two server starts and a command, each a process loading the whole program: more than the default on a busy machine.
  }, 90_000);
});
