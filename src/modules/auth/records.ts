import type { Executor } from '../../storage/database.js';
import { groupsRepository } from '../../storage/repositories/groups.js';
import type { UserRow } from '../../storage/schema.js';
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
    const groups = (await groupsRepository.namesByUser(db, [user.id])).get(user.id) ?? [];
    const inserted = await db
      .insertInto('auth_attempts')
      .values({
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
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    attemptId = Number(inserted.id);
  }
  const signin = await db
    .insertInto('signins')
    .values({
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
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { signinId: Number(signin.id), attemptId };
}
