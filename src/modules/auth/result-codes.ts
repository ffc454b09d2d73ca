import type { DeniedDetail, MfaDetail, SatisfiedDetail } from './mfa-details.js';

/** Which channel produced a result (the column "method" of the attempt record). */
export type Channel = 'voice' | 'sms' | 'app' | 'oath' | 'questions' | 'engine';

/**
 * What a result means for the authentication:
 * - `satisfied`: the user is authenticated;
 * - `denied`: the user is not;
 * - `pending`: a challenge is open and will end later;
 * - `verify`: the channel worked and the outcome depends on what the user
 *   entered (a PIN, an OTP): the attempt records `authenticated` separately,
 *   and a wrong entry is shown with `deniedDetail`.
 */
export type Outcome = 'satisfied' | 'denied' | 'pending' | 'verify';

interface Entry {
  shortText: string;
  meaning: string;
  channel: Channel;
  outcome: Outcome;
  /** The SPEC.md §3 detail of this code. */
  detail: MfaDetail;
}

const satisfied = (channel: Channel, shortText: string, meaning: string, detail: SatisfiedDetail = 'successfully completed'): Entry => ({
  shortText,
  meaning,
  channel,
  outcome: 'satisfied',
  detail,
});
const denied = (channel: Channel, shortText: string, meaning: string, detail: DeniedDetail): Entry => ({ shortText, meaning, channel, outcome: 'denied', detail });
const verify = (channel: Channel, shortText: string, meaning: string): Entry => ({ shortText, meaning, channel, outcome: 'verify', detail: 'successfully completed' });

/**
 * SPEC.md §2: every result code of an authentication attempt, as data. The
 * codes are wire values; HTTP, CLI, records, logs and reports only translate
 * this table and never invent a code.
 */
export const RESULT_CODES = {
  SUCCESS_WITH_PIN: verify('voice', 'PIN entered', 'user entered a PIN; authenticated means it was right, denied means wrong PIN or the user is in standard mode'),
  SUCCESS_NO_PIN: verify('voice', 'only # entered', 'PIN-mode user denied: pressed # without a PIN; standard-mode user authenticated: # alone is correct'),
  SUCCESS_WITH_PIN_BUT_TIMEOUT: denied('voice', '# not pressed after entry', 'digits typed but no terminating #, so nothing was submitted', 'user never entered the verification code'),
  SUCCESS_NO_PIN_BUT_TIMEOUT: denied('voice', 'no phone input, timed out', 'call answered, no response; usually voicemail answered', 'phone call went to voicemail'),
  SUCCESS_PIN_EXPIRED: denied('voice', 'PIN expired and not changed', 'user was asked to change an expired PIN and did not finish', 'invalid authentication'),
  SUCCESS_USED_CACHE: satisfied('engine', 'used cache', 'no MFA call: same username succeeded within the configured cache window', 'satisfied by strong authentication'),
  SUCCESS_BYPASSED_AUTH: satisfied('engine', 'bypassed auth', 'a one-time bypass for the user was used'),
  SUCCESS_USED_IP_BASED_CACHE: satisfied(
    'engine',
    'used IP-based cache',
    'same username, auth type, application name and IP succeeded within the window',
    'satisfied by strong authentication',
  ),
  SUCCESS_USED_APP_BASED_CACHE: satisfied('engine', 'used app-based cache', 'same username, auth type and application name succeeded within the window', 'satisfied by strong authentication'),
  SUCCESS_INVALID_INPUT: denied('voice', 'invalid phone input', 'response from the phone was not valid (fax/modem, or * typed in the PIN)', 'invalid authentication'),
  SUCCESS_USER_BLOCKED: denied('engine', 'user is blocked', "the user's phone number is blocked (by the user during a call, by an admin, or by a fraud alert)", 'user is blocked'),
  SUCCESS_SMS_AUTHENTICATED: satisfied('sms', 'SMS authenticated', 'two-way SMS: the user replied with the correct OTP (+ PIN)'),
  SUCCESS_SMS_SENT: verify('sms', 'SMS sent', 'one-way SMS with an OTP was sent; user completes by entering OTP (+ PIN)'),
  SUCCESS_PHONE_APP_AUTHENTICATED: satisfied('app', 'mobile app authenticated', 'the user approved in the mobile app'),
  SUCCESS_OATH_CODE_PENDING: { shortText: 'OATH code pending', meaning: 'prompted for an OATH code, no answer yet', channel: 'oath', outcome: 'pending', detail: 'authentication in-progress' },
  SUCCESS_OATH_CODE_VERIFIED: satisfied('oath', 'OATH code verified', 'the OATH code was right'),
  SUCCESS_FALLBACK_OATH_CODE_VERIFIED: satisfied('oath', 'fallback OATH code verified', 'primary method denied, then a valid OATH code given as fallback'),
  SUCCESS_FALLBACK_SECURITY_QUESTIONS_ANSWERED: satisfied(
    'questions',
    'fallback security questions answered',
    'primary method denied, then security questions answered correctly',
  ),
  FAILED_PHONE_BUSY: denied(
    'engine',
    'authentication already in progress',
    'an authentication for this user is already being processed (typically a RADIUS client resending during one logon)',
    'duplicate authentication attempt',
  ),
  CONFIG_ISSUE: denied('voice', 'phone unreachable', 'call could not be placed or was not answered (busy, fast busy, out of service, timeout)', "unable to reach the user's phone"),
  FAILED_INVALID_PHONENUMBER: denied('voice', 'invalid phone number format', 'must be numeric; 10 digits for country code +1', 'phone number has an invalid format'),
  FAILED_USER_HUNGUP_ON_US: denied('voice', 'user hung up', 'answered, hung up without pressing anything', 'user hung up the phone call without succeeding the authentication'),
  FAILED_INVALID_EXTENSION: denied('voice', 'invalid extension', 'extension may hold only digits, commas, *, #, optionally prefixed by @', 'misconfiguration'),
  FAILED_FRAUD_CODE_ENTERED: denied('voice', 'fraud code entered', 'user reported fraud during the call: denied and the phone number blocked', 'user declined the authentication'),
  FAILED_SERVER_ERROR: denied('voice', 'unable to place call', 'the server could not place the call', 'service error'),
  FAILED_SMS_NOT_SENT: denied('sms', 'SMS could not be sent', 'the text message could not be sent', "unable to reach the user's phone"),
  FAILED_SMS_OTP_INCORRECT: denied('sms', 'SMS OTP incorrect', 'the OTP entered was wrong', 'user entered incorrect code'),
  FAILED_SMS_OTP_PIN_INCORRECT: denied('sms', 'SMS OTP + PIN incorrect', 'the OTP + PIN entered was wrong', 'user entered incorrect PIN'),
  FAILED_SMS_MAX_OTP_RETRY_REACHED: denied('sms', 'maximum SMS OTP attempts exceeded', 'too many wrong OTPs for one text message', 'entered incorrect code too many times'),
  FAILED_PHONE_APP_DENIED: denied('app', 'mobile app denied', 'user pressed Deny', 'user declined the authentication'),
  FAILED_PHONE_APP_INVALID_PIN: denied('app', 'mobile app invalid PIN', 'the PIN entered in the app was wrong', 'user entered incorrect PIN'),
  FAILED_PHONE_APP_PIN_NOT_CHANGED: denied('app', 'mobile app PIN not changed', 'required PIN change not completed', 'invalid authentication'),
  FAILED_FRAUD_REPORTED: denied('app', 'fraud reported', 'reported in the mobile app', 'user declined the authentication'),
  FAILED_PHONE_APP_NO_RESPONSE: denied('app', 'mobile app no response', 'the app did not answer in time', 'user did not respond to mobile app notification'),
  FAILED_PHONE_APP_ALL_DEVICES_BLOCKED: denied(
    'app',
    'all mobile app devices blocked',
    "the user's app devices stopped responding and were blocked",
    'unable to send the mobile app notification',
  ),
  FAILED_PHONE_APP_NOTIFICATION_FAILED: denied(
    'app',
    'mobile app notification failed',
    'error sending the notification to the device',
    'unable to send the mobile app notification to the device',
  ),
  FAILED_PHONE_APP_INVALID_RESULT: denied('app', 'mobile app invalid result', 'the app returned an invalid result', 'invalid mobile app verification code'),
  FAILED_OATH_CODE_INCORRECT: denied('oath', 'OATH code incorrect', 'the OATH code was wrong', 'user entered incorrect code'),
  FAILED_OATH_CODE_PIN_INCORRECT: denied('oath', 'OATH code + PIN incorrect', 'the PIN typed before the code was wrong', 'user entered incorrect PIN'),
  FAILED_OATH_CODE_DUPLICATE: denied('oath', 'duplicate OATH code', 'a code already used was entered again', 'verification code already used once'),
  FAILED_OATH_CODE_OLD: denied('oath', 'OATH code out of date', 'a code older than one already used was entered', 'invalid authentication'),
  FAILED_OATH_TOKEN_TIMEOUT: denied('oath', 'OATH code result timeout', 'took too long to enter the code', 'user never entered the verification code'),
  FAILED_SECURITY_QUESTIONS_TIMEOUT: denied('questions', 'security questions result timeout', 'took too long to answer', 'user never entered the verification code'),
  FAILED_AUTH_RESULT_TIMEOUT: denied('engine', 'auth result timeout', 'took too long to complete the attempt', 'user never entered the verification code'),
  FAILED_AUTHENTICATION_THROTTLED: denied('engine', 'authentication throttled', 'the service throttled the attempts', 'entered incorrect code too many times'),
} as const satisfies Record<string, Entry>;

export type ResultCode = keyof typeof RESULT_CODES;
export const RESULT_CODE_NAMES = Object.keys(RESULT_CODES) as [ResultCode, ...ResultCode[]];

/**
 * The detail a sign-in shows for a code: its own, or for a `verify` code
 * that ended denied (a wrong PIN after a completed call), the wrong-PIN one.
 */
export function detailOf(code: ResultCode, authenticated: boolean): MfaDetail {
  const entry: Entry = RESULT_CODES[code];
  if (entry.outcome === 'verify' && !authenticated) return 'user entered incorrect PIN';
  return entry.detail;
}
