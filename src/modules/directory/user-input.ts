import type { PhoneInput, FieldError, Phone } from './phone.js';
import { isFieldError, validatePhone } from './phone.js';
import { pinProblem } from './pin.js';
import { normalizeUsername, usernameProblem } from './username.js';
import { parseRole, ROLE_NAMES, type Role } from '../admin-access/roles.js';

export const MFA_STATES = ['Disabled', 'Enabled', 'Enforced'] as const;
export type MfaState = (typeof MFA_STATES)[number];
/** SPEC.md §1 OATH token mode: the code alone, or the PIN typed before the code. */
export const OATH_MODES = ['standard', 'pin'] as const;
/** SPEC.md §1 SMS mode: the one-time code alone, or the code followed by the PIN. */
export const SMS_MODES = ['otp', 'otp_pin'] as const;
/** SPEC.md §1 voice call modes: standard (answer and press #) or pin (the PIN, then #). */
export const CALL_MODES = ['standard', 'pin'] as const;
/** SPEC.md §1 app modes: standard (approve / deny / report fraud) or pin (the PIN entered in the app). */
export const APP_MODES = ['standard', 'pin'] as const;
/** SPEC.md §1 SMS direction: the code typed into the application, or sent back as a reply to the text. */
export const SMS_DIRECTIONS = ['one_way', 'two_way'] as const;

/** Fields an administrator sets on a user; every one optional in an update. `null` clears. */
export interface UserFields {
  username?: string;
  first_name?: string | null;
  last_name?: string | null;
  email?: string | null;
  language?: string;
  account_enabled?: boolean;
  mfa_state?: MfaState;
  pin?: string | null;
  pin_change_required?: boolean;
  oath_mode?: (typeof OATH_MODES)[number];
  sms_mode?: (typeof SMS_MODES)[number];
  sms_direction?: (typeof SMS_DIRECTIONS)[number];
  call_mode?: (typeof CALL_MODES)[number];
  app_mode?: (typeof APP_MODES)[number];
  phone?: PhoneInput | null;
  backup_phone?: PhoneInput | null;
  groups?: string[];
  /** The administrator role the person holds (a wire value of roles.ts), or null. */
  admin_role?: string | null;
}

/** The validated form of UserFields: only the keys that were given. */
export interface CleanUserFields {
  username?: string;
  firstName?: string | null;
  lastName?: string | null;
  email?: string | null;
  language?: string;
  accountEnabled?: boolean;
  mfaState?: MfaState;
  pin?: string | null;
  pinChangeRequired?: boolean;
  oathMode?: (typeof OATH_MODES)[number];
  smsMode?: (typeof SMS_MODES)[number];
  smsDirection?: (typeof SMS_DIRECTIONS)[number];
  callMode?: (typeof CALL_MODES)[number];
  appMode?: (typeof APP_MODES)[number];
  phone?: Phone | null;
  backupPhone?: Phone | null;
  groups?: string[];
  adminRole?: Role | null;
}

export interface InputRules {
  pinMinLength: number;
  pinMaxLength: number;
  defaultCountryCode: string;
}

const CONTROL = /[\u0000-\u001f\u007f]/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const LANGUAGE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

export { usernameKey } from './username.js';
export const groupKey = (name: string): string => name.trim().toLowerCase();

function cleanText(value: string | null | undefined, field: string, max: number, errors: FieldError[]): string | null | undefined {
  if (value === undefined || value === null) return value;
  const text = value.trim();
  if (text.length > max || CONTROL.test(text)) {
    errors.push({ field, code: 'validation_failed', message: `${field} must be at most ${max} printable characters` });
  }
  return text === '' ? null : text;
}

function cleanPhone(input: PhoneInput | null | undefined, field: string, rules: InputRules, errors: FieldError[]): Phone | null | undefined {
  if (input === undefined || input === null) return input;
  const result = validatePhone(input, field, rules.defaultCountryCode);
  if (isFieldError(result)) {
    errors.push(result);
    return undefined;
  }
  return result;
}

/**
 * Validates the fields of a user create or update. Returns every problem at
 * once (the CSV import reports them per row), or the cleaned fields.
 */
export function cleanUserFields(input: UserFields, rules: InputRules): { value: CleanUserFields; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const value: CleanUserFields = {};
  if (input.username !== undefined) {
    const problem = usernameProblem(input.username);
    if (problem) errors.push({ field: 'username', code: 'validation_failed', message: problem });
    value.username = normalizeUsername(input.username);
  }
  if (input.first_name !== undefined) value.firstName = cleanText(input.first_name, 'first_name', 128, errors);
  if (input.last_name !== undefined) value.lastName = cleanText(input.last_name, 'last_name', 128, errors);
  if (input.email !== undefined) {
    value.email = cleanText(input.email, 'email', 254, errors);
    if (value.email && !EMAIL.test(value.email)) errors.push({ field: 'email', code: 'validation_failed', message: 'email is not an e-mail address' });
  }
  if (input.language !== undefined) {
    if (!LANGUAGE.test(input.language)) errors.push({ field: 'language', code: 'validation_failed', message: 'language must be a language tag such as en or fr-CA' });
    value.language = input.language;
  }
  if (input.account_enabled !== undefined) value.accountEnabled = input.account_enabled;
  if (input.mfa_state !== undefined) {
    if (!MFA_STATES.includes(input.mfa_state)) errors.push({ field: 'mfa_state', code: 'validation_failed', message: 'mfa_state must be Disabled, Enabled or Enforced' });
    value.mfaState = input.mfa_state;
  }
  if (input.pin !== undefined) {
    const problem = input.pin === null ? null : pinProblem(input.pin, rules.pinMinLength, rules.pinMaxLength);
    if (problem) errors.push({ field: 'pin', code: 'validation_failed', message: problem });
    value.pin = input.pin;
  }
  if (input.pin_change_required !== undefined) value.pinChangeRequired = input.pin_change_required;
  // The modes and the SMS direction: each one of a few words.
  const choice = <T extends string>(field: string, given: T | undefined, allowed: readonly T[]): T | undefined => {
    if (given === undefined) return undefined;
    if (!allowed.includes(given)) errors.push({ field, code: 'validation_failed', message: `${field} must be ${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1]}` });
    return given;
  };
  value.oathMode = choice('oath_mode', input.oath_mode, OATH_MODES);
  value.smsMode = choice('sms_mode', input.sms_mode, SMS_MODES);
  value.smsDirection = choice('sms_direction', input.sms_direction, SMS_DIRECTIONS);
  value.callMode = choice('call_mode', input.call_mode, CALL_MODES);
  value.appMode = choice('app_mode', input.app_mode, APP_MODES);
  if (input.admin_role !== undefined) {
    const role = input.admin_role === null ? null : parseRole(input.admin_role);
    if (input.admin_role !== null && role === null) errors.push({ field: 'admin_role', code: 'validation_failed', message: `admin_role must be one of ${ROLE_NAMES.join(', ')}, or null` });
    value.adminRole = role;
  }
  if (input.phone !== undefined) value.phone = cleanPhone(input.phone, 'phone', rules, errors);
  if (input.backup_phone !== undefined) value.backupPhone = cleanPhone(input.backup_phone, 'backup_phone', rules, errors);
  if (input.groups !== undefined) {
    const names = [...new Set(input.groups.map((name) => name.trim()))];
    if (names.some((name) => name === '' || name.length > 128 || CONTROL.test(name))) {
      errors.push({ field: 'groups', code: 'validation_failed', message: 'group names must be 1 to 128 printable characters' });
    }
    value.groups = names;
  }
  return { value, errors };
}
