import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * Booleans are written as 1/0 (SQLite has no boolean; PostgreSQL accepts 1/0
 * for a boolean column) and read back as number or boolean depending on the
 * dialect; repositories turn them into booleans with `Boolean()`.
 */
export type Bool = ColumnType<number | boolean, number, number>;
/** Milliseconds since the Unix epoch (bigint in PostgreSQL, parsed to number). */
export type Millis = number;

export interface UsersTable {
  id: string;
  username: string;
  /** Lower-cased username: the unique key. User principal names compare case-insensitively. */
  username_key: string;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  language: string;
  account_enabled: Bool;
  mfa_state: string;
  pin_hash: string | null;
  pin_change_required: Bool;
  phone_country_code: string | null;
  phone_number: string | null;
  phone_extension: string | null;
  backup_country_code: string | null;
  backup_phone_number: string | null;
  backup_extension: string | null;
  created_at: Millis;
  updated_at: Millis;
}

export interface GroupsTable {
  id: string;
  name: string;
  name_key: string;
  description: string | null;
  created_at: Millis;
  updated_at: Millis;
}

export interface UserGroupsTable {
  user_id: string;
  group_id: string;
}

/** SPEC.md §5 "Changes": kept to synchronise user changes between nodes and the directory. */
export interface UserChangesTable {
  id: Generated<number>;
  changed_at: Millis;
  user_id: string;
  username: string;
  change_type: string;
  changed_fields: string;
  new_country_code: string | null;
  new_phone_number: string | null;
  new_extension: string | null;
  new_backup_country_code: string | null;
  new_backup_phone_number: string | null;
  new_backup_extension: string | null;
  new_pin_hash: string | null;
  pin_change_required: Bool | null;
  old_device_token: string | null;
  new_device_token: string | null;
  actor_type: string;
  actor_id: string;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: Millis;
  actor_type: string;
  actor_id: string;
  actor_role: string | null;
  entry_point: string;
  request_id: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  details: string;
}

export interface AdminKeysTable {
  id: string;
  name: string;
  role: string;
  key_hash: string;
  created_at: Millis;
  created_by: string;
  last_used_at: Millis | null;
  revoked_at: Millis | null;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface SchemaMigrationsTable {
  name: string;
  applied_at: Millis;
}

export interface Database {
  users: UsersTable;
  groups: GroupsTable;
  user_groups: UserGroupsTable;
  user_changes: UserChangesTable;
  audit_log: AuditLogTable;
  admin_keys: AdminKeysTable;
  settings: SettingsTable;
  schema_migrations: SchemaMigrationsTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type UserRowUpdate = Updateable<UsersTable>;
export type GroupRow = Selectable<GroupsTable>;
export type AdminKeyRow = Selectable<AdminKeysTable>;
export type AuditRow = Selectable<AuditLogTable>;
export type UserChangeRow = Selectable<UserChangesTable>;
