import type { ExpressionBuilder } from 'kysely';
import type { Executor } from '../database.js';
import type { Database } from '../schema.js';

/** A user with what the registration reports need to name the user's methods. */
export interface RegistrationRecord {
  username: string;
  username_key: string;
  mfa_state: string;
  has_phone: boolean;
  has_oath: boolean;
  has_app: boolean;
}

type Users = ExpressionBuilder<Database, 'users'>;
const hasOath = (eb: Users) => eb.exists(eb.selectFrom('oath_tokens').select('oath_tokens.id').whereRef('oath_tokens.user_id', '=', 'users.id').where('oath_tokens.status', '=', 'active'));
const hasApp = (eb: Users) => eb.exists(eb.selectFrom('app_devices').select('app_devices.id').whereRef('app_devices.user_id', '=', 'users.id').where('app_devices.status', '=', 'active'));
/** Registered for MFA: a phone (calls, texts), an active OATH token or an active authenticator app. Security questions are a fallback only. */
const registered = (eb: Users) => eb.or([eb('users.phone_number', 'is not', null), hasOath(eb), hasApp(eb)]);

/** Which users a listing covers: every user, or enabled accounts that are (or are not) registered. */
export type RegistrationScope = { registered: boolean } | 'all';

function scoped(db: Executor, scope: RegistrationScope) {
  const users = db.selectFrom('users');
  if (scope === 'all') return users;
  return users.where('users.account_enabled', '=', 1).where((eb) => (scope.registered ? registered(eb) : eb.not(registered(eb))));
}

// A boolean expression reads back as 1/0 on SQLite and true/false on PostgreSQL.
const truthy = (value: unknown): boolean => value === true || value === 1 || value === '1' || value === 't';

/** Users as the MFA registration reports see them (SPEC.md §4): by name, with which kinds of method each has. */
export const registrationRepository = {
  async count(db: Executor, scope: RegistrationScope): Promise<number> {
    const { count } = await scoped(db, scope)
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow();
    return Number(count);
  },

  /** Up to `limit` users of the scope by username key, after `afterKey`. */
  async page(db: Executor, scope: RegistrationScope, afterKey: string | undefined, limit: number): Promise<RegistrationRecord[]> {
    let query = scoped(db, scope).select((eb) => [
      'users.username',
      'users.username_key',
      'users.mfa_state',
      eb('users.phone_number', 'is not', null).as('has_phone'),
      hasOath(eb).as('has_oath'),
      hasApp(eb).as('has_app'),
    ]);
    if (afterKey !== undefined) query = query.where('users.username_key', '>', afterKey);
    const rows = await query.orderBy('users.username_key').limit(limit).execute();
    return rows.map((row) => ({ ...row, has_phone: truthy(row.has_phone), has_oath: truthy(row.has_oath), has_app: truthy(row.has_app) }));
  },
};
