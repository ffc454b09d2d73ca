import type { Executor } from '../database.js';
import type { NamedLocationsTable } from '../schema.js';

export type NamedLocationRow = NamedLocationsTable;

/** Named locations (SPEC.md §3): sets of IP ranges that conditional access policies name. */
export const namedLocationsRepository = {
  /** Every location, by name. */
  list(db: Executor): Promise<NamedLocationRow[]> {
    return db.selectFrom('named_locations').selectAll().orderBy('name_key').execute();
  },

  findByKey(db: Executor, nameKey: string): Promise<NamedLocationRow | undefined> {
    return db.selectFrom('named_locations').selectAll().where('name_key', '=', nameKey).executeTakeFirst();
  },

  async insert(db: Executor, row: NamedLocationRow): Promise<void> {
    await db.insertInto('named_locations').values(row).execute();
  },

  async update(db: Executor, id: string, patch: Partial<NamedLocationRow>): Promise<void> {
    await db.updateTable('named_locations').set(patch).where('id', '=', id).execute();
  },

  async delete(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('named_locations').where('id', '=', id).execute();
  },
};
