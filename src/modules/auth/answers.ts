import type { ChallengeState } from './challenge-state.js';
import type { ChallengeRow } from '../../storage/schema.js';
import type { MethodDescription, MethodName } from '../methods/contract.js';
import type { MfaDetail } from './mfa-details.js';
import { RESULT_CODES, detailOf, type ResultCode } from './result-codes.js';

/** What the Auth API answers to `auth`, `respond` and `auth_status`. */
export interface AuthAnswer {
  /** Transaction id: set when a challenge was opened (to poll or respond to it). */
  txid: string | null;
  /** enroll: MFA is required and the user has no method; send the user to register one. */
  result: 'allow' | 'deny' | 'waiting' | 'enroll';
  result_code: ResultCode | null;
  /** The SPEC.md §3 satisfied/denied detail. */
  detail: MfaDetail | null;
  /** A short text for people: the code's short text or the reason. */
  status_msg: string;
  /** While waiting: what to ask the user. */
  prompt?: string;
  /** While waiting for security questions: the questions to show. */
  questions?: { id: string; text: string }[];
  /** While waiting after a denied primary method: the fallback methods that may complete it. */
  fallback?: MethodName[];
  /** While waiting for the authenticator app with number matching: the number to show, which the user types into the app. */
  number?: string;
  expires_at?: string;
  /** After a successful MFA the user asked this device to remember: keep it on the device and send it with later sign-ins. */
  remember_token?: string;
  remember_expires_at?: string;
}

/** What preauth answers: whether and how the user can authenticate. */
export interface PreauthAnswer {
  result: 'auth' | 'allow' | 'deny' | 'enroll' | 'unknown_user';
  result_code: ResultCode | null;
  detail: MfaDetail | null;
  status_msg: string;
  methods: MethodDescription[];
  fallback: MethodName[];
}

/** The result of an answer to an open challenge: only the start of an authentication sends a user to enroll. */
export function challengeResult(result: AuthAnswer['result']): Exclude<AuthAnswer['result'], 'enroll'> {
  if (result === 'enroll') throw new Error('an answer to a challenge cannot be enroll');
  return result;
}

export function finalAnswer(txid: string | null, authenticated: boolean, code: ResultCode | null, detail: MfaDetail | null, reason: string): AuthAnswer {
  return {
    txid,
    result: authenticated ? 'allow' : 'deny',
    result_code: code,
    detail: code ? detailOf(code, authenticated) : detail,
    status_msg: code ? RESULT_CODES[code].shortText : reason,
  };
}

/** The answer while a challenge waits for the user; without a code while a call rings or waits for keys. */
export function waitingAnswer(txid: string, code: ResultCode | null, prompt: string | undefined, expiresAt: number): AuthAnswer {
  return {
    txid,
    result: 'waiting',
    result_code: code,
    detail: code && RESULT_CODES[code].outcome === 'pending' ? RESULT_CODES[code].detail : null,
    status_msg: code ? RESULT_CODES[code].shortText : 'waiting for the user on the phone',
    ...(prompt ? { prompt } : {}),
    expires_at: new Date(expiresAt).toISOString(),
  };
}

/** The answer a stored challenge gives: still waiting (with its fallback offer), or how it ended. */
export function answerOfChallenge(challenge: ChallengeRow, state: Pick<ChallengeState, 'fallback' | 'number' | 'questions'>): AuthAnswer {
  const code = challenge.result_code as ResultCode | null;
  if (challenge.status === 'pending') {
    const { fallback } = state;
    // A fallback waiting for answers names its questions (saved only by the fallback method that asked them), whoever asks (a poll after a denied push, say).
    const questions = fallback.length > 0 && state.questions ? { questions: state.questions } : {};
    return {
      ...waitingAnswer(challenge.id, code, undefined, challenge.expires_at),
      ...(fallback.length > 0 ? { fallback, detail: detailOf(code!, false) } : {}),
      ...questions,
      ...(state.number ? { number: state.number } : {}),
    };
  }
  return finalAnswer(challenge.id, challenge.status === 'allow', code, null, code ? RESULT_CODES[code].shortText : challenge.status);
}
