import type { Config } from '../../../config/schema.js';
import { appError } from '../../../shared/errors.js';
import type { UserRow } from '../../../storage/schema.js';
import type { ResultCode } from '../../auth/result-codes.js';
import { verifyPin } from '../../directory/pin.js';
import { telephonyUserData, type Telephony } from '../../telephony/telephony.js';
import type { Templates } from '../../telephony/templates.js';
import { e164, maskedNumber } from '../../telephony/numbers.js';
import type { AttemptFields, MethodContext, VerificationMethod } from '../contract.js';
import { newOtp, otpMatches, sealOtp } from './otp.js';

const DEVICE_ID = 'phone1';

/** What a pending SMS challenge saves: the sealed code, how many wrong entries it has had, and which way the answer comes. */
interface SmsState {
  otp_salt: string;
  otp_hash: string;
  attempts: number;
  direction: 'one_way' | 'two_way';
}

const isSmsState = (state: Record<string, unknown>): state is SmsState & Record<string, unknown> =>
  typeof state.otp_salt === 'string' && typeof state.otp_hash === 'string' && typeof state.attempts === 'number' && (state.direction === 'one_way' || state.direction === 'two_way');

/** The primary phone in E.164 (+, country code, national number), or null when the user has none. */
function primaryPhone(user: UserRow): string | null {
  if (!user.phone_country_code || !user.phone_number) return null;
  return e164(user.phone_country_code, user.phone_number);
}

const pinMode = (user: UserRow): boolean => user.sms_mode === 'otp_pin';
const twoWay = (user: UserRow): boolean => user.sms_direction === 'two_way';

function fields(user: UserRow): AttemptFields {
  return {
    sms_direction: twoWay(user) ? 'two_way' : 'one_way',
    sms_mode: pinMode(user) ? 'otp_pin' : 'otp',
    primary_country_code: user.phone_country_code,
    primary_phone_number: user.phone_number,
    primary_extension: user.phone_extension,
  };
}

/**
 * Checks the entry against the code: in OTP + PIN mode the code comes first,
 * then the PIN. Both are checked whatever the first says, so the answer's
 * timing does not tell which part was wrong.
 */
function check(context: MethodContext, state: SmsState, passcode: string, otpLength: number): 'ok' | 'otp' | 'pin' {
  const entered = passcode.replace(/\s+/g, '');
  if (!/^[0-9]+$/.test(entered) || entered.length < otpLength) return 'otp';
  const otpRight = otpMatches(context.keyring, entered.slice(0, otpLength), state);
  const pin = entered.slice(otpLength);
  if (!pinMode(context.user)) return otpRight && pin === '' ? 'ok' : 'otp';
  const pinRight = pin !== '' && context.user.pin_hash !== null && verifyPin(context.keyring, context.user.id, pin, context.user.pin_hash);
  if (!otpRight) return 'otp';
  return pinRight ? 'ok' : 'pin';
}

/**
 * Text message (SPEC.md §1). A one-time code goes to the user's primary phone
 * (SUCCESS_SMS_SENT). One-way: the user types it, or it and their PIN, into the
 * application, which sends it to /respond; a right one ends with
 * SUCCESS_SMS_SENT, authenticated. Two-way: the user replies to the text with
 * it (the engine's `answerReply`); a right reply ends with
 * SUCCESS_SMS_AUTHENTICATED. Up to `maxOtpAttempts` wrong entries: before the
 * last the challenge stays open and the answer says FAILED_SMS_OTP_INCORRECT
 * or FAILED_SMS_OTP_PIN_INCORRECT; the last ends it with
 * FAILED_SMS_MAX_OTP_RETRY_REACHED (with one attempt allowed, the wrong entry
 * itself ends it). The code is single-use: the challenge ends with it.
 */
export function smsMethod(config: Config['sms'], telephony: Telephony, templates: Templates) {
  return {
    name: 'sms',
    timeoutCode: 'FAILED_AUTH_RESULT_TIMEOUT',
    fallback: null,

    async describe(_db, user) {
      const phone = primaryPhone(user);
      if (!phone) return null;
      return { method: 'sms', devices: [{ id: DEVICE_ID, name: maskedNumber(phone), type: 'phone' }] };
    },

    async start(context) {
      const phone = primaryPhone(context.user);
      const base = fields(context.user);
      if (!phone) return { status: 'done', code: 'FAILED_SMS_NOT_SENT', authenticated: false, countsAsFailure: false, fields: base };
      const otp = newOtp(config.otpLength);
      const direction = twoWay(context.user) ? 'two_way' : 'one_way';
      const key = `${direction === 'two_way' ? 'sms_reply' : 'sms_otp'}${pinMode(context.user) ? '_pin' : ''}` as const;
      const text = templates.text(context.user.language, key, { code: otp });
      const delivery = await telephony.prepareSms(context.db, context.user, context.challengeId, phone, text);
      const state: SmsState = { ...sealOtp(context.keyring, otp), attempts: 0, direction };
      // Two-way: the answer comes as a reply to the text, so there is nothing to ask in the application.
      if (direction === 'two_way') return { status: 'pending', code: 'SUCCESS_SMS_SENT', state: { ...state }, fields: base, delivery };
      const prompt = pinMode(context.user) ? 'Enter the code sent to your phone followed by your PIN' : 'Enter the code sent to your phone';
      return { status: 'pending', code: 'SUCCESS_SMS_SENT', prompt, state: { ...state }, fields: base, delivery };
    },

    awaitsReply(state) {
      return isSmsState(state) && state.direction === 'two_way';
    },

    async respond(context, state, response) {
      const base = fields(context.user);
      // The gateway refused the text: it will not arrive.
      if (response.delivered) return { status: 'done', code: 'FAILED_SMS_NOT_SENT', authenticated: false, countsAsFailure: false, fields: base };
      // Two-way: the code must come from the user's phone, never through the application.
      if (isSmsState(state) && (state.direction === 'two_way') !== (response.reply === true)) {
        throw appError('validation_failed', state.direction === 'two_way' ? 'this challenge is answered by a reply to the text message' : 'this challenge is answered through /respond');
      }
      if (!isSmsState(state) || response.passcode === undefined) {
        return { status: 'done', code: 'FAILED_SMS_OTP_INCORRECT', authenticated: false, fields: base };
      }
      const verdict = check(context, state, response.passcode, config.otpLength);
      if (verdict === 'ok') return { status: 'done', code: state.direction === 'two_way' ? 'SUCCESS_SMS_AUTHENTICATED' : 'SUCCESS_SMS_SENT', authenticated: true, fields: base };
      const attempts = state.attempts + 1;
      const wrong: ResultCode = verdict === 'pin' ? 'FAILED_SMS_OTP_PIN_INCORRECT' : 'FAILED_SMS_OTP_INCORRECT';
      if (config.maxOtpAttempts === 1) return { status: 'done', code: wrong, authenticated: false, fields: base };
      if (attempts >= config.maxOtpAttempts) return { status: 'done', code: 'FAILED_SMS_MAX_OTP_RETRY_REACHED', authenticated: false, fields: base };
      const left = config.maxOtpAttempts - attempts;
      const prompt = state.direction === 'two_way' ? undefined : `That was not right. ${left} ${left === 1 ? 'try' : 'tries'} left`;
      return { status: 'pending', code: wrong, ...(prompt ? { prompt } : {}), state: { ...state, attempts }, fields: base };
    },

    ...telephonyUserData('sms', 'sms_log'),
  } satisfies VerificationMethod;
}
