import type { Config } from '../../../config/schema.js';
import type { Clock } from '../../../shared/clock.js';
import type { Keyring } from '../../../shared/keyring.js';
import type { ClaimIssuers } from '../../access/claims.js';
import type { MfaRequirement } from '../../access/evaluate.js';
import type { ClientType } from '../../access/policies.js';
import type { Executor } from '../../../storage/database.js';
import type { UserRow } from '../../../storage/schema.js';
import type { AuthenticatedApplication } from '../../applications/applications.js';
import type { Blocks } from '../blocks.js';
import type { MfaDetail } from '../mfa-details.js';
import type { ResultCode } from '../result-codes.js';

/** What every rule sees: the request and the user, inside the engine's transaction. */
export interface RuleInput {
  db: Executor;
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

/** A rule either lets evaluation go on or decides the sign-in, always saying why. */
export type RuleDecision =
  | {
      outcome: 'continue';
      reason: string;
      /** A step to show in the sign-in's authentication details (a remembered device whose token the policy no longer honours). */
      step?: { method: 'remembered_device'; detail: MfaDetail };
    }
  | {
      outcome: 'allow' | 'deny';
      reason: string;
      /** The policy the sign-in log names, when not the rule's own name. */
      policy?: string;
      code: ResultCode | null;
      detail: MfaDetail | null;
      mfaRequired: boolean;
      /** A denial that is a guess by the caller counts towards throttling. */
      countedFailure?: boolean;
    };

export interface Rule<Input extends RuleInput = RuleInput> {
  /** Stable snake_case name: the sign-in log shows which rule decided. */
  name: string;
  evaluate(input: Input): Promise<RuleDecision>;
}

/** A rule that runs once MFA is known to be required. */
export type SatisfyRule = Rule<SatisfyInput>;

export const next = (reason: string): RuleDecision => ({ outcome: 'continue', reason });
