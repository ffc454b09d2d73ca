import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { buildRuntime } from '../src/main.js';
import { testActor } from './helpers/runtime.js';

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

/** The data folder holds the master key and the database, with personal data: only the server's user reads it. */
describe('the data folder on disk (SQLite)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'countersign-perm-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  async function start(dataDir: string) {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) }));
    const runtime = await buildRuntime(loadConfig({ overrides: { dataDir } }), { log });
    await runtime.directory.create({ username: 'alice@contoso.com' }, testActor);
    return { runtime, warnings: () => lines.filter((line) => line.includes('"storage.permissions"')) };
  }

  it('creates the folder 0700 and the master key, the database and its WAL files 0600', async () => {
    const dataDir = join(root, 'fresh', 'data');
    const { runtime, warnings } = await start(dataDir);
    expect(modeOf(dataDir)).toBe('700');
    for (const file of ['master.key', 'countersign.db', 'countersign.db-wal', 'countersign.db-shm']) expect(modeOf(join(dataDir, file)), file).toBe('600');
    expect(warnings()).toEqual([]);
    await runtime.close();
  });

  it('warns at start when an existing folder or file is open to other users', async () => {
    const dataDir = join(root, 'open');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    const { runtime, warnings } = await start(dataDir);
    expect(warnings()).toEqual([expect.stringContaining('the database folder is open to other users (mode 755)')]);
    await runtime.close();
  });
});
