import { accountDisabled } from './account-disabled.js';
import { bypass } from './bypass.js';
import { cache } from './cache.js';
import { lockout } from './lockout.js';
import { mfaState } from './mfa-state.js';
import { phoneBusy } from './phone-busy.js';
import type { Rule } from './rule.js';
import { throttle } from './throttle.js';
import { userBlocked } from './user-blocked.js';

/**
 * The rules an authentication passes before a challenge, in order. Blocks and
 * throttling come before the bypass: an administrator's bypass does not undo
 * a fraud block or a lockout.
 */
export const RULES: readonly Rule[] = [accountDisabled, lockout, throttle, userBlocked, bypass, mfaState, cache, phoneBusy];

export type { Rule, RuleDecision, RuleInput } from './rule.js';
