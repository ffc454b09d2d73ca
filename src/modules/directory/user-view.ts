import type { UserChangeRow, UserRow } from '../../storage/schema.js';
import type { APP_MODES, CALL_MODES, MfaState, OATH_MODES, SMS_DIRECTIONS, SMS_MODES } from './user-input.js';

export interface PhoneView {
  country_code: string;
  number: string;
  extension: string | null;
}

/** A user as the API, CLI and exports show it. The PIN itself is never shown. */
export interface UserView {
  id: string;
  username: string;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  language: string;
  account_enabled: boolean;
  mfa_state: MfaState;
  /** The administrator role the person holds, or null. */
  admin_role: string | null;
  /** Whether the user has a password (local directory; never shown). */
  password_set: boolean;
  /** The e-mail address registered for self-service password reset. */
  sspr_email: string | null;
  groups: string[];
  pin_set: boolean;
  pin_change_required: boolean;
  oath_mode: (typeof OATH_MODES)[number];
  sms_mode: (typeof SMS_MODES)[number];
  sms_direction: (typeof SMS_DIRECTIONS)[number];
  call_mode: (typeof CALL_MODES)[number];
  app_mode: (typeof APP_MODES)[number];
  phone: PhoneView | null;
  backup_phone: PhoneView | null;
  created_at: string;
  updated_at: string;
}

const phoneView = (countryCode: string | null, number: string | null, extension: string | null): PhoneView | null =>
  countryCode && number ? { country_code: countryCode, number, extension } : null;

export function toUserView(row: UserRow, groups: string[]): UserView {
  return {
    id: row.id,
    username: row.username,
    first_name: row.first_name,
    last_name: row.last_name,
    email: row.email,
    language: row.language,
    account_enabled: Boolean(row.account_enabled),
    mfa_state: row.mfa_state as MfaState,
    admin_role: row.admin_role,
    password_set: row.password_hash !== null,
    sspr_email: row.sspr_email,
    groups,
    pin_set: row.pin_hash !== null,
    pin_change_required: Boolean(row.pin_change_required),
    oath_mode: row.oath_mode as UserView['oath_mode'],
    sms_mode: row.sms_mode as UserView['sms_mode'],
    sms_direction: row.sms_direction as UserView['sms_direction'],
    call_mode: row.call_mode as UserView['call_mode'],
    app_mode: row.app_mode as UserView['app_mode'],
    phone: phoneView(row.phone_country_code, row.phone_number, row.phone_extension),
    backup_phone: phoneView(row.backup_country_code, row.backup_phone_number, row.backup_extension),
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

export interface ChangeRecordView {
  id: number;
  changed_at: string;
  user_id: string;
  username: string;
  change_type: string;
  changed_fields: string[];
  new_country_code: string | null;
  new_phone_number: string | null;
  new_extension: string | null;
  new_backup_country_code: string | null;
  new_backup_phone_number: string | null;
  new_backup_extension: string | null;
  new_pin_hash: string | null;
  pin_change_required: boolean | null;
  old_device_token: string | null;
  new_device_token: string | null;
  actor: string;
}

export const toChangeRecordView = (row: UserChangeRow): ChangeRecordView => ({
  id: Number(row.id),
  changed_at: new Date(row.changed_at).toISOString(),
  user_id: row.user_id,
  username: row.username,
  change_type: row.change_type,
  changed_fields: JSON.parse(row.changed_fields) as string[],
  new_country_code: row.new_country_code,
  new_phone_number: row.new_phone_number,
  new_extension: row.new_extension,
  new_backup_country_code: row.new_backup_country_code,
  new_backup_phone_number: row.new_backup_phone_number,
  new_backup_extension: row.new_backup_extension,
  new_pin_hash: row.new_pin_hash,
  pin_change_required: row.pin_change_required === null ? null : Boolean(row.pin_change_required),
  old_device_token: row.old_device_token,
  new_device_token: row.new_device_token,
  actor: `${row.actor_type}:${row.actor_id}`,
});
