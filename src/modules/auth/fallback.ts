import { appError } from '../../shared/errors.js';
import type { Unit } from '../../storage/database.js';
import type { UserRow } from '../../storage/schema.js';
import type { MethodContext, MethodName, MethodResponse, StepResult, VerificationMethod } from '../methods/contract.js';
import { waitingAnswer, type AuthAnswer } from './answers.js';
import type { ChallengeState } from './challenge-state.js';
import type { MethodRegistry } from './method-registry.js';
import { detailOf, type ResultCode } from './result-codes.js';

/**
 * Fallback (SPEC.md §1): after a denied primary method the same challenge
 * stays open for another way to finish, when the configuration allows it and
 * the user has one registered: an OATH code, or the security questions. Which
 * methods can serve, and how, is what each method declares (`fallback` in
 * methods/contract.ts); nothing here names a method.
 */

/** What offering a fallback saves: the methods offered, and what the ones that ask something asked. */
export interface FallbackOffer {
  offered: MethodName[];
  state: Pick<ChallengeState, 'fallback' | 'questions' | 'questionsState'>;
  prompt: string;
}

/**
 * The fallback to offer a user after `primary` was denied, or null when none
 * can be. A method that asks something when offered (the questions) starts
 * here, so the offer names what it asks.
 */
export async function fallbackOffer(methods: MethodRegistry, db: Unit, user: UserRow, primary: VerificationMethod, context: MethodContext): Promise<FallbackOffer | null> {
  const offered = (await methods.describe(db, user, true)).map((description) => description.method).filter((name) => name !== primary.name);
  if (offered.length === 0) return null;
  const state: FallbackOffer['state'] = { fallback: offered };
  for (const method of offered.map((name) => methods.get(name))) {
    if (!method.fallback?.asksWhenOffered) continue;
    const step = await method.start(context, {});
    if (step.status === 'pending') {
      if (step.questions) state.questions = step.questions;
      state.questionsState = step.state;
    }
  }
  const clauses = offered.map((name) => methods.get(name).fallback!.prompt).join(' or ');
  return { offered, state, prompt: clauses.charAt(0).toUpperCase() + clauses.slice(1) };
}

/** The answer that offers a fallback: still waiting, with the primary method's denial and what to give next. */
export function offerAnswer(txid: string, primaryCode: ResultCode, offer: FallbackOffer, expiresAt: number): AuthAnswer {
  return {
    ...waitingAnswer(txid, primaryCode, offer.prompt, expiresAt),
    result_code: primaryCode,
    detail: detailOf(primaryCode, false),
    fallback: offer.offered,
    ...(offer.state.questions ? { questions: offer.state.questions } : {}),
  };
}

/**
 * The user's answer to an offered fallback, given to the offered method
 * whose kind of answer it carries: to its `respond` when it asked something
 * when offered, else to its `start` (an OATH code is checked at once).
 */
export async function fallbackStep(methods: MethodRegistry, context: MethodContext, state: ChallengeState, response: MethodResponse): Promise<{ method: VerificationMethod; step: StepResult }> {
  const method = methods.fallbackFor(state.fallback, response);
  if (!method) {
    const kinds = state.fallback.map((name) => methods.get(name).fallback?.answer ?? name);
    throw appError('validation_failed', `give ${kinds.join(' or ')} to complete the fallback`);
  }
  const step = method.fallback!.asksWhenOffered ? await method.respond(context, state.questionsState ?? {}, response) : await method.start(context, { passcode: response.passcode });
  return { method, step };
}

/** The code a fallback ends with when nobody answers it: the timeout of the method that asked something, else of the first one offered. */
export function fallbackTimeoutCode(methods: MethodRegistry, state: ChallengeState): ResultCode {
  const offered = state.fallback.map((name) => methods.get(name));
  const waitingFor = offered.find((method) => method.fallback?.asksWhenOffered) ?? offered[0];
  return waitingFor?.timeoutCode ?? 'FAILED_AUTH_RESULT_TIMEOUT';
}
