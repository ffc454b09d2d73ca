import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import { decodeCursor, encodeCursor } from '../../shared/cursor.js';
import { appError, assert } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import type { Keyring } from '../../shared/keyring.js';
import type { Db, Executor, Unit, UnitOfWork } from '../../storage/database.js';
import { isUniqueViolation } from '../../storage/errors.js';
import { groupsRepository } from '../../storage/repositories/groups.js';
import { changesRepository } from '../../storage/repositories/records.js';
import { usersRepository } from '../../storage/repositories/users.js';
import type { UserRow, UserRowUpdate } from '../../storage/schema.js';
import { writeAudit } from '../audit/audit.js';
import type { UserChangeLog } from '../privacy/personal-log.js';
import { assertMayAssignRoles, assertMayManageMethods } from '../admin-access/targets.js';
import { hashPin } from './pin.js';
import { cleanUserFields, groupKey, usernameKey, type CleanUserFields, type InputRules, type UserFields } from './user-input.js';
import { changeRecord, givenFields, newUserRow, resolveGroupIds, throwFieldErrors, type ChangeType } from './user-records.js';
import { toChangeRecordView, toUserView, type ChangeRecordView, type UserView } from './user-view.js';

export interface DirectoryDeps {
  db: Db;
  /** Runs a unit of work (Storage.transact): every write goes through one. */
  transact: UnitOfWork;
  keyring: Keyring;
  clock: Clock;
  rules: InputRules;
  /** The service-log lines of user changes (SPEC.md §6: an administrator can turn them off; change records stay). */
  changeLog: UserChangeLog;
  /** Removes what other modules (verification methods) hold of a user, in the delete's transaction. */
  userDataCleaners?: ((db: Executor, userId: string) => Promise<unknown>)[];
}

export interface UserListOptions {
  search?: string;
  group?: string;
  cursor?: string;
  limit?: number;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** API field name of each user column, for change records. */
const FIELD_OF_COLUMN: Partial<Record<keyof UserRow, string>> = {
  username: 'username',
  username_key: 'username',
  first_name: 'first_name',
  last_name: 'last_name',
  email: 'email',
  language: 'language',
  account_enabled: 'account_enabled',
  mfa_state: 'mfa_state',
  pin_hash: 'pin',
  pin_change_required: 'pin_change_required',
  oath_mode: 'oath_mode',
  sms_mode: 'sms_mode',
  sms_direction: 'sms_direction',
  call_mode: 'call_mode',
  app_mode: 'app_mode',
  phone_country_code: 'phone',
  phone_number: 'phone',
  phone_extension: 'phone',
  backup_country_code: 'backup_phone',
  backup_phone_number: 'backup_phone',
  backup_extension: 'backup_phone',
};

/** Fields that are (or reach) a verification method: SPEC.md §6 limits who may change them on an administrator's account. */
const METHOD_FIELDS = new Set(['phone', 'backup_phone', 'email', 'pin', 'sspr_email']);

/** The fields an update really changes, sorted. */
function changedFields(patch: UserRowUpdate, groupsChanged: boolean): string[] {
  const fields = new Set(Object.keys(patch).map((column) => FIELD_OF_COLUMN[column as keyof UserRow] ?? column));
  if (groupsChanged) fields.add('groups');
  return [...fields].sort();
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && b.every((item) => a.includes(item));

/** Users of the local directory: every write lands with its change record and audit record in one transaction. */
export class Directory {
  constructor(private readonly deps: DirectoryDeps) {}

  async get(username: string): Promise<UserView> {
    const row = await this.find(this.deps.db, username);
    const groups = await groupsRepository.namesByUser(this.deps.db, [row.id]);
    return toUserView(row, groups.get(row.id) ?? []);
  }

  async create(input: UserFields, actor: Actor): Promise<UserView> {
    assert(typeof input.username === 'string', 'validation_failed', 'username: required', { field: 'username' });
    const { value, errors } = cleanUserFields(input, this.deps.rules);
    throwFieldErrors(errors);
    if (value.adminRole) assertMayAssignRoles(actor);
    const now = this.deps.clock.now();
    const row = newUserRow(newId(), value as CleanUserFields & { username: string }, this.deps.keyring, now);
    const fields = givenFields(value);
    const { groupNames, logLine } = await this.deps.transact(async (trx) => {
      assert(!(await usersRepository.findByKey(trx, row.username_key)), 'username_taken', `username: ${row.username} already exists`, { field: 'username' });
      const groups = await resolveGroupIds(trx, value.groups ?? []);
      await this.insertUser(trx, row);
      await groupsRepository.setMembership(trx, row.id, groups.ids);
      return { groupNames: groups.names, logLine: await this.record(trx, row, 'create', fields, actor, now) };
    });
    logLine();
    return toUserView(row as UserRow, groupNames);
  }

  async update(username: string, input: UserFields, actor: Actor): Promise<UserView> {
    const { value, errors } = cleanUserFields(input, this.deps.rules);
    throwFieldErrors(errors);
    if (value.adminRole !== undefined) assertMayAssignRoles(actor);
    const now = this.deps.clock.now();
    const { row, logLine } = await this.deps.transact(async (trx) => {
      const current = await this.lock(trx, username);
      const patch = this.patchFor(current, value);
      if (value.username !== undefined && usernameKey(value.username) !== current.username_key) {
        assert(!(await usersRepository.findByKey(trx, patch.username_key!)), 'username_taken', `username: ${value.username} already exists`, { field: 'username' });
      }
      const groupIds = value.groups === undefined ? undefined : (await resolveGroupIds(trx, value.groups)).ids;
      const groupsChanged = groupIds !== undefined && !sameSet(groupIds, await groupsRepository.groupIdsOf(trx, current.id));
      const changed = changedFields(patch, groupsChanged);
      if (changed.some((field) => METHOD_FIELDS.has(field))) assertMayManageMethods(actor, current);
      if (changed.length === 0) return { row: current, logLine: () => undefined };
      const updated = { ...current, ...patch, updated_at: now } as UserRow;
      await this.updateUser(trx, current.id, { ...patch, updated_at: now });
      if (groupsChanged) await groupsRepository.setMembership(trx, current.id, groupIds);
      return { row: updated, logLine: await this.record(trx, updated, 'update', changed, actor, now) };
    });
    logLine();
    return this.get(row.username);
  }

  async delete(username: string, actor: Actor): Promise<void> {
    const now = this.deps.clock.now();
    const logLine = await this.deps.transact(async (trx) => {
      const current = await this.lock(trx, username);
      for (const clean of this.deps.userDataCleaners ?? []) await clean(trx, current.id);
      await usersRepository.delete(trx, current.id);
      return this.record(trx, current, 'delete', [], actor, now);
    });
    logLine();
  }

  async list(options: UserListOptions): Promise<Page<UserView>> {
    const limit = options.limit ?? 100;
    assert(Number.isInteger(limit) && limit >= 1 && limit <= 1000, 'validation_failed', 'limit: must be 1 to 1000', { field: 'limit' });
    let groupId: string | undefined;
    if (options.group !== undefined) {
      const group = await groupsRepository.findByKey(this.deps.db, groupKey(options.group));
      if (!group) throw appError('group_not_found', `group ${options.group} does not exist`);
      groupId = group.id;
    }
    const rows = await usersRepository.list(this.deps.db, {
      search: options.search?.trim() || undefined,
      groupId,
      afterKey: options.cursor === undefined ? undefined : decodeCursor<string>(options.cursor, 'string'),
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const groups = await groupsRepository.namesByUser(this.deps.db, page.map((row) => row.id));
    return {
      items: page.map((row) => toUserView(row, groups.get(row.id) ?? [])),
      next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.username_key) : null,
    };
  }

  /** SPEC.md §5 change records after `afterId`, oldest first: the feed other nodes synchronise from. */
  async changesSince(afterId: number, limit: number): Promise<ChangeRecordView[]> {
    return (await changesRepository.listSince(this.deps.db, afterId, limit)).map(toChangeRecordView);
  }

  /**
   * Finds a user by username inside a unit of work and locks the row until
   * the unit ends, or fails with user_not_found: a unit that changes a user
   * waits for the user's authentications and other changes to finish, and
   * they for it (docs/architecture.md, "One unit of work per user").
   */
  async lock(unit: Unit, username: string): Promise<UserRow> {
    const row = await usersRepository.lockByKey(unit, usernameKey(username));
    if (!row) throw appError('user_not_found', `user ${username} does not exist`);
    return row;
  }

  /** `lock` by the user's id. */
  async lockById(unit: Unit, id: string): Promise<UserRow> {
    const row = await usersRepository.lockById(unit, id);
    if (!row) throw appError('user_not_found', `user ${id} does not exist`);
    return row;
  }

  /** Finds a user by username (case-insensitive) or fails with user_not_found. */
  async find(db: Executor, username: string): Promise<UserRow> {
    const row = await usersRepository.findByKey(db, usernameKey(username));
    if (!row) throw appError('user_not_found', `user ${username} does not exist`);
    return row;
  }

  /** Only the columns whose value really changes. */
  private patchFor(current: UserRow, value: CleanUserFields): UserRowUpdate {
    const next: UserRowUpdate = {};
    const set = <K extends keyof UserRowUpdate>(key: K, wanted: UserRowUpdate[K] | undefined) => {
      if (wanted !== undefined && wanted !== current[key as keyof UserRow]) next[key] = wanted;
    };
    if (value.username !== undefined) {
      set('username', value.username);
      set('username_key', usernameKey(value.username));
    }
    set('first_name', value.firstName);
    set('last_name', value.lastName);
    set('email', value.email);
    set('language', value.language);
    if (value.accountEnabled !== undefined && value.accountEnabled !== Boolean(current.account_enabled)) next.account_enabled = value.accountEnabled ? 1 : 0;
    set('mfa_state', value.mfaState);
    set('admin_role', value.adminRole);
    set('oath_mode', value.oathMode);
    set('sms_mode', value.smsMode);
    set('sms_direction', value.smsDirection);
    set('call_mode', value.callMode);
    set('app_mode', value.appMode);
    // The keyed hash is deterministic per user, so setting the same PIN again is no change.
    if (value.pin !== undefined) set('pin_hash', value.pin === null ? null : hashPin(this.deps.keyring, current.id, value.pin));
    if (value.pinChangeRequired !== undefined && value.pinChangeRequired !== Boolean(current.pin_change_required)) {
      next.pin_change_required = value.pinChangeRequired ? 1 : 0;
    }
    if (value.phone !== undefined) {
      set('phone_country_code', value.phone?.countryCode ?? null);
      set('phone_number', value.phone?.number ?? null);
      set('phone_extension', value.phone?.extension ?? null);
    }
    if (value.backupPhone !== undefined) {
      set('backup_country_code', value.backupPhone?.countryCode ?? null);
      set('backup_phone_number', value.backupPhone?.number ?? null);
      set('backup_extension', value.backupPhone?.extension ?? null);
    }
    return next;
  }

  private async insertUser(db: Executor, row: Parameters<typeof usersRepository.insert>[1]): Promise<void> {
    try {
      await usersRepository.insert(db, row);
    } catch (error) {
      if (isUniqueViolation(error)) throw appError('username_taken', `username: ${row.username} already exists`, { field: 'username' }, error);
      throw error;
    }
  }

  private async updateUser(db: Executor, id: string, patch: UserRowUpdate): Promise<void> {
    try {
      await usersRepository.update(db, id, patch);
    } catch (error) {
      if (isUniqueViolation(error)) throw appError('username_taken', `username: ${patch.username} already exists`, { field: 'username' }, error);
      throw error;
    }
  }

  /** Writes the change and audit records; returns what writes the service-log line once the transaction has committed. */
  private async record(db: Executor, row: Parameters<typeof changeRecord>[0], type: ChangeType, fields: string[], actor: Actor, now: number): Promise<() => void> {
    await changesRepository.insertMany(db, [changeRecord(row, type, fields, actor, now)]);
    await writeAudit(db, this.deps.clock, actor, { action: `user.${type}`, targetType: 'user', targetId: row.id, details: { fields } });
    const message = { create: 'user added', update: 'user changed', delete: 'user deleted' }[type];
    return this.deps.changeLog.prepare(db, row, `user.${type}`, message, { fields, actor: `${actor.type}:${actor.id}` });
  }
}
