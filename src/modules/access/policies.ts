import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import { appError, assert } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import type { Db, Executor, UnitOfWork } from '../../storage/database.js';
import { isUniqueViolation } from '../../storage/errors.js';
import { accessPoliciesRepository as policies, type AccessPolicyRow, type ReferencedTable } from '../../storage/repositories/access-policies.js';
import { usersRepository } from '../../storage/repositories/users.js';
import { writeAudit } from '../audit/audit.js';
import { usernameKey } from '../directory/user-input.js';
import { cleanName, nameKey } from '../../shared/names.js';

export const GRANTS = ['block', 'allow', 'mfa'] as const;
export const CLIENT_TYPES = ['modern', 'legacy'] as const;
export const DEVICE_STATES = ['registered', 'unregistered'] as const;
export const POLICY_STATES = ['enabled', 'disabled'] as const;

export type Grant = (typeof GRANTS)[number];
export type ClientType = (typeof CLIENT_TYPES)[number];
export type DeviceState = (typeof DEVICE_STATES)[number];
export type PolicyRow = AccessPolicyRow;

/** Words that stand for a set rather than a name: all users or applications, any location, every trusted location. */
export const ALL = 'all';
export const ANY_LOCATION = 'any';
export const TRUSTED_LOCATIONS = 'trusted';

const MAX_NAMES = 1000;
export const MAX_REMEMBER_DAYS = 365;

/** A policy's conditions as stored: groups, applications and named locations by id (the users are rows of access_policy_users). */
export interface StoredConditions {
  allUsers: boolean;
  groups: { include: string[]; exclude: string[] };
  applications: { all: boolean; include: string[]; exclude: string[] };
  locations: { any: boolean; includeTrusted: boolean; include: string[]; excludeTrusted: boolean; exclude: string[] };
  clientTypes: ClientType[];
  deviceStates: DeviceState[];
}

/** Include and exclude lists, by name. */
export interface Selection {
  include: string[];
  exclude: string[];
}

export interface PolicyView {
  id: string;
  name: string;
  state: (typeof POLICY_STATES)[number];
  users: Selection;
  groups: Selection;
  applications: Selection;
  locations: Selection;
  client_types: ClientType[];
  device_states: DeviceState[];
  grant: Grant;
  remember_mfa_days: number | null;
  created_at: string;
  updated_at: string;
}

/** What an administrator sends: any shape, checked here (the CLI reads it from a file, the API from a body). */
export type PolicyFields = Partial<Record<'name' | 'state' | 'users' | 'groups' | 'applications' | 'locations' | 'client_types' | 'device_states' | 'grant' | 'remember_mfa_days', unknown>>;

function names(value: unknown, field: string): string[] {
  if (value === undefined) return [];
  assert(Array.isArray(value) && value.length <= MAX_NAMES && value.every((item) => typeof item === 'string' && item.trim() !== ''), 'validation_failed', `${field}: must be a list of names (at most ${MAX_NAMES})`, { field });
  return [...new Set((value as string[]).map((item) => item.trim()))];
}

function selection(value: unknown, field: string): Selection {
  if (value === undefined) return { include: [], exclude: [] };
  assert(typeof value === 'object' && value !== null && !Array.isArray(value), 'validation_failed', `${field}: must be an object with include and exclude lists`, { field });
  const extra = Object.keys(value as object).filter((key) => key !== 'include' && key !== 'exclude');
  assert(extra.length === 0, 'validation_failed', `${field}.${extra[0]}: unknown key (known: include, exclude)`, { field });
  const { include, exclude } = value as { include?: unknown; exclude?: unknown };
  return { include: names(include, `${field}.include`), exclude: names(exclude, `${field}.exclude`) };
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string, fallback?: T): T {
  if (value === undefined && fallback !== undefined) return fallback;
  assert(typeof value === 'string' && (allowed as readonly string[]).includes(value), 'validation_failed', `${field}: must be one of ${allowed.join(', ')}`, { field });
  return value as T;
}

function subset<T extends string>(value: unknown, allowed: readonly T[], field: string): T[] {
  if (value === undefined) return [...allowed];
  assert(Array.isArray(value) && value.length >= 1 && value.every((item) => (allowed as readonly unknown[]).includes(item)), 'validation_failed', `${field}: must be a non-empty list of ${allowed.join(', ')}`, { field });
  return allowed.filter((item) => (value as unknown[]).includes(item));
}

function rememberDays(value: unknown, grant: Grant): number | null {
  if (value === undefined || value === null) return null;
  assert(Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_REMEMBER_DAYS, 'validation_failed', `remember_mfa_days: must be a whole number of days from 1 to ${MAX_REMEMBER_DAYS}, or null`, { field: 'remember_mfa_days' });
  assert(grant === 'mfa', 'validation_failed', 'remember_mfa_days: only a policy that requires MFA can remember it', { field: 'remember_mfa_days' });
  return value as number;
}

const KNOWN_FIELDS = new Set(['name', 'state', 'users', 'groups', 'applications', 'locations', 'client_types', 'device_states', 'grant', 'remember_mfa_days']);

/**
 * Conditional access policies (SPEC.md §3). A policy applies to a sign-in
 * when every condition holds: the user (included by name, by group or as
 * all users, and not excluded), the application, the location of the client
 * IP, the client type (modern, or a legacy protocol) and the state of the
 * device (registered to the user or not). Its grant is block, allow or
 * require MFA, and a policy that requires MFA may let the user's device
 * remember it for some days. Evaluation is in `evaluate.ts`.
 */
export class AccessPolicies {
  constructor(private readonly deps: { db: Db; transact: UnitOfWork; clock: Clock }) {}

  async list(): Promise<PolicyView[]> {
    const rows = await policies.list(this.deps.db);
    return Promise.all(rows.map((row) => this.view(this.deps.db, row)));
  }

  async get(name: string): Promise<PolicyView> {
    return this.view(this.deps.db, await this.find(this.deps.db, name));
  }

  async create(fields: PolicyFields, actor: Actor): Promise<PolicyView> {
    const now = this.deps.clock.now();
    const row = await this.deps.transact(async (trx) => {
      const { row, users } = await this.resolve(trx, fields, { id: newId(), created_at: now, updated_at: now });
      await this.guardUnique(() => policies.insert(trx, row), row.name);
      await policies.replaceUsers(trx, row.id, users);
      await writeAudit(trx, this.deps.clock, actor, { action: 'policy.create', targetType: 'policy', targetId: row.id, details: { name: row.name, grant: row.grant_control } });
      return row;
    });
    return this.view(this.deps.db, row);
  }

  /** Changes the fields given; the rest keep their values. */
  async update(name: string, fields: PolicyFields, actor: Actor): Promise<PolicyView> {
    const now = this.deps.clock.now();
    const row = await this.deps.transact(async (trx) => {
      const existing = await this.find(trx, name);
      const current = await this.view(trx, existing);
      // Groups and applications deleted since the policy was saved drop out of it.
      for (const key of ['groups', 'applications', 'locations'] as const) {
        for (const mode of ['include', 'exclude'] as const) current[key][mode] = current[key][mode].filter((item) => !item.startsWith('(deleted '));
      }
      const merged = { ...current, ...fields } as PolicyFields & Partial<PolicyView>;
      // A grant other than mfa drops remember_mfa_days unless the change sets it.
      if (fields.grant !== undefined && fields.grant !== 'mfa' && fields.remember_mfa_days === undefined) merged.remember_mfa_days = null;
      const { row, users } = await this.resolve(trx, merged, { id: existing.id, created_at: existing.created_at, updated_at: now });
      await this.guardUnique(() => policies.update(trx, existing.id, row), row.name);
      await policies.replaceUsers(trx, existing.id, users);
      await writeAudit(trx, this.deps.clock, actor, { action: 'policy.update', targetType: 'policy', targetId: existing.id, details: { fields: Object.keys(fields) } });
      return row;
    });
    return this.view(this.deps.db, row);
  }

  async delete(name: string, actor: Actor): Promise<void> {
    await this.deps.transact(async (trx) => {
      const policy = await this.find(trx, name);
      await policies.delete(trx, policy.id);
      await writeAudit(trx, this.deps.clock, actor, { action: 'policy.delete', targetType: 'policy', targetId: policy.id, details: { name: policy.name } });
    });
  }

  private async find(db: Executor, name: string): Promise<PolicyRow> {
    const row = await policies.findByKey(db, nameKey(name));
    if (!row) throw appError('policy_not_found', `policy ${name} does not exist`);
    return row;
  }

  /** Checks every field and turns names into ids, naming the first that is wrong or unknown. */
  private async resolve(db: Executor, fields: PolicyFields, meta: Pick<PolicyRow, 'id' | 'created_at' | 'updated_at'>): Promise<{ row: PolicyRow; users: { user_id: string; mode: string }[] }> {
    const unknown = Object.keys(fields).filter((key) => !KNOWN_FIELDS.has(key) && !['id', 'created_at', 'updated_at'].includes(key));
    assert(unknown.length === 0, 'validation_failed', `${unknown[0]}: unknown field`, { field: unknown[0] });
    const name = cleanName(fields.name);
    const grant = oneOf(fields.grant, GRANTS, 'grant');
    const users = selection(fields.users, 'users');
    const groups = selection(fields.groups, 'groups');
    const applications = selection(fields.applications, 'applications');
    const locations = selection(fields.locations, 'locations');
    assert(users.include.length + groups.include.length > 0, 'validation_failed', 'users.include: name the users or groups the policy applies to (or "all")', { field: 'users' });
    assert(!users.exclude.includes(ALL), 'validation_failed', 'users.exclude: "all" can only be included', { field: 'users' });
    assert(!applications.exclude.includes(ALL), 'validation_failed', 'applications.exclude: "all" can only be included', { field: 'applications' });
    assert(!locations.exclude.includes(ANY_LOCATION), 'validation_failed', 'locations.exclude: "any" can only be included', { field: 'locations' });

    const userIds = async (list: string[], field: string) => {
      const ids: string[] = [];
      for (const username of list.filter((item) => item !== ALL)) {
        const row = await usersRepository.findByKey(db, usernameKey(username));
        assert(row !== undefined, 'validation_failed', `${field}: user ${username} does not exist`, { field });
        ids.push(row!.id);
      }
      return ids;
    };
    const idsIn = async (table: ReferencedTable, list: string[], field: string, what: string) => {
      const ids: string[] = [];
      for (const item of list) {
        const id = await policies.referencedId(db, table, item.toLowerCase());
        assert(id !== undefined, 'validation_failed', `${field}: ${what} ${item} does not exist`, { field });
        ids.push(id!);
      }
      return ids;
    };
    const locationNames = (list: string[]) => list.filter((item) => item !== ANY_LOCATION && item !== TRUSTED_LOCATIONS);
    const conditions: StoredConditions = {
      allUsers: users.include.includes(ALL),
      groups: { include: await idsIn('groups', groups.include, 'groups.include', 'group'), exclude: await idsIn('groups', groups.exclude, 'groups.exclude', 'group') },
      applications: {
        all: applications.include.length === 0 || applications.include.includes(ALL),
        include: await idsIn('applications', applications.include.filter((item) => item !== ALL), 'applications.include', 'application'),
        exclude: await idsIn('applications', applications.exclude, 'applications.exclude', 'application'),
      },
      locations: {
        any: locations.include.length === 0 || locations.include.includes(ANY_LOCATION),
        includeTrusted: locations.include.includes(TRUSTED_LOCATIONS),
        include: await idsIn('named_locations', locationNames(locations.include), 'locations.include', 'named location'),
        excludeTrusted: locations.exclude.includes(TRUSTED_LOCATIONS),
        exclude: await idsIn('named_locations', locationNames(locations.exclude), 'locations.exclude', 'named location'),
      },
      clientTypes: subset(fields.client_types, CLIENT_TYPES, 'client_types'),
      deviceStates: subset(fields.device_states, DEVICE_STATES, 'device_states'),
    };
    const included = await userIds(users.include, 'users.include');
    const excluded = await userIds(users.exclude, 'users.exclude');
    assert(!included.some((id) => excluded.includes(id)), 'validation_failed', 'users: a user cannot be both included and excluded', { field: 'users' });
    const row: PolicyRow = {
      ...meta,
      name,
      name_key: nameKey(name),
      state: oneOf(fields.state, POLICY_STATES, 'state', 'enabled'),
      grant_control: grant,
      remember_mfa_days: rememberDays(fields.remember_mfa_days, grant),
      conditions: JSON.stringify(conditions),
    };
    return { row, users: [...included.map((user_id) => ({ user_id, mode: 'include' })), ...excluded.map((user_id) => ({ user_id, mode: 'exclude' }))] };
  }

  /** The policy with names for ids; a group or application deleted since shows as its id in brackets. */
  private async view(db: Executor, row: PolicyRow): Promise<PolicyView> {
    const conditions = JSON.parse(row.conditions) as StoredConditions;
    const members = await policies.usersOf(db, row.id);
    const nameOf = async (table: ReferencedTable, ids: string[]) => {
      const byId = await policies.referencedNames(db, table, ids);
      return ids.map((id) => byId.get(id) ?? `(deleted ${id})`);
    };
    const { groups, applications, locations } = conditions;
    return {
      id: row.id,
      name: row.name,
      state: row.state as PolicyView['state'],
      users: {
        include: [...(conditions.allUsers ? [ALL] : []), ...members.filter((member) => member.mode === 'include').map((member) => member.username)],
        exclude: members.filter((member) => member.mode === 'exclude').map((member) => member.username),
      },
      groups: { include: await nameOf('groups', groups.include), exclude: await nameOf('groups', groups.exclude) },
      applications: { include: applications.all ? [ALL] : await nameOf('applications', applications.include), exclude: await nameOf('applications', applications.exclude) },
      locations: {
        include: locations.any ? [ANY_LOCATION] : [...(locations.includeTrusted ? [TRUSTED_LOCATIONS] : []), ...(await nameOf('named_locations', locations.include))],
        exclude: [...(locations.excludeTrusted ? [TRUSTED_LOCATIONS] : []), ...(await nameOf('named_locations', locations.exclude))],
      },
      client_types: conditions.clientTypes,
      device_states: conditions.deviceStates,
      grant: row.grant_control as Grant,
      remember_mfa_days: row.remember_mfa_days,
      created_at: new Date(row.created_at).toISOString(),
      updated_at: new Date(row.updated_at).toISOString(),
    };
  }

  private async guardUnique(write: () => Promise<unknown>, name: string): Promise<void> {
    try {
      await write();
    } catch (error) {
      if (isUniqueViolation(error)) throw appError('policy_name_taken', `name: policy ${name} already exists`, { field: 'name' }, error);
      throw error;
    }
  }
}
