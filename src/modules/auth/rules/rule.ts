import type { Config } from '../../../config/schema.js';
import type { Clock } from '../../../shared/clock.js';
import type { Keyring } from '../../../shared/keyring.js';
import type { ClaimIssuers } from '../../access/claims.js';
import type { MfaRequirement } from '../../access/evaluate.js';
import type { ClientType } from '../../access/policies.js';
import type { Unit } from '../../../storage/database.js';
import type { Database, UserRow } from '../../../storage/schema.js';
import type { AuthenticatedApplication } from '../../applications/applications.js';
import type { Blocks } from '../blocks.js';
import type { MfaDetail } from '../mfa-details.js';
import type { ResultCode } from '../result-codes.js';
import { because, type DetailsArgs, type Reason, type ReasonCode } from './reasons.js';

/** What every rule sees: the request and the user, inside the engine's unit of work (a writing rule's changes commit with the sign-in's record). */
export interface RuleInput {
  db: Unit;
  clock: Clock;
  keyring: Keyring;
  config: Config['auth'];
  access: Config['access'];
  claimIssuers: ClaimIssuers;
  blocks: Blocks;
  user: UserRow;
  application: AuthenticatedApplication;
  ip: string | null;
  authType: string;
  entryPoint: string;
  clientType: ClientType;
  deviceId: string | null;
  /** What the application sent to satisfy MFA without a challenge, if anything. */
  rememberToken?: string;
  claimToken?: string;
  appPassword?: string;
  /** Ids of the user's challenges still open (pending and not expired). */
  openChallenges: string[];
}

/** What the rules after conditional access also see: MFA is required, and by which policy. */
export interface SatisfyInput extends RuleInput {
  requirement: MfaRequirement;
}

/**
 * A rule either lets evaluation go on or decides the sign-in, always saying
 * why: a reason code of the rule's own (`Code`, from rules/reasons.ts) with
 * its details. The text people read is made from it in one place
 * (`reasonText`); tests and readers of the trace compare codes, not text.
 */
export type RuleDecision<Code extends ReasonCode = ReasonCode> =
  | {
      outcome: 'continue';
      reason: Reason<Code>;
      /** A step to show in the sign-in's authentication details (a remembered device whose token the policy no longer honours). */
      step?: { method: 'remembered_device'; detail: MfaDetail };
    }
  | {
      outcome: 'allow' | 'deny';
      reason: Reason<Code>;
      /** The policy the sign-in log names, when not the rule's own name. */
      policy?: string;
      code: ResultCode | null;
      detail: MfaDetail | null;
      mfaRequired: boolean;
      /** A denial that is a guess by the caller counts towards throttling. */
      countedFailure?: boolean;
    };

interface RuleShape<Input extends RuleInput, Code extends ReasonCode> {
  /** Stable snake_case name: the sign-in log shows which rule decided. */
  name: string;
  evaluate(input: Input): Promise<RuleDecision<Code>>;
}

/** A rule that only reads: whatever it decides, the unit's tables are as they were (test/rules.declared-writes.test.ts checks it). */
export interface ReadingRule<Input extends RuleInput = RuleInput, Code extends ReasonCode = ReasonCode> extends RuleShape<Input, Code> {
  effects: 'none';
}

/**
 * A rule that changes state in the unit as it decides: lockout completes a
 * lockout that has ended, throttle opens one, bypass uses up the user's
 * bypass, app_password notes when a password was last used. Its changes
 * commit or roll back with the sign-in's record, so it runs only inside the
 * engine's unit and only once per sign-in; `tables` names every table it may
 * change, and the test holds it to that.
 */
export interface WritingRule<Input extends RuleInput = RuleInput, Code extends ReasonCode = ReasonCode> extends RuleShape<Input, Code> {
  effects: 'writes';
  tables: readonly (keyof Database)[];
}

/** A rule says in its type whether it writes: a reader of the rule lists (and the engine) can tell which ones change the unit. */
export type Rule<Input extends RuleInput = RuleInput, Code extends ReasonCode = ReasonCode> = ReadingRule<Input, Code> | WritingRule<Input, Code>;

/** A rule that runs once MFA is known to be required. */
export type SatisfyRule<Code extends ReasonCode = ReasonCode> = Rule<SatisfyInput, Code>;

/** Evaluation goes on, for this reason: `next('no_bypass')`, `next('under_failure_limits', { recent, today })`. */
export const next = <Code extends ReasonCode>(code: Code, ...details: DetailsArgs<Code>): RuleDecision<Code> => ({ outcome: 'continue', reason: because(code, ...details) });
