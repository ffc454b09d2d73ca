import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Executor } from '../../storage/database.js';
import type { Database, UserRow } from '../../storage/schema.js';
import { usernameKey } from '../directory/user-input.js';

/**
 * The person a privacy request is about, found from the username the request
 * names: the user who has that name now, and users who had it before and were
 * deleted (their records outlive an ordinary delete until retention or this
 * request removes them). Records name a user by id, or, for a name that
 * matched no user (a typo, an unknown account), only by the name typed.
 */
export interface Subject {
  /** The name as the request gave it. */
  username: string;
  /** The user who has the name now, if any. */
  user: UserRow | null;
  /** That user's id and the ids of deleted users who had the name. */
  userIds: string[];
  /** Every name those users had (renames), and the one asked. */
  usernames: string[];
  /** The users' phone numbers, E.164, now and in their change records: the telephony log holds them without a user for unknown senders. */
  phones: string[];
  /** The user's e-mail addresses (profile, password reset): the mail log holds them. */
  emails: string[];
}

const e164 = (countryCode: string | null, number: string | null) => (countryCode && number ? `+${countryCode}${number}` : null);

export async function findSubject(db: Executor, username: string): Promise<Subject> {
  const asked = username.trim();
  const user = (await db.selectFrom('users').selectAll().where('username_key', '=', usernameKey(asked)).executeTakeFirst()) ?? null;
  // Change records keep the names users had; a user's create record names it even after a delete.
  const named = await db
    .selectFrom('user_changes')
    .select('user_id')
    .distinct()
    .where((eb) => eb.or([eb('username', '=', asked), eb(sql<string>`lower(username)`, '=', sql<string>`lower(${asked})`)]))
    .execute();
  const userIds = [...new Set([...(user ? [user.id] : []), ...named.map((row) => row.user_id)])];
  const usernames = new Set([asked]);
  const phones = new Set<string>();
  if (user) {
    usernames.add(user.username);
    for (const phone of [e164(user.phone_country_code, user.phone_number), e164(user.backup_country_code, user.backup_phone_number)]) if (phone) phones.add(phone);
  }
  if (userIds.length > 0) {
    const history = await db
      .selectFrom('user_changes')
      .select(['username', 'new_country_code', 'new_phone_number', 'new_backup_country_code', 'new_backup_phone_number'])
      .where('user_id', 'in', userIds)
      .execute();
    for (const row of history) {
      usernames.add(row.username);
      for (const phone of [e164(row.new_country_code, row.new_phone_number), e164(row.new_backup_country_code, row.new_backup_phone_number)]) if (phone) phones.add(phone);
    }
  }
  const emails = [user?.email, user?.sspr_email].filter((email): email is string => typeof email === 'string');
  return { username: asked, user, userIds, usernames: [...usernames], phones: [...phones], emails };
}

/**
 * Which sign-ins are the subject's, as separate conditions (ids; names that
 * matched no user), each answered by an index of its own: an OR of the two
 * could make a database read the whole log.
 */
export function signinConditions(subject: Subject): ((eb: ExpressionBuilder<Database, 'signins'>) => Expression<SqlBool>)[] {
  const conditions: ((eb: ExpressionBuilder<Database, 'signins'>) => Expression<SqlBool>)[] = [
    (eb) => eb.and([eb('user_id', 'is', null), eb(sql<string>`lower(username)`, 'in', subject.usernames.map((name) => sql<string>`lower(${name})`))]),
  ];
  if (subject.userIds.length > 0) conditions.unshift((eb) => eb('user_id', 'in', subject.userIds));
  return conditions;
}

/** E-mails of the mail log: the users' own, and those sent to their addresses. */
export function mailCondition(subject: Subject): (eb: ExpressionBuilder<Database, 'mail_log'>) => Expression<SqlBool> {
  return (eb) => {
    const parts: Expression<SqlBool>[] = [];
    if (subject.userIds.length > 0) parts.push(eb('user_id', 'in', subject.userIds));
    if (subject.emails.length > 0) parts.push(eb('to_address', 'in', subject.emails));
    return parts.length > 0 ? eb.or(parts) : sql<SqlBool>`1 = 0`;
  };
}

/** Steps of password resets: the users', and those typed under their names. */
export function ssprEventCondition(subject: Subject): (eb: ExpressionBuilder<Database, 'sspr_events'>) => Expression<SqlBool> {
  return (eb) => {
    const byName = eb(sql<string>`lower(username)`, 'in', subject.usernames.map((name) => sql<string>`lower(${name})`));
    return subject.userIds.length > 0 ? eb.or([eb('user_id', 'in', subject.userIds), byName]) : byName;
  };
}

/** Entries of the telephony log: the users' own, and those from or to their numbers that no user was known for. */
export function telephonyCondition(subject: Subject): (eb: ExpressionBuilder<Database, 'telephony_log'>) => Expression<SqlBool> {
  return (eb) => {
    const parts: Expression<SqlBool>[] = [];
    if (subject.userIds.length > 0) parts.push(eb('user_id', 'in', subject.userIds));
    if (subject.phones.length > 0) parts.push(eb('to_number', 'in', subject.phones));
    return parts.length > 0 ? eb.or(parts) : sql<SqlBool>`1 = 0`;
  };
}
