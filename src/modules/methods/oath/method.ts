import type { Config } from '../../../config/schema.js';
import type { Keyring } from '../../../shared/keyring.js';
import { activeTokensOf, oathTokensRepository as tokens } from '../../../storage/repositories/oath-tokens.js';
import type { OathTokenRow } from '../../../storage/schema.js';
import type { ResultCode } from '../../auth/result-codes.js';
import { verifyPin } from '../../directory/pin.js';
import type { MethodContext, StepResult, VerificationMethod } from '../contract.js';
import { matchCounter, timeStep, type OathAlgorithm, type OathParameters } from './otp.js';
import { openOathSecret } from './secret.js';

/** Opened seeds of cached token rows: a row stays cached until a token changes, and so does its seed. */
const openedSeeds = new WeakMap<OathTokenRow, Buffer>();
function seedOf(keyring: Keyring, token: OathTokenRow): Buffer {
  let seed = openedSeeds.get(token);
  if (!seed) {
    seed = openOathSecret(keyring, token);
    openedSeeds.set(token, seed);
  }
  return seed;
}

/**
 * Marks `step` used on the token unless it, or a later one, was used already.
 * One conditional update: of two concurrent requests with the same code only
 * one can change the row, and the change is in the engine's transaction, so it
 * is durable before the answer is sent. `drift` is what a TOTP token's drift
 * becomes (`learnedDrift`). Like every write to a table a cached read
 * depends on, it drops the tokens kept in memory, so the next read shows the
 * step used.
 */
async function consume(context: MethodContext, token: OathTokenRow, step: number, drift: number): Promise<'ok' | 'duplicate' | 'old'> {
  const hotp = token.type === 'hotp';
  if (await tokens.useStep(context.db, token.type as 'totp' | 'hotp', { id: token.id, step, at: context.clock.now(), next: hotp ? step + 1 : drift })) return 'ok';
  return (await tokens.lastUsedOf(context.db, token.id)) === step ? 'duplicate' : 'old';
}

/**
 * The counters a code may match. HOTP: from the expected counter on, and the
 * ones before back to the last used (so that a replayed or older code is
 * named duplicate or old, not incorrect: the replay check refuses them).
 * TOTP: always the server's own time ± `oath.totpWindow`; and when the token
 * has a known drift (taught by a resync, at most `oath.maxDriftSteps`), as
 * many steps around the device's time as well. The window never moves away
 * from the server's time, so codes from the future are accepted only as far
 * as a resync has shown the device to be ahead.
 */
function candidateRanges(token: OathTokenRow, nowMs: number, config: Config['oath']): { ranges: { from: number; to: number }[]; nowStep: number } {
  if (token.type === 'hotp') {
    const expected = Number(token.counter);
    const lastUsed = token.last_used === null ? null : Number(token.last_used);
    const from = lastUsed === null ? expected : Math.min(expected, Math.max(0, lastUsed - config.hotpLookAhead));
    return { ranges: [{ from, to: expected + config.hotpLookAhead }], nowStep: expected };
  }
  const nowStep = timeStep(nowMs, token.period);
  const window = config.totpWindow;
  const drift = Math.max(-config.maxDriftSteps, Math.min(config.maxDriftSteps, Number(token.drift)));
  const ranges = [{ from: nowStep - window, to: nowStep + window }];
  if (Math.abs(drift) > window) ranges.push({ from: nowStep + drift - window, to: nowStep + drift + window });
  return { ranges, nowStep };
}

/**
 * A TOTP token's drift after a code matched `step`. Only a resync teaches a
 * drift (two consecutive codes, at most `oath.maxDriftSteps` away); a sign-in
 * never moves it, so no run of codes, however far ahead, walks the window into
 * the future. A code within the server's own window shows the device's clock
 * is right again: the drift is forgotten.
 */
export function learnedDrift(token: Pick<OathTokenRow, 'drift'>, step: number, nowStep: number, window: number): number {
  return Math.abs(step - nowStep) <= window ? 0 : Number(token.drift);
}

interface Verification {
  code: ResultCode;
  authenticated: boolean;
  token: OathTokenRow | null;
}

async function verifyPasscode(context: MethodContext, passcode: string, config: Config['oath']): Promise<Verification> {
  const entered = passcode.replace(/\s+/g, '');
  const pinMode = context.user.oath_mode === 'pin';
  const incorrect: Verification = { code: 'FAILED_OATH_CODE_INCORRECT', authenticated: false, token: null };
  if (!/^[0-9]{6,32}$/.test(entered)) return incorrect;
  let pinChecked = false;
  for (const token of await activeTokensOf(context.db, context.user.id)) {
    if (pinMode ? entered.length <= token.digits : entered.length !== token.digits) continue;
    const code = entered.slice(entered.length - token.digits);
    if (pinMode) {
      // PIN mode: the PIN is typed before the code. A wrong PIN ends here, before the code is used up.
      const pin = entered.slice(0, entered.length - token.digits);
      if (!context.user.pin_hash || !verifyPin(context.keyring, context.user.id, pin, context.user.pin_hash)) {
        pinChecked = true;
        continue;
      }
    }
    const params: OathParameters = { secret: seedOf(context.keyring, token), algorithm: token.algorithm as OathAlgorithm, digits: token.digits as 6 | 8 };
    const { ranges, nowStep } = candidateRanges(token, context.clock.now(), config);
    let step: number | null = null;
    for (const { from, to } of ranges) step ??= matchCounter(params, code, from, to);
    if (step === null) continue;
    const outcome = await consume(context, token, step, token.type === 'hotp' ? 0 : learnedDrift(token, step, nowStep, config.totpWindow));
    if (outcome === 'duplicate') return { code: 'FAILED_OATH_CODE_DUPLICATE', authenticated: false, token };
    if (outcome === 'old') return { code: 'FAILED_OATH_CODE_OLD', authenticated: false, token };
    return { code: context.fallback ? 'SUCCESS_FALLBACK_OATH_CODE_VERIFIED' : 'SUCCESS_OATH_CODE_VERIFIED', authenticated: true, token };
  }
  return pinChecked ? { code: 'FAILED_OATH_CODE_PIN_INCORRECT', authenticated: false, token: null } : incorrect;
}

function done(context: MethodContext, verification: Verification): StepResult {
  const token = verification.token;
  return {
    status: 'done',
    code: verification.code,
    authenticated: verification.authenticated,
    fields: {
      oath_mode: context.user.oath_mode,
      device: token ? token.serial ?? token.name ?? token.id : null,
      device_type: token ? `oath_${token.kind}_${token.type}` : null,
    },
  };
}

/** OATH tokens (SPEC.md §1): software or hardware TOTP/HOTP, standard or PIN mode. */
export function oathMethod(config: Config['oath']) {
  return {
    name: 'oath',
    timeoutCode: 'FAILED_OATH_TOKEN_TIMEOUT',
    fallback: { allowedBy: 'fallbackOath', answer: 'passcode', asksWhenOffered: false, prompt: 'enter a code from your OATH token' },
    checksPasscodeAtStart: true,

    async describe(db, user) {
      const active = await activeTokensOf(db, user.id);
      if (active.length === 0) return null;
      return { method: 'oath', devices: active.map((token) => ({ id: token.id, name: token.serial ?? token.name ?? 'OATH token', type: `${token.kind}_${token.type}` })) };
    },

    async start(context, input) {
      if (input.passcode !== undefined) return done(context, await verifyPasscode(context, input.passcode, config));
      const prompt = context.user.oath_mode === 'pin' ? 'Enter your PIN followed by the code from your OATH token' : 'Enter the code from your OATH token';
      return { status: 'pending', code: 'SUCCESS_OATH_CODE_PENDING', prompt, state: {}, fields: { oath_mode: context.user.oath_mode } };
    },

    async respond(context, _state, response) {
      if (response.passcode === undefined) return done(context, { code: 'FAILED_OATH_CODE_INCORRECT', authenticated: false, token: null });
      return done(context, await verifyPasscode(context, response.passcode, config));
    },

    async exportUserData(db, userId) {
      return {
        oath_tokens: (await tokens.listForUser(db, userId)).map((token) => ({
          id: token.id,
          serial: token.serial,
          kind: token.kind,
          type: token.type,
          algorithm: token.algorithm,
          digits: token.digits,
          period: token.period,
          status: token.status,
          name: token.name,
          created_at: new Date(token.created_at).toISOString(),
          last_used_at: token.last_used_at === null ? null : new Date(token.last_used_at).toISOString(),
          secret: 'sealed; never exported',
        })),
      };
    },

    async deleteUserData(db, userId) {
      const { deleted, unassigned } = await tokens.deleteOrUnassignOfUser(db, userId);
      return { oath_tokens_deleted: deleted, oath_tokens_unassigned: unassigned };
    },
  } satisfies VerificationMethod;
}
