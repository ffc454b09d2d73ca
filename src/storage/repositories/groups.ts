import { sql } from 'kysely';
import type { Executor } from '../database.js';
import { LIKE_ESCAPE, likeEscape } from '../dialect.js';
import { prepared } from '../prepared.js';
import { cachedRead } from '../read-cache.js';
import type { GroupRow } from '../schema.js';

const namesOfUser = prepared<{ userId: string }, { name: string }>((db, param) =>
  db
    .selectFrom('user_groups')
    .innerJoin('groups', 'groups.id', 'user_groups.group_id')
    .select('groups.name')
    .where('user_groups.user_id', '=', param('userId'))
    .orderBy('groups.name_key'),
);

/**
 * One user's group names, sorted by name, kept in memory (storage/read-cache.ts):
 * every attempt record carries them. Users, because deleting a user removes
 * the memberships (`on delete cascade`).
 */
export const groupNamesOfUser = cachedRead({
  name: 'group names of a user',
  tables: ['user_groups', 'groups', 'users'],
  key: (userId: string) => userId,
  load: async (db, userId: string) => (await namesOfUser(db, { userId })).rows.map((row) => row.name),
});

export const groupsRepository = {
  async insert(db: Executor, row: GroupRow): Promise<void> {
    await db.insertInto('groups').values(row).execute();
  },

  findByKey(db: Executor, nameKey: string): Promise<GroupRow | undefined> {
    return db.selectFrom('groups').selectAll().where('name_key', '=', nameKey).executeTakeFirst();
  },

  async findByKeys(db: Executor, nameKeys: string[]): Promise<GroupRow[]> {
    if (nameKeys.length === 0) return [];
    return db.selectFrom('groups').selectAll().where('name_key', 'in', nameKeys).execute();
  },

  /** Groups by name; `search` matches part of the name without regard to case. */
  list(db: Executor, query: { afterKey?: string; search?: string; limit: number }): Promise<GroupRow[]> {
    const { afterKey, search, limit } = query;
    let builder = db.selectFrom('groups').selectAll();
    if (search) builder = builder.where(sql<boolean>`name_key like ${`%${likeEscape(search.toLowerCase())}%`} ${LIKE_ESCAPE}`);
    if (afterKey !== undefined) builder = builder.where('name_key', '>', afterKey);
    return builder.orderBy('name_key').limit(limit).execute();
  },

  async update(db: Executor, id: string, patch: Partial<Pick<GroupRow, 'name' | 'name_key' | 'description' | 'updated_at'>>): Promise<void> {
    await db.updateTable('groups').set(patch).where('id', '=', id).execute();
  },

  async delete(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('groups').where('id', '=', id).execute();
  },

  async memberCount(db: Executor, groupId: string): Promise<number> {
    return (await this.memberCounts(db, [groupId])).get(groupId) ?? 0;
  },

  /** Member count per group id, in one query. */
  async memberCounts(db: Executor, groupIds: string[]): Promise<Map<string, number>> {
    if (groupIds.length === 0) return new Map();
    const rows = await db
      .selectFrom('user_groups')
      .select(['group_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('group_id', 'in', groupIds)
      .groupBy('group_id')
      .execute();
    return new Map(rows.map((row) => [row.group_id, Number(row.n)]));
  },

  /** One user's group names, sorted by name (prepared; `groupNamesOfUser` keeps them in memory). */
  async namesOfUser(db: Executor, userId: string): Promise<string[]> {
    return (await namesOfUser(db, { userId })).rows.map((row) => row.name);
  },

  /** Group names per user id, sorted by name. */
  async namesByUser(db: Executor, userIds: string[]): Promise<Map<string, string[]>> {
    const result = new Map<string, string[]>(userIds.map((id) => [id, []]));
    for (let start = 0; start < userIds.length; start += 500) {
      const rows = await db
        .selectFrom('user_groups')
        .innerJoin('groups', 'groups.id', 'user_groups.group_id')
        .select(['user_groups.user_id', 'groups.name'])
        .where('user_groups.user_id', 'in', userIds.slice(start, start + 500))
        .orderBy('groups.name_key')
        .execute();
      for (const row of rows) result.get(row.user_id)?.push(row.name);
    }
    return result;
  },

  async groupIdsOf(db: Executor, userId: string): Promise<string[]> {
    return (await db.selectFrom('user_groups').select('group_id').where('user_id', '=', userId).execute()).map((row) => row.group_id);
  },

  /** Replaces the groups of a user. */
  async setMembership(db: Executor, userId: string, groupIds: string[]): Promise<void> {
    await db.deleteFrom('user_groups').where('user_id', '=', userId).execute();
    if (groupIds.length > 0) {
      await db.insertInto('user_groups').values(groupIds.map((groupId) => ({ user_id: userId, group_id: groupId }))).execute();
    }
  },

  async addMembers(db: Executor, rows: { user_id: string; group_id: string }[]): Promise<void> {
    for (let start = 0; start < rows.length; start += 500) {
      await db.insertInto('user_groups').values(rows.slice(start, start + 500)).onConflict((oc) => oc.doNothing()).execute();
    }
  },

  async removeMember(db: Executor, userId: string, groupId: string): Promise<number> {
    const result = await db.deleteFrom('user_groups').where('user_id', '=', userId).where('group_id', '=', groupId).executeTakeFirst();
    return Number(result.numDeletedRows);
  },
};
