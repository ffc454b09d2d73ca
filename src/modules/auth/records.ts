import type { Executor } from '../../storage/database.js';
import { groupsRepository } from '../../storage/repositories/groups.js';
import { prepared } from '../../storage/prepared.js';
import { readThrough } from '../../storage/read-cache.js';
import type { NewAuthAttempt, NewSignin, UserRow } from '../../storage/schema.js';
import type { AuthenticatedApplication } from '../applications/applications.js';
import type { AttemptFields, MethodName } from '../methods/contract.js';
import type { MfaDetail } from './mfa-details.js';
import { RESULT_CODES, type ResultCode } from './result-codes.js';

/** One step of a sign-in's authentication details (SPEC.md §3): method, result code, success, detail, time. */
export interface SigninStep {
  method: MethodName | 'engine';
  result_code: ResultCode;
  succeeded: boolean;
  detail: MfaDetail;
  at: string;
}

/** One rule of the evaluation trace: what it said and whether it decided. */
export interface TraceEntry {
  rule: string;
  outcome: 'continue' | 'allow' | 'deny';
  reason: string;
}

export interface RequestContext {
  application: AuthenticatedApplication;
  ip: string | null;
  authType: string;
  entryPoint: string;
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
}

type AttemptValues = Required<Omit<NewAuthAttempt, 'id'>>;
type SigninValues = Required<Omit<NewSignin, 'id'>>;

/** Every column of an attempt record; a record without a value for one (a phone field of an OATH attempt) holds null. */
const EMPTY_ATTEMPT: Omit<AttemptValues, 'at' | 'username' | 'auth_type' | 'application' | 'authenticated' | 'result' | 'entry_point'> = {
  user_id: null,
  first_name: null,
  last_name: null,
  email: null,
  user_group: null,
  method: null,
  call_mode: null,
  sms_direction: null,
  sms_mode: null,
  app_mode: null,
  oath_mode: null,
  primary_country_code: null,
  primary_phone_number: null,
  primary_extension: null,
  primary_authenticated: null,
  primary_result: null,
  backup_country_code: null,
  backup_phone_number: null,
  backup_extension: null,
  backup_authenticated: null,
  backup_result: null,
  caller_ip: null,
  device: null,
  device_token: null,
  device_type: null,
  app_version: null,
  os_version: null,
  number_matching: null,
};

/** An insert of every column, each value a parameter: prepared once, since every authentication writes one. */
function insertEvery<Values extends Record<string, unknown>>(table: 'auth_attempts' | 'signins', columns: readonly (keyof Values & string)[]) {
  const insert = prepared<Values, { id: number }>((db, param) =>
    db
      .insertInto(table)
      .values(Object.fromEntries(columns.map((column) => [column, param(column)])) as never)
      .returning('id'),
  );
  return async (db: Executor, values: Values): Promise<number> => {
    // A method may leave a field it fills undefined: it is written as null like every field it does not fill.
    for (const column of columns) if (values[column] === undefined) (values as Record<string, unknown>)[column] = null;
    return Number((await insert(db, values)).rows[0]!.id);
  };
}

const ATTEMPT_COLUMNS = [...Object.keys(EMPTY_ATTEMPT), 'at', 'username', 'auth_type', 'application', 'authenticated', 'result', 'entry_point'] as (keyof AttemptValues & string)[];
const insertAttempt = insertEvery<AttemptValues>('auth_attempts', ATTEMPT_COLUMNS);
const SIGNIN_COLUMNS = [
  'at', 'user_id', 'username', 'application_id', 'application', 'ip', 'auth_type', 'entry_point', 'status', 'mfa_required',
  'policy', 'method', 'result_code', 'detail', 'attempt_id', 'counted_failure', 'steps', 'trace',
] as const satisfies readonly (keyof SigninValues)[];
const insertSignin = insertEvery<SigninValues>('signins', SIGNIN_COLUMNS);

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
  let attemptId: number | null = null;
  if (user && outcome.code) {
    const groups = await readThrough(db, `groups:${user.id}`, () => groupsRepository.namesOfUser(db, user.id));
    const values: AttemptValues = {
      ...EMPTY_ATTEMPT,
      at,
      user_id: user.id,
      username: user.username,
      first_name: user.first_name,
      last_name: user.last_name,
      email: user.email,
      user_group: groups.length > 0 ? groups.join(';') : null,
      method: methodColumn(outcome.method, outcome.code),
      auth_type: request.authType,
      application: request.application.name,
      authenticated: outcome.status === 'success' ? 1 : 0,
      result: outcome.code,
      caller_ip: request.ip,
      entry_point: request.entryPoint,
      ...outcome.fields,
    };
    attemptId = await insertAttempt(db, values);
  }
  const signin: SigninValues = {
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
    attempt_id: attemptId,
    counted_failure: outcome.countedFailure ? 1 : 0,
    steps: JSON.stringify(outcome.steps),
    trace: JSON.stringify(outcome.trace),
  };
  return { signinId: await insertSignin(db, signin), attemptId };
}
