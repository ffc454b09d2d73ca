import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { FakeClock } from '../../src/shared/clock.js';
import { openStorage, withDefaultUser } from '../../src/storage/database.js';
import { migrations } from '../../src/storage/migrations/index.js';
import { migrateToLatest } from '../../src/storage/migrator.js';

/**
 * Migrated stores to start tests from. Migrating a fresh database costs a
 * third of a second on PostgreSQL (sixteen migrations, each a transaction
 * under an advisory lock) and most flow tests start with one; copying a
 * migrated template costs a tenth of that: a file copy on SQLite, `CREATE
 * DATABASE ... TEMPLATE` on PostgreSQL. The templates are named after the
 * migrations they hold, so a new migration makes new ones; made once per
 * run (vitest's global setup) before any test starts.
 */
const version = createHash('sha256')
  .update(migrations.map((migration) => migration.name + migration.up.toString()).join('\n'))
  .digest('hex')
  .slice(0, 12);

export const SQLITE_TEMPLATE = join(tmpdir(), 'countersign-test-templates', `migrated-${version}.db`);
export const PG_TEMPLATE = `countersign_template_${version}`;

/** A migrated SQLite file, checkpointed into one file (no -wal), made unless it exists. */
export async function ensureSqliteTemplate(): Promise<void> {
  if (existsSync(SQLITE_TEMPLATE)) return;
  mkdirSync(join(tmpdir(), 'countersign-test-templates'), { recursive: true });
  const building = `${SQLITE_TEMPLATE}.${process.pid}.tmp`;
  const storage = openStorage({ url: `sqlite:${building}`, dataDir: tmpdir() });
  await migrateToLatest(storage.db, storage.dialect, new FakeClock());
  await storage.close();
  for (const suffix of ['-wal', '-shm']) rmSync(building + suffix, { force: true });
  // Renamed into place whole: a concurrent run sees no file or a complete one.
  renameSync(building, SQLITE_TEMPLATE);
}

/** A migrated PostgreSQL database to create each test's database from, made unless it exists; no connection is left open to it. */
export async function ensurePostgresTemplate(url: string): Promise<void> {
  const admin = new pg.Client({ connectionString: withDefaultUser(url), connectionTimeoutMillis: 3000 });
  await admin.connect();
  try {
    const { rows } = await admin.query('select 1 from pg_database where datname = $1', [PG_TEMPLATE]);
    if (rows.length > 0) return;
    const building = `${PG_TEMPLATE}_building_${process.pid}`;
    await admin.query(`drop database if exists ${building} with (force)`);
    await admin.query(`create database ${building}`);
    const storage = openStorage({ url: databaseUrl(url, building), dataDir: tmpdir(), poolSize: 2 });
    await migrateToLatest(storage.db, storage.dialect, new FakeClock());
    await storage.close();
    try {
      await admin.query(`alter database ${building} rename to ${PG_TEMPLATE}`);
    } catch {
      // Another run made it meanwhile.
      await admin.query(`drop database if exists ${building} with (force)`);
    }
  } finally {
    await admin.end();
  }
}

/** `url` with another database name. */
export function databaseUrl(url: string, database: string): string {
  const parsed = new URL(withDefaultUser(url));
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
