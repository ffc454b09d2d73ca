import { sql, type Kysely } from 'kysely';
import type { Clock } from '../shared/clock.js';
import type { DialectName, Db } from './database.js';
import { migrations } from './migrations/index.js';

export interface Migration {
  /** Sortable name: the order migrations apply in. */
  name: string;
  up(db: Kysely<unknown>, dialect: DialectName): Promise<void>;
  down(db: Kysely<unknown>, dialect: DialectName): Promise<void>;
}

export interface MigrationStatus {
  name: string;
  appliedAt: number | null;
}

async function ensureTable(db: Db): Promise<void> {
  await db.schema
    .createTable('schema_migrations')
    .ifNotExists()
    .addColumn('name', 'text', (col) => col.primaryKey())
    .addColumn('applied_at', 'bigint', (col) => col.notNull())
    .execute();
}

/**
 * Serialises migrators: of several nodes sharing one PostgreSQL database
 * (an advisory lock), and on SQLite with a running server (a write as the
 * first statement takes the write lock before anything is read, as BEGIN
 * IMMEDIATE would, so the migration cannot read a state that a commit of the
 * server then makes stale).
 */
async function lock(trx: Db, dialect: DialectName): Promise<void> {
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(727274001)`.execute(trx);
  else await sql`delete from schema_migrations where 1 = 0`.execute(trx);
}

async function isApplied(db: Db, name: string): Promise<boolean> {
  const row = await db.selectFrom('schema_migrations').select('name').where('name', '=', name).executeTakeFirst();
  return row !== undefined;
}

/**
 * Applies every pending migration, each in its own transaction together with
 * the row that records it: a migration is either wholly applied and recorded
 * or not at all. Both dialects have transactional DDL.
 */
export async function migrateToLatest(db: Db, dialect: DialectName, clock: Clock, list: Migration[] = migrations): Promise<string[]> {
  await ensureTable(db);
  const applied: string[] = [];
  for (const migration of [...list].sort((a, b) => a.name.localeCompare(b.name))) {
    const ran = await db.transaction().execute(async (trx) => {
      await lock(trx, dialect);
      if (await isApplied(trx, migration.name)) return false;
      await migration.up(trx as unknown as Kysely<unknown>, dialect);
      await trx.insertInto('schema_migrations').values({ name: migration.name, applied_at: clock.now() }).execute();
      return true;
    });
    if (ran) applied.push(migration.name);
  }
  return applied;
}

/** Reverts the most recently applied migration; returns its name, or null when none is applied. */
export async function rollbackLast(db: Db, dialect: DialectName, list: Migration[] = migrations): Promise<string | null> {
  await ensureTable(db);
  return db.transaction().execute(async (trx) => {
    await lock(trx, dialect);
    const last = await trx.selectFrom('schema_migrations').select('name').orderBy('name', 'desc').executeTakeFirst();
    if (!last) return null;
    const migration = list.find((candidate) => candidate.name === last.name);
    if (!migration) throw new Error(`applied migration ${last.name} is not known to this version`);
    await migration.down(trx as unknown as Kysely<unknown>, dialect);
    await trx.deleteFrom('schema_migrations').where('name', '=', last.name).execute();
    return last.name;
  });
}

/** Whether the migration `name` has been applied (false also when no migration ever ran). */
export async function isMigrated(db: Db, name: string): Promise<boolean> {
  await ensureTable(db);
  return isApplied(db, name);
}

/** Every known migration and when it was applied. */
export async function migrationStatus(db: Db, list: Migration[] = migrations): Promise<MigrationStatus[]> {
  await ensureTable(db);
  const rows = await db.selectFrom('schema_migrations').selectAll().execute();
  const appliedAt = new Map(rows.map((row) => [row.name, row.applied_at]));
  return list.map((migration) => ({ name: migration.name, appliedAt: appliedAt.get(migration.name) ?? null }));
}
