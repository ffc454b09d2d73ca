import { sql } from 'kysely';
import { isPostgres, type Executor, type Unit } from '../database.js';
import { prepared } from '../prepared.js';
import type { NewAuthAttempt, NewSignin } from '../schema.js';
import { groupNamesOfUser } from './groups.js';

/** Every column of an attempt record (SPEC.md §5). */
export type AttemptValues = Required<Omit<NewAuthAttempt, 'id'>>;
/** Every column of a sign-in event (SPEC.md §3). */
export type SigninValues = Required<Omit<NewSignin, 'id'>>;

/** Every column of a record, listed once; the compiler checks none is missing. */
const columnsOf = <Values>(columns: Record<keyof Values & string, true>) => Object.keys(columns) as (keyof Values & string)[];

/** The attempt record's columns (SPEC.md §5): those the engine fills, then those a method fills (AttemptFields). */
const ATTEMPT_COLUMNS = columnsOf<AttemptValues>({
  at: true, user_id: true, username: true, first_name: true, last_name: true, email: true, user_group: true, method: true,
  auth_type: true, application: true, authenticated: true, result: true, caller_ip: true, entry_point: true,
  call_mode: true, sms_direction: true, sms_mode: true, app_mode: true, oath_mode: true,
  primary_country_code: true, primary_phone_number: true, primary_extension: true, primary_authenticated: true, primary_result: true,
  backup_country_code: true, backup_phone_number: true, backup_extension: true, backup_authenticated: true, backup_result: true,
  device: true, device_token: true, device_type: true, app_version: true, os_version: true, number_matching: true,
});
const SIGNIN_COLUMNS = columnsOf<SigninValues>({
  at: true, user_id: true, username: true, application_id: true, application: true, ip: true, auth_type: true, entry_point: true,
  status: true, mfa_required: true, policy: true, method: true, result_code: true, detail: true, attempt_id: true,
  counted_failure: true, steps: true, trace: true, push_fatigue: true, ip_key: true, client_type: true, device_id: true,
});

/** A record's values in parts, looked up in order: the first part that has a column gives its value. */
export type Sources<Values> = Partial<Values>[];

/** A column's value: from the first source that has it, else null (a column without a value is written as null). */
function valueIn<Values>(sources: Sources<Values>, column: keyof Values): unknown {
  for (const source of sources) if (column in source) return source[column] ?? null;
  return null;
}

/**
 * An insert of every column, each value a parameter: prepared once, since
 * every authentication writes one. A column without a value is written as
 * null (the phone fields of an OATH attempt); a value the method set to
 * undefined too. The values are looked up column by column in their sources:
 * merging thirty-odd columns into one object costs more than the insert's
 * bookkeeping.
 */
function insertEvery<Values extends Record<string, unknown>>(table: 'auth_attempts' | 'signins', columns: readonly (keyof Values & string)[]) {
  const insert = prepared<Values, { id: number }>((db, param) =>
    db
      .insertInto(table)
      .values(Object.fromEntries(columns.map((column) => [column, param(column)])) as never)
      .returning('id'),
  );
  return async (db: Executor, ...sources: Sources<Values>): Promise<number> =>
    Number((await insert(db, <K extends keyof Values & string>(column: K) => valueIn(sources, column) as Values[K])).rows[0]!.id);
}

const insertAttempt = insertEvery<AttemptValues>('auth_attempts', ATTEMPT_COLUMNS);
const insertSignin = insertEvery<SigninValues>('signins', SIGNIN_COLUMNS);

/**
 * PostgreSQL: the attempt record and the sign-in event that names it in one
 * statement (the attempt's insert in a WITH), with the user's groups read by
 * the same statement: one round trip instead of three. Parameters are named
 * `attempt.<column>` and `signin.<column>`.
 */
const insertAttemptAndSignin = prepared<Record<string, unknown>, { id: number; attempt_id: number }>((db, param) =>
  db
    .with('attempt', (qb) =>
      qb
        .insertInto('auth_attempts')
        .values((eb) => ({
          ...Object.fromEntries(ATTEMPT_COLUMNS.map((column) => [column, param(`attempt.${column}`)])),
          // As groupNamesOfUser lists them, joined with ';' (null for none).
          user_group: eb
            .selectFrom('user_groups')
            .innerJoin('groups', 'groups.id', 'user_groups.group_id')
            .select(sql<string | null>`string_agg(groups.name, ';' order by groups.name_key)`.as('names'))
            .where('user_groups.user_id', '=', param('attempt.user_id') as string),
        }) as never)
        .returning('id'),
    )
    .insertInto('signins')
    .values((eb) => ({
      ...Object.fromEntries(SIGNIN_COLUMNS.filter((column) => column !== 'attempt_id').map((column) => [column, param(`signin.${column}`)])),
      attempt_id: eb.selectFrom('attempt').select('attempt.id'),
    }) as never)
    .returning(['id', 'attempt_id']),
);

/**
 * The authentication path's records: the attempt record (SPEC.md §5) and the
 * sign-in event (SPEC.md §3) every authentication writes, in the unit of its
 * state change. The sign-in log's reads are elsewhere (repositories/signin-log.ts).
 */
export const signinsRepository = {
  /** A sign-in event without an attempt record (an unknown user, or no result code). */
  insert(db: Executor, signin: Omit<SigninValues, 'attempt_id'>): Promise<number> {
    return insertSignin(db, signin, { attempt_id: null });
  },

  /**
   * The attempt record (its columns but the user's groups, from the parts of
   * `attempt`) and the sign-in event that names it. The record carries the
   * user's group names: on SQLite from memory (`groupNamesOfUser`), on
   * PostgreSQL read by the one statement that writes both.
   */
  async insertWithAttempt(db: Unit, attempt: Sources<AttemptValues>, signin: Omit<SigninValues, 'attempt_id'>): Promise<{ signinId: number; attemptId: number }> {
    if (isPostgres(db)) {
      const valueOf = (name: string) => (name.startsWith('attempt.') ? valueIn(attempt, name.slice('attempt.'.length) as keyof AttemptValues) : valueIn<SigninValues>([signin], name.slice('signin.'.length) as keyof SigninValues));
      const row = (await insertAttemptAndSignin(db, valueOf)).rows[0]!;
      return { signinId: Number(row.id), attemptId: Number(row.attempt_id) };
    }
    const groups = await groupNamesOfUser(db, valueIn(attempt, 'user_id') as string);
    const attemptId = await insertAttempt(db, ...attempt, { user_group: groups.length > 0 ? groups.join(';') : null });
    return { signinId: await insertSignin(db, signin, { attempt_id: attemptId }), attemptId };
  },
};
