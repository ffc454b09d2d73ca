import type { Executor } from '../database.js';
import type { Insertable, Updateable } from 'kysely';
import type { ApplicationRow, ApplicationsTable } from '../schema.js';

export const applicationsRepository = {
  async insert(db: Executor, row: Insertable<ApplicationsTable>): Promise<void> {
    await db.insertInto('applications').values(row).execute();
  },

  /** The name of an application, or undefined when it was deleted. */
  async nameOf(db: Executor, id: string): Promise<string | undefined> {
    return (await db.selectFrom('applications').select('name').where('id', '=', id).executeTakeFirst())?.name;
  },

  findByKey(db: Executor, nameKey: string): Promise<ApplicationRow | undefined> {
    return db.selectFrom('applications').selectAll().where('name_key', '=', nameKey).executeTakeFirst();
  },

  findByIntegrationKey(db: Executor, integrationKey: string): Promise<ApplicationRow | undefined> {
    return db.selectFrom('applications').selectAll().where('integration_key', '=', integrationKey).executeTakeFirst();
  },

  list(db: Executor): Promise<ApplicationRow[]> {
    return db.selectFrom('applications').selectAll().orderBy('name_key').execute();
  },

  async update(db: Executor, id: string, patch: Updateable<ApplicationsTable>): Promise<void> {
    await db.updateTable('applications').set(patch).where('id', '=', id).execute();
  },

  async delete(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('applications').where('id', '=', id).execute();
  },
};
