import type { ResultCode } from '../../auth/result-codes.js';

/** How one call (a leg: the primary phone or the backup) ended: its SPEC.md §2 code and whether the user was authenticated. */
export interface LegEnd {
  code: ResultCode;
  authenticated: boolean;
  /** The text said before hanging up (a key of the voice templates), or none when nobody listens. */
  farewell: 'call_signed_in' | 'call_denied' | 'call_fraud' | 'call_no_input' | 'call_pin_not_changed' | 'call_pin_changed' | null;
  /** A fraud report: the user is blocked (per auth.fraudAutoBlock). */
  fraud?: boolean;
  /** Counted towards throttling and lockout: a wrong PIN, not a call that failed. */
  countsAsFailure: boolean;
}

/** What the keys at the first prompt mean for a user in `mode`, when `pinRight` says whether the digits are their PIN. */
export type MenuVerdict = LegEnd | { changePin: true };

/**
 * The keys a user pressed at the first prompt of a call (SPEC.md §1–§2).
 * `digits` are the keys before `#`; `finished` is true when `#` ended the
 * entry, false when silence did.
 *
 * - silence alone: SUCCESS_NO_PIN_BUT_TIMEOUT; digits then silence:
 *   SUCCESS_WITH_PIN_BUT_TIMEOUT (nothing was submitted);
 * - the fraud code (`0#` unless configured): FAILED_FRAUD_CODE_ENTERED;
 * - anything but digits (`*`): SUCCESS_INVALID_INPUT;
 * - standard mode: `#` alone authenticates (SUCCESS_NO_PIN); digits are a PIN
 *   the mode does not take (SUCCESS_WITH_PIN, denied);
 * - PIN mode: `#` alone is denied (SUCCESS_NO_PIN); the right PIN
 *   authenticates (SUCCESS_WITH_PIN), unless it has expired, when the call
 *   asks for a new one; a wrong PIN is denied (SUCCESS_WITH_PIN).
 */
export function menuVerdict(
  entry: { digits: string; finished: boolean },
  user: { pinMode: boolean; pinChangeRequired: boolean },
  fraudCode: string,
  pinRight: (pin: string) => boolean,
): MenuVerdict {
  const { digits, finished } = entry;
  if (!finished) {
    return digits === ''
      ? { code: 'SUCCESS_NO_PIN_BUT_TIMEOUT', authenticated: false, farewell: 'call_no_input', countsAsFailure: false }
      : { code: 'SUCCESS_WITH_PIN_BUT_TIMEOUT', authenticated: false, farewell: 'call_no_input', countsAsFailure: false };
  }
  if (`${digits}#` === fraudCode) return { code: 'FAILED_FRAUD_CODE_ENTERED', authenticated: false, farewell: 'call_fraud', fraud: true, countsAsFailure: false };
  if (!/^[0-9]*$/.test(digits)) return { code: 'SUCCESS_INVALID_INPUT', authenticated: false, farewell: 'call_denied', countsAsFailure: false };
  if (!user.pinMode) {
    return digits === ''
      ? { code: 'SUCCESS_NO_PIN', authenticated: true, farewell: 'call_signed_in', countsAsFailure: false }
      : { code: 'SUCCESS_WITH_PIN', authenticated: false, farewell: 'call_denied', countsAsFailure: true };
  }
  if (digits === '') return { code: 'SUCCESS_NO_PIN', authenticated: false, farewell: 'call_denied', countsAsFailure: true };
  if (!pinRight(digits)) return { code: 'SUCCESS_WITH_PIN', authenticated: false, farewell: 'call_denied', countsAsFailure: true };
  if (user.pinChangeRequired) return { changePin: true };
  return { code: 'SUCCESS_WITH_PIN', authenticated: true, farewell: 'call_signed_in', countsAsFailure: false };
}

/** A call that ended (the carrier's final status) before the user finished: what it means at each point of the call. */
export function hangupVerdict(phase: 'ringing' | 'menu' | 'new_pin' | 'confirm_pin', status: 'completed' | 'busy' | 'no_answer' | 'failed' | 'canceled'): LegEnd {
  if (phase === 'new_pin' || phase === 'confirm_pin') return { code: 'SUCCESS_PIN_EXPIRED', authenticated: false, farewell: null, countsAsFailure: false };
  // Busy, no answer, failed (out of service, fast busy) or canceled before anyone answered: the phone could not be reached.
  if (phase === 'ringing' && status !== 'completed') return { code: 'CONFIG_ISSUE', authenticated: false, farewell: null, countsAsFailure: false };
  return { code: 'FAILED_USER_HUNGUP_ON_US', authenticated: false, farewell: null, countsAsFailure: false };
}

/**
 * Outcomes of the primary call after which the backup phone is called: the
 * primary phone could not be reached or nobody answered it properly. Not
 * after a wrong PIN, a fraud report or an unfinished PIN change: those are
 * the user's answers, and calling again would give a guesser a second try.
 */
export const TRY_BACKUP_AFTER = new Set<ResultCode>([
  'CONFIG_ISSUE',
  'FAILED_SERVER_ERROR',
  'FAILED_INVALID_PHONENUMBER',
  'FAILED_INVALID_EXTENSION',
  'FAILED_USER_HUNGUP_ON_US',
  'SUCCESS_NO_PIN_BUT_TIMEOUT',
  'SUCCESS_WITH_PIN_BUT_TIMEOUT',
  'SUCCESS_INVALID_INPUT',
]);
