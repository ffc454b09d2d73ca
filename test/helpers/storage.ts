import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStorage, withDefaultUser, type DialectName, type Storage } from '../../src/storage/database.js';

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
  /** SQLite file path or PostgreSQL schema, for tests that inspect them. */
  location: string;
  dispose(): Promise<void>;
}

/** A fresh, empty store: a SQLite file in a temp folder, or a PostgreSQL schema of its own. */
export async function createTestStorage(dialect: DialectName): Promise<TestStorage> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'countersign-test-'));
    const file = join(dir, 'test.db');
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
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const storage = openStorage({ url: PG_URL, dataDir: tmpdir(), poolSize: 4, pgSchema: schema });
  return {
    storage,
    location: schema,
    dispose: async () => {
      await storage.close();
      const cleanup = new pg.Client({ connectionString });
      await cleanup.connect();
      await cleanup.query(`drop schema ${schema} cascade`);
      await cleanup.end();
    },
  };
}
