import type { Config } from '../../../config/schema.js';
import { appError } from '../../../shared/errors.js';
import type { Executor } from '../../../storage/database.js';
import { appActivationCodesRepository, appActivationsRepository, appDevicesRepository, appNoncesRepository, appPushesRepository } from '../../../storage/repositories/app-devices.js';
import { changesRepository } from '../../../storage/repositories/records.js';
import { usersRepository } from '../../../storage/repositories/users.js';
import type { AppDeviceRow, UserRow } from '../../../storage/schema.js';
import type { ResultCode } from '../../auth/result-codes.js';
import { hashPin, pinProblem, verifyPin } from '../../directory/pin.js';
import { changeRecord } from '../../directory/user-records.js';
import type { AttemptFields, DeviceAnswer, MethodContext, ReportFraud, StepResult, VerificationMethod } from '../contract.js';
import { matchingNumber, toActivationRecord, toDeviceView } from './devices.js';
import type { PushBoard, PushNotifier } from './push.js';

/** What a pending push saves (no PIN, nothing secret but the number the sign-in screen shows). */
interface AppState {
  /** The devices the push went to (none when a code is asked for instead). */
  devices: string[];
  /** Number matching: the number the user must type into the app; null when off. */
  number: string | null;
  /** Push-fatigue defence: no push was sent; the user enters a code from the app. */
  codes?: true;
}

const isAppState = (state: Record<string, unknown>): state is AppState & Record<string, unknown> =>
  Array.isArray(state.devices) && (state.number === null || typeof state.number === 'string');

/** Outcomes that count as the user not wanting, or not seeing, a push. */
const UNANSWERED = ['FAILED_PHONE_APP_DENIED', 'FAILED_PHONE_APP_NO_RESPONSE'];

export interface AppDeps {
  notifier: PushNotifier;
  board: PushBoard;
  directory: Config['directory'];
  auth: Pick<Config['auth'], 'challengeTimeoutSeconds'>;
  reportFraud: ReportFraud;
  /** The OATH method: checks the codes asked for instead of a push. */
  oath: VerificationMethod;
}

/** The user's recent pushes (sign-ins of the app method that sent one, and those still open) and how many were denied or unanswered. */
async function recentPushes(db: Executor, userId: string, since: number): Promise<{ pushes: number; unanswered: number }> {
  const { ended, open } = await appPushesRepository.recent(db, userId, since);
  return { pushes: ended.length + open, unanswered: ended.filter((code) => UNANSWERED.includes(code ?? '')).length };
}

const pinMode = (user: UserRow): boolean => user.app_mode === 'pin';

const devicesOf = (db: Executor, userId: string): Promise<AppDeviceRow[]> => appDevicesRepository.listForUser(db, userId);

/** The attempt record's device columns (SPEC.md §5) for the device that answered. */
const deviceFields = (device: AppDeviceRow | undefined, numberMatching: boolean): AttemptFields => ({
  device: device?.name ?? null,
  device_token: device?.device_token ?? null,
  device_type: device?.type ?? null,
  app_version: device?.app_version ?? null,
  os_version: device?.os_version ?? null,
  number_matching: numberMatching ? 1 : 0,
});

/**
 * Mobile authenticator app (SPEC.md §1): a push to every active device of the
 * user, answered by one of them with a signed approve, deny or fraud report
 * (docs/authenticator-protocol.md). With number matching the sign-in screen
 * shows a 2-digit number the user types into the app; in PIN mode the app
 * also sends the user's PIN (and a new one when it must change). A push
 * nobody answers counts against each device; a device that misses
 * `app.missedPushesToBlock` in a row is blocked.
 */
export function appMethod(config: Config['app'], deps: AppDeps) {
  const done = (code: ResultCode, authenticated: boolean, fields: AttemptFields, countsAsFailure = !authenticated): StepResult => ({ status: 'done', code, authenticated, fields, countsAsFailure });

  /** Checks the PIN of a PIN-mode answer; with an expired PIN, also changes it to the new one. Null when all is well. */
  async function pinVerdict(context: MethodContext, answer: DeviceAnswer): Promise<ResultCode | null> {
    const { user } = context;
    if (!pinMode(user)) return null;
    const pin = typeof answer.pin === 'string' ? answer.pin : '';
    if (!user.pin_hash || !/^[0-9]{1,16}$/.test(pin) || !verifyPin(context.keyring, user.id, pin, user.pin_hash)) return 'FAILED_PHONE_APP_INVALID_PIN';
    if (!user.pin_change_required) return null;
    const next = typeof answer.newPin === 'string' ? answer.newPin : '';
    if (pinProblem(next, deps.directory.pinMinLength, deps.directory.pinMaxLength) !== null || next === pin) return 'FAILED_PHONE_APP_PIN_NOT_CHANGED';
    const pinHash = hashPin(context.keyring, user.id, next);
    const now = context.clock.now();
    await usersRepository.update(context.db, user.id, { pin_hash: pinHash, pin_change_required: 0, updated_at: now });
    const actor = { type: 'system' as const, id: 'authenticator-app', role: null, requestId: null, entryPoint: context.entryPoint };
    await changesRepository.insertMany(context.db, [changeRecord({ ...user, pin_hash: pinHash, pin_change_required: 0 }, 'update', ['pin', 'pin_change_required'], actor, now)]);
    return null;
  }

  return {
    name: 'app',
    timeoutCode: 'FAILED_PHONE_APP_NO_RESPONSE',
    fallback: null,
    answeredThrough: 'device',

    /** A code asked for instead of a push times out like an OATH code. */
    expiredCode(state) {
      return isAppState(state) && state.codes ? 'FAILED_OATH_TOKEN_TIMEOUT' : 'FAILED_PHONE_APP_NO_RESPONSE';
    },

    async describe(db, user) {
      const devices = await devicesOf(db, user.id);
      if (devices.length === 0) return null;
      return { method: 'app', devices: devices.filter((device) => device.status === 'active').map((device) => ({ id: device.id, name: device.name, type: device.type })) };
    },

    async start(context) {
      const { user, db } = context;
      const all = await devicesOf(db, user.id);
      const active = all.filter((device) => device.status === 'active');
      // Push-fatigue defence: too many pushes, or too many of them denied or ignored, and the user is asked for a code or refused.
      const { pushes, unanswered } = await recentPushes(db, user.id, context.clock.now() - config.pushWindowMinutes * 60_000);
      const fatigued = pushes >= config.pushLimit || unanswered >= config.unansweredForCodes;
      const forceMatching = !config.numberMatching && unanswered >= config.unansweredForMatching;
      const numberMatching = config.numberMatching || forceMatching;
      const base: AttemptFields = { app_mode: pinMode(user) ? 'pin' : 'standard', ...deviceFields(undefined, numberMatching && !fatigued) };
      if (active.length === 0) return done('FAILED_PHONE_APP_ALL_DEVICES_BLOCKED', false, base, false);
      if (fatigued) {
        if (!(await deps.oath.describe(db, user))) return { ...done('FAILED_AUTHENTICATION_THROTTLED', false, base, false), pushFatigue: 'push_limit_reached' };
        const prompt = 'Too many sign-in requests went to your authenticator app: enter the code it shows instead';
        return { status: 'pending', code: 'SUCCESS_OATH_CODE_PENDING', prompt, state: { devices: [], number: null, codes: true }, fields: base, pushFatigue: 'codes_instead_of_push' };
      }
      const state: AppState = { devices: active.map((device) => device.id), number: numberMatching ? matchingNumber() : null };
      const application = context.application.name;
      const expiresAt = context.clock.now() + deps.auth.challengeTimeoutSeconds * 1000;
      const targets = active.map((device) => ({ deviceId: device.id, pushToken: device.device_token }));
      const delivery = {
        id: `push:${context.challengeId}`,
        challengeId: context.challengeId,
        send: async () => {
          deps.board.announce(user.id);
          try {
            return { status: (await deps.notifier.notify(targets, { challengeId: context.challengeId, application, expiresAt })).status };
          } catch {
            return { status: 'failed' as const };
          }
        },
      };
      return {
        status: 'pending',
        code: null,
        state: { ...state },
        fields: base,
        delivery,
        ...(state.number ? { number: state.number } : {}),
        ...(forceMatching ? { pushFatigue: 'number_matching_required' as const } : {}),
      };
    },

    async respond(context, state, response) {
      const base: AttemptFields = { app_mode: pinMode(context.user) ? 'pin' : 'standard' };
      if (!isAppState(state)) return done('FAILED_PHONE_APP_INVALID_RESULT', false, base, false);
      const numberMatching = state.number !== null;
      // No push was sent (push-fatigue defence): the answer is a code from the app, checked as an OATH code.
      if (state.codes) {
        if (response.passcode === undefined) throw appError('validation_failed', 'passcode: enter the code the authenticator app shows', { field: 'passcode' });
        const step = await deps.oath.start(context, { passcode: response.passcode });
        return { ...step, fields: { ...base, ...step.fields } };
      }
      // The push service could not reach any device.
      if (response.delivered) return done('FAILED_PHONE_APP_NOTIFICATION_FAILED', false, { ...base, ...deviceFields(undefined, numberMatching) }, false);
      const answer = response.app;
      if (!answer) throw appError('validation_failed', 'this challenge is answered in the authenticator app, not through /respond');
      if (!state.devices.includes(answer.deviceId)) throw appError('conflict', 'this push was not sent to that device');
      const device = await appDevicesRepository.findById(context.db, answer.deviceId);
      const fields = { ...base, ...deviceFields(device, numberMatching) };
      // Any answer shows the device is alive.
      await appDevicesRepository.update(context.db, answer.deviceId, { missed_pushes: 0 });
      if (!answer.verified) return done('FAILED_PHONE_APP_INVALID_RESULT', false, fields, false);
      switch (answer.decision) {
        case 'deny':
          return done('FAILED_PHONE_APP_DENIED', false, fields, false);
        case 'fraud':
          await deps.reportFraud(context.db, context.user, 'authenticator app');
          return done('FAILED_FRAUD_REPORTED', false, fields, false);
        case 'approve': {
          if (state.number !== null && answer.number !== state.number) return done('FAILED_PHONE_APP_INVALID_RESULT', false, fields);
          const pinProblemCode = await pinVerdict(context, answer);
          if (pinProblemCode) return done(pinProblemCode, false, fields, pinProblemCode === 'FAILED_PHONE_APP_INVALID_PIN');
          return done('SUCCESS_PHONE_APP_AUTHENTICATED', true, fields);
        }
        default:
          return done('FAILED_PHONE_APP_INVALID_RESULT', false, fields, false);
      }
    },

    /** Nobody answered: each device the push went to missed one more; those at the limit are blocked. */
    async onExpired(db, state) {
      if (!isAppState(state) || state.devices.length === 0) return;
      await appDevicesRepository.addMissedPush(db, state.devices);
      await appDevicesRepository.blockAfterMissedPushes(db, state.devices, config.missedPushesToBlock, `left ${config.missedPushesToBlock} pushes in a row unanswered`);
    },

    async exportUserData(db, userId) {
      const user = await usersRepository.findById(db, userId);
      const devices = await devicesOf(db, userId);
      const activations = await appActivationsRepository.listForUser(db, userId, 'oldest');
      return { app_devices: devices.map((device) => toDeviceView(device, user?.username ?? '')), app_activations: activations.map(toActivationRecord) };
    },

    async deleteUserData(db, userId) {
      const devices = await devicesOf(db, userId);
      await appNoncesRepository.deleteOfDevices(db, devices.map((device) => device.id));
      return {
        app_devices: await appDevicesRepository.deleteOfUser(db, userId),
        app_activation_codes: await appActivationCodesRepository.deleteOfUser(db, userId),
        app_activations: await appActivationsRepository.deleteOfUser(db, userId),
      };
    },
  } satisfies VerificationMethod;
}
