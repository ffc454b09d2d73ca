import { Type, type TSchema } from 'typebox';
import { IMPORT_COLUMNS } from '../../modules/directory/csv-import.js';
import { ROLE_NAMES } from '../../modules/admin-access/roles.js';
import { APP_MODES, CALL_MODES, MFA_STATES, OATH_MODES, SMS_DIRECTIONS, SMS_MODES } from '../../modules/directory/user-input.js';

const strict = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Timestamp = Type.String({ format: 'date-time' });

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable snake_case error code.' }),
    instance: Type.String(),
    request_id: Type.String(),
  },
  { additionalProperties: true, description: 'RFC 9457 problem details.' },
);

export const PhoneInput = Type.Object(
  {
    country_code: Type.Optional(Nullable(Type.String({ maxLength: 4, description: 'Country calling code, digits, e.g. "1" or "44".' }))),
    number: Type.String({ minLength: 1, maxLength: 32, description: 'National number; spaces, dashes, dots and parentheses are ignored.' }),
    extension: Type.Optional(Nullable(Type.String({ maxLength: 40, description: 'Digits, commas, * and #, optionally prefixed by @.' }))),
  },
  strict,
);

const PhoneView = Type.Object({ country_code: Type.String(), number: Type.String(), extension: Nullable(Type.String()) });

const userFieldProperties = {
  first_name: Type.Optional(Nullable(Type.String({ maxLength: 128 }))),
  last_name: Type.Optional(Nullable(Type.String({ maxLength: 128 }))),
  email: Type.Optional(Nullable(Type.String({ maxLength: 254 }))),
  language: Type.Optional(Type.String({ maxLength: 35, description: 'Language tag for voice and SMS texts, e.g. en, fr-CA.' })),
  account_enabled: Type.Optional(Type.Boolean({ description: 'False blocks sign-in altogether (a disabled account).' })),
  mfa_state: Type.Optional(Type.Enum(MFA_STATES)),
  pin: Type.Optional(Nullable(Type.String({ maxLength: 16, description: 'Digits only; stored as a keyed hash, never returned.' }))),
  pin_change_required: Type.Optional(Type.Boolean()),
  oath_mode: Type.Optional(Type.Enum(OATH_MODES, { description: 'OATH tokens: standard (the code) or pin (the PIN typed before the code).' })),
  sms_mode: Type.Optional(Type.Enum(SMS_MODES, { description: 'Text messages: otp (the code) or otp_pin (the code followed by the PIN).' })),
  sms_direction: Type.Optional(Type.Enum(SMS_DIRECTIONS, { description: 'Text messages: one_way (typed into the application) or two_way (sent back as a reply).' })),
  call_mode: Type.Optional(Type.Enum(CALL_MODES, { description: 'Voice calls: standard (answer and press #) or pin (the PIN, then #).' })),
  app_mode: Type.Optional(Type.Enum(APP_MODES, { description: 'Authenticator app: standard (approve) or pin (the PIN entered in the app).' })),
  phone: Type.Optional(Nullable(PhoneInput)),
  backup_phone: Type.Optional(Nullable(PhoneInput)),
  groups: Type.Optional(Type.Array(Type.String({ maxLength: 128 }), { maxItems: 1000, description: 'Group names; the groups must exist.' })),
  admin_role: Type.Optional(
    Nullable(Type.Enum(ROLE_NAMES, { description: 'The administrator role the person holds; set by Global Administrators only. An Authentication Administrator may change nothing of such a user but block them.' })),
  ),
};

export const UserCreate = Type.Object({ username: Type.String({ minLength: 1, maxLength: 256 }), ...userFieldProperties }, strict);
export const UserUpdate = Type.Object({ username: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })), ...userFieldProperties }, { ...strict, minProperties: 1 });

export const User = Type.Object({
  id: Type.String(),
  username: Type.String(),
  first_name: Nullable(Type.String()),
  last_name: Nullable(Type.String()),
  email: Nullable(Type.String()),
  language: Type.String(),
  account_enabled: Type.Boolean(),
  mfa_state: Type.Enum(MFA_STATES),
  groups: Type.Array(Type.String()),
  pin_set: Type.Boolean(),
  pin_change_required: Type.Boolean(),
  oath_mode: Type.Enum(OATH_MODES),
  sms_mode: Type.Enum(SMS_MODES),
  sms_direction: Type.Enum(SMS_DIRECTIONS),
  call_mode: Type.Enum(CALL_MODES),
  app_mode: Type.Enum(APP_MODES),
  phone: Nullable(PhoneView),
  backup_phone: Nullable(PhoneView),
  admin_role: Nullable(Type.String()),
  password_set: Type.Boolean(),
  sspr_email: Nullable(Type.String({ description: 'The address password reset codes go to, registered by the user.' })),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const pageOf = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item), next_cursor: Nullable(Type.String()) });

export const PageQuery = {
  cursor: Type.Optional(Type.String({ maxLength: 2048, description: 'next_cursor of the previous page.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
};

export const UserListQuery = Type.Object(
  {
    search: Type.Optional(Type.String({ maxLength: 256, description: 'Case-insensitive part of username, name or e-mail.' })),
    group: Type.Optional(Type.String({ maxLength: 128, description: 'Only members of this group.' })),
    ...PageQuery,
  },
  strict,
);

export const UsernameParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 256 }) }, strict);

export const ImportQuery = Type.Object(
  { create_groups: Type.Optional(Type.Boolean({ default: false, description: 'Create groups the file names that do not exist yet.' })) },
  strict,
);

export const ImportReport = Type.Object({
  rows: Type.Integer(),
  created: Type.Integer(),
  failed: Type.Integer(),
  groups_created: Type.Array(Type.String()),
  errors: Type.Array(
    Type.Object({ line: Type.Integer(), username: Nullable(Type.String()), field: Nullable(Type.String()), code: Type.String(), message: Type.String() }),
  ),
});

export const IMPORT_DESCRIPTION = `CSV with a header row. Columns: ${IMPORT_COLUMNS.join(', ')}. Only username is required; groups are separated by ";".`;

export const Group = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Nullable(Type.String()),
  member_count: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const GroupCreate = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }), description: Type.Optional(Nullable(Type.String({ maxLength: 1024 }))) }, strict);
export const GroupUpdate = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })), description: Type.Optional(Nullable(Type.String({ maxLength: 1024 }))) },
  { ...strict, minProperties: 1 },
);
export const GroupListQuery = Type.Object({ search: Type.Optional(Type.String({ maxLength: 128, description: 'Part of the group name.' })), ...PageQuery }, strict);
export const GroupParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) }, strict);
export const GroupMemberParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }), username: Type.String({ minLength: 1, maxLength: 256 }) }, strict);
export const GroupMembersAdd = Type.Object({ usernames: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { minItems: 1, maxItems: 1000 }) }, strict);

export const AdminKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.Enum(ROLE_NAMES),
  created_at: Timestamp,
  created_by: Type.String(),
  last_used_at: Nullable(Timestamp),
  revoked_at: Nullable(Timestamp),
});
export const AdminKeyCreate = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100 }), role: Type.Enum(ROLE_NAMES) },
  strict,
);
export const AdminKeyCreated = Type.Object({ key: AdminKey, secret: Type.String({ description: 'Shown once; store it now.' }) });
export const AdminKeyParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{16}$' }) }, strict);
export const AdminKeyListQuery = Type.Object({ include_revoked: Type.Optional(Type.Boolean({ default: false })) }, strict);

export const AuditEntry = Type.Object({
  id: Type.Integer(),
  at: Timestamp,
  actor: Type.Object({ type: Type.String(), id: Type.String(), role: Nullable(Type.String()) }),
  entry_point: Type.String(),
  request_id: Nullable(Type.String()),
  action: Type.String(),
  target_type: Type.String(),
  target_id: Nullable(Type.String()),
  details: Type.Record(Type.String(), Type.Unknown()),
});
export const AuditQuery = Type.Object(
  { action: Type.Optional(Type.String({ maxLength: 64 })), target_id: Type.Optional(Type.String({ maxLength: 128 })), ...PageQuery },
  strict,
);

export const ChangeRecord = Type.Object({
  id: Type.Integer(),
  changed_at: Timestamp,
  user_id: Type.String(),
  username: Type.String(),
  change_type: Type.String(),
  changed_fields: Type.Array(Type.String()),
  new_country_code: Nullable(Type.String()),
  new_phone_number: Nullable(Type.String()),
  new_extension: Nullable(Type.String()),
  new_backup_country_code: Nullable(Type.String()),
  new_backup_phone_number: Nullable(Type.String()),
  new_backup_extension: Nullable(Type.String()),
  new_pin_hash: Nullable(Type.String()),
  pin_change_required: Nullable(Type.Boolean()),
  old_device_token: Nullable(Type.String()),
  new_device_token: Nullable(Type.String()),
  actor: Type.String(),
});
export const ChangesQuery = Type.Object(
  { after_id: Type.Optional(Type.Integer({ minimum: 0, default: 0 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) },
  strict,
);

/** Error responses an admin route may give, for the OpenAPI document. */
export const adminErrors = { 400: Problem, 401: Problem, 403: Problem } as const;
