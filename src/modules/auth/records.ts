import type { Unit } from '../../storage/database.js';
import { signinsRepository, type AttemptValues, type SigninValues } from '../../storage/repositories/signins.js';
import { ipKey } from '../../shared/ip-key.js';
import type { UserRow } from '../../storage/schema.js';
import type { ClientType } from '../access/policies.js';
import type { AuthenticatedApplication } from '../applications/applications.js';
import type { AttemptFields, MethodName, PushFatigue } from '../methods/contract.js';
import type { MfaDetail } from './mfa-details.js';
import { RESULT_CODES, type ResultCode } from './result-codes.js';
import type { ReasonCode } from './rules/reasons.js';

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
  /** The stable reason code (rules/reasons.ts); sign-ins recorded before codes were have none. */
  code?: ReasonCode;
  /** What the code is about (a time, a count, a policy), as rules/reasons.ts types it; absent when the code needs none. */
  details?: Record<string, unknown>;
  /** The code's text for people, stored with it so the log reads the same in every version. */
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
export async function writeOutcome(db: Unit, at: number, user: UserRow | null, username: string, request: RequestContext, outcome: Outcome): Promise<{ signinId: number; attemptId: number | null }> {
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
  if (!user || !outcome.code) return { signinId: await signinsRepository.insert(db, signin), attemptId: null };
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
  return signinsRepository.insertWithAttempt(db, [outcome.fields, attempt], signin);
}
