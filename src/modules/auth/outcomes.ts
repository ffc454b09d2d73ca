import type { MethodName } from '../methods/contract.js';
import type { Outcome, SigninStep, TraceEntry } from './records.js';
import { detailOf, type ResultCode } from './result-codes.js';
import { because, traceEntry, type RuleDecision } from './rules/index.js';

/** One step of a sign-in's authentication details. */
export function signinStep(method: MethodName | 'engine', code: ResultCode, succeeded: boolean, at: number): SigninStep {
  return { method, result_code: code, succeeded, detail: detailOf(code, succeeded), at: new Date(at).toISOString() };
}

/** The recorded outcome of a sign-in a rule decided; `before` are steps shown ahead of the rule's (a remembered device the policy no longer honours). */
export function ruleOutcome(decision: Exclude<RuleDecision, { outcome: 'continue' }>, trace: TraceEntry[], before: SigninStep[], now: number): Outcome {
  const rule = trace[trace.length - 1]!.rule;
  return {
    status: decision.outcome === 'allow' ? 'success' : 'failure',
    mfaRequired: decision.mfaRequired,
    policy: decision.policy ?? rule,
    method: null,
    code: decision.code,
    detail: decision.detail,
    countedFailure: decision.countedFailure ?? false,
    fields: {},
    steps: [...before, ...(decision.code ? [signinStep('engine', decision.code, decision.outcome === 'allow', now)] : [])],
    trace,
  };
}

/**
 * MFA required, but the user has no verification method registered: the
 * user is sent to register one ("registration prompted", the answer says
 * enroll), or denied when registration cannot be prompted.
 */
export function noMethodOutcome(trace: TraceEntry[], before: SigninStep[], registers: boolean): Outcome {
  return {
    status: registers ? 'success' : 'failure',
    mfaRequired: true,
    policy: 'methods',
    method: null,
    code: null,
    detail: registers ? 'registration prompted' : 'user does not have any verification methods registered',
    countedFailure: false,
    fields: {},
    steps: before,
    trace: [...trace, registers ? traceEntry('methods', 'allow', because('registration_prompted')) : traceEntry('methods', 'deny', because('no_method'))],
  };
}

/** An unknown user: counted against the client IP at `auth` (guessing user names), not at preauth. */
export function userNotFoundOutcome(counted: boolean): Outcome {
  return {
    status: 'failure',
    mfaRequired: false,
    policy: 'user_lookup',
    method: null,
    code: null,
    detail: 'user not found',
    countedFailure: counted,
    fields: {},
    steps: [],
    trace: [traceEntry('user_lookup', 'deny', because('no_such_user'))],
  };
}
