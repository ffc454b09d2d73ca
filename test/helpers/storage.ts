import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStorage, withDefaultUser, type DialectName, type Storage } from '../../src/storage/database.js';
import { databaseUrl, ensurePostgresTemplate, ensureSqliteTemplate, PG_TEMPLATE, SQLITE_TEMPLATE } from './templates.js';

/**
 * The PostgreSQL the suite runs against. In CI (CI=true) an unreachable
 * PostgreSQL fails the run; on a developer machine its tests are skipped.
 */
export const PG_URL = process.env.PG_TEST_URL ?? 'postgres://127.0.0.1:5432/test';
const connectionString = withDefaultUser(PG_URL);

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const pgUp = await postgresReachable();
if (!pgUp && process.env.CI) throw new Error(`PostgreSQL is required in CI but ${PG_URL} does not answer`);

/** The dialects a storage-touching suite runs on: `describe.each(DIALECTS)`. */
export const DIALECTS: DialectName[] = pgUp ? ['sqlite', 'postgres'] : ['sqlite'];

export interface TestStorage {
  storage: Storage;
  /** SQLite file path or PostgreSQL database URL, for tests that inspect them or open a second connection. */
  location: string;
  dispose(): Promise<void>;
}

/**
 * A fresh store: a SQLite file in a temp folder, or a PostgreSQL database of
 * its own. Empty, or with `migrated`, a copy of the migrated template
 * (helpers/templates.ts), which is what most tests start from.
 */
export async function createTestStorage(dialect: DialectName, options: { migrated?: boolean } = {}): Promise<TestStorage> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'countersign-test-'));
    const file = join(dir, 'test.db');
    if (options.migrated) {
      await ensureSqliteTemplate();
      copyFileSync(SQLITE_TEMPLATE, file);
    }
    // The read cache is on, as in a server: every SQLite suite runs through it.
    const storage = openStorage({ url: `sqlite:${file}`, dataDir: dir, readCacheEntries: 10_000 });
    return {
      storage,
      location: file,
      dispose: async () => {
        await storage.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const database = `ct_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString });
  await admin.connect();
  try {
    if (options.migrated) {
      await ensurePostgresTemplate(PG_URL);
      await admin.query(`create database ${database} template ${PG_TEMPLATE}`);
    } else {
      await admin.query(`create database ${database}`);
    }
  } finally {
    await admin.end();
  }
  const url = databaseUrl(PG_URL, database);
  const storage = openStorage({ url, dataDir: tmpdir(), poolSize: 4 });
  return {
    storage,
    location: url,
    dispose: async () => {
      await storage.close();
      const cleanup = new pg.Client({ connectionString });
      await cleanup.connect();
      // Connections a test opened itself and left (a second node, a client of its own) end with it.
      await cleanup.query(`drop database if exists ${database} with (force)`);
      await cleanup.end();
    },
  };
}
