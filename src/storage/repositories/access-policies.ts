import type { Executor } from '../database.js';
import { cachedRead } from '../read-cache.js';
import type { AccessPoliciesTable, AccessPolicyUsersTable, NamedLocationsTable } from '../schema.js';

export type AccessPolicyRow = AccessPoliciesTable;
export type AccessPolicyUserRow = AccessPolicyUsersTable;

/** The tables a policy's conditions name rows of, by id. */
export type ReferencedTable = 'groups' | 'applications' | 'named_locations';

/** What conditional access evaluates on every authentication: the enabled policies, by name, and every named location. */
export interface AccessCatalogRows {
  policies: AccessPolicyRow[];
  locations: NamedLocationsTable[];
}

/**
 * The conditional access catalog, kept in memory (storage/read-cache.ts) on
 * SQLite and, between change notifications, on every PostgreSQL node
 * (migration 0013 announces each change of both tables). Small tables, read
 * on every authentication.
 */
export const accessCatalog = cachedRead({
  name: 'conditional access catalog',
  tables: ['access_policies', 'named_locations'],
  shared: true,
  key: (_: void) => '',
  load: async (db): Promise<AccessCatalogRows> => ({
    policies: await db.selectFrom('access_policies').selectAll().where('state', '=', 'enabled').orderBy('name_key').execute(),
    locations: await db.selectFrom('named_locations').selectAll().execute(),
  }),
});

/** The policies that name a user (policy id → include or exclude), and the user's groups by id. */
export interface PolicyMembership {
  policies: Map<string, string>;
  groups: Set<string>;
}

/**
 * What conditional access needs to know of a user beside the catalog, kept
 * in memory. The referenced tables are there because their deletes remove
 * these rows (`on delete cascade`).
 */
export const policyMembershipOf = cachedRead({
  name: 'policies and groups of a user',
  tables: ['access_policy_users', 'user_groups', 'access_policies', 'groups', 'users'],
  key: (userId: string) => userId,
  load: async (db, userId: string): Promise<PolicyMembership> => {
    const named = await db.selectFrom('access_policy_users').select(['policy_id', 'mode']).where('user_id', '=', userId).execute();
    const groups = await db.selectFrom('user_groups').select('group_id').where('user_id', '=', userId).execute();
    return { policies: new Map(named.map((row) => [row.policy_id, row.mode])), groups: new Set(groups.map((row) => row.group_id)) };
  },
});

/** Conditional access policies (SPEC.md §3) and the users they name (`access_policy_users`). */
export const accessPoliciesRepository = {
  /** Every policy, by name. */
  list(db: Executor): Promise<AccessPolicyRow[]> {
    return db.selectFrom('access_policies').selectAll().orderBy('name_key').execute();
  },

  findByKey(db: Executor, nameKey: string): Promise<AccessPolicyRow | undefined> {
    return db.selectFrom('access_policies').selectAll().where('name_key', '=', nameKey).executeTakeFirst();
  },

  async insert(db: Executor, row: AccessPolicyRow): Promise<void> {
    await db.insertInto('access_policies').values(row).execute();
  },

  async update(db: Executor, id: string, row: AccessPolicyRow): Promise<void> {
    await db.updateTable('access_policies').set(row).where('id', '=', id).execute();
  },

  /** Deletes the policy and the users it names. */
  async delete(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('access_policy_users').where('policy_id', '=', id).execute();
    await db.deleteFrom('access_policies').where('id', '=', id).execute();
  },

  /** Makes `users` the users the policy names. */
  async replaceUsers(db: Executor, policyId: string, users: Omit<AccessPolicyUserRow, 'policy_id'>[]): Promise<void> {
    await db.deleteFrom('access_policy_users').where('policy_id', '=', policyId).execute();
    if (users.length > 0) await db.insertInto('access_policy_users').values(users.map((user) => ({ policy_id: policyId, ...user }))).execute();
  },

  /** The users a policy names, with their usernames, by username. */
  usersOf(db: Executor, policyId: string): Promise<{ username: string; mode: string }[]> {
    return db
      .selectFrom('access_policy_users')
      .innerJoin('users', 'users.id', 'access_policy_users.user_id')
      .select(['users.username', 'access_policy_users.mode'])
      .where('policy_id', '=', policyId)
      .orderBy('users.username_key')
      .execute();
  },

  /** The id of the group, application or named location a condition names, by its name key. */
  async referencedId(db: Executor, table: ReferencedTable, nameKey: string): Promise<string | undefined> {
    return (await db.selectFrom(table).select('id').where('name_key', '=', nameKey).executeTakeFirst())?.id;
  },

  /** The names of the groups, applications or named locations a policy's conditions name, by id (deleted ones are missing). */
  async referencedNames(db: Executor, table: ReferencedTable, ids: string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = await db.selectFrom(table).select(['id', 'name']).where('id', 'in', ids).execute();
    return new Map(rows.map((row) => [row.id, row.name]));
  },
};
