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
  default_method: string | null;
  oath_mode: ColumnType<string, string | undefined, string>;
  /** SPEC.md §1 SMS mode: otp, or otp_pin (the code, then the PIN). */
  sms_mode: ColumnType<string, string | undefined, string>;
  /** SPEC.md §1 SMS direction: one_way, or two_way (the user replies to the text). */
  sms_direction: ColumnType<string, string | undefined, string>;
  /** SPEC.md §1 call mode: standard (answer and press #), or pin (the PIN, then #). */
  call_mode: ColumnType<string, string | undefined, string>;
  /** SPEC.md §1 app mode: standard (approve in the app), or pin (the PIN entered in the app). */
  app_mode: ColumnType<string, string | undefined, string>;
  /** The open block record, if the user is blocked. */
  block_id: number | null;
  /** The open one-time bypass record, if one was granted and not yet used or ended. */
  bypass_id: number | null;
  /** Remembered-device tokens issued before this moment are no longer honoured. */
  remembered_devices_revoked_at: Millis | null;
  /** argon2id of the user's password (local directory; self-service password reset sets it). */
  password_hash: ColumnType<string | null, string | null | undefined, string | null>;
  password_changed_at: ColumnType<Millis | null, Millis | null | undefined, Millis | null>;
  /** The e-mail address registered for password reset (SPEC.md §6), apart from the profile's e-mail. */
  sspr_email: ColumnType<string | null, string | null | undefined, string | null>;
  /** The administrator role the person holds (roles.ts wire value), or null. */
  admin_role: ColumnType<string | null, string | null | undefined, string | null>;
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

export interface ApplicationsTable {
  id: string;
  name: string;
  name_key: string;
  integration_key: string;
  secret_hash: string;
  enabled: Bool;
  created_at: Millis;
  updated_at: Millis;
}

export interface OathTokensTable {
  id: string;
  user_id: string | null;
  serial: string | null;
  kind: string;
  type: string;
  algorithm: string;
  digits: number;
  period: number;
  secret_sealed: string;
  status: string;
  name: string | null;
  last_used: number | null;
  counter: ColumnType<number, number | undefined, number>;
  drift: ColumnType<number, number | undefined, number>;
  created_at: Millis;
  last_used_at: Millis | null;
}

export interface SecurityQuestionsTable {
  id: string;
  text: string;
  active: Bool;
  created_at: Millis;
}

export interface SecurityAnswersTable {
  user_id: string;
  question_id: string;
  answer_hash: string;
  created_at: Millis;
}

export interface ChallengesTable {
  id: string;
  user_id: string;
  application_id: string;
  method: string;
  stage: string;
  status: string;
  /** Null while a call rings or waits for keys: SPEC.md §2 has no code for a call in progress. */
  result_code: string | null;
  primary_code: string | null;
  ip: string | null;
  auth_type: string;
  entry_point: string;
  state: string;
  created_at: Millis;
  expires_at: Millis;
  completed_at: Millis | null;
  signin_id: number | null;
}

/** SPEC.md §5 authentication attempt. */
export interface AuthAttemptsTable {
  id: Generated<number>;
  at: Millis;
  user_id: string | null;
  username: string;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  user_group: string | null;
  method: string | null;
  call_mode: string | null;
  sms_direction: string | null;
  sms_mode: string | null;
  app_mode: string | null;
  oath_mode: string | null;
  auth_type: string;
  application: string;
  primary_country_code: string | null;
  primary_phone_number: string | null;
  primary_extension: string | null;
  primary_authenticated: Bool | null;
  primary_result: string | null;
  backup_country_code: string | null;
  backup_phone_number: string | null;
  backup_extension: string | null;
  backup_authenticated: Bool | null;
  backup_result: string | null;
  authenticated: Bool;
  result: string;
  caller_ip: string | null;
  device: string | null;
  device_token: string | null;
  device_type: string | null;
  app_version: string | null;
  os_version: string | null;
  number_matching: Bool | null;
  entry_point: string;
}

/** SPEC.md §3 sign-in event. */
export interface SigninsTable {
  id: Generated<number>;
  at: Millis;
  user_id: string | null;
  username: string;
  application_id: string;
  application: string;
  ip: string | null;
  auth_type: string;
  entry_point: string;
  status: string;
  mfa_required: Bool;
  policy: string | null;
  method: string | null;
  result_code: string | null;
  detail: string | null;
  attempt_id: number | null;
  counted_failure: Bool;
  steps: string;
  trace: string;
  /** What the push-fatigue defence did to this sign-in, if anything (number_matching_required, codes_instead_of_push, push_limit_reached). */
  push_fatigue: string | null;
  /** The IP as 32 hex digits in address order (shared/ip-key.ts): IP and CIDR filters are index ranges. */
  ip_key: string | null;
  /** modern, or legacy (a protocol that cannot show a second factor: IMAP, SMTP, basic auth). */
  client_type: string | null;
  /** The device the user signed in from, as the application named it. */
  device_id: string | null;
}

/** SPEC.md §5 block record. */
export interface BlocksTable {
  id: Generated<number>;
  blocked_at: Millis;
  blocked_by: string;
  user_id: string;
  username: string;
  country_code: string | null;
  phone_number: string | null;
  formatted_phone_number: string | null;
  extension: string | null;
  new_extension: string | null;
  blocked: Bool;
  block_reason: string | null;
  completed_at: Millis | null;
  completion_reason: string | null;
  account_lockout: Bool;
  fraud_alert: Bool;
  fraud_alert_not_blocked: Bool;
  language: string | null;
  /** When a lockout block ends by itself; null for blocks that last until unblocked. */
  expires_at: Millis | null;
}

/** SPEC.md §5 bypass record. */
export interface BypassesTable {
  id: Generated<number>;
  bypassed_at: Millis;
  duration_seconds: number;
  bypassed_by: string;
  user_id: string;
  username: string;
  country_code: string | null;
  phone_number: string | null;
  formatted_phone_number: string | null;
  extension: string | null;
  new_extension: string | null;
  bypass_reason: string | null;
  completed_at: Millis | null;
  completion_reason: string | null;
  bypass_used: Bool;
  expires_at: Millis;
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
  applications: ApplicationsTable;
  oath_tokens: OathTokensTable;
  security_questions: SecurityQuestionsTable;
  security_answers: SecurityAnswersTable;
  challenges: ChallengesTable;
  auth_attempts: AuthAttemptsTable;
  signins: SigninsTable;
  blocks: BlocksTable;
  bypasses: BypassesTable;
  telephony_log: TelephonyLogTable;
  app_devices: AppDevicesTable;
  app_activation_codes: AppActivationCodesTable;
  app_activations: AppActivationsTable;
  app_nonces: AppNoncesTable;
  server_nodes: ServerNodesTable;
  named_locations: NamedLocationsTable;
  access_policies: AccessPoliciesTable;
  access_policy_users: AccessPolicyUsersTable;
  app_passwords: AppPasswordsTable;
  signin_rollups: SigninRollupsTable;
  signin_rollup_failures: SigninRollupFailuresTable;
  signin_rollup_days: SigninRollupDaysTable;
  log_keys: LogKeysTable;
  mail_log: MailLogTable;
  sspr_sessions: SsprSessionsTable;
  sspr_events: SsprEventsTable;
}

/** One day's sign-ins with the same method, entry point, status, MFA requirement and detail: how many. */
export interface SigninRollupsTable {
  /** UTC day number: days since the epoch. */
  day: number;
  method: string | null;
  entry_point: string;
  status: string;
  mfa_required: number;
  detail: string | null;
  signins: number;
}

/** A user who failed repeatedly on one day (at least REPEATED_FAILURES times). */
export interface SigninRollupFailuresTable {
  day: number;
  username: string;
  failures: number;
}

/** A day whose roll-up is made. */
export interface SigninRollupDaysTable {
  day: number;
  rolled_at: Millis;
}

/** A named location (SPEC.md §3 conditional access): IP ranges, trusted or not. */
export interface NamedLocationsTable {
  id: string;
  name: string;
  name_key: string;
  /** JSON array of CIDR texts. */
  ranges: string;
  /** 1 or 0 (an integer column in both dialects). */
  trusted: number;
  created_at: Millis;
  updated_at: Millis;
}

/** A conditional access policy: conditions, then a grant (block, allow, mfa) and a session control. */
export interface AccessPoliciesTable {
  id: string;
  name: string;
  name_key: string;
  state: string;
  grant_control: string;
  remember_mfa_days: number | null;
  /** JSON: groups, applications and named locations by id; client types; device states. */
  conditions: string;
  created_at: Millis;
  updated_at: Millis;
}

/** A user a policy includes or excludes by name. */
export interface AccessPolicyUsersTable {
  policy_id: string;
  user_id: string;
  mode: string;
}

/** A per-user app password for legacy clients, kept as a keyed hash. */
export interface AppPasswordsTable {
  id: string;
  user_id: string;
  name: string;
  secret_hash: string;
  created_at: Millis;
  last_used_at: Millis | null;
}

/** One text message or call (SPEC.md §1 telephony): what was sent where, through which gateway, and how it went. */
export interface TelephonyLogTable {
  id: string;
  user_id: string | null;
  username: string;
  kind: string;
  direction: string;
  gateway: string;
  to_number: string;
  body: string | null;
  provider_id: string | null;
  status: string;
  /** JSON: [{ status, at }] in order. */
  history: string;
  cost: string | null;
  error: string | null;
  created_at: Millis;
  updated_at: Millis;
  /** The challenge a call serves: the carrier's webhooks for the call reach it through this. */
  challenge_id: ColumnType<string | null, string | null | undefined, string | null>;
}
/** An activated authenticator app (SPEC.md §1 mobile app). */
export interface AppDevicesTable {
  id: string;
  user_id: string;
  name: string;
  type: string;
  app_version: string | null;
  os_version: string | null;
  /** JWK of the device's ECDSA P-256 public key. */
  public_key: string;
  device_token: string | null;
  oath_token_id: string | null;
  status: string;
  blocked_reason: string | null;
  missed_pushes: ColumnType<number, number | undefined, number>;
  created_at: Millis;
  last_seen_at: Millis | null;
}

/** A one-time activation code, kept as a keyed hash. */
export interface AppActivationCodesTable {
  code_hash: string;
  user_id: string;
  oath_enabled: Bool;
  created_at: Millis;
  expires_at: Millis;
  used_at: Millis | null;
}

/** SPEC.md §5 authenticator app activation record. */
export interface AppActivationsTable {
  id: Generated<number>;
  at: Millis;
  user_id: string | null;
  username: string;
  account_name: string;
  get_activation_code_result: string | null;
  activation_success: Bool | null;
  activation_error: string | null;
  activation_status_result: string | null;
  device_name: string | null;
  device_type: string | null;
  app_version: string | null;
  oath_token_enabled: Bool;
}

/** Nonces of signed device requests, kept until their timestamp can no longer be accepted. */
export interface AppNoncesTable {
  device_id: string;
  nonce: string;
  expires_at: Millis;
}

/** SPEC.md §4 server status: a node's heartbeat. */
export interface ServerNodesTable {
  id: string;
  host: string;
  version: string;
  started_at: Millis;
  last_seen_at: Millis;
  database_reachable: Bool;
  /** Set when the node stopped cleanly. */
  stopped_at: Millis | null;
  /** How often the node beats (cluster.heartbeatSeconds when it started); null for rows written before migration 0014. */
  heartbeat_seconds: number | null;
}

export type AppDeviceRow = Selectable<AppDevicesTable>;
export type AppActivationRow = Selectable<AppActivationsTable>;

export type TelephonyLogRow = Selectable<TelephonyLogTable>;

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type UserRowUpdate = Updateable<UsersTable>;
export type GroupRow = Selectable<GroupsTable>;
export type AdminKeyRow = Selectable<AdminKeysTable>;
export type AuditRow = Selectable<AuditLogTable>;
export type UserChangeRow = Selectable<UserChangesTable>;
export type ApplicationRow = Selectable<ApplicationsTable>;
export type OathTokenRow = Selectable<OathTokensTable>;
export type ChallengeRow = Selectable<ChallengesTable>;
export type AuthAttemptRow = Selectable<AuthAttemptsTable>;
export type NewAuthAttempt = Insertable<AuthAttemptsTable>;
export type SigninRow = Selectable<SigninsTable>;
export type NewSignin = Insertable<SigninsTable>;
export type BlockRow = Selectable<BlocksTable>;
export type BypassRow = Selectable<BypassesTable>;

/** The key that seals one user's personal fields in the service-log lines of one UTC day (docs/privacy.md). */
export interface LogKeysTable {
  user_id: string;
  day: number;
  key_sealed: string;
}

/** One e-mail sent (or kept in the outbox): the telephony log's counterpart. */
export interface MailLogTable {
  id: string;
  user_id: string | null;
  to_address: string;
  subject: string;
  body: string | null;
  gateway: string;
  status: string;
  provider_id: string | null;
  error: string | null;
  created_at: Millis;
  updated_at: Millis;
}

/** A self-service password reset in progress. */
export interface SsprSessionsTable {
  id: string;
  user_id: string;
  /** open | verified (may set the password) | completed | failed | expired */
  status: string;
  methods_required: number;
  /** JSON: the methods proved so far, in order. */
  methods_passed: string;
  /** JSON: the state of the method being proved (a code's keyed hash, a challenge id), or null. */
  pending: string | null;
  ip: string | null;
  created_at: Millis;
  expires_at: Millis;
}

export type SsprSessionRow = Selectable<SsprSessionsTable>;

/** A step of a self-service password reset (or registration), for throttling and the record. */
export interface SsprEventsTable {
  id: Generated<number>;
  at: Millis;
  user_id: string | null;
  username: string;
  /** The key of the name asked for (migration 0016): what per-name throttles count, for real and unknown names alike; null when no name was given. */
  username_key: string | null;
  session_id: string | null;
  step: string;
  method: string | null;
  succeeded: Bool;
  detail: string | null;
  ip: string | null;
}
