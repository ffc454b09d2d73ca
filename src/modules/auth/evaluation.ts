import type { Config } from '../../config/schema.js';
import type { Clock } from '../../shared/clock.js';
import type { Keyring } from '../../shared/keyring.js';
import type { Unit } from '../../storage/database.js';
import type { UserRow } from '../../storage/schema.js';
import type { ClaimIssuers } from '../access/claims.js';
import { evaluateAccess, type AccessDecision, type MfaRequirement, type PolicyVerdict } from '../access/evaluate.js';
import type { Blocks } from './blocks.js';
import type { SigninStep, TraceEntry } from './records.js';
import type { AuthRequest } from './request.js';
import { GATE_RULES, SATISFY_RULES, because, reasonText, traceEntry, type Reason, type RuleDecision, type RuleInput, type SatisfyInput } from './rules/index.js';
import { ipThrottled } from './rules/throttle.js';

/** What evaluating a sign-in needs besides the request: the settings and services the rules read. */
export interface EvaluationDeps {
  clock: Clock;
  keyring: Keyring;
  config: Config;
  blocks: Blocks;
  claimIssuers: ClaimIssuers;
}

/** A decision that ends the sign-in without a challenge. */
export type FinalDecision = Exclude<RuleDecision, { outcome: 'continue' }>;

/** What the rules and conditional access decided: a final decision, or MFA required by a policy. */
export interface Evaluation {
  decision: FinalDecision | null;
  trace: TraceEntry[];
  /** Steps to show before the challenge's (a remembered device the policy no longer honours). */
  steps: SigninStep[];
  requirement: MfaRequirement | null;
}

/** The text an answer shows for a decision (its status_msg): the text of the decision's reason code. */
export const statusMessage = (decision: FinalDecision): string => reasonText(decision.reason);

/** A policy's verdict as a trace entry: applied or not, and which conditions did not hold. */
function verdictEntry(verdict: PolicyVerdict) {
  const reason: Reason = verdict.applied ? { code: 'policy_applied', grant: verdict.grant, text: verdict.reason } : { code: 'policy_not_applied', failed: verdict.failed, text: verdict.reason };
  return traceEntry('conditional_access', 'continue', reason, { policy: verdict.policy, applied: verdict.applied });
}

/** The reason of conditional access's decision, in the access module's words. */
function accessReason(decision: AccessDecision): Reason<'access_blocked' | 'access_allowed' | 'access_skipped' | 'mfa_required'> {
  const text = decision.reason;
  switch (decision.kind) {
    case 'block':
      return { code: 'access_blocked', policy: decision.policy, text };
    case 'allow':
      return { code: 'access_allowed', policy: decision.policy, text };
    case 'skip':
      return { code: 'access_skipped', policy: decision.policy, text };
    case 'mfa':
      return { code: 'mfa_required', policy: decision.requirement.policy, text };
  }
}

/**
 * Decides what a sign-in needs: the gate rules (disabled, locked out,
 * throttled, blocked), then conditional access (block, allow, skip, or MFA
 * required by a policy), then the ways MFA is satisfied without a
 * challenge. Returns the deciding decision (null: challenge the user), the
 * trace of every rule and policy, and the requirement.
 */
export async function evaluateSignin(deps: EvaluationDeps, trx: Unit, user: UserRow, request: AuthRequest, openChallenges: string[]): Promise<Evaluation> {
  const trace: TraceEntry[] = [];
  const steps: SigninStep[] = [];
  const input: RuleInput = {
    db: trx,
    clock: deps.clock,
    keyring: deps.keyring,
    config: deps.config.auth,
    access: deps.config.access,
    claimIssuers: deps.claimIssuers,
    blocks: deps.blocks,
    user,
    openChallenges,
    ...request,
    clientType: request.clientType ?? 'modern',
    deviceId: request.deviceId ?? null,
  };
  for (const rule of GATE_RULES) {
    const decision = await rule.evaluate(input);
    trace.push(traceEntry(rule.name, decision.outcome, decision.reason));
    if (decision.outcome !== 'continue') return { decision, trace, steps, requirement: null };
  }
  const access = await evaluateAccess(trx, deps.config.access, { user, application: request.application, ip: request.ip, clientType: input.clientType, deviceId: input.deviceId });
  for (const verdict of access.verdicts) trace.push(verdictEntry(verdict));
  const { decision } = access;
  const rule = 'conditional_access';
  if (request.proof && decision.kind !== 'block') {
    trace.push(traceEntry('identity_proof', 'continue', because('identity_proof')));
    return { decision: null, trace, steps, requirement: { policy: 'identity_proof', rememberDays: null } };
  }
  if (decision.kind !== 'mfa') {
    const outcome = decision.kind === 'block' ? 'deny' : 'allow';
    const reason = accessReason(decision);
    trace.push(traceEntry(rule, outcome, reason));
    const detail = decision.kind === 'skip' ? decision.detail : null;
    return { decision: { outcome, reason, policy: decision.policy ?? rule, code: null, detail, mfaRequired: false }, trace, steps, requirement: null };
  }
  trace.push(traceEntry(rule, 'continue', accessReason(decision)));
  // The same object for every rule: copying its twenty-odd fields for each rule costs more than most rules do.
  const satisfyInput: SatisfyInput = Object.assign(input, { requirement: decision.requirement });
  const { requirement } = satisfyInput;
  for (const satisfy of SATISFY_RULES) {
    const verdict = await satisfy.evaluate(satisfyInput);
    trace.push(traceEntry(satisfy.name, verdict.outcome, verdict.reason));
    if (verdict.outcome === 'continue' && verdict.step) steps.push({ method: verdict.step.method, result_code: null, succeeded: false, detail: verdict.step.detail, at: new Date(deps.clock.now()).toISOString() });
    if (verdict.outcome !== 'continue') return { decision: verdict, trace, steps, requirement };
  }
  return { decision: null, trace, steps, requirement };
}

/**
 * A sign-in for a user name that does not exist is counted against the
 * client IP (guessing user names), and refused as throttled once the IP is
 * over its limit: the throttle's decision then, else null.
 */
export async function evaluateUnknownUser(deps: EvaluationDeps, trx: Unit, request: AuthRequest): Promise<{ decision: FinalDecision; trace: TraceEntry[] } | null> {
  const throttled = await ipThrottled(trx, deps.clock.now(), deps.config.auth, request.ip);
  if (!throttled) return null;
  const decision: FinalDecision = { outcome: 'deny', reason: throttled, code: 'FAILED_AUTHENTICATION_THROTTLED', detail: 'entered incorrect code too many times', mfaRequired: false };
  return { decision, trace: [traceEntry('throttle', 'deny', throttled)] };
}
