import { accountDisabled } from './account-disabled.js';
import { appPassword } from './app-password.js';
import { bypass } from './bypass.js';
import { cache } from './cache.js';
import { lockout } from './lockout.js';
import { phoneBusy } from './phone-busy.js';
import { rememberedDevice } from './remembered-device.js';
import type { Rule, SatisfyRule } from './rule.js';
import { throttle } from './throttle.js';
import { tokenClaim } from './token-claim.js';
import { trustedBroker } from './trusted-broker.js';
import { userBlocked } from './user-blocked.js';

/**
 * The rules an authentication passes before conditional access, in order: a
 * disabled, locked-out, throttled or blocked user goes no further. lockout
 * and throttle write (rule.ts WritingRule).
 */
export const GATE_RULES: readonly Rule[] = [accountDisabled, lockout, throttle, userBlocked];

/**
 * The rules after conditional access has found MFA required, in order: the
 * ways MFA is satisfied without a challenge, then the in-progress check. An
 * administrator's bypass comes after the user's own ways, so that it is not
 * used up by a sign-in that needed none. app_password and bypass write.
 */
export const SATISFY_RULES: readonly SatisfyRule[] = [trustedBroker, tokenClaim, rememberedDevice, appPassword, bypass, cache, phoneBusy];

export type { ReadingRule, Rule, RuleDecision, RuleInput, SatisfyInput, SatisfyRule, WritingRule } from './rule.js';
export { because, reasonText, traceEntry, REASON_CODES, type Reason, type ReasonCode, type ReasonDetails } from './reasons.js';
