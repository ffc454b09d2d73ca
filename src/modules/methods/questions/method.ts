import { randomInt } from 'node:crypto';
import type { Config } from '../../../config/schema.js';
import { securityQuestionsRepository as repo, type RegisteredQuestionRow } from '../../../storage/repositories/security-questions.js';
import type { ResultCode } from '../../auth/result-codes.js';
import type { MethodContext, StepResult, VerificationMethod } from '../contract.js';
import { registeredQuestions, verifyAnswers } from './questions.js';

const DEVICE_ID = 'security-questions';

/**
 * The code of every outcome that does not authenticate. SPEC.md §2 has no
 * "questions pending" or "answers incorrect" code: security questions only
 * ever run after a denied primary method, and until they are answered right
 * that denial stands. So a pending or failed step carries the primary's code
 * (FAILED_AUTH_RESULT_TIMEOUT when the engine did not pass one), and only a
 * right set of answers changes the outcome, to
 * SUCCESS_FALLBACK_SECURITY_QUESTIONS_ANSWERED.
 */
const denialCode = (context: MethodContext): ResultCode => context.primaryCode ?? 'FAILED_AUTH_RESULT_TIMEOUT';

const denied = (context: MethodContext, countsAsFailure: boolean): StepResult => ({ status: 'done', code: denialCode(context), authenticated: false, countsAsFailure });

/** `count` questions drawn at random (crypto randomness: the caller must not be able to predict which are asked). */
function pickQuestions(registered: RegisteredQuestionRow[], count: number): RegisteredQuestionRow[] {
  const pool = [...registered];
  for (let index = 0; index < Math.min(count, pool.length); index++) {
    const other = index + randomInt(pool.length - index);
    [pool[index], pool[other]] = [pool[other]!, pool[index]!];
  }
  return pool.slice(0, count);
}

/** The question ids a pending challenge asked, from its saved state; null when the state holds none. */
function askedIds(state: Record<string, unknown>): string[] | null {
  const ids = state.question_ids;
  return Array.isArray(ids) && ids.length > 0 && ids.every((id) => typeof id === 'string') ? (ids as string[]) : null;
}

/** Right only when exactly the asked questions are answered, and every answer is right. */
async function check(context: MethodContext, asked: string[], answers: Record<string, string> | undefined): Promise<StepResult> {
  const given = Object.keys(answers ?? {});
  const exact = asked.length > 0 && given.length === asked.length && asked.every((id) => Object.hasOwn(answers ?? {}, id));
  if (!exact || !(await verifyAnswers(context.db, context.user.id, answers!))) return denied(context, true);
  return { status: 'done', code: 'SUCCESS_FALLBACK_SECURITY_QUESTIONS_ANSWERED', authenticated: true };
}

/** Security questions (SPEC.md §1): fallback only, answers stored hashed, never exportable. */
export function questionsMethod(config: Config['questions']) {
  return {
    name: 'questions',
    timeoutCode: 'FAILED_SECURITY_QUESTIONS_TIMEOUT',
    fallback: { allowedBy: 'fallbackQuestions', answer: 'answers', asksWhenOffered: true, prompt: 'answer your security questions' },
    fallbackOnly: true,

    async describe(db, user) {
      const count = await repo.countFor(db, user.id);
      if (count < config.askCount) return null;
      return { method: 'questions', devices: [{ id: DEVICE_ID, name: `${count} security questions`, type: 'questions' }] };
    },

    async start(context, input) {
      // Fallback only: as a primary method, answers to questions an attacker may
      // research would be the only factor. Refused before any answer is looked
      // at, and not counted as the user's failure (the engine asked wrongly).
      if (!context.fallback) return denied(context, false);
      const registered = await repo.registeredBy(context.db, context.user.id);
      if (input.answers !== undefined) {
        // Answers sent up front must cover every registered question: letting the
        // caller choose which `askCount` to answer would let an attacker pick the
        // ones they know instead of the ones drawn at random.
        return check(context, registered.map((row) => row.question_id), input.answers);
      }
      // The answers were cleared after preauth described the method: nothing to ask.
      if (registered.length < config.askCount) return denied(context, false);
      const asked = pickQuestions(registered, config.askCount);
      return {
        status: 'pending',
        code: denialCode(context),
        prompt: 'Answer your security questions',
        // Only which questions were asked is saved, never an answer.
        state: { question_ids: asked.map((row) => row.question_id) },
        questions: asked.map((row) => ({ id: row.question_id, text: row.text })),
      };
    },

    async respond(context, state, response) {
      if (!context.fallback) return denied(context, false);
      const asked = askedIds(state);
      // No questions were asked (the engine kept no state): nothing can be answered right, and it is not the user's guess.
      if (asked === null) return denied(context, false);
      return check(context, asked, response.answers);
    },

    async exportUserData(db, userId) {
      return {
        security_questions: {
          registered: await registeredQuestions(db, userId),
          answers: 'stored as salted argon2id hashes; they cannot be exported',
        },
      };
    },

    async deleteUserData(db, userId) {
      return { security_answers: await repo.deleteAnswersOf(db, userId) };
    },
  } satisfies VerificationMethod;
}
