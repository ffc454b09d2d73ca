import type { Executor } from '../database.js';
import type { UserRow } from '../schema.js';

/**
 * Members of a group as whole user rows: a group's deletion writes a change
 * record for each. (Kept apart from groups.ts, which returns memberships and
 * names, not users.)
 */
export const groupMembersRepository = {
  usersOf(db: Executor, groupId: string): Promise<UserRow[]> {
    return db.selectFrom('user_groups').innerJoin('users', 'users.id', 'user_groups.user_id').selectAll('users').where('user_groups.group_id', '=', groupId).execute();
  },
};
