import { randomInt } from 'node:crypto';
import type { Config, SSPR_METHODS } from '../../config/schema.js';
import type { Clock } from '../../shared/clock.js';
import type { Keyring } from '../../shared/keyring.js';
import type { Db, Executor, UnitOfWork } from '../../storage/database.js';
import { applicationsRepository } from '../../storage/repositories/applications.js';
import { appDevicesRepository } from '../../storage/repositories/app-devices.js';
import { oathTokensRepository } from '../../storage/repositories/oath-tokens.js';
import type { UserRow } from '../../storage/schema.js';
import type { Applications } from '../applications/applications.js';
import type { AuthAnswer } from '../auth/answers.js';
import type { AuthEngine } from '../auth/engine.js';
import type { ResultCode } from '../auth/result-codes.js';
import type { Mail } from '../mail/mail.js';
import { registeredQuestions, type SecurityQuestions } from '../methods/questions/questions.js';

export type SsprMethod = (typeof SSPR_METHODS)[number];
const MINUTE = 60_000;
const SSPR_APPLICATION = 'Self-service password reset';

/** The step of a reset in progress, kept with its session between requests (no secret: a code only as its keyed hash). */
export interface Pending {
  method: SsprMethod;
  txid?: string;
  codeHash?: string;
  codeExpiresAt?: number;
  questionIds?: string[];
  sentTo?: string;
  number?: string;
}

export interface ProofDeps {
  db: Db;
  /** Runs a unit of work (Storage.transact). */
  transact: UnitOfWork;
  clock: Clock;
  keyring: Keyring;
  config: Config['sspr'];
  questionsConfig: Config['questions'];
  engine: AuthEngine;
  mail: Mail;
  applications: Applications;
  securityQuestions: SecurityQuestions;
}

/** Codes that prove the method the user was asked for; a bypass, a cache or no code proves nothing. */
function provedBy(requested: SsprMethod, answer: AuthAnswer): SsprMethod | null {
  if (answer.result !== 'allow' || answer.result_code === null) return null;
  const unproven: ResultCode[] = ['SUCCESS_BYPASSED_AUTH', 'SUCCESS_USED_CACHE', 'SUCCESS_USED_IP_BASED_CACHE', 'SUCCESS_USED_APP_BASED_CACHE'];
  if (unproven.includes(answer.result_code)) return null;
  if (answer.result_code === 'SUCCESS_FALLBACK_OATH_CODE_VERIFIED') return 'oath';
  if (answer.result_code === 'SUCCESS_FALLBACK_SECURITY_QUESTIONS_ANSWERED') return 'questions';
  return requested;
}

const maskAddress = (address: string) => address.replace(/^(.)[^@]*(@.*)$/, (_all, first: string, domain: string) => `${first}•••${domain}`);

/**
 * How a user proves each method during a password reset: e-mailed codes and
 * security questions here, phones, the app and OATH tokens through the
 * authentication engine (entry point `sspr`, application "Self-service
 * password reset", `proof: true`), so each of those proofs is also a sign-in
 * in the log. A step either leaves the method pending (a code was sent,
 * questions were asked, a push waits), proves it, or fails.
 */
export class ResetProofs {
  private application: { id: string; name: string } | null = null;

  constructor(private readonly deps: ProofDeps) {}

  /** One step of proving `input.method`: `pending` is the step in progress for that method, if any. */
  async step(user: UserRow, input: { method: SsprMethod; code?: string; answers?: Record<string, string>; waitSeconds?: number }, pending: Pending | null): Promise<StepOutcome> {
    switch (input.method) {
      case 'email':
        return this.emailStep(user, input.code, pending);
      case 'questions':
        return this.questionsStep(user, input.answers, pending);
      case 'oath': {
        if (input.code === undefined) return { kind: 'pending', pending: { method: 'oath' }, detail: 'code asked' };
        return this.engineOutcome('oath', await this.deps.engine.auth({ ...(await this.request(user)), factor: 'oath', passcode: input.code }));
      }
      case 'sms': {
        if (!pending?.txid) {
          const answer = await this.deps.engine.auth({ ...(await this.request(user)), factor: 'sms' });
          if (answer.result === 'waiting' && answer.txid) return { kind: 'pending', pending: { method: 'sms', txid: answer.txid }, detail: 'code texted' };
          return this.engineOutcome('sms', answer);
        }
        if (input.code === undefined) return { kind: 'retry', detail: 'the code from the text message is required' };
        return this.engineOutcome('sms', await this.deps.engine.respond(await this.app(), pending.txid, { passcode: input.code }));
      }
      case 'app': {
        if (!pending?.txid) {
          const answer = await this.deps.engine.auth({ ...(await this.request(user)), factor: 'app' });
          if (answer.result === 'waiting' && answer.txid) return { kind: 'pending', pending: { method: 'app', txid: answer.txid, ...(answer.number ? { number: answer.number } : {}) }, detail: 'push sent' };
          return this.engineOutcome('app', answer);
        }
        const answer = await this.deps.engine.status(await this.app(), pending.txid, Math.min(Math.max(input.waitSeconds ?? 0, 0), 25));
        if (answer.result === 'waiting') return { kind: 'pending', pending, detail: 'waiting for the app' };
        return this.engineOutcome('app', answer);
      }
    }
  }

  private engineOutcome(method: SsprMethod, answer: AuthAnswer): StepOutcome {
    const proved = provedBy(method, answer);
    if (proved) return { kind: 'proved', method: proved, detail: answer.result_code };
    if (answer.result === 'waiting') return { kind: 'retry', detail: answer.status_msg };
    return { kind: 'failed', detail: answer.result_code ?? answer.detail ?? answer.status_msg };
  }

  private async emailStep(user: UserRow, code: string | undefined, pending: Pending | null): Promise<StepOutcome> {
    const now = this.deps.clock.now();
    if (!pending?.codeHash || code === undefined) {
      const fresh = String(randomInt(0, 100_000_000)).padStart(8, '0');
      const to = user.sspr_email!;
      const state: Pending = { method: 'email', codeHash: this.codeHash(user.id, fresh), codeExpiresAt: now + this.deps.config.codeMinutes * MINUTE, sentTo: maskAddress(to) };
      let delivery: { send(): Promise<unknown> } | null = null;
      return {
        kind: 'pending',
        pending: state,
        detail: 'code e-mailed',
        withinTransaction: async (trx) => {
          delivery = await this.deps.mail.prepare(trx, {
            userId: user.id,
            to,
            subject: 'Your password reset code',
            text: `Your code to reset your password is ${fresh}. It expires in ${this.deps.config.codeMinutes} minutes. If you did not ask for it, ignore this message.`,
          });
        },
        afterCommit: async () => void (await delivery?.send()),
      };
    }
    if (pending.codeExpiresAt! <= now) return { kind: 'failed', detail: 'the code has expired; ask for a new one' };
    if (!this.deps.keyring.verifyKeyedHash('otp', `sspr:${user.id}:${code.trim()}`, pending.codeHash)) return { kind: 'retry', detail: 'wrong code' };
    return { kind: 'proved', method: 'email', detail: 'code verified' };
  }

  private async questionsStep(user: UserRow, answers: Record<string, string> | undefined, pending: Pending | null): Promise<StepOutcome> {
    if (!pending?.questionIds || answers === undefined) {
      const asked = await registeredQuestions(this.deps.db, user.id);
      // A random choice of the registered questions (Fisher-Yates), so a guesser cannot count on the same ones.
      for (let i = asked.length - 1; i > 0; i -= 1) {
        const j = randomInt(0, i + 1);
        [asked[i], asked[j]] = [asked[j]!, asked[i]!];
      }
      asked.length = Math.min(asked.length, this.deps.questionsConfig.askCount);
      return { kind: 'pending', pending: { method: 'questions', questionIds: asked.map((question) => question.question_id) }, detail: 'questions asked' };
    }
    const given = Object.keys(answers);
    const exact = given.length === pending.questionIds.length && pending.questionIds.every((id) => given.includes(id));
    if (!exact) return { kind: 'retry', detail: 'answer exactly the questions asked' };
    const right = await this.deps.securityQuestions.verifyAnswers(this.deps.db, user.id, answers);
    return right ? { kind: 'proved', method: 'questions', detail: 'answers verified' } : { kind: 'failed', detail: 'wrong answers' };
  }

  /** The methods the user has registered, of those the policy allows. */
  async available(db: Executor, user: UserRow): Promise<SsprMethod[]> {
    const has: Record<SsprMethod, () => Promise<boolean>> = {
      email: async () => user.sspr_email !== null,
      sms: async () => user.phone_number !== null,
      oath: async () => (await oathTokensRepository.listForUser(db, user.id)).some((token) => token.status === 'active'),
      app: () => appDevicesRepository.hasActive(db, user.id),
      questions: async () => (await registeredQuestions(db, user.id)).length >= this.deps.questionsConfig.askCount,
    };
    const methods: SsprMethod[] = [];
    for (const method of this.deps.config.methods) if (await has[method]()) methods.push(method);
    return methods;
  }

  private codeHash(userId: string, code: string): string {
    return this.deps.keyring.keyedHash('otp', `sspr:${userId}:${code}`);
  }

  /** The application every proof is recorded under: made on first use. */
  private async app(): Promise<{ id: string; name: string }> {
    if (this.application) return this.application;
    const existing = await applicationsRepository.findByKey(this.deps.db, SSPR_APPLICATION.toLowerCase());
    this.application = existing ? { id: existing.id, name: existing.name } : (await this.deps.applications.create({ name: SSPR_APPLICATION }, { type: 'system', id: 'sspr', role: null, requestId: null, entryPoint: 'sspr' })).application;
    return this.application;
  }

  private async request(user: UserRow) {
    return { username: user.username, application: await this.app(), ip: null, authType: 'password_reset', entryPoint: 'sspr', proof: true } as const;
  }
}

export type StepOutcome =
  | { kind: 'pending'; pending: Pending; detail: string; withinTransaction?: (trx: Executor) => Promise<void>; afterCommit?: () => Promise<void> }
  | { kind: 'proved'; method: SsprMethod; detail: string | null }
  /** Wrong, but the same challenge may be answered again (a mistyped code). */
  | { kind: 'retry'; detail: string }
  /** Wrong, and the challenge is over: ask for a new one. */
  | { kind: 'failed'; detail: string };

export const PROMPTS: Record<SsprMethod, string> = {
  email: 'Enter the code e-mailed to you',
  sms: 'Enter the code sent to your phone',
  app: 'Approve the request in your authenticator app',
  oath: 'Enter the code from your authenticator app or token',
  questions: 'Answer your security questions',
};
