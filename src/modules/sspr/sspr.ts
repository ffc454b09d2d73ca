import type { Actor } from '../../shared/actor.js';
import { appError, assert } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import type { Executor, Unit } from '../../storage/database.js';
import { usersRepository } from '../../storage/repositories/users.js';
import { changesRepository } from '../../storage/repositories/records.js';
import { ssprEventsRepository, ssprSessionsRepository, type SsprEventFilter } from '../../storage/repositories/sspr.js';
import type { SsprSessionRow, UserRow } from '../../storage/schema.js';
import { assertMayManageMethods } from '../admin-access/targets.js';
import { writeAudit } from '../audit/audit.js';
import type { Directory } from '../directory/directory.js';
import { usernameKey } from '../directory/user-input.js';
import { changeRecord } from '../directory/user-records.js';
import { validateEmailAddress } from '../mail/mail.js';
import { registeredQuestions } from '../methods/questions/questions.js';
import type { UserChangeLog } from '../privacy/personal-log.js';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js';
import { PROMPTS, ResetProofs, type Pending, type ProofDeps, type SsprMethod } from './proofs.js';

export type { SsprMethod } from './proofs.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const FAILURES_PER_SESSION = 5;

/** What the reset answers after each step. */
export interface ResetState {
  session_id: string;
  status: 'open' | 'verified' | 'completed' | 'failed';
  methods_required: number;
  methods_passed: SsprMethod[];
  /** The methods the user can still prove. */
  methods_available: SsprMethod[];
  /** The step in progress: a code was sent, questions to answer, a push to approve (with its number). */
  pending?: { method: SsprMethod; prompt: string; questions?: { id: string; text: string }[]; number?: string; sent_to?: string };
  expires_at: string;
}

export interface SelfServiceDeps extends ProofDeps {
  directory: Directory;
  changeLog: UserChangeLog;
}

/** The actor of a user's own action: recorded in audit and change records like an administrator's. */
export const selfActor = (user: Pick<UserRow, 'id'>, entryPoint = 'sspr'): Actor => ({ type: 'user', id: user.id, role: null, requestId: null, entryPoint });

/**
 * Self-service password reset (SPEC.md §6; docs/sspr.md). Users of the local
 * directory have a password; they register an e-mail address and security
 * questions themselves, and reset a forgotten password by proving
 * `sspr.methodsRequired` different methods, each as `ResetProofs`
 * (proofs.ts) has it proved. Every step is written to `sspr_events`, which
 * also throttles.
 */
export class SelfService {
  private readonly proofs: ResetProofs;

  constructor(private readonly deps: SelfServiceDeps) {
    this.proofs = new ResetProofs(deps);
  }

  // ---------- passwords and the user's own sign-in ----------

  /** An administrator sets (or clears) a user's password. */
  async setPassword(username: string, password: string | null, actor: Actor): Promise<void> {
    const user = await this.deps.directory.find(this.deps.db, username);
    assertMayManageMethods(actor, user);
    if (password !== null) {
      const problem = passwordProblem(password, user.username, this.deps.config.passwordMinLength);
      assert(problem === null, 'validation_failed', problem ?? '', { field: 'password' });
    }
    const hashed = password === null ? null : await hashPassword(password);
    await this.writePassword(user, hashed, actor, null);
  }

  /**
   * The user of a self-service request, by username and password; throttled
   * per user and per client IP. Each try is counted as a failure before the
   * password is checked (a slow hash, outside the unit of work) and turned
   * into a success after, so simultaneous guesses cannot all get past the
   * limit: at most `sspr.maxSignInFailures` are ever being checked or failed.
   */
  async signIn(username: string, password: string, ip: string | null): Promise<UserRow> {
    const now = this.deps.clock.now();
    const attempt = await this.deps.transact(async (trx) => {
      const user = await usersRepository.lockByKey(trx, usernameKey(username));
      const limit = { name: usernameKey(username), userId: user?.id ?? null, ip, step: 'sign_in', failuresOnly: true, since: now - 15 * MINUTE, userLimit: this.deps.config.maxSignInFailures, ipLimit: this.deps.config.maxSignInFailures * 10 };
      if (await this.throttled(trx, limit)) return null;
      const eventId = await this.event(trx, { user: user ?? null, username, step: 'sign_in', succeeded: false, detail: 'wrong username or password', ip });
      return { user, eventId };
    });
    if (!attempt) throw appError('throttled', 'too many attempts: try again later');
    const { user } = attempt;
    const right = await verifyPassword(user?.password_hash ?? null, password);
    const usable = right && user !== undefined && Boolean(user.account_enabled);
    if (usable) await this.deps.transact((trx) => this.settleEvent(trx, attempt.eventId, { succeeded: true, detail: null }));
    // The same answer for an unknown user, a wrong password and a disabled account: no way to tell which.
    if (!usable) throw appError('unauthenticated', 'wrong username or password');
    return user;
  }

  // ---------- registration (the user's own) ----------

  async registration(user: UserRow): Promise<{ email: string | null; security_questions: { id: string; text: string }[]; methods_available: SsprMethod[] }> {
    return {
      email: user.sspr_email,
      security_questions: (await registeredQuestions(this.deps.db, user.id)).map((question) => ({ id: question.question_id, text: question.text })),
      methods_available: await this.proofs.available(this.deps.db, user),
    };
  }

  async registerEmail(user: UserRow, email: string, ip: string | null): Promise<void> {
    const address = validateEmailAddress(email);
    assert(address !== null, 'validation_failed', 'email: must be one e-mail address, such as kim@example.com', { field: 'email' });
    await this.changeEmail(user, address, selfActor(user), ip);
  }

  /** Removes the registered e-mail address: the user's own request, or an administrator's (SPEC.md §6). */
  async removeEmail(user: UserRow, actor: Actor, ip: string | null = null): Promise<boolean> {
    if (user.sspr_email === null) return false;
    assertMayManageMethods(actor, user);
    await this.changeEmail(user, null, actor, ip);
    return true;
  }

  /** An administrator removes a user's registered e-mail address (SPEC.md §6). */
  async removeEmailOf(username: string, actor: Actor): Promise<boolean> {
    return this.removeEmail(await this.deps.directory.find(this.deps.db, username), actor);
  }

  // ---------- the reset ----------

  /** Starts a reset. An unknown user and one without enough methods get the same refusal. */
  async start(username: string, ip: string | null): Promise<ResetState> {
    assert(this.deps.config.enabled, 'forbidden', 'self-service password reset is turned off (sspr.enabled)');
    const now = this.deps.clock.now();
    const id = newId();
    const expiresAt = now + this.deps.config.sessionMinutes * MINUTE;
    // One unit: the limits are counted and the session started while the user is locked, so simultaneous starts see each other.
    const outcome = await this.deps.transact(async (trx): Promise<'started' | 'throttled' | 'not_registered'> => {
      const user = await usersRepository.lockByKey(trx, usernameKey(username));
      const userId = user?.id ?? null;
      const name = usernameKey(username);
      if (await this.throttled(trx, { name, userId, ip, step: 'start', failuresOnly: false, since: now - HOUR, userLimit: this.deps.config.maxResetsPerHour, ipLimit: this.deps.config.maxResetsPerHour * 10 })) return 'throttled';
      if (await this.throttled(trx, { name, userId, ip: null, step: 'verify', failuresOnly: true, since: now - DAY, userLimit: this.deps.config.maxFailuresPerDay, ipLimit: 0 })) return 'throttled';
      const available = user && user.account_enabled ? await this.proofs.available(trx, user) : [];
      if (!user || available.length < this.deps.config.methodsRequired) {
        await this.event(trx, { user: user ?? null, username, step: 'start', succeeded: false, detail: 'not enough methods registered', ip });
        return 'not_registered';
      }
      await ssprSessionsRepository.insert(trx, { id, user_id: user.id, status: 'open', methods_required: this.deps.config.methodsRequired, methods_passed: '[]', pending: null, ip, created_at: now, expires_at: expiresAt });
      await this.event(trx, { user, username: user.username, sessionId: id, step: 'start', succeeded: true, ip });
      return 'started';
    });
    if (outcome === 'throttled') throw appError('throttled', 'too many attempts: try again later');
    if (outcome === 'not_registered') throw appError('sspr_not_registered', `${username} cannot reset a password here: not enough methods are registered for self-service password reset`);
    return this.state(id);
  }

  /**
   * One step of proving a method: the first call for a method sends the code,
   * asks the questions or pushes to the app; the next one (with the code or
   * the answers; for the app, again after approving) proves it or fails.
   *
   * A step runs in three parts: a unit that checks the session and counts
   * the step as a failure in advance (the user locked), the proof itself
   * (which may wait for the engine, the mail gateway or a slow hash), and a
   * unit that records how it went. So at most five steps of one reset are
   * ever being checked or failed, however many arrive at once.
   */
  async verify(sessionId: string, input: { method: SsprMethod; code?: string; answers?: Record<string, string>; waitSeconds?: number }, ip: string | null): Promise<ResetState> {
    const reserved = await this.deps.transact(async (trx) => {
      const { session, user } = await this.lockSession(trx, sessionId);
      const passed = JSON.parse(session.methods_passed) as SsprMethod[];
      assert(session.status !== 'expired', 'conflict', 'the password reset has expired; start again');
      assert(session.status === 'open', 'conflict', session.status === 'verified' ? 'the reset is verified: set the new password' : `the reset has ${session.status}`);
      assert((await this.proofs.available(trx, user)).includes(input.method), 'validation_failed', `method: ${input.method} is not registered for this user or not allowed (sspr.methods)`, { field: 'method' });
      assert(!passed.includes(input.method), 'conflict', `method: ${input.method} is proved already; prove another one`);
      if ((await this.count(trx, { sessionId, step: 'verify', failuresOnly: true, since: session.created_at })) >= FAILURES_PER_SESSION) return null;
      const eventId = await this.event(trx, { user, username: user.username, sessionId, step: 'verify', method: input.method, succeeded: false, detail: 'in progress', ip });
      const pending = session.pending === null ? null : (JSON.parse(session.pending) as Pending);
      return { user, eventId, current: pending?.method === input.method ? pending : null };
    });
    if (!reserved) throw appError('throttled', 'too many attempts at this reset at once: try again later');
    const { user, eventId } = reserved;
    const outcome = await this.proofs.step(user, input, reserved.current);
    await this.deps.transact(async (trx) => {
      const { session } = await this.lockSession(trx, sessionId);
      if (outcome.kind === 'pending') {
        await this.settleEvent(trx, eventId, { step: 'challenge', succeeded: true, detail: outcome.detail });
        if (session.status === 'open') await ssprSessionsRepository.update(trx, sessionId, { pending: JSON.stringify(outcome.pending) });
        await outcome.withinTransaction?.(trx);
        return;
      }
      if (outcome.kind === 'proved') {
        await this.settleEvent(trx, eventId, { succeeded: true, detail: outcome.detail });
        // Failed meanwhile (five wrong answers that were checked first): a proof no longer opens it.
        if (session.status !== 'open') return;
        const next = [...(JSON.parse(session.methods_passed) as SsprMethod[]), outcome.method].filter((method, index, all) => all.indexOf(method) === index);
        const status = next.length >= session.methods_required ? 'verified' : 'open';
        await ssprSessionsRepository.update(trx, sessionId, { methods_passed: JSON.stringify(next), pending: null, status });
        return;
      }
      await this.settleEvent(trx, eventId, { succeeded: false, detail: outcome.detail });
      if (session.status !== 'open') return;
      const failures = await this.count(trx, { sessionId, step: 'verify', failuresOnly: true, since: session.created_at });
      const keep = outcome.kind === 'retry' && failures < FAILURES_PER_SESSION;
      await ssprSessionsRepository.update(trx, sessionId, { pending: keep ? session.pending : null, ...(failures >= FAILURES_PER_SESSION ? { status: 'failed' } : {}) });
    });
    if (outcome.kind === 'pending') await outcome.afterCommit?.();
    const state = await this.state(sessionId);
    if (outcome.kind !== 'proved' && outcome.kind !== 'pending') throw appError('sspr_not_verified', `${input.method}: ${outcome.detail}`, { state });
    return state;
  }

  /** Sets the new password once enough methods are proved; the reset then ends, and the session cannot set another. */
  async complete(sessionId: string, password: string, ip: string | null): Promise<void> {
    const { session, user } = await this.openSession(sessionId);
    assert(session.status === 'verified', 'conflict', `prove ${session.methods_required} method(s) first`);
    const problem = passwordProblem(password, user.username, this.deps.config.passwordMinLength);
    assert(problem === null, 'validation_failed', problem ?? '', { field: 'password' });
    await this.writePassword(user, await hashPassword(password), selfActor(user), { sessionId, ip });
  }

  /** The reset as the user sees it. */
  async state(sessionId: string): Promise<ResetState> {
    const { session, user } = await this.openSession(sessionId, false);
    const passed = JSON.parse(session.methods_passed) as SsprMethod[];
    const pending = session.pending === null ? null : (JSON.parse(session.pending) as Pending);
    const available = (await this.proofs.available(this.deps.db, user)).filter((method) => !passed.includes(method));
    const questions = pending?.questionIds ? (await registeredQuestions(this.deps.db, user.id)).filter((question) => pending.questionIds!.includes(question.question_id)) : [];
    return {
      session_id: session.id,
      status: session.status as ResetState['status'],
      methods_required: session.methods_required,
      methods_passed: passed,
      methods_available: session.status === 'open' ? available : [],
      ...(pending && session.status === 'open'
        ? {
            pending: {
              method: pending.method,
              prompt: PROMPTS[pending.method],
              ...(pending.sentTo ? { sent_to: pending.sentTo } : {}),
              ...(pending.number ? { number: pending.number } : {}),
              ...(questions.length > 0 ? { questions: questions.map((question) => ({ id: question.question_id, text: question.text })) } : {}),
            },
          }
        : {}),
      expires_at: new Date(session.expires_at).toISOString(),
    };
  }

  // ---------- helpers ----------

  private async openSession(sessionId: string, mustBeLive = true) {
    const session = await ssprSessionsRepository.findById(this.deps.db, sessionId);
    if (!session) throw appError('not_found', `password reset ${sessionId} does not exist`);
    const user = await usersRepository.findById(this.deps.db, session.user_id);
    if (!user) throw appError('not_found', `password reset ${sessionId} does not exist`);
    if (mustBeLive && this.expired(session)) {
      await this.deps.transact((trx) => this.lockSession(trx, sessionId));
      throw appError('conflict', 'the password reset has expired; start again');
    }
    return { session, user };
  }

  private expired(session: SsprSessionRow): boolean {
    return session.expires_at <= this.deps.clock.now() && session.status !== 'completed';
  }

  /**
   * The session and its user inside a unit, the user locked first: the
   * session is as the user's last unit left it. A session past its time is
   * marked expired here (and refused).
   */
  private async lockSession(trx: Unit, sessionId: string): Promise<{ session: SsprSessionRow; user: UserRow }> {
    const user = await usersRepository.lockOwner(trx, 'sspr_sessions', sessionId);
    const session = await ssprSessionsRepository.findById(trx, sessionId);
    if (!session || !user) throw appError('not_found', `password reset ${sessionId} does not exist`);
    if (this.expired(session)) {
      if (session.status !== 'expired') await ssprSessionsRepository.update(trx, sessionId, { status: 'expired' });
      return { session: { ...session, status: 'expired' }, user };
    }
    return { session, user };
  }

  private async writePassword(user: UserRow, hashed: string | null, actor: Actor, reset: { sessionId: string; ip: string | null } | null): Promise<void> {
    const now = this.deps.clock.now();
    const logLine = await this.deps.transact(async (trx) => {
      if (reset) {
        // Checked again with the user locked: of simultaneous completions of one reset, only the first sets a password.
        const { session } = await this.lockSession(trx, reset.sessionId);
        assert(session.status !== 'expired', 'conflict', 'the password reset has expired; start again');
        assert(session.status === 'verified', 'conflict', `the reset has ${session.status}`);
      } else {
        await usersRepository.lockById(trx, user.id);
      }
      await usersRepository.update(trx, user.id, { password_hash: hashed, password_changed_at: now, updated_at: now });
      await changesRepository.insertMany(trx, [changeRecord(user, 'update', ['password'], actor, now)]);
      await writeAudit(trx, this.deps.clock, actor, { action: reset ? 'user.password_reset' : 'user.password_set', targetType: 'user', targetId: user.id, details: {} });
      if (reset) {
        await ssprSessionsRepository.update(trx, reset.sessionId, { status: 'completed', pending: null });
        await this.event(trx, { user, username: user.username, sessionId: reset.sessionId, step: 'password', succeeded: true, ip: reset.ip });
      }
      return this.deps.changeLog.prepare(trx, user, 'user.update', reset ? 'password reset' : 'password set', { fields: ['password'], actor: `${actor.type}:${actor.id}` });
    });
    logLine();
  }

  private async changeEmail(user: UserRow, address: string | null, actor: Actor, ip: string | null): Promise<void> {
    const now = this.deps.clock.now();
    const logLine = await this.deps.transact(async (trx) => {
      await usersRepository.update(trx, user.id, { sspr_email: address, updated_at: now });
      await changesRepository.insertMany(trx, [changeRecord(user, 'update', ['sspr_email'], actor, now)]);
      await writeAudit(trx, this.deps.clock, actor, { action: address ? 'sspr.email_register' : 'sspr.email_remove', targetType: 'user', targetId: user.id, details: {} });
      await this.event(trx, { user, username: user.username, step: address ? 'register_email' : 'remove_email', succeeded: true, ip });
      return this.deps.changeLog.prepare(trx, user, 'user.update', address ? 'reset e-mail registered' : 'reset e-mail removed', { fields: ['sspr_email'], actor: `${actor.type}:${actor.id}` });
    });
    logLine();
  }

  /**
   * Whether a limit is reached: if so the refusal is recorded (in the caller's
   * unit) and true returned, for the caller to refuse after the commit. The
   * per-user limit counts by the name asked for, so a name nobody holds is
   * throttled exactly like a real one: the answers never tell them apart.
   */
  private async throttled(
    db: Unit,
    limit: { name: string; userId: string | null; ip: string | null; step: string; failuresOnly: boolean; since: number; userLimit: number; ipLimit: number },
  ): Promise<boolean> {
    const byName = await this.count(db, { name: limit.name, step: limit.step, failuresOnly: limit.failuresOnly, since: limit.since });
    const byIp = limit.ip === null || limit.ipLimit === 0 ? 0 : await this.count(db, { ip: limit.ip, step: limit.step, failuresOnly: limit.failuresOnly, since: limit.since });
    if (byName < limit.userLimit && (limit.ipLimit === 0 || byIp < limit.ipLimit)) return false;
    await this.event(db, { user: null, userId: limit.userId, username: '', step: `${limit.step}_throttled`, succeeded: false, detail: 'too many attempts', ip: limit.ip });
    return true;
  }

  /** Turns an event counted in advance into what happened. */
  private async settleEvent(db: Unit, id: number, outcome: { step?: string; succeeded: boolean; detail: string | null }): Promise<void> {
    await ssprEventsRepository.update(db, id, { ...(outcome.step ? { step: outcome.step } : {}), succeeded: outcome.succeeded ? 1 : 0, detail: outcome.detail });
  }

  private count(db: Executor, filter: SsprEventFilter): Promise<number> {
    return ssprEventsRepository.count(db, filter);
  }

  private async event(
    db: Executor,
    event: { user: Pick<UserRow, 'id'> | null; userId?: string | null; username: string; sessionId?: string; step: string; method?: SsprMethod; succeeded: boolean; detail?: string | null; ip: string | null },
  ): Promise<number> {
    return ssprEventsRepository.insert(db, {
      at: this.deps.clock.now(),
      user_id: event.user?.id ?? event.userId ?? null,
      username: event.username,
      username_key: event.username === '' ? null : usernameKey(event.username),
      session_id: event.sessionId ?? null,
      step: event.step,
      method: event.method ?? null,
      succeeded: event.succeeded ? 1 : 0,
      detail: event.detail ?? null,
      ip: event.ip,
    });
  }
}
