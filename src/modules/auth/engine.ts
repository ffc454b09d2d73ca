import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { Clock } from '../../shared/clock.js';
import { appError, assert } from '../../shared/errors.js';
import type { Keyring } from '../../shared/keyring.js';
import type { Db, Unit, UnitOfWork } from '../../storage/database.js';
import { challengesRepository } from '../../storage/repositories/challenges.js';
import { telephonyRepository } from '../../storage/repositories/telephony.js';
import { usersRepository } from '../../storage/repositories/users.js';
import type { UserRow } from '../../storage/schema.js';
import type { AuthenticatedApplication } from '../applications/applications.js';
import type { ClaimIssuers } from '../access/claims.js';
import { issueRememberToken } from '../access/remember.js';
import { usernameKey } from '../directory/user-input.js';
import type { CallEvent, CallScript } from '../telephony/gateway.js';
import type { Delivery, DeviceAnswer, MethodContext, MethodName, MethodResponse, StepResult, VerificationMethod } from '../methods/contract.js';
import { finalAnswer, waitingAnswer, type AuthAnswer, type PreauthAnswer } from './answers.js';
import type { Blocks } from './blocks.js';
import { readState, writeState, type ChallengeState } from './challenge-state.js';
import { Challenges, type ChallengeSlot, type LockedChallenge } from './challenges.js';
import { evaluateSignin, evaluateUnknownUser, statusMessage } from './evaluation.js';
import { fallbackOffer, fallbackStep, offerAnswer } from './fallback.js';
import { MethodRegistry } from './method-registry.js';
import { noMethodOutcome, ruleOutcome, signinStep, userNotFoundOutcome } from './outcomes.js';
import { pendingPushes, type PendingPush } from './pending-pushes.js';
import { writeOutcome, type Outcome } from './records.js';
import type { AuthInput, AuthRequest } from './request.js';
import { RESULT_CODES, detailOf, type ResultCode } from './result-codes.js';

export type { AuthInput, AuthRequest } from './request.js';
export type { PendingPush } from './pending-pushes.js';

export interface EngineDeps {
  db: Db;
  /** Runs a unit of work in a transaction, answering after its commit (Storage.transact). */
  transact: UnitOfWork;
  clock: Clock;
  keyring: Keyring;
  config: Config;
  blocks: Blocks;
  log: Logger;
  methods: VerificationMethod[];
  claimIssuers: ClaimIssuers;
  /** How often a long poll looks again without a wake-up (an answer on another node wakes nobody here). */
  longPollIntervalMs: number;
}

/**
 * The user an authentication names, locked for the rest of its unit (through
 * the read cache on SQLite): the first thing every unit for a user does, so
 * that the units of one user run one after another on every node.
 */
function lockUser(unit: Unit, username: string): Promise<UserRow | undefined> {
  return usersRepository.lockByKey(unit, usernameKey(username));
}

/** Codes by which the user reported fraud: the sign-in ends denied, with no fallback offered. */
const FRAUD_REPORTS = new Set<ResultCode>(['FAILED_FRAUD_CODE_ENTERED', 'FAILED_FRAUD_REPORTED']);

/** Where a unit of work left an authentication: the answer, what a call says next, and what to hand to the carrier after the commit. */
interface Continued<Answer = AuthAnswer> {
  answer: Answer;
  script?: CallScript;
  delivery?: Delivery;
}

/**
 * How an answer to an open challenge comes in. Every such entry point (the
 * Auth API's respond, a text message reply, a call's event, an authenticator
 * app's answer) is the same steps: find the challenge with its user locked,
 * hand the method the response, record what follows, deliver after the
 * commit, wake the long polls. What differs is named here.
 */
interface AnswerRoute<Input> {
  /** The challenge the answer is for, its user locked first; null when it answers none (the caller decides what that means). */
  find(unit: Unit, input: Input): Promise<LockedChallenge | null>;
  /** The response the challenge's method is given. */
  response(input: Input): MethodResponse;
  /** The application answering, when the entry point knows it (the Auth API's caller); else the challenge's own. */
  application?(input: Input): AuthenticatedApplication;
}

/**
 * The authentication engine. It does not know which protocol a request came
 * through: it receives the application, client IP, auth type and entry point
 * and records them. Each request runs in one transaction: the rules, the
 * method's state change (a used OATH step, a consumed bypass, a lockout) and
 * the attempt record and sign-in event land together or not at all.
 * Policy evaluation lives in evaluation.ts, a challenge's life (saving,
 * expiry, long polls) in challenges.ts, fallback in fallback.ts.
 */
export class AuthEngine {
  private readonly methods: MethodRegistry;
  private readonly challenges: Challenges;

  /** The entry points that answer an open challenge, each a route through `answer`. */
  private readonly routes: {
    respond: AnswerRoute<{ application: AuthenticatedApplication; txid: string; response: MethodResponse }>;
    reply: AnswerRoute<{ from: string; text: string }>;
    call: AnswerRoute<{ callId: string; event: CallEvent }>;
    device: AnswerRoute<{ txid: string; answer: DeviceAnswer }>;
  };

  constructor(private readonly deps: EngineDeps) {
    this.methods = new MethodRegistry(deps.methods, deps.config.auth);
    this.challenges = new Challenges(deps, this.methods);
    const isPrimaryOf = (locked: LockedChallenge | null, through: 'device' | 'call') => {
      if (!locked || locked.challenge.stage !== 'primary' || !this.methods.has(locked.challenge.method)) return false;
      return this.methods.get(locked.challenge.method).answeredThrough === through;
    };
    this.routes = {
      respond: {
        find: async (unit, { application, txid }) => {
          const locked = await this.challenges.lock(unit, txid);
          // Another application's transaction is as unknown as a made-up one.
          if (!locked || locked.challenge.application_id !== application.id) throw appError('not_found', `transaction ${txid} does not exist`);
          return locked;
        },
        response: ({ response }) => response,
        application: ({ application }) => application,
      },
      reply: {
        // The newest open challenge, waiting for a reply, of a user whose primary phone the message came from.
        find: async (unit, { from }) => {
          // Every user with this primary phone and an open challenge, locked (in id order) before their challenges are read.
          const users = await usersRepository.lockWaitingOnPhone(unit, from);
          const waiting = users.length === 0 ? [] : await challengesRepository.pendingForPhone(unit, from);
          for (const challenge of waiting) {
            if (challenge.stage !== 'primary' || !this.methods.has(challenge.method)) continue;
            const state = readState(challenge);
            const user = users.find((candidate) => candidate.id === challenge.user_id);
            if (user && this.methods.get(challenge.method).awaitsReply?.(state.step) === true) return { challenge, state, user };
          }
          return null;
        },
        response: ({ text }) => ({ passcode: text, reply: true }),
      },
      call: {
        // Only a call still waiting on its challenge: an ended challenge hangs up.
        find: async (unit, { callId }) => {
          const call = await telephonyRepository.findById(unit, callId);
          const locked = call?.challenge_id ? await this.challenges.lock(unit, call.challenge_id) : null;
          return locked?.challenge.status === 'pending' && isPrimaryOf(locked, 'call') ? locked : null;
        },
        response: ({ callId, event }) => ({ call: { id: callId, event } }),
      },
      device: {
        find: async (unit, { txid }) => {
          const locked = await this.challenges.lock(unit, txid);
          return isPrimaryOf(locked, 'device') ? locked : null;
        },
        response: ({ answer }) => ({ app: answer }),
      },
    };
  }

  /** Whether and how the user can authenticate. A final answer (allow, deny, enroll) is recorded as the sign-in. */
  async preauth(request: AuthRequest): Promise<PreauthAnswer> {
    const ended: string[] = [];
    const answer = await this.deps.transact(async (trx): Promise<PreauthAnswer> => {
      const user = await lockUser(trx, request.username);
      const now = this.deps.clock.now();
      if (!user) {
        await this.record(trx, null, request, userNotFoundOutcome(false));
        return { result: 'unknown_user', result_code: null, detail: 'user not found', status_msg: 'user not found', methods: [], fallback: [] };
      }
      const settled = await this.challenges.settle(trx, user);
      ended.push(...settled.ended);
      const { decision, trace, steps } = await evaluateSignin(this.deps, trx, user, request, settled.open);
      if (decision) {
        await this.record(trx, user, request, ruleOutcome(decision, trace, steps, now));
        const final = finalAnswer(null, decision.outcome === 'allow', decision.code, decision.detail, statusMessage(decision));
        return { result: final.result as 'allow' | 'deny', result_code: final.result_code, detail: final.detail, status_msg: final.status_msg, methods: [], fallback: [] };
      }
      const methods = await this.methods.describe(trx, user, false);
      if (methods.length === 0) {
        const outcome = noMethodOutcome(trace, steps, this.registers(request, user));
        await this.record(trx, user, request, outcome);
        return { result: outcome.status === 'success' ? 'enroll' : 'deny', result_code: null, detail: outcome.detail, status_msg: 'no verification method registered', methods: [], fallback: [] };
      }
      const fallback = (await this.methods.describe(trx, user, true)).map((method) => method.method);
      return { result: 'auth', result_code: null, detail: null, status_msg: 'second factor required', methods, fallback };
    });
    this.challenges.wakeEnded(ended);
    return answer;
  }

  /** Runs an authentication: the rules, then a challenge with the chosen method. */
  async auth(input: AuthInput): Promise<AuthAnswer> {
    if (input.factor !== 'auto') {
      assert(this.methods.has(input.factor), 'validation_failed', `factor: ${input.factor} is not available on this server`, { field: 'factor' });
      assert(!this.methods.get(input.factor).fallbackOnly, 'validation_failed', `factor: ${input.factor} is a fallback only`, { field: 'factor' });
    }
    const ended: string[] = [];
    const { answer } = await this.commitAndDeliver((trx) => this.begin(trx, input, ended));
    this.challenges.wakeEnded(ended);
    // A delivery the carrier refused may have ended the challenge already.
    this.challenges.wake(answer);
    return answer;
  }

  /** The user's answer to an open challenge: a passcode, or security-question answers during fallback. */
  async respond(application: AuthenticatedApplication, txid: string, response: MethodResponse): Promise<AuthAnswer> {
    assert(response.call === undefined, 'validation_failed', 'call events come from the telephony gateway');
    // `find` throws for a challenge this application does not have, so there is always an answer.
    return (await this.answer(this.routes.respond, { application, txid, response })).answer!;
  }

  /**
   * A text message a user sent (two-way SMS): it answers the newest open
   * two-way SMS challenge of a user whose primary phone it came from. Null
   * when there is none (a late or stray message), so the caller can log it.
   */
  async answerReply(from: string, text: string): Promise<AuthAnswer | null> {
    return (await this.answer(this.routes.reply, { from, text })).answer;
  }

  /**
   * Something that happened on a call (a carrier's webhook, or the outbox
   * playing the phone's part), for the challenge the call serves. Returns
   * what the call says and does next; null when the call serves no open
   * challenge (it ended, or timed out), and the caller hangs up.
   */
  async callEvent(callId: string, event: CallEvent): Promise<CallScript | null> {
    return (await this.answer(this.routes.call, { callId, event })).script ?? null;
  }

  /**
   * An authenticator app's answer to a push (its signature already checked,
   * or found wrong: `verified`). Null when `txid` is no push; the answer of an
   * ended challenge is how it ended, unchanged.
   */
  async deviceAnswer(txid: string, answer: DeviceAnswer): Promise<AuthAnswer | null> {
    return (await this.answer(this.routes.device, { txid, answer })).answer;
  }

  /** The pushes waiting for a device (pending-pushes.ts). */
  async pushesFor(device: { id: string; user_id: string }): Promise<PendingPush[]> {
    const method = this.deps.methods.find((candidate) => candidate.answeredThrough === 'device');
    return method ? pendingPushes(this.deps.db, method.name, device, this.deps.clock.now()) : [];
  }

  /** The state of a challenge, waiting up to `waitMs` for it to end or to offer a fallback (challenges.ts). */
  status(application: AuthenticatedApplication, txid: string, waitMs: number): Promise<AuthAnswer> {
    return this.challenges.status(application, txid, waitMs);
  }

  /** Ends every pending challenge past its expiry with its timeout code; returns how many. */
  expireDue(): Promise<number> {
    return this.challenges.expireDue();
  }

  /** Runs the expiry sweeper every `intervalMs`; returns a function that stops it. */
  startSweeper(intervalMs: number): () => void {
    return this.challenges.startSweeper(intervalMs);
  }

  /** One path for every answer to an open challenge (see AnswerRoute). */
  private async answer<Input>(route: AnswerRoute<Input>, input: Input): Promise<Continued<AuthAnswer | null>> {
    const result = await this.commitAndDeliver(async (trx): Promise<Continued<AuthAnswer | null>> => {
      const locked = await route.find(trx, input);
      if (!locked) return { answer: null };
      const application = route.application?.(input) ?? (await this.challenges.applicationOf(trx, locked.challenge));
      return this.continueChallenge(trx, locked, application, route.response(input));
    });
    if (result.answer) this.challenges.wake(result.answer);
    return result;
  }

  /** The unit of work of `auth`: the rules, then the chosen method's first step. Ends the user's expired challenges on the way (their ids go to `ended`). */
  private async begin(trx: Unit, input: AuthInput, ended: string[]): Promise<Continued> {
    const user = await lockUser(trx, input.username);
    if (!user) return { answer: await this.unknownUser(trx, input) };
    const settled = await this.challenges.settle(trx, user);
    ended.push(...settled.ended);
    const { decision, trace, steps, requirement } = await evaluateSignin(this.deps, trx, user, input, settled.open);
    if (decision) {
      await this.record(trx, user, input, ruleOutcome(decision, trace, steps, this.deps.clock.now()));
      return { answer: finalAnswer(null, decision.outcome === 'allow', decision.code, decision.detail, statusMessage(decision)) };
    }
    const method = await this.methods.choose(trx, user, input.factor, input.passcode !== undefined);
    if (!method) {
      const registers = input.factor === 'auto' && (await this.methods.describe(trx, user, false)).length === 0 && this.registers(input, user);
      const outcome = noMethodOutcome(trace, steps, registers);
      await this.record(trx, user, input, outcome);
      const reason = `no ${input.factor === 'auto' ? '' : `${input.factor} `}method registered`;
      return { answer: registers ? { ...finalAnswer(null, true, null, outcome.detail, reason), result: 'enroll' } : finalAnswer(null, false, null, outcome.detail, reason) };
    }
    const txid = randomUUID();
    const step = await method.start(this.context(trx, user, input, false, null, txid), { passcode: input.passcode, answers: input.answers, device: input.device });
    const state: ChallengeState = {
      deadline: this.deps.clock.now() + this.deps.config.auth.resultTimeoutSeconds * 1000,
      step: {},
      fallback: [],
      fields: {},
      steps,
      trace,
      ...(requirement ? { requirement } : {}),
      ...(input.remember ? { remember: true } : {}),
      client: { type: input.clientType ?? 'modern', device: input.deviceId ?? null },
    };
    const answer = await this.afterStep(trx, user, input, method, step, state, { txid, existing: null }, 'primary');
    return { answer, ...(step.status === 'pending' && step.delivery ? { delivery: step.delivery } : {}) };
  }

  /**
   * Runs a unit of work and, once it has committed, hands its delivery (a
   * text or a call) to the carrier: never inside the transaction, where the
   * carrier's round trip would hold every other authentication. A refused
   * delivery goes back to its method in a new unit, which may end the
   * challenge or make another delivery (the backup phone). What the first
   * unit said to a call (its script) is kept.
   */
  private async commitAndDeliver<Answer extends AuthAnswer | null>(work: (trx: Unit) => Promise<Continued<Answer>>): Promise<Continued<Answer>> {
    const first = await this.deps.transact(work);
    let outcome: Continued<Answer | AuthAnswer> = first;
    while (outcome.delivery) {
      const delivery = outcome.delivery;
      const result = await delivery.send();
      if (result.status !== 'failed') break;
      const previous = outcome.answer;
      outcome = await this.deps.transact(async (trx) => {
        const locked = await this.challenges.lock(trx, delivery.challengeId);
        if (!locked) return { answer: previous };
        return this.continueChallenge(trx, locked, await this.challenges.applicationOf(trx, locked.challenge), { delivered: { id: delivery.id, invalidNumber: result.invalidNumber === true } });
      });
    }
    // Only a unit that answered with a challenge makes a delivery, so a later answer is of the same kind.
    return { answer: outcome.answer as Answer, ...(first.script ? { script: first.script } : {}) };
  }

  /** The user's answer to a challenge: the method's next step (and, on a call, what the call says next), or a fallback's. */
  private async continueChallenge(trx: Unit, locked: LockedChallenge, application: AuthenticatedApplication, response: MethodResponse): Promise<Continued> {
    const { challenge, state, user } = locked;
    const txid = challenge.id;
    const slot = { txid, existing: challenge };
    // Ended by an earlier answer (or on another node): every later answer gets how it ended.
    if (challenge.status !== 'pending') return { answer: this.challenges.answerWithToken(locked) };
    if (challenge.expires_at <= this.deps.clock.now() || !user) return { answer: await this.challenges.expire(trx, locked) };
    const request = this.challenges.requestOf(challenge, state, application, user.username);
    if (challenge.stage === 'primary') {
      const method = this.methods.get(challenge.method);
      const step = await method.respond(this.context(trx, user, request, false, null, txid), state.step, response);
      const answer = await this.afterStep(trx, user, request, method, step, state, slot, 'primary');
      return { answer, ...(step.script ? { script: step.script } : {}), ...(step.status === 'pending' && step.delivery ? { delivery: step.delivery } : {}) };
    }
    const context = this.context(trx, user, request, true, challenge.primary_code as ResultCode, txid);
    const { method, step } = await fallbackStep(this.methods, context, state, response);
    return { answer: await this.afterStep(trx, user, request, method, step, state, slot, 'fallback') };
  }

  /** Turns a method's step into a pending challenge, a fallback offer, or the recorded end of the sign-in. */
  private async afterStep(
    trx: Unit,
    user: UserRow,
    request: AuthRequest,
    method: VerificationMethod,
    step: StepResult,
    state: ChallengeState,
    slot: ChallengeSlot,
    stage: 'primary' | 'fallback',
  ): Promise<AuthAnswer> {
    const now = this.deps.clock.now();
    const challenge = slot.existing;
    const fields = { ...state.fields, ...step.fields };
    if (step.status === 'pending') {
      const next: ChallengeState = { ...state, step: step.state, fields, ...(step.number ? { number: step.number } : {}), ...(step.pushFatigue ? { pushFatigue: step.pushFatigue } : {}) };
      const { txid, expiresAt } = await this.challenges.save(trx, user, request, method.name, stage, step.code, null, next, slot);
      return { ...waitingAnswer(txid, step.code, step.prompt, expiresAt), ...(step.questions ? { questions: step.questions } : {}), ...(step.number ? { number: step.number } : {}) };
    }
    const steps = [...state.steps, signinStep(method.name, step.code, step.authenticated, now)];
    // A fraud report is the user saying "this is not me": no second chance through a fallback.
    if (!step.authenticated && stage === 'primary' && !FRAUD_REPORTS.has(step.code)) {
      const offer = await fallbackOffer(this.methods, trx, user, method, this.context(trx, user, request, true, step.code, slot.txid));
      if (offer) {
        const next: ChallengeState = { ...state, fields, steps, ...offer.state };
        const { txid, expiresAt } = await this.challenges.save(trx, user, request, method.name, 'fallback', step.code, step.code, next, slot);
        return offerAnswer(txid, step.code, offer, expiresAt);
      }
    }
    const outcome: Outcome = {
      status: step.authenticated ? 'success' : 'failure',
      mfaRequired: true,
      policy: state.requirement?.policy ?? method.name,
      method: stage === 'fallback' && challenge ? (challenge.method as MethodName) : method.name,
      code: step.code,
      detail: detailOf(step.code, step.authenticated),
      countedFailure: !step.authenticated && step.countsAsFailure !== false,
      fields,
      steps,
      trace: state.trace,
      pushFatigue: step.pushFatigue ?? state.pushFatigue ?? null,
    };
    const { signinId } = await writeOutcome(trx, now, user, user.username, request, outcome);
    // MFA done: a device that asked may remember it, for as long as the requiring policy allows.
    const days = step.authenticated && state.remember ? (state.requirement?.rememberDays ?? null) : null;
    const remembered = days ? issueRememberToken(this.deps.keyring, user.id, now, days) : null;
    if (challenge) {
      await challengesRepository.end(trx, challenge.id, {
        status: step.authenticated ? 'allow' : 'deny',
        result_code: step.code,
        completed_at: now,
        signin_id: signinId,
        ...(remembered ? { state: writeState({ ...state, remembered: remembered.body }) } : {}),
      });
    }
    const answer = finalAnswer(challenge?.id ?? null, step.authenticated, step.code, null, RESULT_CODES[step.code].shortText);
    return remembered ? { ...answer, remember_token: remembered.token, remember_expires_at: new Date(remembered.expiresAt).toISOString() } : answer;
  }

  /**
   * Whether a user with no method is sent to register one, or denied: the
   * setting, a client that can show it, and a per-user MFA state other than
   * Enforced (an Enforced user must already have a method).
   */
  private registers(request: AuthRequest, user: UserRow): boolean {
    return this.deps.config.access.registrationPrompt && request.clientType !== 'legacy' && user.mfa_state !== 'Enforced';
  }

  private context(db: Unit, user: UserRow, request: AuthRequest, fallback: boolean, primaryCode: ResultCode | null, challengeId: string): MethodContext {
    return {
      db,
      clock: this.deps.clock,
      keyring: this.deps.keyring,
      user,
      application: request.application,
      ip: request.ip,
      authType: request.authType,
      entryPoint: request.entryPoint,
      fallback,
      primaryCode,
      challengeId,
    };
  }

  private record(trx: Unit, user: UserRow | null, request: AuthRequest, outcome: Outcome) {
    return writeOutcome(trx, this.deps.clock.now(), user, request.username, request, outcome);
  }

  /** `auth` for a user name that does not exist: recorded, and refused as throttled once the client IP is over its limit. */
  private async unknownUser(trx: Unit, request: AuthRequest): Promise<AuthAnswer> {
    const throttled = await evaluateUnknownUser(this.deps, trx, request);
    if (!throttled) {
      await this.record(trx, null, request, userNotFoundOutcome(true));
      return finalAnswer(null, false, null, 'user not found', 'user not found');
    }
    const { decision, trace } = throttled;
    await this.record(trx, null, request, ruleOutcome(decision, trace, [], this.deps.clock.now()));
    return finalAnswer(null, false, decision.code, decision.detail, statusMessage(decision));
  }
}
