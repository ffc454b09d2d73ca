import type { Insertable } from 'kysely';
import type { Actor } from '../../shared/actor.js';
import { appError, type ErrorCode } from '../../shared/errors.js';
import type { Keyring } from '../../shared/keyring.js';
import type { Executor } from '../../storage/database.js';
import { groupsRepository } from '../../storage/repositories/groups.js';
import type { NewUserRow, UserChangesTable, UserRow } from '../../storage/schema.js';
import type { FieldError } from './phone.js';
import { hashPin } from './pin.js';
import { groupKey, usernameKey, type CleanUserFields } from './user-input.js';

export type ChangeType = 'create' | 'update' | 'delete';

/** Throws the first field error as an AppError carrying all of them. */
export function throwFieldErrors(errors: FieldError[]): void {
  const first = errors[0];
  if (!first) return;
  throw appError(first.code as ErrorCode, `${first.field}: ${first.message}`, { field: first.field, errors });
}

/** The row of a new user from validated fields, with defaults for what was not given. */
export function newUserRow(id: string, fields: CleanUserFields & { username: string }, keyring: Keyring, now: number): NewUserRow {
  return {
    id,
    username: fields.username,
    username_key: usernameKey(fields.username),
    first_name: fields.firstName ?? null,
    last_name: fields.lastName ?? null,
    email: fields.email ?? null,
    language: fields.language ?? 'en',
    account_enabled: fields.accountEnabled === false ? 0 : 1,
    mfa_state: fields.mfaState ?? 'Enabled',
    pin_hash: fields.pin ? hashPin(keyring, id, fields.pin) : null,
    pin_change_required: fields.pinChangeRequired ? 1 : 0,
    oath_mode: fields.oathMode ?? 'standard',
    sms_mode: fields.smsMode ?? 'otp',
    sms_direction: fields.smsDirection ?? 'one_way',
    call_mode: fields.callMode ?? 'standard',
    app_mode: fields.appMode ?? 'standard',
    phone_country_code: fields.phone?.countryCode ?? null,
    phone_number: fields.phone?.number ?? null,
    phone_extension: fields.phone?.extension ?? null,
    backup_country_code: fields.backupPhone?.countryCode ?? null,
    backup_phone_number: fields.backupPhone?.number ?? null,
    backup_extension: fields.backupPhone?.extension ?? null,
    admin_role: fields.adminRole ?? null,
    password_hash: null,
    sspr_email: null,
    created_at: now,
    updated_at: now,
  };
}

/**
 * The SPEC.md §5 change record of a user change. The new phone, backup phone
 * and PIN columns are filled only when those changed; the PIN travels as its
 * keyed hash, never in clear.
 */
export function changeRecord(
  row: NewUserRow | UserRow,
  type: ChangeType,
  fields: string[],
  actor: Actor,
  now: number,
): Insertable<UserChangesTable> {
  const phoneChanged = type === 'create' || fields.includes('phone');
  const backupChanged = type === 'create' || fields.includes('backup_phone');
  const pinChanged = fields.includes('pin');
  return {
    changed_at: now,
    user_id: row.id,
    username: row.username,
    change_type: type,
    changed_fields: JSON.stringify(fields),
    new_country_code: phoneChanged ? row.phone_country_code ?? null : null,
    new_phone_number: phoneChanged ? row.phone_number ?? null : null,
    new_extension: phoneChanged ? row.phone_extension ?? null : null,
    new_backup_country_code: backupChanged ? row.backup_country_code ?? null : null,
    new_backup_phone_number: backupChanged ? row.backup_phone_number ?? null : null,
    new_backup_extension: backupChanged ? row.backup_extension ?? null : null,
    new_pin_hash: pinChanged ? row.pin_hash ?? null : null,
    pin_change_required: type === 'delete' ? null : Number(row.pin_change_required ?? 0),
    old_device_token: null,
    new_device_token: null,
    actor_type: actor.type,
    actor_id: actor.id,
  };
}

/** Group ids for names; unknown names are an error naming them. */
export async function resolveGroupIds(db: Executor, names: string[]): Promise<{ ids: string[]; names: string[] }> {
  if (names.length === 0) return { ids: [], names: [] };
  const rows = await groupsRepository.findByKeys(db, names.map(groupKey));
  const found = new Set(rows.map((row) => row.name_key));
  const missing = names.filter((name) => !found.has(groupKey(name)));
  if (missing.length > 0) {
    throw appError('unknown_group', `groups: no such group ${missing.map((name) => `"${name}"`).join(', ')}`, { field: 'groups', missing });
  }
  const sorted = [...rows].sort((a, b) => a.name_key.localeCompare(b.name_key));
  return { ids: sorted.map((row) => row.id), names: sorted.map((row) => row.name) };
}

/** Names of the fields set in a validated input, as the API spells them. */
export function givenFields(fields: CleanUserFields): string[] {
  const names: Record<keyof CleanUserFields, string> = {
    username: 'username',
    firstName: 'first_name',
    lastName: 'last_name',
    email: 'email',
    language: 'language',
    accountEnabled: 'account_enabled',
    mfaState: 'mfa_state',
    pin: 'pin',
    pinChangeRequired: 'pin_change_required',
    oathMode: 'oath_mode',
    smsMode: 'sms_mode',
    smsDirection: 'sms_direction',
    callMode: 'call_mode',
    appMode: 'app_mode',
    phone: 'phone',
    backupPhone: 'backup_phone',
    groups: 'groups',
    adminRole: 'admin_role',
  };
  return (Object.keys(fields) as (keyof CleanUserFields)[]).filter((key) => fields[key] !== undefined).map((key) => names[key]);
}
