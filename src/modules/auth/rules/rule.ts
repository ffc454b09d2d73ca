import type { Config } from '../../../config/schema.js';
import type { Clock } from '../../../shared/clock.js';
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
  config: Config['auth'];
  blocks: Blocks;
  user: UserRow;
  application: AuthenticatedApplication;
  ip: string | null;
  authType: string;
  entryPoint: string;
  /** Ids of the user's challenges still open (pending and not expired). */
  openChallenges: string[];
}

/** A rule either lets evaluation go on or decides the sign-in, always saying why. */
export type RuleDecision =
  | { outcome: 'continue'; reason: string }
  | {
      outcome: 'allow' | 'deny';
      reason: string;
      code: ResultCode | null;
      detail: MfaDetail | null;
      mfaRequired: boolean;
      /** A denial that is a guess by the caller counts towards throttling. */
      countedFailure?: boolean;
    };

export interface Rule {
  /** Stable snake_case name: the sign-in log shows which rule decided. */
  name: string;
  evaluate(input: RuleInput): Promise<RuleDecision>;
}

export const next = (reason: string): RuleDecision => ({ outcome: 'continue', reason });
