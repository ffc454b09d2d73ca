import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import { decodeCursor, encodeCursor } from '../../shared/cursor.js';
import { appError, assert } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import type { Db, Executor, UnitOfWork } from '../../storage/database.js';
import { isUniqueViolation } from '../../storage/errors.js';
import { groupMembersRepository } from '../../storage/repositories/group-members.js';
import { groupsRepository } from '../../storage/repositories/groups.js';
import { changesRepository } from '../../storage/repositories/records.js';
import type { GroupRow } from '../../storage/schema.js';
import { writeAudit } from '../audit/audit.js';
import type { Directory, Page } from './directory.js';
import { cleanName } from '../../shared/names.js';
import { groupKey } from './user-input.js';
import { changeRecord } from './user-records.js';

export interface GroupView {
  id: string;
  name: string;
  description: string | null;
  member_count: number;
  created_at: string;
  updated_at: string;
}

export interface GroupFields {
  name?: string;
  description?: string | null;
}

const toGroupView = (row: GroupRow, memberCount: number): GroupView => ({
  id: row.id,
  name: row.name,
  description: row.description,
  member_count: memberCount,
  created_at: new Date(row.created_at).toISOString(),
  updated_at: new Date(row.updated_at).toISOString(),
});

/** Groups of users; membership changes are user changes and write change records. */
export class Groups {
  constructor(private readonly deps: { db: Db; transact: UnitOfWork; clock: Clock; directory: Directory }) {}

  async get(name: string): Promise<GroupView> {
    return this.view(this.deps.db, await this.find(this.deps.db, name));
  }

  async list(options: { search?: string; cursor?: string; limit?: number }): Promise<Page<GroupView>> {
    const limit = options.limit ?? 100;
    const afterKey = options.cursor === undefined ? undefined : decodeCursor<string>(options.cursor, 'string');
    const rows = await groupsRepository.list(this.deps.db, { afterKey, search: options.search?.trim() || undefined, limit: limit + 1 });
    const page = rows.slice(0, limit);
    const counts = await groupsRepository.memberCounts(this.deps.db, page.map((row) => row.id));
    return {
      items: page.map((row) => toGroupView(row, counts.get(row.id) ?? 0)),
      next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.name_key) : null,
    };
  }

  async create(fields: GroupFields, actor: Actor): Promise<GroupView> {
    assert(typeof fields.name === 'string', 'validation_failed', 'name: required', { field: 'name' });
    const now = this.deps.clock.now();
    const name = cleanName(fields.name);
    const row: GroupRow = { id: newId(), name, name_key: groupKey(name), description: fields.description?.trim() || null, created_at: now, updated_at: now };
    await this.deps.transact(async (trx) => {
      assert(!(await groupsRepository.findByKey(trx, row.name_key)), 'group_name_taken', `name: group ${name} already exists`, { field: 'name' });
      await this.guardUnique(() => groupsRepository.insert(trx, row), name);
      await writeAudit(trx, this.deps.clock, actor, { action: 'group.create', targetType: 'group', targetId: row.id, details: { name } });
    });
    return this.view(this.deps.db, row);
  }

  async update(current: string, fields: GroupFields, actor: Actor): Promise<GroupView> {
    const now = this.deps.clock.now();
    const row = await this.deps.transact(async (trx) => {
      const group = await this.find(trx, current);
      const patch: Partial<GroupRow> = { updated_at: now };
      if (fields.name !== undefined) {
        patch.name = cleanName(fields.name);
        patch.name_key = groupKey(patch.name);
        if (patch.name_key !== group.name_key) {
          assert(!(await groupsRepository.findByKey(trx, patch.name_key)), 'group_name_taken', `name: group ${patch.name} already exists`, { field: 'name' });
        }
      }
      if (fields.description !== undefined) patch.description = fields.description?.trim() || null;
      await this.guardUnique(() => groupsRepository.update(trx, group.id, patch), patch.name ?? group.name);
      await writeAudit(trx, this.deps.clock, actor, { action: 'group.update', targetType: 'group', targetId: group.id, details: { fields: Object.keys(fields) } });
      return { ...group, ...patch };
    });
    return this.view(this.deps.db, row);
  }

  async delete(name: string, actor: Actor): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.transact(async (trx) => {
      const group = await this.find(trx, name);
      const members = await groupMembersRepository.usersOf(trx, group.id);
      await groupsRepository.delete(trx, group.id);
      await changesRepository.insertMany(trx, members.map((user) => changeRecord(user, 'update', ['groups'], actor, now)));
      await writeAudit(trx, this.deps.clock, actor, { action: 'group.delete', targetType: 'group', targetId: group.id, details: { members: members.length } });
    });
  }

  /** Adds users to a group; users already in it are left alone. */
  async addMembers(name: string, usernames: string[], actor: Actor): Promise<GroupView> {
    const now = this.deps.clock.now();
    const group = await this.deps.transact(async (trx) => {
      const group = await this.find(trx, name);
      const users = [];
      for (const username of new Set(usernames)) users.push(await this.deps.directory.lock(trx, username));
      await groupsRepository.addMembers(trx, users.map((user) => ({ user_id: user.id, group_id: group.id })));
      await changesRepository.insertMany(trx, users.map((user) => changeRecord(user, 'update', ['groups'], actor, now)));
      await writeAudit(trx, this.deps.clock, actor, { action: 'group.add_members', targetType: 'group', targetId: group.id, details: { user_ids: users.map((user) => user.id) } });
      return group;
    });
    return this.view(this.deps.db, group);
  }

  async removeMember(name: string, username: string, actor: Actor): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.transact(async (trx) => {
      const group = await this.find(trx, name);
      const user = await this.deps.directory.lock(trx, username);
      const removed = await groupsRepository.removeMember(trx, user.id, group.id);
      if (removed === 0) throw appError('not_found', `user ${username} is not a member of group ${group.name}`);
      await changesRepository.insertMany(trx, [changeRecord(user, 'update', ['groups'], actor, now)]);
      await writeAudit(trx, this.deps.clock, actor, { action: 'group.remove_member', targetType: 'group', targetId: group.id, details: { user_id: user.id } });
    });
  }

  private async find(db: Executor, name: string): Promise<GroupRow> {
    const row = await groupsRepository.findByKey(db, groupKey(name));
    if (!row) throw appError('group_not_found', `group ${name} does not exist`);
    return row;
  }

  private async view(db: Executor, row: GroupRow): Promise<GroupView> {
    return toGroupView(row, await groupsRepository.memberCount(db, row.id));
  }

  private async guardUnique(write: () => Promise<void>, name: string): Promise<void> {
    try {
      await write();
    } catch (error) {
      if (isUniqueViolation(error)) throw appError('group_name_taken', `name: group ${name} already exists`, { field: 'name' }, error);
      throw error;
    }
  }
}
