import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { Clock } from '../../shared/clock.js';
import { appError } from '../../shared/errors.js';
import type { Keyring } from '../../shared/keyring.js';
import type { Db, Executor, Unit, UnitOfWork } from '../../storage/database.js';
import { applicationsRepository } from '../../storage/repositories/applications.js';
import { challengesRepository } from '../../storage/repositories/challenges.js';
import { usersRepository } from '../../storage/repositories/users.js';
import type { ChallengeRow, UserRow } from '../../storage/schema.js';
import { rememberTokenOf } from '../access/remember.js';
import type { AuthenticatedApplication } from '../applications/applications.js';
import type { MethodName } from '../methods/contract.js';
import { answerOfChallenge, finalAnswer, type AuthAnswer } from './answers.js';
import { readState, writeState, type ChallengeState } from './challenge-state.js';
import { fallbackTimeoutCode } from './fallback.js';
import type { MethodRegistry } from './method-registry.js';
import { signinStep } from './outcomes.js';
import { writeOutcome, type Outcome } from './records.js';
import type { AuthRequest } from './request.js';
import { RESULT_CODES, detailOf, type ResultCode } from './result-codes.js';

export interface ChallengeDeps {
  db: Db;
  transact: UnitOfWork;
  clock: Clock;
  keyring: Keyring;
  config: Config;
  log: Logger;
  /** How often a long poll looks again without a wake-up (an answer on another node wakes nobody here). */
  longPollIntervalMs: number;
}

/** A challenge read after its user was locked, with its state checked; the user is undefined when deleted. */
export interface LockedChallenge {
  challenge: ChallengeRow;
  state: ChallengeState;
  user: UserRow | undefined;
}

/** The challenge a step belongs to: its transaction id, and its row once saved. */
export interface ChallengeSlot {
  txid: string;
  existing: ChallengeRow | null;
}

/**
 * The life of a challenge, apart from what its method does: saved while it
 * waits, found again (its user locked first) for the next answer, ended by
 * its timeout when nobody answers (by whoever looks first: an answer, a long
 * poll, the user's next sign-in or the sweeper), and long polls woken when
 * it ends on this node.
 */
export class Challenges {
  private readonly events = new EventEmitter();

  constructor(
    private readonly deps: ChallengeDeps,
    private readonly methods: MethodRegistry,
  ) {
    this.events.setMaxListeners(0);
  }

  /**
   * A challenge for an answer: its user is locked first, then the challenge
   * is read, so it is as the last unit of that user left it (an answer on
   * another node included). Null when there is no such challenge.
   */
  async lock(unit: Unit, txid: string): Promise<LockedChallenge | null> {
    const user = await usersRepository.lockOwner(unit, 'challenges', txid);
    const challenge = await challengesRepository.findById(unit, txid);
    return challenge ? { challenge, state: readState(challenge), user } : null;
  }

  /** Saves a challenge's next stage: a new row for a new challenge, else the existing one advanced (it is still pending: its user is locked). */
  async save(
    trx: Unit,
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
      await challengesRepository.advance(trx, slot.existing.id, { stage, result_code: code, primary_code: primaryCode, state: writeState(state), expires_at: expiresAt });
      return { txid: slot.existing.id, expiresAt };
    }
    await challengesRepository.insert(trx, {
      id: slot.txid,
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
      state: writeState(state),
      created_at: now,
      expires_at: expiresAt,
      completed_at: null,
      signin_id: null,
    });
    return { txid: slot.txid, expiresAt };
  }

  /** Ends the user's challenges that ran out of time; returns those ended and those still open. */
  async settle(trx: Unit, user: UserRow): Promise<{ ended: string[]; open: string[] }> {
    const now = this.deps.clock.now();
    // The user is locked: these are the challenges as the user's last unit left them.
    const pending = await challengesRepository.pendingForUser(trx, user.id);
    const ended = pending.filter((challenge) => challenge.expires_at <= now).map((challenge) => challenge.id);
    for (const id of ended) {
      const challenge = await challengesRepository.findById(trx, id);
      if (challenge?.status === 'pending') await this.expire(trx, { challenge, state: readState(challenge), user });
    }
    return { ended, open: pending.filter((challenge) => challenge.expires_at > now).map((challenge) => challenge.id) };
  }

  /**
   * The code a challenge ends with when it runs out of time: FAILED_AUTH_RESULT_TIMEOUT
   * when the whole authentication reached its deadline, otherwise the timeout
   * of what it was waiting for (the method's, or during fallback the offered
   * method's).
   */
  private timeoutCode(challenge: ChallengeRow, state: ChallengeState): ResultCode {
    if (challenge.expires_at >= state.deadline) return 'FAILED_AUTH_RESULT_TIMEOUT';
    if (challenge.stage === 'primary') {
      const method = this.methods.get(challenge.method);
      return method.expiredCode?.(state.step) ?? method.timeoutCode;
    }
    return fallbackTimeoutCode(this.methods, state);
  }

  /** Ends a pending challenge that ran out of time, recording the sign-in; its user is locked (undefined when deleted meanwhile). */
  async expire(trx: Unit, { challenge, state, user }: LockedChallenge): Promise<AuthAnswer> {
    const code = this.timeoutCode(challenge, state);
    const method = challenge.method as MethodName;
    const now = this.deps.clock.now();
    if (challenge.stage === 'primary' && this.methods.has(method)) await this.methods.get(method).onExpired?.(trx, state.step);
    const waitingFor = challenge.stage === 'fallback' && state.fallback.length === 1 ? state.fallback[0]! : method;
    const outcome: Outcome = {
      status: 'failure',
      mfaRequired: true,
      policy: state.requirement?.policy ?? method,
      method,
      code,
      detail: detailOf(code, false),
      countedFailure: false,
      fields: state.fields,
      steps: [...state.steps, signinStep(waitingFor, code, false, now)],
      trace: state.trace,
      pushFatigue: state.pushFatigue ?? null,
    };
    const request = this.requestOf(challenge, state, await this.applicationOf(trx, challenge), user?.username ?? '(deleted user)');
    const { signinId } = await writeOutcome(trx, now, user ?? null, request.username, request, outcome);
    await challengesRepository.end(trx, challenge.id, { status: 'deny', result_code: code, completed_at: now, signin_id: signinId });
    return finalAnswer(challenge.id, false, code, null, RESULT_CODES[code].shortText);
  }

  private async expireById(txid: string): Promise<AuthAnswer> {
    const answer = await this.deps.transact(async (trx) => {
      const locked = await this.lock(trx, txid);
      if (!locked) throw appError('not_found', `transaction ${txid} does not exist`);
      if (locked.challenge.status !== 'pending') return this.answerWithToken(locked);
      return this.expire(trx, locked);
    });
    this.events.emit(txid);
    return answer;
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
      const challenge = await challengesRepository.findById(this.deps.db, txid);
      // Another application's transaction is as unknown as a made-up one.
      if (!challenge || challenge.application_id !== application.id) throw appError('not_found', `transaction ${txid} does not exist`);
      if (challenge.status !== 'pending') return this.answerWithToken({ challenge, state: readState(challenge) });
      if (challenge.expires_at <= this.deps.clock.now()) return this.expireById(txid);
      if (seenStage !== null && challenge.stage !== seenStage) return answerOfChallenge(challenge, readState(challenge));
      seenStage = challenge.stage;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return answerOfChallenge(challenge, readState(challenge));
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

  /** Wakes the long polls of a challenge that ended, or that now offers a fallback (its caller must ask for it). */
  wake(answer: AuthAnswer): void {
    if (answer.txid && (answer.result !== 'waiting' || answer.fallback)) this.events.emit(answer.txid);
  }

  /** Wakes the long polls of challenges ended on the way (a user's expired ones). */
  wakeEnded(txids: readonly string[]): void {
    for (const txid of txids) this.events.emit(txid);
  }

  /** The answer of an ended challenge, with its remembered-device token when it issued one. */
  answerWithToken({ challenge, state }: Pick<LockedChallenge, 'challenge' | 'state'>): AuthAnswer {
    const answer = answerOfChallenge(challenge, state);
    if (challenge.status !== 'allow' || !state.remembered) return answer;
    return { ...answer, ...rememberTokenOf(this.deps.keyring, state.remembered) };
  }

  /** The request a challenge was opened by, as its records name it. */
  requestOf(challenge: ChallengeRow, state: ChallengeState, application: AuthenticatedApplication, username: string): AuthRequest {
    const { client } = state;
    return { username, application, ip: challenge.ip, authType: challenge.auth_type, entryPoint: challenge.entry_point, clientType: client?.type ?? 'modern', deviceId: client?.device ?? null };
  }

  /** The application a challenge was opened for, as its records name it. */
  async applicationOf(db: Executor, challenge: ChallengeRow): Promise<AuthenticatedApplication> {
    return { id: challenge.application_id, name: (await applicationsRepository.nameOf(db, challenge.application_id)) ?? '(deleted application)' };
  }
}
