import type { Config } from '../../../config/schema.js';
import { appError } from '../../../shared/errors.js';
import { changesRepository } from '../../../storage/repositories/records.js';
import { usersRepository } from '../../../storage/repositories/users.js';
import type { UserRow } from '../../../storage/schema.js';
import type { ResultCode } from '../../auth/result-codes.js';
import { isFieldError, validatePhone, type PhoneInput } from '../../directory/phone.js';
import { hashPin, pinProblem, verifyPin } from '../../directory/pin.js';
import { changeRecord } from '../../directory/user-records.js';
import type { CallEvent, CallScript } from '../../telephony/gateway.js';
import { telephonyUserData, type Telephony } from '../../telephony/telephony.js';
import { e164, maskedNumber } from '../../telephony/numbers.js';
import type { TemplateKey, Templates } from '../../telephony/templates.js';
import type { AttemptFields, MethodContext, ReportFraud, StepResult, VerificationMethod } from '../contract.js';
import { TRY_BACKUP_AFTER, hangupVerdict, menuVerdict, type LegEnd } from './keys.js';

type Leg = 'primary' | 'backup';
type Phase = 'ringing' | 'menu' | 'new_pin' | 'confirm_pin';

/** What a pending voice challenge saves between the carrier's webhooks (no PIN in clear). */
interface VoiceState {
  leg: Leg;
  /** The telephony log id of the call under way. */
  call: string;
  phase: Phase;
  /** During a PIN change: the keyed hash of the new PIN, until it is confirmed. */
  new_pin?: string;
  /** During a PIN change: a refused new PIN was already asked again once. */
  retried?: boolean;
  /** On the backup leg: how the primary call ended. */
  primary?: { code: ResultCode };
}

const PHASES: Phase[] = ['ringing', 'menu', 'new_pin', 'confirm_pin'];
const isVoiceState = (state: Record<string, unknown>): state is VoiceState & Record<string, unknown> =>
  (state.leg === 'primary' || state.leg === 'backup') && typeof state.call === 'string' && PHASES.includes(state.phase as Phase);

/** What the voice method needs besides its configuration. */
export interface VoiceDeps {
  telephony: Telephony;
  templates: Templates;
  directory: Config['directory'];
  auth: Pick<Config['auth'], 'fraudCode'>;
  reportFraud: ReportFraud;
}

function legPhone(user: UserRow, leg: Leg): PhoneInput | null {
  if (leg === 'primary') return user.phone_number ? { country_code: user.phone_country_code, number: user.phone_number, extension: user.phone_extension } : null;
  return user.backup_phone_number ? { country_code: user.backup_country_code, number: user.backup_phone_number, extension: user.backup_extension } : null;
}

const pinMode = (user: UserRow): boolean => user.call_mode === 'pin';


/** The attempt record's phone columns (SPEC.md §5): what was dialled on each leg and how each ended. */
function legFields(user: UserRow, leg: Leg, end?: LegEnd): AttemptFields {
  const phone = legPhone(user, leg);
  const prefix = leg === 'primary' ? 'primary' : 'backup';
  return {
    [`${prefix}_country_code`]: phone?.country_code ?? null,
    [`${prefix}_phone_number`]: phone?.number ?? null,
    [`${prefix}_extension`]: phone?.extension ?? null,
    ...(end ? { [`${prefix}_authenticated`]: end.authenticated ? 1 : 0, [`${prefix}_result`]: end.code } : {}),
  } as AttemptFields;
}

/**
 * Voice call (SPEC.md §1). The primary phone is called; the user answers and
 * presses `#` (standard mode) or enters their PIN then `#` (PIN mode). The
 * carrier reports what happens through webhooks (the engine's `callEvent`);
 * each becomes a step of the challenge, and the answer to the webhook says
 * what the call does next. The keys' meaning is in `keys.ts`. When the
 * primary call fails in a way that says nothing about the user's intent
 * (TRY_BACKUP_AFTER), the backup phone is called and both legs are recorded.
 */
export function voiceMethod(config: Config['voice'], deps: VoiceDeps) {
  const { telephony, templates } = deps;
  const greeting = (user: UserRow): string => templates.greeting(user.language, pinMode(user), deps.auth.fraudCode);
  const say = (user: UserRow, key: TemplateKey): string => templates.text(user.language, key, { min: deps.directory.pinMinLength, max: deps.directory.pinMaxLength });
  const prompt = (user: UserRow, text: string): CallScript => ({ say: text, language: templates.language(user.language), gather: { timeoutSeconds: config.keySeconds } });
  const farewell = (user: UserRow, key: TemplateKey | null): CallScript => ({ say: key ? say(user, key) : '', language: templates.language(user.language) });

  /** Dials one leg: a pending step while it rings, or the leg's end when it cannot be placed. */
  async function dial(context: MethodContext, leg: Leg, primary: VoiceState['primary']): Promise<StepResult> {
    const { user } = context;
    const phone = legPhone(user, leg)!;
    const valid = validatePhone(phone, leg, deps.directory.defaultCountryCode);
    if (isFieldError(valid)) {
      const code: ResultCode = valid.code === 'invalid_extension' ? 'FAILED_INVALID_EXTENSION' : 'FAILED_INVALID_PHONENUMBER';
      return endLeg(context, { leg, call: '', phase: 'ringing', primary }, { code, authenticated: false, farewell: null, countsAsFailure: false }, undefined);
    }
    const delivery = await telephony.prepareCall(context.db, user, context.challengeId, {
      to: `+${valid.countryCode}${valid.number}`,
      extension: valid.extension?.replace(/^@/, '') ?? null,
      ringSeconds: config.ringSeconds,
      greeting: greeting(user),
    });
    const state: VoiceState = { leg, call: delivery.id, phase: 'ringing', ...(primary ? { primary } : {}) };
    return { status: 'pending', code: null, state: { ...state }, fields: { call_mode: pinMode(user) ? 'pin' : 'standard', ...legFields(user, leg) }, delivery };
  }

  /** A leg is over: the whole authentication ends, or the backup phone is called. */
  async function endLeg(context: MethodContext, state: VoiceState, end: LegEnd, script: CallScript | undefined): Promise<StepResult> {
    const { user } = context;
    if (end.fraud) await deps.reportFraud(context.db, user, 'voice call fraud code');
    const fields: AttemptFields = { call_mode: pinMode(user) ? 'pin' : 'standard', ...legFields(user, state.leg, end) };
    if (state.leg === 'primary' && !end.authenticated && TRY_BACKUP_AFTER.has(end.code) && legPhone(user, 'backup')) {
      const next = await dial(context, 'backup', { code: end.code });
      return { ...next, fields: { ...fields, ...next.fields }, ...(script ? { script } : {}) };
    }
    return { status: 'done', code: end.code, authenticated: end.authenticated, countsAsFailure: end.countsAsFailure, fields, ...(script ? { script } : {}) };
  }

  /** The state unchanged, saying `script` (or nothing: the call hangs up). */
  const stay = (state: VoiceState, script?: CallScript): StepResult => ({ status: 'pending', code: null, state: { ...state }, ...(script ? { script } : {}) });

  async function onEvent(context: MethodContext, state: VoiceState, event: CallEvent): Promise<StepResult> {
    const { user } = context;
    const end = (verdict: LegEnd) => endLeg(context, state, verdict, farewell(user, verdict.farewell));
    if (event.type === 'ended') {
      if (state.phase === 'ringing' && event.status === 'completed') return end(hangupVerdict('menu', event.status));
      return endLeg(context, state, hangupVerdict(state.phase, event.status), undefined);
    }
    if (event.type === 'answered') {
      // Answered twice (a retried webhook): the call goes on where it was.
      if (state.phase !== 'ringing') return stay(state, prompt(user, state.phase === 'menu' ? greeting(user) : say(user, state.phase === 'new_pin' ? 'call_pin_expired' : 'call_pin_confirm')));
      // Voicemail: nobody to hear the prompt, and no message is left.
      if (event.by === 'machine') return end({ code: 'SUCCESS_NO_PIN_BUT_TIMEOUT', authenticated: false, farewell: null, countsAsFailure: false });
      if (event.by === 'fax') return end({ code: 'SUCCESS_INVALID_INPUT', authenticated: false, farewell: null, countsAsFailure: false });
      return stay({ ...state, phase: 'menu' }, prompt(user, greeting(user)));
    }
    switch (state.phase) {
      case 'ringing':
      case 'menu': {
        const verdict = menuVerdict(event, { pinMode: pinMode(user), pinChangeRequired: Boolean(user.pin_change_required) }, deps.auth.fraudCode, (pin) =>
          user.pin_hash !== null ? verifyPin(context.keyring, user.id, pin, user.pin_hash) : false,
        );
        if ('changePin' in verdict) return stay({ ...state, phase: 'new_pin' }, prompt(user, say(user, 'call_pin_expired')));
        return end(verdict);
      }
      case 'new_pin': {
        const usable = event.finished && pinProblem(event.digits, deps.directory.pinMinLength, deps.directory.pinMaxLength) === null;
        const same = usable && user.pin_hash !== null && verifyPin(context.keyring, user.id, event.digits, user.pin_hash);
        if (usable && !same) return stay({ ...state, phase: 'confirm_pin', new_pin: hashPin(context.keyring, user.id, event.digits) }, prompt(user, say(user, 'call_pin_confirm')));
        if (event.finished && !state.retried) return stay({ ...state, retried: true }, prompt(user, say(user, 'call_pin_invalid')));
        return end({ code: 'SUCCESS_PIN_EXPIRED', authenticated: false, farewell: 'call_pin_not_changed', countsAsFailure: false });
      }
      case 'confirm_pin': {
        if (!event.finished || !state.new_pin || !verifyPin(context.keyring, user.id, event.digits, state.new_pin)) {
          return end({ code: 'SUCCESS_PIN_EXPIRED', authenticated: false, farewell: 'call_pin_not_changed', countsAsFailure: false });
        }
        await changePin(context, state.new_pin);
        return endLeg(context, state, { code: 'SUCCESS_WITH_PIN', authenticated: true, farewell: 'call_signed_in', countsAsFailure: false }, farewell(user, 'call_pin_changed'));
      }
    }
  }

  /** The expired PIN is replaced, with a change record, in the authentication's transaction. */
  async function changePin(context: MethodContext, pinHash: string): Promise<void> {
    const { user, db } = context;
    const now = context.clock.now();
    await usersRepository.update(db, user.id, { pin_hash: pinHash, pin_change_required: 0, updated_at: now });
    const actor = { type: 'system' as const, id: 'voice-call', role: null, requestId: null, entryPoint: context.entryPoint };
    await changesRepository.insertMany(db, [changeRecord({ ...user, pin_hash: pinHash, pin_change_required: 0 }, 'update', ['pin', 'pin_change_required'], actor, now)]);
  }

  return {
    name: 'voice',
    timeoutCode: 'CONFIG_ISSUE',
    fallback: null,
    answeredThrough: 'call',

    /** While ringing nobody answered; once answered, nothing was entered; during a PIN change, it was not finished. */
    expiredCode(state) {
      if (!isVoiceState(state) || state.phase === 'ringing') return 'CONFIG_ISSUE';
      return state.phase === 'menu' ? 'SUCCESS_NO_PIN_BUT_TIMEOUT' : 'SUCCESS_PIN_EXPIRED';
    },

    async describe(_db, user) {
      if (!telephony.canCall) return null;
      const devices = (['primary', 'backup'] as const).flatMap((leg, index) => {
        const phone = legPhone(user, leg);
        return phone ? [{ id: `phone${index + 1}`, name: maskedNumber(e164(phone.country_code ?? null, phone.number)), type: leg === 'primary' ? 'phone' : 'backup phone' }] : [];
      });
      return devices.length > 0 && legPhone(user, 'primary') ? { method: 'voice', devices } : null;
    },

    async start(context) {
      return dial(context, 'primary', undefined);
    },

    async respond(context, state, response) {
      if (!isVoiceState(state)) return { status: 'done', code: 'FAILED_SERVER_ERROR', authenticated: false, countsAsFailure: false };
      // The carrier would not place the call: the number itself, or anything else.
      if (response.delivered) {
        if (response.delivered.id !== state.call) return stay(state);
        const code: ResultCode = response.delivered.invalidNumber ? 'FAILED_INVALID_PHONENUMBER' : 'FAILED_SERVER_ERROR';
        return endLeg(context, state, { code, authenticated: false, farewell: null, countsAsFailure: false }, undefined);
      }
      if (!response.call) throw appError('validation_failed', 'this challenge is answered on the phone call, not through /respond');
      // A webhook about an earlier call (the primary, once the backup rings) changes nothing; that call is hung up.
      if (response.call.id !== state.call) return stay(state);
      return onEvent(context, state, response.call.event);
    },

    ...telephonyUserData('call', 'call_log'),
  } satisfies VerificationMethod;
}
