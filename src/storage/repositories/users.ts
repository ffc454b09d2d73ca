import { sql } from 'kysely';
import type { Executor } from '../database.js';
import { prepared } from '../prepared.js';
import { LIKE_ESCAPE, likeEscape } from '../dialect.js';
import type { NewUserRow, UserRow, UserRowUpdate } from '../schema.js';

export interface UserListQuery {
  /** Case-insensitive substring of username, first name, last name or e-mail. */
  search?: string;
  /** Only members of this group. */
  groupId?: string;
  /** Return users whose username_key sorts after this one. */
  afterKey?: string;
  limit: number;
}

const byKey = prepared<{ usernameKey: string }, UserRow>((db, param) => db.selectFrom('users').selectAll().where('username_key', '=', param('usernameKey')));

export const usersRepository = {
  async insert(db: Executor, row: NewUserRow): Promise<void> {
    await db.insertInto('users').values(row).execute();
  },

  async insertMany(db: Executor, rows: NewUserRow[]): Promise<void> {
    // Bounded chunks keep each statement under the bind-parameter limit of both dialects.
    for (let start = 0; start < rows.length; start += 500) {
      await db.insertInto('users').values(rows.slice(start, start + 500)).execute();
    }
  },

  /** Prepared: every authentication starts with it. */
  async findByKey(db: Executor, usernameKey: string): Promise<UserRow | undefined> {
    return (await byKey(db, { usernameKey })).rows[0];
  },

  findById(db: Executor, id: string): Promise<UserRow | undefined> {
    return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  },

  /** The keys among `keys` that already exist. */
  async existingKeys(db: Executor, keys: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let start = 0; start < keys.length; start += 500) {
      const rows = await db.selectFrom('users').select('username_key').where('username_key', 'in', keys.slice(start, start + 500)).execute();
      for (const row of rows) found.add(row.username_key);
    }
    return found;
  },

  async update(db: Executor, id: string, patch: UserRowUpdate): Promise<void> {
    await db.updateTable('users').set(patch).where('id', '=', id).execute();
  },

  async delete(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('users').where('id', '=', id).execute();
  },

  list(db: Executor, query: UserListQuery): Promise<UserRow[]> {
    let builder = db.selectFrom('users').selectAll('users');
    if (query.search) {
      const pattern = `%${likeEscape(query.search.toLowerCase())}%`;
      builder = builder.where((eb) =>
        eb.or(
          (['username_key', 'first_name', 'last_name', 'email'] as const).map(
            (column) => sql<boolean>`lower(${sql.ref(`users.${column}`)}) like ${pattern} ${LIKE_ESCAPE}`,
          ),
        ),
      );
    }
    if (query.groupId) {
      const groupId = query.groupId;
      builder = builder.where((eb) =>
        eb.exists(
          eb.selectFrom('user_groups').select('user_groups.user_id').whereRef('user_groups.user_id', '=', 'users.id').where('user_groups.group_id', '=', groupId),
        ),
      );
    }
    if (query.afterKey !== undefined) builder = builder.where('users.username_key', '>', query.afterKey);
    return builder.orderBy('users.username_key').limit(query.limit).execute();
  },

  async count(db: Executor): Promise<number> {
    const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  },
};
