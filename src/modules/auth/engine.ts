import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { Clock } from '../../shared/clock.js';
import { appError, assert } from '../../shared/errors.js';
import type { Keyring } from '../../shared/keyring.js';
import type { Db, Executor, Unit, UnitOfWork } from '../../storage/database.js';
import { challengesRepository } from '../../storage/repositories/challenges.js';
import { telephonyRepository } from '../../storage/repositories/telephony.js';
import { usersRepository } from '../../storage/repositories/users.js';
import type { ChallengeRow, UserRow } from '../../storage/schema.js';
import type { AuthenticatedApplication } from '../applications/applications.js';
import type { ClientType } from '../access/policies.js';
import { usernameKey } from '../directory/user-input.js';
import type { CallEvent, CallScript } from '../telephony/gateway.js';
import type { AttemptFields, Delivery, DeviceAnswer, MethodContext, PushFatigue, MethodName, MethodResponse, StepResult, VerificationMethod } from '../methods/contract.js';
import { answerOfChallenge, finalAnswer, waitingAnswer, type AuthAnswer, type PreauthAnswer } from './answers.js';
import { MethodRegistry } from './method-registry.js';
import { noMethodOutcome, ruleOutcome, signinStep, userNotFoundOutcome } from './outcomes.js';
import type { Blocks } from './blocks.js';
import { writeOutcome, type Outcome, type SigninStep, type TraceEntry } from './records.js';
import { RESULT_CODES, detailOf, type ResultCode } from './result-codes.js';
import type { ClaimIssuers } from '../access/claims.js';
import type { MfaRequirement } from '../access/evaluate.js';
import { issueRememberToken, rememberTokenOf } from '../access/remember.js';
import { evaluateSignin, evaluateUnknownUser, statusMessage } from './evaluation.js';
import type { AuthInput, AuthRequest } from './request.js';

export type { AuthInput, AuthRequest } from './request.js';

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

/** A push as a device sees it while it waits for an answer. */
export interface PendingPush {
  txid: string;
  application: string;
  ip: string | null;
  created_at: string;
  expires_at: string;
  /** Where the sign-in comes from, when known; no location source is configured yet, so null. */
  location: string | null;
  /** The user must type the number the sign-in screen shows. */
  number_matching: boolean;
  /** PIN mode: the answer carries the user's PIN. */
  pin: boolean;
  /** The PIN has expired: the answer also carries a new one. */
  pin_change: boolean;
}

/** Where a unit of work left an authentication: the answer, what a call says next, and what to hand to the carrier after the commit. */
interface Continued<Answer = AuthAnswer> {
  answer: Answer;
  script?: CallScript;
  delivery?: Delivery;
}

/** A challenge read after its user was locked; the user is undefined when deleted. */
interface LockedChallenge {
  challenge: ChallengeRow;
  user: UserRow | undefined;
}

/** The challenge a step belongs to: its transaction id, and its row once saved. */
interface ChallengeSlot {
  txid: string;
  existing: ChallengeRow | null;
}

/** What a pending challenge remembers between requests (no secrets). */
interface ChallengeState {
  /** When the whole authentication must have ended (auth.resultTimeoutSeconds after it began). */
  deadline: number;
  step: Record<string, unknown>;
  fallback: MethodName[];
  questionsState?: Record<string, unknown>;
  /** The security questions a fallback asks (ids and texts, never answers): shown again by auth_status. */
  questions?: { id: string; text: string }[];
  fields: AttemptFields;
  steps: SigninStep[];
  trace: TraceEntry[];
  /** Number matching: the number the sign-in screen shows while the app's push waits. */
  number?: string;
  /** What the push-fatigue defence did, kept for the sign-in record. */
  pushFatigue?: PushFatigue;
  /** The policy that required MFA, and how long a device may remember it. */
  requirement?: MfaRequirement;
  /** The user asked to remember MFA on this device. */
  remember?: boolean;
  /** The signed part of the remembered-device token issued when the challenge succeeded (the signature is made again when asked). */
  remembered?: string;
  /** The client type and device of the sign-in, for its record. */
  client?: { type: ClientType; device: string | null };
}

/**
 * The authentication engine. It does not know which protocol a request came
 * through: it receives the application, client IP, auth type and entry point
 * and records them. Each request runs in one transaction: the rules, the
 * method's state change (a used OATH step, a consumed bypass, a lockout) and
 * the attempt record and sign-in event land together or not at all.
 */
export class AuthEngine {
  private readonly events = new EventEmitter();
  private readonly methods: MethodRegistry;

  constructor(private readonly deps: EngineDeps) {
    this.methods = new MethodRegistry(deps.methods, deps.config.auth);
    this.events.setMaxListeners(0);
  }

  /** Whether and how the user can authenticate. A final answer (allow, deny, enroll) is recorded as the sign-in. */
  async preauth(request: AuthRequest): Promise<PreauthAnswer> {
    return this.deps.transact(async (trx) => {
      const user = await lockUser(trx, request.username);
      const now = this.deps.clock.now();
      if (!user) {
        await this.record(trx, null, request, userNotFoundOutcome(false));
        return { result: 'unknown_user', result_code: null, detail: 'user not found', status_msg: 'user not found', methods: [], fallback: [] };
      }
      const { open } = await this.settleChallenges(trx, user);
      const { decision, trace, steps } = await evaluateSignin(this.deps, trx, user, request, open);
      if (decision) {
        await this.record(trx, user, request, ruleOutcome(decision, trace, steps, now));
        const answer = finalAnswer(null, decision.outcome === 'allow', decision.code, decision.detail, statusMessage(decision));
        return { result: answer.result as 'allow' | 'deny', result_code: answer.result_code, detail: answer.detail, status_msg: answer.status_msg, methods: [], fallback: [] };
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
  }

  /** Runs an authentication: the rules, then a challenge with the chosen method. */
  async auth(input: AuthInput): Promise<AuthAnswer> {
    if (input.factor !== 'auto') {
      assert(this.methods.has(input.factor), 'validation_failed', `factor: ${input.factor} is not available on this server`, { field: 'factor' });
      assert(input.factor !== 'questions', 'validation_failed', 'factor: security questions are a fallback only', { field: 'factor' });
    }
    const finished: string[] = [];
    const { answer } = await this.commitAndDeliver((trx) => this.begin(trx, input, finished));
    finished.forEach((txid) => this.events.emit(txid));
    // A delivery the carrier refused may have ended the challenge already.
    this.wake(answer);
    return answer;
  }

  /** The unit of work of `auth`: the rules, then the chosen method's first step. Ends the user's expired challenges on the way (their ids go to `finished`). */
  private async begin(trx: Unit, input: AuthInput, finished: string[]): Promise<Continued> {
    const user = await lockUser(trx, input.username);
    if (!user) return { answer: await this.unknownUser(trx, input) };
    const { ended, open } = await this.settleChallenges(trx, user);
    finished.push(...ended);
    const { decision, trace, steps, requirement } = await evaluateSignin(this.deps, trx, user, input, open);
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
    const deadline = this.deps.clock.now() + this.deps.config.auth.resultTimeoutSeconds * 1000;
    const state: ChallengeState = {
      deadline,
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
        const locked = await this.lockChallenge(trx, delivery.challengeId);
        if (!locked) return { answer: previous };
        return this.continueChallenge(trx, locked, await this.applicationOf(trx, locked.challenge), { delivered: { id: delivery.id, invalidNumber: result.invalidNumber === true } });
      });
    }
    // Only a unit that answered with a challenge makes a delivery, so a later answer is of the same kind.
    return { answer: outcome.answer as Answer, ...(first.script ? { script: first.script } : {}) };
  }

  /** The user's answer to an open challenge: a passcode, or security-question answers during fallback. */
  async respond(application: AuthenticatedApplication, txid: string, response: MethodResponse): Promise<AuthAnswer> {
    assert(response.call === undefined, 'validation_failed', 'call events come from the telephony gateway');
    const { answer } = await this.commitAndDeliver(async (trx) => {
      const locked = await this.lockChallenge(trx, txid);
      // Another application's transaction is as unknown as a made-up one.
      if (!locked || locked.challenge.application_id !== application.id) throw appError('not_found', `transaction ${txid} does not exist`);
      return this.continueChallenge(trx, locked, application, response);
    });
    this.wake(answer);
    return answer;
  }

  /** Wakes the long polls of a challenge that ended, or that now offers a fallback (its caller must ask for it). */
  private wake(answer: AuthAnswer): void {
    if (answer.txid && (answer.result !== 'waiting' || answer.fallback)) this.events.emit(answer.txid);
  }

  /** The answer of an ended challenge, with its remembered-device token when it issued one. */
  private answerWithToken(challenge: ChallengeRow): AuthAnswer {
    const answer = answerOfChallenge(challenge);
    if (challenge.status !== 'allow') return answer;
    const state = JSON.parse(challenge.state) as ChallengeState;
    return state.remembered ? { ...answer, ...rememberTokenOf(this.deps.keyring, state.remembered) } : answer;
  }

  /**
   * A text message a user sent (two-way SMS): it answers the newest open
   * two-way SMS challenge of a user whose primary phone it came from. Null
   * when there is none (a late or stray message), so the caller can log it.
   */
  async answerReply(from: string, text: string): Promise<AuthAnswer | null> {
    const { answer } = await this.commitAndDeliver(async (trx): Promise<Continued<AuthAnswer | null>> => {
      // Every user with this primary phone and an open challenge, locked (in id order) before their challenges are read.
      const users = await usersRepository.lockWaitingOnPhone(trx, from);
      const waiting = users.length === 0 ? [] : await challengesRepository.pendingForPhone(trx, from);
      const challenge = waiting.find((candidate) => {
        const method = this.methods.has(candidate.method as MethodName) ? this.methods.get(candidate.method as MethodName) : null;
        return candidate.stage === 'primary' && method?.awaitsReply?.((JSON.parse(candidate.state) as ChallengeState).step) === true;
      });
      const user = challenge && users.find((candidate) => candidate.id === challenge.user_id);
      if (!challenge || !user) return { answer: null };
      return this.continueChallenge(trx, { challenge, user }, await this.applicationOf(trx, challenge), { passcode: text, reply: true });
    });
    if (answer) this.wake(answer);
    return answer;
  }

  /**
   * Something that happened on a call (a carrier's webhook, or the outbox
   * playing the phone's part), for the challenge the call serves. Returns
   * what the call says and does next; null when the call serves no open
   * challenge (it ended, or timed out), and the caller hangs up.
   */
  async callEvent(callId: string, event: CallEvent): Promise<CallScript | null> {
    const { answer, script } = await this.commitAndDeliver(async (trx): Promise<Continued<AuthAnswer | null>> => {
      const call = await telephonyRepository.findById(trx, callId);
      const locked = call?.challenge_id ? await this.lockChallenge(trx, call.challenge_id) : null;
      const challenge = locked?.challenge;
      if (!locked || !challenge || challenge.status !== 'pending' || challenge.stage !== 'primary' || challenge.method !== 'voice') return { answer: null };
      return this.continueChallenge(trx, locked, await this.applicationOf(trx, challenge), { call: { id: callId, event } });
    });
    if (answer) this.wake(answer);
    return script ?? null;
  }

  /**
   * An authenticator app's answer to a push (its signature already checked,
   * or found wrong: `verified`). Null when `txid` is no push; the answer of an
   * ended challenge is how it ended, unchanged.
   */
  async deviceAnswer(txid: string, answer: DeviceAnswer): Promise<AuthAnswer | null> {
    const { answer: result } = await this.commitAndDeliver(async (trx): Promise<Continued<AuthAnswer | null>> => {
      const locked = await this.lockChallenge(trx, txid);
      if (!locked || locked.challenge.method !== 'app' || locked.challenge.stage !== 'primary') return { answer: null };
      return this.continueChallenge(trx, locked, await this.applicationOf(trx, locked.challenge), { app: answer });
    });
    if (result) this.wake(result);
    return result;
  }

  /**
   * The pushes waiting for a device: the user's open app challenges that were
   * sent to it, oldest first. Never the matching number: the user reads it on
   * the sign-in screen.
   */
  async pushesFor(device: { id: string; user_id: string }): Promise<PendingPush[]> {
    const now = this.deps.clock.now();
    const rows = await this.deps.db
      .selectFrom('challenges')
      .innerJoin('applications', 'applications.id', 'challenges.application_id')
      .select(['challenges.id', 'challenges.state', 'challenges.ip', 'challenges.created_at', 'challenges.expires_at', 'applications.name as application'])
      .where('challenges.user_id', '=', device.user_id)
      .where('challenges.status', '=', 'pending')
      .where('challenges.method', '=', 'app')
      .where('challenges.stage', '=', 'primary')
      .where('challenges.expires_at', '>', now)
      .orderBy('challenges.created_at')
      .execute();
    const user = await usersRepository.findById(this.deps.db, device.user_id);
    return rows.flatMap((row) => {
      const state = JSON.parse(row.state) as ChallengeState;
      const step = state.step as { devices?: string[] };
      if (!step.devices?.includes(device.id)) return [];
      return [
        {
          txid: row.id,
          application: row.application,
          ip: row.ip,
          created_at: new Date(Number(row.created_at)).toISOString(),
          expires_at: new Date(Number(row.expires_at)).toISOString(),
          location: null,
          number_matching: state.number !== undefined,
          pin: user?.app_mode === 'pin',
          pin_change: user?.app_mode === 'pin' && Boolean(user.pin_change_required),
        },
      ];
    });
  }

  /** The user's answer to a challenge: the method's next step (and, on a call, what the call says next), or a fallback's. */
  private async continueChallenge(trx: Unit, locked: LockedChallenge, application: AuthenticatedApplication, response: MethodResponse): Promise<Continued> {
    const { challenge, user } = locked;
    const txid = challenge.id;
    const slot = { txid, existing: challenge };
    // Ended by an earlier answer (or on another node): every later answer gets how it ended.
    if (challenge.status !== 'pending') return { answer: this.answerWithToken(challenge) };
    if (challenge.expires_at <= this.deps.clock.now()) return { answer: await this.expire(trx, challenge, user) };
    if (!user) return { answer: await this.expire(trx, challenge) };
    const state = JSON.parse(challenge.state) as ChallengeState;
    const request = this.requestOf(challenge, application, user.username);
    if (challenge.stage === 'primary') {
      const method = this.methods.get(challenge.method);
      const step = await method.respond(this.context(trx, user, request, false, null, txid), state.step, response);
      const answer = await this.afterStep(trx, user, request, method, step, state, slot, 'primary');
      return { answer, ...(step.script ? { script: step.script } : {}), ...(step.status === 'pending' && step.delivery ? { delivery: step.delivery } : {}) };
    }
    const primaryCode = challenge.primary_code as ResultCode;
    const context = this.context(trx, user, request, true, primaryCode, txid);
    if (response.passcode !== undefined && state.fallback.includes('oath')) {
      const step = await this.methods.get('oath').start(context, { passcode: response.passcode });
      return { answer: await this.afterStep(trx, user, request, this.methods.get('oath'), step, state, slot, 'fallback') };
    }
    if (response.answers !== undefined && state.fallback.includes('questions')) {
      const step = await this.methods.get('questions').respond(context, state.questionsState ?? {}, response);
      return { answer: await this.afterStep(trx, user, request, this.methods.get('questions'), step, state, slot, 'fallback') };
    }
    throw appError('validation_failed', `give ${state.fallback.map((name) => (name === 'oath' ? 'passcode' : 'answers')).join(' or ')} to complete the fallback`);
  }

  /**
   * The state of a challenge, waiting up to `waitMs` for it to end, or to
   * move to a stage the caller must act on (a fallback offered after a denied
   * push or call: the caller asks for a code or the answers at once, not when
   * the push would have timed out). Long poll.
   */
  async status(application: AuthenticatedApplication, txid: string, waitMs: number): Promise<AuthAnswer> {
    const deadline = Date.now() + waitMs;
    let seenStage: string | null = null;
    for (;;) {
      const challenge = await this.findChallenge(this.deps.db, application, txid);
      if (challenge.status !== 'pending') return this.answerWithToken(challenge);
      if (challenge.expires_at <= this.deps.clock.now()) return this.expireById(txid);
      if (seenStage !== null && challenge.stage !== seenStage) return answerOfChallenge(challenge);
      seenStage = challenge.stage;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return answerOfChallenge(challenge);
      // Woken at once by a completion on this node; a completion on another node is seen at the next poll.
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          this.events.off(txid, wake);
          resolve();
        }, Math.min(remaining, this.deps.longPollIntervalMs));
        this.events.once(txid, wake);
      });
    }
  }

  /** Ends every pending challenge past its expiry with its timeout code; returns how many. */
  async expireDue(): Promise<number> {
    const due = await challengesRepository.expired(this.deps.db, this.deps.clock.now());
    for (const challenge of due) await this.expireById(challenge.id);
    return due.length;
  }

  /** Runs the expiry sweeper every `intervalMs`; returns a function that stops it. */
  startSweeper(intervalMs: number): () => void {
    const timer = setInterval(() => {
      this.expireDue().catch((error: unknown) => this.deps.log.error({ err: error }, 'challenge expiry failed'));
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private async expireById(txid: string): Promise<AuthAnswer> {
    const answer = await this.deps.transact(async (trx) => {
      const locked = await this.lockChallenge(trx, txid);
      if (!locked) throw appError('not_found', `transaction ${txid} does not exist`);
      if (locked.challenge.status !== 'pending') return this.answerWithToken(locked.challenge);
      return this.expire(trx, locked.challenge, locked.user);
    });
    this.events.emit(txid);
    return answer;
  }

  /** Ends the user's challenges that ran out of time; returns those ended and those still open. */
  private async settleChallenges(trx: Unit, user: UserRow): Promise<{ ended: string[]; open: string[] }> {
    const now = this.deps.clock.now();
    // The user is locked: these are the challenges as the user's last unit left them.
    const pending = await challengesRepository.pendingForUser(trx, user.id);
    const ended = pending.filter((challenge) => challenge.expires_at <= now).map((challenge) => challenge.id);
    for (const id of ended) {
      const challenge = await challengesRepository.findById(trx, id);
      if (challenge?.status === 'pending') await this.expire(trx, challenge, user);
    }
    return { ended, open: pending.filter((challenge) => challenge.expires_at > now).map((challenge) => challenge.id) };
  }

  /**
   * The code a challenge ends with when it runs out of time: FAILED_AUTH_RESULT_TIMEOUT
   * when the whole authentication reached its deadline, otherwise the timeout
   * of what it was waiting for (the method's, or during fallback the questions'
   * or the OATH code's).
   */
  private timeoutCode(challenge: ChallengeRow, state: ChallengeState): ResultCode {
    if (challenge.expires_at >= state.deadline) return 'FAILED_AUTH_RESULT_TIMEOUT';
    if (challenge.stage === 'primary') {
      const method = this.methods.get(challenge.method);
      return method.expiredCode?.(state.step) ?? method.timeoutCode;
    }
    return state.fallback.includes('questions') ? 'FAILED_SECURITY_QUESTIONS_TIMEOUT' : 'FAILED_OATH_TOKEN_TIMEOUT';
  }

  /** Ends a claimed challenge that ran out of time. */
  /** Ends a pending challenge that ran out of time; its user is locked (undefined when deleted meanwhile). */
  private async expire(trx: Unit, challenge: ChallengeRow, knownUser?: UserRow): Promise<AuthAnswer> {
    const user = knownUser ?? null;
    const state = JSON.parse(challenge.state) as ChallengeState;
    const code = this.timeoutCode(challenge, state);
    const method = challenge.method as MethodName;
    const now = this.deps.clock.now();
    if (challenge.stage === 'primary' && this.methods.has(method)) await this.methods.get(method).onExpired?.(trx, state.step);
    const waitingFor = challenge.stage === 'fallback' && state.fallback.length === 1 ? state.fallback[0]! : method;
    const steps = [...state.steps, signinStep(waitingFor, code, false, now)];
    const outcome: Outcome = {
      status: 'failure',
      mfaRequired: true,
      policy: state.requirement?.policy ?? method,
      method,
      code,
      detail: detailOf(code, false),
      countedFailure: false,
      fields: state.fields,
      steps,
      trace: state.trace,
      pushFatigue: state.pushFatigue ?? null,
    };
    const request = this.requestOf(challenge, await this.applicationOf(trx, challenge), user?.username ?? '(deleted user)');
    const { signinId } = await writeOutcome(trx, now, user, request.username, request, outcome);
    await challengesRepository.end(trx, challenge.id, { status: 'deny', result_code: code, completed_at: now, signin_id: signinId });
    return finalAnswer(challenge.id, false, code, null, RESULT_CODES[code].shortText);
  }

  /** Turns a method's step into a pending challenge, a fallback offer, or the recorded end of the sign-in. */
  private async afterStep(
    trx: Executor,
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
      const { txid, expiresAt } = await this.saveChallenge(trx, user, request, method.name, stage, step.code, null, next, slot);
      return { ...waitingAnswer(txid, step.code, step.prompt, expiresAt), ...(step.questions ? { questions: step.questions } : {}), ...(step.number ? { number: step.number } : {}) };
    }
    const steps = [...state.steps, signinStep(method.name, step.code, step.authenticated, now)];
    // A fraud report is the user saying "this is not me": no second chance through a fallback.
    if (!step.authenticated && stage === 'primary' && !FRAUD_REPORTS.has(step.code)) {
      const offer = await this.offerFallback(trx, user, request, method, step.code, { ...state, fields, steps }, slot);
      if (offer) return offer;
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
    const days = step.authenticated && state.remember ? state.requirement?.rememberDays ?? null : null;
    const remembered = days ? issueRememberToken(this.deps.keyring, user.id, now, days) : null;
    if (challenge) {
      await challengesRepository.end(trx, challenge.id, {
        status: step.authenticated ? 'allow' : 'deny',
        result_code: step.code,
        completed_at: now,
        signin_id: signinId,
        ...(remembered ? { state: JSON.stringify({ ...state, remembered: remembered.body }) } : {}),
      });
    }
    const answer = finalAnswer(challenge?.id ?? null, step.authenticated, step.code, null, RESULT_CODES[step.code].shortText);
    return remembered ? { ...answer, remember_token: remembered.token, remember_expires_at: new Date(remembered.expiresAt).toISOString() } : answer;
  }

  /** After a denied primary method: keeps the challenge open for an OATH code or security questions, when allowed and registered. */
  private async offerFallback(
    trx: Executor,
    user: UserRow,
    request: AuthRequest,
    primary: VerificationMethod,
    primaryCode: ResultCode,
    state: ChallengeState,
    slot: ChallengeSlot,
  ): Promise<AuthAnswer | null> {
    const offered = (await this.methods.describe(trx, user, true)).map((description) => description.method).filter((name) => name !== primary.name);
    if (offered.length === 0) return null;
    let questions: { id: string; text: string }[] | undefined;
    let questionsState: Record<string, unknown> | undefined;
    if (offered.includes('questions')) {
      const step = await this.methods.get('questions').start(this.context(trx, user, request, true, primaryCode, slot.txid), {});
      if (step.status === 'pending') {
        questions = step.questions;
        questionsState = step.state;
      }
    }
    const next: ChallengeState = { ...state, fallback: offered, ...(questionsState ? { questionsState } : {}), ...(questions ? { questions } : {}) };
    const { txid, expiresAt } = await this.saveChallenge(trx, user, request, primary.name, 'fallback', primaryCode, primaryCode, next, slot);
    const prompt = offered.length === 2 ? 'Enter a code from your OATH token or answer your security questions' : offered[0] === 'oath' ? 'Enter a code from your OATH token' : 'Answer your security questions';
    return { ...waitingAnswer(txid, primaryCode, prompt, expiresAt), result_code: primaryCode, detail: detailOf(primaryCode, false), fallback: offered, ...(questions ? { questions } : {}) };
  }

  private async saveChallenge(
    trx: Executor,
    user: UserRow,
    request: AuthRequest,
    method: MethodName,
    stage: 'primary' | 'fallback',
    code: ResultCode | null,
    primaryCode: ResultCode | null,
    state: ChallengeState,
    slot: ChallengeSlot,
  ): Promise<{ txid: string; expiresAt: number }> {
    const now = this.deps.clock.now();
    const expiresAt = Math.min(now + this.deps.config.auth.challengeTimeoutSeconds * 1000, state.deadline);
    if (slot.existing) {
      await challengesRepository.advance(trx, slot.existing.id, { stage, result_code: code, primary_code: primaryCode, state: JSON.stringify(state), expires_at: expiresAt });
      return { txid: slot.existing.id, expiresAt };
    }
    const id = slot.txid;
    await challengesRepository.insert(trx, {
      id,
      user_id: user.id,
      application_id: request.application.id,
      method,
      stage,
      status: 'pending',
      result_code: code,
      primary_code: primaryCode,
      ip: request.ip,
      auth_type: request.authType,
      entry_point: request.entryPoint,
      state: JSON.stringify(state),
      created_at: now,
      expires_at: expiresAt,
      completed_at: null,
      signin_id: null,
    });
    return { txid: id, expiresAt };
  }

  /**
   * Whether a user with no method is sent to register one, or denied: the
   * setting, a client that can show it, and a per-user MFA state other than
   * Enforced (an Enforced user must already have a method).
   */
  private registers(request: AuthRequest, user: UserRow): boolean {
    return this.deps.config.access.registrationPrompt && request.clientType !== 'legacy' && user.mfa_state !== 'Enforced';
  }

  private context(db: Executor, user: UserRow, request: AuthRequest, fallback: boolean, primaryCode: ResultCode | null, challengeId: string): MethodContext {
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

  private async findChallenge(db: Executor, application: AuthenticatedApplication, txid: string): Promise<ChallengeRow> {
    const challenge = await challengesRepository.findById(db, txid);
    // Another application's transaction is as unknown as a made-up one.
    if (!challenge || challenge.application_id !== application.id) throw appError('not_found', `transaction ${txid} does not exist`);
    return challenge;
  }

  private requestOf(challenge: ChallengeRow, application: AuthenticatedApplication, username: string): AuthRequest {
    const { client } = JSON.parse(challenge.state) as ChallengeState;
    return { username, application, ip: challenge.ip, authType: challenge.auth_type, entryPoint: challenge.entry_point, clientType: client?.type ?? 'modern', deviceId: client?.device ?? null };
  }

  /** The application a challenge was opened for, as its records name it. */
  private async applicationOf(db: Executor, challenge: ChallengeRow): Promise<AuthenticatedApplication> {
    const row = await db.selectFrom('applications').select('name').where('id', '=', challenge.application_id).executeTakeFirst();
    return { id: challenge.application_id, name: row?.name ?? '(deleted application)' };
  }

  /**
   * A challenge for an answer: its user is locked first, then the challenge
   * is read, so it is as the last unit of that user left it (an answer on
   * another node included). Null when there is no such challenge.
   */
  private async lockChallenge(trx: Unit, txid: string): Promise<LockedChallenge | null> {
    const user = await usersRepository.lockOwner(trx, 'challenges', txid);
    const challenge = await challengesRepository.findById(trx, txid);
    return challenge ? { challenge, user } : null;
  }

  private record(trx: Executor, user: UserRow | null, request: AuthRequest, outcome: Outcome) {
    return writeOutcome(trx, this.deps.clock.now(), user, request.username, request, outcome);
  }

  /** `auth` for a user name that does not exist: recorded, and refused as throttled once the client IP is over its limit. */
  private async unknownUser(trx: Executor, request: AuthRequest): Promise<AuthAnswer> {
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
