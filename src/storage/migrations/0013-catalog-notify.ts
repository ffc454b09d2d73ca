import { sql } from 'kysely';
import type { Migration } from '../migrator.js';

/** The tables of the conditional access catalog that nodes keep in memory (storage/shared-reads.ts). */
const CATALOG_TABLES = ['access_policies', 'named_locations'];

/**
 * PostgreSQL: every change to the conditional access catalog, whoever makes
 * it (this node, another node, the CLI, plain SQL), is announced at its
 * commit on the channel `countersign_catalog`, with the changed table's
 * schema as the payload, so that every node may keep the catalog in memory
 * and drop it when told. On SQLite a single node sees every change itself.
 */
export const catalogNotify: Migration = {
  name: '0013-catalog-notify',
  async up(db, dialect) {
    if (dialect !== 'postgres') return;
    await sql`
      create function countersign_catalog_changed() returns trigger language plpgsql as $$
      begin
        perform pg_notify('countersign_catalog', tg_table_schema);
        return null;
      end
      $$`.execute(db);
    for (const table of CATALOG_TABLES) {
      await sql`create trigger ${sql.id(`${table}_changed`)} after insert or update or delete or truncate on ${sql.table(table)} for each statement execute function countersign_catalog_changed()`.execute(db);
    }
  },
  async down(db, dialect) {
    if (dialect !== 'postgres') return;
    for (const table of CATALOG_TABLES) await sql`drop trigger ${sql.id(`${table}_changed`)} on ${sql.table(table)}`.execute(db);
    await sql`drop function countersign_catalog_changed()`.execute(db);
  },
};
