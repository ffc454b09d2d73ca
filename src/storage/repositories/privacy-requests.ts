import { sql, type Expression, type ExpressionBuilder, type Selectable, type SqlBool } from 'kysely';
import { isPostgres, type Executor } from '../database.js';
import type { AppPasswordsTable, AuditRow, AuthAttemptRow, BlockRow, BypassRow, Database, MailLogTable, SigninRow, SsprEventsTable, SsprSessionRow, TelephonyLogRow, UserChangeRow } from '../schema.js';

/**
 * Whom a privacy request covers, as the records name them
 * (modules/privacy/subject.ts finds it): users by id, and for records that
 * matched no user, the names typed, the phone numbers and e-mail addresses.
 */
export interface SubjectKeys {
  userIds: readonly string[];
  usernames: readonly string[];
  phones: readonly string[];
  emails: readonly string[];
}

/** What the erasure's receipt says about the store file (SQLite; PostgreSQL has no file of its own to clean). */
export interface FreedBytes {
  secure_delete: boolean;
  wal_truncated: boolean | null;
}

type Where<Table extends keyof Database> = (eb: ExpressionBuilder<Database, Table>) => Expression<SqlBool>;

const lowerIn = (names: readonly string[]) => names.map((name) => sql<string>`lower(${name})`);

/**
 * Which sign-ins are the subject's, as separate conditions (ids; names that
 * matched no user), each answered by an index of its own: an OR of the two
 * could make a database read the whole log.
 */
function signinConditions(subject: SubjectKeys): Where<'signins'>[] {
  const conditions: Where<'signins'>[] = [(eb) => eb.and([eb('user_id', 'is', null), eb(sql<string>`lower(username)`, 'in', lowerIn(subject.usernames))])];
  if (subject.userIds.length > 0) conditions.unshift((eb) => eb('user_id', 'in', subject.userIds));
  return conditions;
}

/** E-mails of the mail log: the users' own, and those sent to their addresses. */
const mailCondition =
  (subject: SubjectKeys): Where<'mail_log'> =>
  (eb) => {
    const parts: Expression<SqlBool>[] = [];
    if (subject.userIds.length > 0) parts.push(eb('user_id', 'in', subject.userIds));
    if (subject.emails.length > 0) parts.push(eb('to_address', 'in', subject.emails));
    return parts.length > 0 ? eb.or(parts) : sql<SqlBool>`1 = 0`;
  };

/** Steps of password resets: the users', and those typed under their names. */
const ssprEventCondition =
  (subject: SubjectKeys): Where<'sspr_events'> =>
  (eb) => {
    const byName = eb(sql<string>`lower(username)`, 'in', lowerIn(subject.usernames));
    return subject.userIds.length > 0 ? eb.or([eb('user_id', 'in', subject.userIds), byName]) : byName;
  };

/** Entries of the telephony log: the users' own, and those from or to their numbers that no user was known for. */
const telephonyCondition =
  (subject: SubjectKeys): Where<'telephony_log'> =>
  (eb) => {
    const parts: Expression<SqlBool>[] = [];
    if (subject.userIds.length > 0) parts.push(eb('user_id', 'in', subject.userIds));
    if (subject.phones.length > 0) parts.push(eb('to_number', 'in', subject.phones));
    return parts.length > 0 ? eb.or(parts) : sql<SqlBool>`1 = 0`;
  };

/** Tables whose rows name their user by `user_id` and go with it. */
const OWNED_BY_USER = ['app_passwords', 'access_policy_users', 'user_groups', 'challenges', 'blocks', 'bypasses', 'user_changes', 'log_keys', 'sspr_sessions'] as const;

/** Runs a query per chunk of ids: SQLite allows some tens of thousands of bound values per statement, PostgreSQL 65 535. */
async function inChunks<T>(ids: readonly number[], query: (chunk: number[]) => Promise<T[]>): Promise<T[]> {
  const rows: T[] = [];
  for (let start = 0; start < ids.length; start += 5000) rows.push(...(await query(ids.slice(start, start + 5000))));
  return rows;
}

/** Only when there are users: `in ()` is no valid SQL. */
const ofUsers = async <T>(ids: readonly string[], query: () => Promise<T[]>): Promise<T[]> => (ids.length === 0 ? [] : query());

export type SubjectChange = Pick<UserChangeRow, 'username' | 'new_country_code' | 'new_phone_number' | 'new_backup_country_code' | 'new_backup_phone_number'>;
export type SubjectPasswordReset = Pick<SsprSessionRow, 'id' | 'status' | 'methods_required' | 'methods_passed' | 'ip' | 'created_at' | 'expires_at'>;

/**
 * The rows a privacy request (SPEC.md §6) covers, table by table: who the
 * subject is, everything the export shows, and the erasure. They are kept in
 * one place rather than with each table's own repository so that the list of
 * tables a person is erased from can be read (and reviewed) whole; the
 * methods' own tables are erased by each method's `deleteUserData`.
 */
export const privacyRepository = {
  /** Users who ever had `name` (their change records keep it, a create record even after a delete), compared as typed and case folded. */
  async userIdsNamed(db: Executor, name: string): Promise<string[]> {
    const rows = await db
      .selectFrom('user_changes')
      .select('user_id')
      .distinct()
      .where((eb) => eb.or([eb('username', '=', name), eb(sql<string>`lower(username)`, '=', sql<string>`lower(${name})`)]))
      .execute();
    return rows.map((row) => row.user_id);
  },

  /** The names and phone numbers the users' change records hold. */
  changeHistory(db: Executor, userIds: readonly string[]): Promise<SubjectChange[]> {
    return ofUsers(userIds, () =>
      db.selectFrom('user_changes').select(['username', 'new_country_code', 'new_phone_number', 'new_backup_country_code', 'new_backup_phone_number']).where('user_id', 'in', userIds).execute(),
    );
  },

  /** The subject's sign-ins, oldest first. */
  async signins(db: Executor, subject: SubjectKeys): Promise<SigninRow[]> {
    const rows: SigninRow[] = [];
    for (const condition of signinConditions(subject)) rows.push(...(await db.selectFrom('signins').selectAll().where(condition).execute()));
    return rows.sort((a, b) => Number(a.at) - Number(b.at) || Number(a.id) - Number(b.id));
  },

  /** Whether any sign-in is the subject's: a name that matched no user may still have been tried. */
  async hasSignins(db: Executor, subject: SubjectKeys): Promise<boolean> {
    for (const condition of signinConditions(subject)) {
      if (await db.selectFrom('signins').select('id').where(condition).limit(1).executeTakeFirst()) return true;
    }
    return false;
  },

  /** Attempt records by id (those the subject's sign-ins link). */
  attempts(db: Executor, ids: readonly number[]): Promise<AuthAttemptRow[]> {
    return inChunks(ids, (chunk) => db.selectFrom('auth_attempts').selectAll().where('id', 'in', chunk).execute());
  },

  /** Telephony log entries of the subject's numbers that no user was known for (texts from an unknown sender), oldest first. */
  fromUnknownSenders(db: Executor, phones: readonly string[]): Promise<TelephonyLogRow[]> {
    if (phones.length === 0) return Promise.resolve([]);
    return db.selectFrom('telephony_log').selectAll().where('user_id', 'is', null).where('to_number', 'in', phones).orderBy('created_at').execute();
  },

  /** The subject's e-mails, oldest first. */
  mails(db: Executor, subject: SubjectKeys): Promise<Selectable<MailLogTable>[]> {
    return db.selectFrom('mail_log').selectAll().where(mailCondition(subject)).orderBy('created_at').execute();
  },

  /** The steps of the subject's password resets, in order. */
  passwordResetSteps(db: Executor, subject: SubjectKeys): Promise<Selectable<SsprEventsTable>[]> {
    return db.selectFrom('sspr_events').selectAll().where(ssprEventCondition(subject)).orderBy('id').execute();
  },

  /** The users' password reset sessions, without the state of a pending proof. */
  passwordResets(db: Executor, userIds: readonly string[]): Promise<SubjectPasswordReset[]> {
    return ofUsers(userIds, () =>
      db.selectFrom('sspr_sessions').select(['id', 'status', 'methods_required', 'methods_passed', 'ip', 'created_at', 'expires_at']).where('user_id', 'in', userIds).orderBy('created_at').execute(),
    );
  },

  /** The users' app passwords, without their hashes. */
  appPasswords(db: Executor, userIds: readonly string[]): Promise<Pick<Selectable<AppPasswordsTable>, 'id' | 'name' | 'created_at' | 'last_used_at'>[]> {
    return ofUsers(userIds, () => db.selectFrom('app_passwords').select(['id', 'name', 'created_at', 'last_used_at']).where('user_id', 'in', userIds).orderBy('created_at').execute());
  },

  /** The conditional access policies that name the users, and how. */
  accessPolicies(db: Executor, userIds: readonly string[]): Promise<{ policy: string; mode: string }[]> {
    return ofUsers(userIds, () =>
      db
        .selectFrom('access_policy_users')
        .innerJoin('access_policies', 'access_policies.id', 'access_policy_users.policy_id')
        .select(['access_policies.name as policy', 'access_policy_users.mode'])
        .where('access_policy_users.user_id', 'in', userIds)
        .execute(),
    );
  },

  blocks(db: Executor, userIds: readonly string[]): Promise<BlockRow[]> {
    return ofUsers(userIds, () => db.selectFrom('blocks').selectAll().where('user_id', 'in', userIds).orderBy('id').execute());
  },

  bypasses(db: Executor, userIds: readonly string[]): Promise<BypassRow[]> {
    return ofUsers(userIds, () => db.selectFrom('bypasses').selectAll().where('user_id', 'in', userIds).orderBy('id').execute());
  },

  changes(db: Executor, userIds: readonly string[]): Promise<UserChangeRow[]> {
    return ofUsers(userIds, () => db.selectFrom('user_changes').selectAll().where('user_id', 'in', userIds).orderBy('id').execute());
  },

  /** Audit records about the users. */
  audit(db: Executor, userIds: readonly string[]): Promise<AuditRow[]> {
    return ofUsers(userIds, () => db.selectFrom('audit_log').selectAll().where('target_type', '=', 'user').where('target_id', 'in', userIds).orderBy('id').execute());
  },

  /**
   * Deletes every row about the subject outside the methods' tables, and
   * unlinks the audit records that stay (they name `pseudonym` instead);
   * returns how many rows each category lost.
   */
  async erase(db: Executor, subject: SubjectKeys, pseudonym: string): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const add = (key: string, n: number | bigint | undefined) => (counts[key] = (counts[key] ?? 0) + Number(n ?? 0));
    for (const condition of signinConditions(subject)) {
      const attempts = await db.deleteFrom('auth_attempts').where('id', 'in', db.selectFrom('signins').select('attempt_id').where(condition).where('attempt_id', 'is not', null)).executeTakeFirst();
      add('attempts', attempts.numDeletedRows);
      add('signins', (await db.deleteFrom('signins').where(condition).executeTakeFirst()).numDeletedRows);
    }
    add('telephony_log', (await db.deleteFrom('telephony_log').where(telephonyCondition(subject)).executeTakeFirst()).numDeletedRows);
    add('mail_log', (await db.deleteFrom('mail_log').where(mailCondition(subject)).executeTakeFirst()).numDeletedRows);
    add('sspr_events', (await db.deleteFrom('sspr_events').where(ssprEventCondition(subject)).executeTakeFirst()).numDeletedRows);
    // Activation records of a name that matched no user, and the daily counts of a user's failures, name the user only by name.
    const lowerNames = lowerIn(subject.usernames);
    add('app_activations', (await db.deleteFrom('app_activations').where(sql<string>`lower(username)`, 'in', lowerNames).executeTakeFirst()).numDeletedRows);
    add('signin_rollup_failures', (await db.deleteFrom('signin_rollup_failures').where(sql<string>`lower(username)`, 'in', lowerNames).executeTakeFirst()).numDeletedRows);
    const ids = subject.userIds;
    if (ids.length === 0) return counts;
    for (const table of OWNED_BY_USER) add(table, (await db.deleteFrom(table).where('user_id', 'in', ids).executeTakeFirst()).numDeletedRows);
    add('users', (await db.deleteFrom('users').where('id', 'in', ids).executeTakeFirst()).numDeletedRows);
    // The audit log keeps what administrators did and when, but no longer whom it was about.
    const audit = await db.updateTable('audit_log').set({ target_id: pseudonym, details: '{}' }).where('target_type', '=', 'user').where('target_id', 'in', ids).executeTakeFirst();
    add('audit_records_unlinked', audit.numUpdatedRows);
    // The user's own actions (self-service) name the user as their actor.
    const own = await db.updateTable('audit_log').set({ actor_id: pseudonym }).where('actor_type', '=', 'user').where('actor_id', 'in', ids).executeTakeFirst();
    add('audit_records_unlinked', own.numUpdatedRows);
    for (const id of ids) {
      const mentions = await db.updateTable('audit_log').set({ details: sql<string>`replace(details, ${id}, ${pseudonym})` }).where('details', 'like', `%${id}%`).executeTakeFirst();
      add('audit_records_unlinked', mentions.numUpdatedRows);
    }
    return counts;
  },

  /**
   * After an erasure has committed (SQLite): checkpoints the write-ahead log
   * and truncates it, so the deleted bytes, already zeroed in the database
   * pages by secure_delete, are in no file. On PostgreSQL there is no such
   * step to take; the receipt says so.
   */
  async overwriteFreedBytes(db: Executor): Promise<FreedBytes> {
    if (isPostgres(db)) return { secure_delete: false, wal_truncated: null };
    const secure = (await sql<{ secure_delete: number }>`pragma secure_delete`.execute(db)).rows[0]?.secure_delete === 1;
    // A reader still inside an older snapshot (a running download) keeps the log's frames in use: try again for a while.
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const result = await sql<{ busy: number; log: number; checkpointed: number }>`pragma wal_checkpoint(TRUNCATE)`.execute(db);
      if (result.rows[0]?.busy === 0) return { secure_delete: secure, wal_truncated: true };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { secure_delete: secure, wal_truncated: false };
  },
};
