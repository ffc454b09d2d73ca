import { sql } from 'kysely';
import { isPostgres, type Executor } from '../../storage/database.js';
import { groupsRepository } from '../../storage/repositories/groups.js';
import { ipKey } from '../../shared/ip-key.js';
import { prepared } from '../../storage/prepared.js';
import { readThrough } from '../../storage/read-cache.js';
import type { NewAuthAttempt, NewSignin, UserRow } from '../../storage/schema.js';
import type { ClientType } from '../access/policies.js';
import type { AuthenticatedApplication } from '../applications/applications.js';
import type { AttemptFields, MethodName, PushFatigue } from '../methods/contract.js';
import type { MfaDetail } from './mfa-details.js';
import { RESULT_CODES, type ResultCode } from './result-codes.js';

/** One step of a sign-in's authentication details (SPEC.md §3): method, result code, success, detail, time. */
export interface SigninStep {
  /** The method; engine for a rule's result code; remembered_device for a token the policy no longer honours. */
  method: MethodName | 'engine' | 'remembered_device';
  /** Null for a step that produced no SPEC.md §2 code (a remembered device). */
  result_code: ResultCode | null;
  succeeded: boolean;
  detail: MfaDetail;
  at: string;
}

/**
 * One rule of the evaluation trace: what it said and whether it decided.
 * Conditional access adds one entry per policy (rule conditional_access,
 * the policy's name, whether it applied and why), then its decision.
 */
export interface TraceEntry {
  rule: string;
  outcome: 'continue' | 'allow' | 'deny';
  reason: string;
  policy?: string;
  applied?: boolean;
}

export interface RequestContext {
  application: AuthenticatedApplication;
  ip: string | null;
  authType: string;
  entryPoint: string;
  /** modern, or legacy (a protocol that cannot show a second factor); modern when not given. */
  clientType?: ClientType;
  /** The device the user signs in from, as the application names it. */
  deviceId?: string | null;
}

export interface Outcome {
  status: 'success' | 'failure';
  mfaRequired: boolean;
  /** The rule or method that decided. */
  policy: string;
  method: MethodName | null;
  code: ResultCode | null;
  detail: MfaDetail | null;
  countedFailure: boolean;
  fields: AttemptFields;
  steps: SigninStep[];
  trace: TraceEntry[];
  /** What the push-fatigue defence did, for the sign-in log. */
  pushFatigue?: PushFatigue | null;
}

type AttemptValues = Required<Omit<NewAuthAttempt, 'id'>>;
type SigninValues = Required<Omit<NewSignin, 'id'>>;

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

type Sources<Values> = Partial<Values>[];

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
          // As groupsRepository.namesOfUser lists them, joined with ';' (null for none).
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

/** The attempt record (its columns but the user's groups, in `attempt`) and the sign-in event that names it. */
async function insertRecords(db: Executor, attempt: Sources<AttemptValues>, signin: Omit<SigninValues, 'attempt_id'>): Promise<{ signinId: number; attemptId: number }> {
  if (isPostgres(db)) {
    const valueOf = (name: string) => (name.startsWith('attempt.') ? valueIn(attempt, name.slice('attempt.'.length) as keyof AttemptValues) : valueIn<SigninValues>([signin], name.slice('signin.'.length) as keyof SigninValues));
    const row = (await insertAttemptAndSignin(db, valueOf)).rows[0]!;
    return { signinId: Number(row.id), attemptId: Number(row.attempt_id) };
  }
  const userId = valueIn(attempt, 'user_id') as string;
  const groups = await readThrough(db, `groups:${userId}`, () => groupsRepository.namesOfUser(db, userId));
  const attemptId = await insertAttempt(db, ...attempt, { user_group: groups.length > 0 ? groups.join(';') : null });
  return { signinId: await insertSignin(db, signin, { attempt_id: attemptId }), attemptId };
}

const methodColumn = (method: MethodName | null, code: ResultCode): string | null => {
  if (method) return method;
  const channel = RESULT_CODES[code].channel;
  return channel === 'engine' ? null : channel;
};

/**
 * Writes the SPEC.md §5 attempt record (when a result code was produced for
 * a known user) and the SPEC.md §3 sign-in event. Call it with the transaction
 * that made the state change the outcome depends on.
 */
export async function writeOutcome(db: Executor, at: number, user: UserRow | null, username: string, request: RequestContext, outcome: Outcome): Promise<{ signinId: number; attemptId: number | null }> {
  const signin: Omit<SigninValues, 'attempt_id'> = {
    at,
    user_id: user?.id ?? null,
    username: user?.username ?? username,
    application_id: request.application.id,
    application: request.application.name,
    ip: request.ip,
    auth_type: request.authType,
    entry_point: request.entryPoint,
    status: outcome.status,
    mfa_required: outcome.mfaRequired ? 1 : 0,
    policy: outcome.policy,
    method: outcome.method,
    result_code: outcome.code,
    detail: outcome.detail,
    counted_failure: outcome.countedFailure ? 1 : 0,
    steps: JSON.stringify(outcome.steps),
    trace: JSON.stringify(outcome.trace),
    push_fatigue: outcome.pushFatigue ?? null,
    ip_key: ipKey(request.ip),
    client_type: request.clientType ?? 'modern',
    device_id: request.deviceId ?? null,
  };
  if (!user || !outcome.code) return { signinId: await insertSignin(db, signin, { attempt_id: null }), attemptId: null };
  const attempt: Omit<AttemptValues, keyof AttemptFields | 'user_group'> = {
    at,
    user_id: user.id,
    username: user.username,
    first_name: user.first_name,
    last_name: user.last_name,
    email: user.email,
    method: methodColumn(outcome.method, outcome.code),
    auth_type: request.authType,
    application: request.application.name,
    authenticated: outcome.status === 'success' ? 1 : 0,
    result: outcome.code,
    caller_ip: request.ip,
    entry_point: request.entryPoint,
  };
  // What the method filled in first: a method's fields name its own attempt (its mode, its phone, its device).
  return insertRecords(db, [outcome.fields, attempt], signin);
}
