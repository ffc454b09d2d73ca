import type { Grant } from '../../access/policies.js';
import type { PolicyVerdict } from '../../access/evaluate.js';
import type { TraceEntry } from '../records.js';

type NoDetails = Record<never, never>;

/**
 * What conditional access says comes in its own words (modules/access/
 * evaluate.ts words every verdict and decision): the code and details say
 * what happened, `text` is how the access module put it.
 */
interface Worded {
  text: string;
}

/**
 * Every reason the evaluation of a sign-in gives, by stable code, with the
 * details its text is made from. Codes are unique across rules, so a
 * reader of the sign-in log can look for one without knowing the rule;
 * details are snake_case, as the sign-in log API shows them; times are ISO
 * 8601. A code, once recorded, keeps its meaning: add codes, do not reuse them.
 */
export interface ReasonDetails {
  // account_disabled
  account_enabled: NoDetails;
  account_disabled: NoDetails;
  // lockout
  no_open_block: NoDetails;
  /** The user's open block is not an account lockout (or its record is gone): user_blocked decides. */
  not_a_lockout: NoDetails;
  lockout_ended: { block: number };
  /** until: null for a lockout that lasts until an administrator unblocks. */
  locked_out: { until: string | null };
  // throttle
  under_failure_limits: { recent: number; today: number };
  ip_over_failure_limit: { ip: string; failures: number; window_seconds: number };
  user_over_failure_limit: { recent: number; window_seconds: number; today: number; until: string };
  // user_blocked
  not_blocked: NoDetails;
  user_blocked: NoDetails;
  // conditional_access: one entry per policy, then the decision
  policy_applied: Worded & { grant: Grant };
  policy_not_applied: Worded & { failed: PolicyVerdict['failed'] };
  access_blocked: Worded & { policy: string };
  access_allowed: Worded & { policy: string | null };
  access_skipped: Worded & { policy: string };
  mfa_required: Worded & { policy: string };
  // identity_proof
  identity_proof: NoDetails;
  // trusted_broker
  not_a_broker_flow: NoDetails;
  broker_flow: { application: string; entry_point: string };
  // token_claim
  no_claim_token: NoDetails;
  /** why: what the claim check found wrong (modules/access/claims.ts words it). */
  claim_refused: { why: string };
  claim_accepted: { issuer: string };
  // remembered_device
  no_remember_token: NoDetails;
  remember_token_invalid: NoDetails;
  remembered_devices_revoked: NoDetails;
  policy_does_not_remember: { policy: string };
  remembered_too_long: { since: string; policy: string; days: number };
  device_remembered: { until: string };
  // app_password
  no_app_password: NoDetails;
  app_password_wrong: NoDetails;
  app_password_used: { name: string };
  // bypass
  no_bypass: NoDetails;
  bypass_ended: { bypass: number };
  bypass_expired: { bypass: number };
  bypass_used: { bypass: number };
  // cache
  cache_off: NoDetails;
  no_cache_entry: { kind: CacheKind };
  cache_hit: { kind: CacheKind; succeeded_at: string };
  // phone_busy
  none_in_progress: NoDetails;
  in_progress: { challenge: string };
  // methods
  registration_prompted: NoDetails;
  no_method: NoDetails;
  // user_lookup
  no_such_user: NoDetails;
}

export type CacheKind = 'user' | 'ip' | 'app';

export type ReasonCode = keyof ReasonDetails;

/** A reason: its code with that code's details beside it, e.g. `{ code: 'locked_out', until: '2026-11-01T12:15:00.000Z' }`. */
export type Reason<Code extends ReasonCode = ReasonCode> = { [C in Code]: { code: C } & ReasonDetails[C] }[Code];

/** The reason's details when it has none, else them: what `because` and `next` take after the code. */
export type DetailsArgs<Code extends ReasonCode> = keyof ReasonDetails[Code] extends never ? [] : [details: ReasonDetails[Code]];

/**
 * The text of each code, for people: the sign-in log's trace and an
 * answer's status_msg. These are the texts the trace showed before it had
 * codes, word for word, so old and new sign-ins read alike.
 */
const TEXTS: { [C in ReasonCode]: (details: ReasonDetails[C]) => string } = {
  account_enabled: () => 'account is enabled',
  account_disabled: () => 'the account is disabled',
  no_open_block: () => 'no open block',
  not_a_lockout: () => 'no lockout',
  lockout_ended: () => 'the lockout has ended',
  locked_out: ({ until }) => `locked out until ${until ?? 'an administrator unblocks'}`,
  under_failure_limits: ({ recent, today }) => `${recent} recent failures, ${today} today`,
  ip_over_failure_limit: ({ ip, failures, window_seconds }) => `${failures} failures from ${ip} in ${window_seconds} s`,
  user_over_failure_limit: ({ recent, window_seconds, today, until }) => `${recent} failures in ${window_seconds} s, ${today} in 24 h: locked out until ${until}`,
  not_blocked: () => 'not blocked',
  user_blocked: () => 'the user is blocked',
  policy_applied: ({ text }) => text,
  policy_not_applied: ({ text }) => text,
  access_blocked: ({ text }) => text,
  access_allowed: ({ text }) => text,
  access_skipped: ({ text }) => text,
  mfa_required: ({ text }) => text,
  identity_proof: () => 'a proof of identity: a method must prove the user',
  not_a_broker_flow: () => 'not a trusted broker flow',
  broker_flow: ({ application, entry_point }) => `${application} through ${entry_point} is a trusted broker flow`,
  no_claim_token: () => 'no claim token',
  claim_refused: ({ why }) => why,
  claim_accepted: ({ issuer }) => `MFA claim from ${issuer}`,
  no_remember_token: () => 'no remembered-device token',
  remember_token_invalid: () => 'the remembered-device token is not valid for this user',
  remembered_devices_revoked: () => 'the remembered devices of the user were revoked',
  policy_does_not_remember: ({ policy }) => `${policy} does not let devices remember MFA`,
  remembered_too_long: ({ since, policy, days }) => `remembered since ${since}, longer than ${policy} allows (${days} days)`,
  device_remembered: ({ until }) => `device remembered until ${until}`,
  no_app_password: () => 'no app password',
  app_password_wrong: () => "the app password is not one of the user's",
  app_password_used: ({ name }) => `app password ${name}`,
  no_bypass: () => 'no bypass',
  bypass_ended: () => 'the bypass had ended',
  bypass_expired: () => 'the bypass expired unused',
  bypass_used: ({ bypass }) => `one-time bypass ${bypass} used`,
  cache_off: () => 'the cache is off',
  no_cache_entry: ({ kind }) => `no ${kind} cache entry`,
  cache_hit: ({ kind, succeeded_at }) => `${kind} cache: succeeded at ${succeeded_at}`,
  none_in_progress: () => 'no authentication in progress',
  in_progress: ({ challenge }) => `authentication ${challenge} is in progress`,
  registration_prompted: () => 'no verification method registered: the user is sent to register one',
  no_method: () => 'no verification method registered',
  no_such_user: () => 'no such user',
};

/** Every reason code, in the order of the registry (docs/authentication.md lists them all). */
export const REASON_CODES = Object.keys(TEXTS) as ReasonCode[];

/** The one place a reason becomes text. */
export function reasonText(reason: Reason): string {
  return (TEXTS[reason.code] as (details: Reason) => string)(reason);
}

/** A reason from its code and details: `because('locked_out', { until })`, `because('no_bypass')`. */
export function because<Code extends ReasonCode>(code: Code, ...details: DetailsArgs<Code>): Reason<Code> {
  return { code, ...details[0] } as Reason<Code>;
}

/**
 * The trace's entry for a reason: the code, the details (when there are
 * any) and the text, stored together so the sign-in log reads without this
 * table and filters by code. Words conditional access brings are the entry's
 * text, not a detail: stored once.
 */
export function traceEntry(rule: string, outcome: TraceEntry['outcome'], reason: Reason, about: Pick<TraceEntry, 'policy' | 'applied'> = {}): TraceEntry {
  const { code, text: _words, ...details } = reason as Reason & { text?: string };
  return { rule, ...about, outcome, code, ...(Object.keys(details).length > 0 ? { details } : {}), reason: reasonText(reason) };
}
