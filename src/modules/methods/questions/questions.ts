import { hash, verify } from '@node-rs/argon2';
import type { Config } from '../../../config/schema.js';
import type { Actor } from '../../../shared/actor.js';
import type { Clock } from '../../../shared/clock.js';
import { appError, assert } from '../../../shared/errors.js';
import { newId } from '../../../shared/ids.js';
import type { Db, Executor, UnitOfWork } from '../../../storage/database.js';
import { isUniqueViolation } from '../../../storage/errors.js';
import { securityQuestionsRepository as repo, type SecurityQuestionRow } from '../../../storage/repositories/security-questions.js';
import type { UserRow } from '../../../storage/schema.js';
import { writeAudit } from '../../audit/audit.js';
import type { Directory } from '../../directory/directory.js';
import type { UserChangeLog } from '../../privacy/personal-log.js';
import { assertMayManageMethods } from '../../admin-access/targets.js';
import { answerProblem, MAX_ANSWER_LENGTH, normalizeAnswer } from './normalize.js';

export interface SecurityQuestionView {
  id: string;
  text: string;
  /** Inactive questions are not offered for new registrations; answers already given to them still count. */
  active: boolean;
  /** How many users registered an answer to it. */
  registered_users: number;
  created_at: string;
}

/** A question a user registered an answer to. The answer and its hash are never shown. */
export interface RegisteredQuestionView {
  question_id: string;
  text: string;
  registered_at: string;
}

export interface AnswerInput {
  question_id: string;
  answer: string;
}

export interface SecurityQuestionsDeps {
  db: Db;
  /** Runs a unit of work (Storage.transact): every write goes through one. */
  transact: UnitOfWork;
  clock: Clock;
  config: Config['questions'];
  directory: Directory;
  /** The service-log lines of user changes (SPEC.md §6). */
  changeLog: UserChangeLog;
}

const QUESTION_MAX_LENGTH = 256;
/** The schema's ceiling of questions.registerCount. */
const MAX_ANSWERS_CHECKED = 10;
const CONTROL = /[\u0000-\u001f\u007f]/;

const toQuestionView = (row: SecurityQuestionRow, registeredUsers: number): SecurityQuestionView => ({
  id: row.id,
  text: row.text,
  active: Boolean(row.active),
  registered_users: registeredUsers,
  created_at: new Date(row.created_at).toISOString(),
});

function cleanText(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, ' ');
  assert(trimmed.length >= 1 && trimmed.length <= QUESTION_MAX_LENGTH && !CONTROL.test(trimmed), 'validation_failed', `text: must be 1 to ${QUESTION_MAX_LENGTH} printable characters`, {
    field: 'text',
  });
  return trimmed;
}

/** Two question texts that differ only in case, spacing or punctuation are the same question. */
const sameQuestion = (a: string, b: string) => normalizeAnswer(a) === normalizeAnswer(b);

/**
 * What is hashed: the normalised answer, bound to its user and question so a
 * hash copied to another row does not verify there. The ids are UUIDs and the
 * normalised answer holds no line break, so the input is unambiguous.
 */
const hashInput = (userId: string, questionId: string, normalised: string) => `${userId}\n${questionId}\n${normalised}`;

/**
 * Answers are hashed with argon2id (the library's defaults: 19 MiB, 2 passes,
 * a random 16-byte salt per hash). Unlike a PIN, which is guarded by a server
 * key (directory/pin.ts), an answer is hashed slowly: answers come from a small,
 * guessable space (pet names, cities), and a slow salted hash makes each guess
 * against a stolen database cost real time, per answer.
 */
export const hashAnswer = (userId: string, questionId: string, answer: string): Promise<string> => hash(hashInput(userId, questionId, normalizeAnswer(answer)));

let dummyHash: Promise<string> | undefined;
/** A hash no answer matches, verified in place of a missing one so the time taken does not tell that it was missing. */
const placeholderHash = () => (dummyHash ??= hash(`placeholder\n${newId()}`));

/**
 * True when every answer given is right. Each answer is verified even after a
 * wrong one, so the time taken does not tell which one was wrong. No answers,
 * or an answer to a question the user has not registered, is wrong.
 */
export async function verifyAnswers(db: Executor, userId: string, answers: Record<string, string>): Promise<boolean> {
  const questionIds = Object.keys(answers);
  // More answers than anyone registers is wrong without hashing: each verify costs tens of milliseconds.
  if (questionIds.length === 0 || questionIds.length > MAX_ANSWERS_CHECKED) return false;
  const hashes = await repo.hashesFor(db, userId, questionIds);
  const results = await Promise.all(
    questionIds.map(async (questionId) => {
      const stored = hashes.get(questionId);
      const raw = answers[questionId];
      // An over-long or missing answer is wrong, but is still verified (as nothing) so it takes the usual time.
      const usable = typeof raw === 'string' && raw.length <= MAX_ANSWER_LENGTH * 2 ? raw : '';
      const given = hashInput(userId, questionId, normalizeAnswer(usable));
      const right = await verify(stored ?? (await placeholderHash()), given);
      return right && stored !== undefined;
    }),
  );
  return results.every(Boolean);
}

/** The questions a user registered, without answers or hashes. */
export async function registeredQuestions(db: Executor, userId: string): Promise<RegisteredQuestionView[]> {
  return (await repo.registeredBy(db, userId)).map((row) => ({ question_id: row.question_id, text: row.text, registered_at: new Date(row.created_at).toISOString() }));
}

/**
 * Security questions (SPEC.md §1: fallback only, answers stored hashed, never
 * exportable): the administrators' list of questions and the users' answers.
 * No answer, normalised or not, ever reaches an audit record, a log line or an
 * error message.
 */
export class SecurityQuestions {
  constructor(private readonly deps: SecurityQuestionsDeps) {
    const { askCount, registerCount } = deps.config;
    if (askCount > registerCount) {
      throw appError('config_invalid', `questions.askCount (${askCount}) must not exceed questions.registerCount (${registerCount})`);
    }
  }

  async listQuestions(options: { includeInactive?: boolean } = {}): Promise<SecurityQuestionView[]> {
    const rows = (await repo.list(this.deps.db)).filter((row) => options.includeInactive || Boolean(row.active));
    const counts = await repo.answerCounts(this.deps.db, rows.map((row) => row.id));
    return rows.map((row) => toQuestionView(row, counts.get(row.id) ?? 0));
  }

  async getQuestion(id: string): Promise<SecurityQuestionView> {
    return this.view(this.deps.db, await this.findQuestion(this.deps.db, id));
  }

  async addQuestion(text: string, actor: Actor): Promise<SecurityQuestionView> {
    assert(typeof text === 'string', 'validation_failed', 'text: required', { field: 'text' });
    const row = { id: newId(), text: cleanText(text), active: 1, created_at: this.deps.clock.now() };
    await this.deps.transact(async (trx) => {
      await this.guardDuplicate(trx, row.text, null);
      await repo.insert(trx, row);
      await writeAudit(trx, this.deps.clock, actor, { action: 'security_question.create', targetType: 'security_question', targetId: row.id, details: { text: row.text } });
    });
    return toQuestionView(row, 0);
  }

  /**
   * Rewords a question or turns it on or off. Rewording is for fixing the
   * wording: answers already given stay, so a different question should be a
   * new one. Deactivating retires a question: it is no longer offered for new
   * registrations, while users who answered it keep it (they are not left
   * with too few questions to be asked).
   */
  async updateQuestion(id: string, fields: { text?: string; active?: boolean }, actor: Actor): Promise<SecurityQuestionView> {
    const row = await this.deps.transact(async (trx) => {
      const question = await this.findQuestion(trx, id);
      const patch: { text?: string; active?: number } = {};
      if (fields.text !== undefined) {
        assert(typeof fields.text === 'string', 'validation_failed', 'text: must be a string', { field: 'text' });
        patch.text = cleanText(fields.text);
        await this.guardDuplicate(trx, patch.text, question.id);
      }
      if (fields.active !== undefined) {
        assert(typeof fields.active === 'boolean', 'validation_failed', 'active: must be true or false', { field: 'active' });
        patch.active = fields.active ? 1 : 0;
      }
      const changed = Object.keys(patch).filter((key) => (key === 'active' ? Boolean(question.active) !== fields.active : patch.text !== question.text));
      if (changed.length === 0) return question;
      await repo.update(trx, question.id, patch);
      await writeAudit(trx, this.deps.clock, actor, { action: 'security_question.update', targetType: 'security_question', targetId: question.id, details: { fields: changed, ...patchDetails(patch) } });
      return { ...question, ...patch };
    });
    return this.view(this.deps.db, row);
  }

  /**
   * Deletes a question. Deleting removes every answer to it, which could leave
   * users with too few questions to be asked: while answers exist it is
   * refused unless `force` is set, and deactivating is the gentler way.
   */
  async removeQuestion(id: string, actor: Actor, options: { force?: boolean } = {}): Promise<void> {
    await this.deps.transact(async (trx) => {
      const question = await this.findQuestion(trx, id);
      const answered = (await repo.answerCounts(trx, [question.id])).get(question.id) ?? 0;
      if (answered > 0 && !options.force) {
        throw appError(
          'security_question_in_use',
          `security question ${question.id} has answers from ${answered} user(s): deactivate it instead, or force the delete to remove their answers too`,
          { registered_users: answered },
        );
      }
      const removed = await repo.deleteAnswersTo(trx, question.id);
      await repo.delete(trx, question.id);
      await writeAudit(trx, this.deps.clock, actor, { action: 'security_question.delete', targetType: 'security_question', targetId: question.id, details: { answers_removed: removed } });
    });
  }

  /**
   * Registers a user's answers, replacing any earlier ones: exactly
   * `registerCount` answers to distinct active questions. Answers are
   * normalised, then hashed; the audit record names the questions only.
   */
  async register(username: string, answers: AnswerInput[], actor: Actor): Promise<RegisteredQuestionView[]> {
    this.checkAnswerShape(answers);
    const user = await this.deps.directory.find(this.deps.db, username);
    await this.checkQuestions(this.deps.db, answers);
    const now = this.deps.clock.now();
    // Hash before the transaction: argon2 takes tens of milliseconds and must not hold a database lock.
    const rows = await Promise.all(
      answers.map(async (item) => ({ user_id: user.id, question_id: item.question_id, answer_hash: await hashAnswer(user.id, item.question_id, item.answer), created_at: now })),
    );
    const logLine = await this.deps.transact(async (trx) => {
      const current = await this.deps.directory.lock(trx, username);
      // The user was deleted and re-created, or the questions changed, while hashing: check again inside the transaction.
      assert(current.id === user.id, 'user_not_found', `user ${username} does not exist`);
      await this.checkQuestions(trx, answers);
      await this.guardConcurrent(() => repo.replaceAnswers(trx, user.id, rows));
      await writeAudit(trx, this.deps.clock, actor, {
        action: 'security_answers.register',
        targetType: 'user',
        targetId: user.id,
        details: { question_ids: answers.map((item) => item.question_id) },
      });
      return this.logLine(trx, user, 'security_answers.register', 'security answers registered', actor);
    });
    logLine();
    return registeredQuestions(this.deps.db, user.id);
  }

  async registered(username: string): Promise<RegisteredQuestionView[]> {
    const user = await this.deps.directory.find(this.deps.db, username);
    return registeredQuestions(this.deps.db, user.id);
  }

  /** Removes all of a user's answers; returns how many there were. */
  async clear(username: string, actor: Actor): Promise<number> {
    const { removed, logLine } = await this.deps.transact(async (trx) => {
      const user = await this.deps.directory.lock(trx, username);
      assertMayManageMethods(actor, user);
      const removed = await repo.deleteAnswersOf(trx, user.id);
      await writeAudit(trx, this.deps.clock, actor, { action: 'security_answers.clear', targetType: 'user', targetId: user.id, details: { answers_removed: removed } });
      return { removed, logLine: removed > 0 ? await this.logLine(trx, user, 'security_answers.clear', 'security answers cleared', actor) : () => undefined };
    });
    logLine();
    return removed;
  }

  verifyAnswers(db: Executor, userId: string, answers: Record<string, string>): Promise<boolean> {
    return verifyAnswers(db, userId, answers);
  }

  /** Count, duplicates and answer strength: everything that needs no database. */
  private checkAnswerShape(answers: AnswerInput[]): void {
    const { registerCount } = this.deps.config;
    assert(Array.isArray(answers), 'validation_failed', 'answers: required', { field: 'answers' });
    assert(
      answers.length === registerCount,
      'validation_failed',
      `answers: exactly ${registerCount} answers are required, one per question (got ${answers.length})`,
      { field: 'answers' },
    );
    const seen = new Set<string>();
    answers.forEach((item, index) => {
      const field = `answers[${index}]`;
      assert(typeof item?.question_id === 'string' && item.question_id.length > 0, 'validation_failed', `${field}.question_id: required`, { field: `${field}.question_id` });
      assert(typeof item.answer === 'string', 'validation_failed', `${field}.answer: required`, { field: `${field}.answer` });
      assert(!seen.has(item.question_id), 'validation_failed', `${field}.question_id: question ${item.question_id} is answered twice`, { field: `${field}.question_id` });
      seen.add(item.question_id);
      const problem = answerProblem(item.answer);
      assert(problem === null, 'validation_failed', `${field}.answer: ${problem}`, { field: `${field}.answer` });
    });
  }

  /** Every question must exist and be active. */
  private async checkQuestions(db: Executor, answers: AnswerInput[]): Promise<void> {
    const found = new Map((await repo.findByIds(db, answers.map((item) => item.question_id))).map((row) => [row.id, row]));
    answers.forEach((item, index) => {
      const field = `answers[${index}].question_id`;
      const question = found.get(item.question_id);
      assert(question, 'unknown_security_question', `${field}: security question ${item.question_id} does not exist`, { field });
      assert(Boolean(question.active), 'unknown_security_question', `${field}: security question ${item.question_id} is not active`, { field });
    });
  }

  private async findQuestion(db: Executor, id: string): Promise<SecurityQuestionRow> {
    const row = await repo.findById(db, id);
    if (!row) throw appError('security_question_not_found', `security question ${id} does not exist`);
    return row;
  }

  private async guardDuplicate(db: Executor, text: string, exceptId: string | null): Promise<void> {
    const clash = (await repo.list(db)).find((row) => row.id !== exceptId && sameQuestion(row.text, text));
    if (clash) throw appError('conflict', `text: the same question already exists (${clash.id})`, { field: 'text', existing_id: clash.id });
  }

  /** Two registrations for one user at once: the second one's insert collides with the first's rows. */
  private async guardConcurrent(write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      if (isUniqueViolation(error)) throw appError('conflict', 'answers: changed by another request at the same time; try again', { field: 'answers' }, error);
      throw error;
    }
  }

  private async view(db: Executor, row: SecurityQuestionRow): Promise<SecurityQuestionView> {
    return toQuestionView(row, (await repo.answerCounts(db, [row.id])).get(row.id) ?? 0);
  }

  /** Like Directory: names the user (sealed) and the event, never an answer; written after the commit. */
  private logLine(db: Executor, user: Pick<UserRow, 'id' | 'username'>, event: string, message: string, actor: Actor): Promise<() => void> {
    return this.deps.changeLog.prepare(db, user, event, message, { actor: `${actor.type}:${actor.id}` });
  }
}

/** Audit details of a question change: the new text (it is the administrators' text, not personal data) and state. */
function patchDetails(patch: { text?: string; active?: number }): Record<string, unknown> {
  return { ...(patch.text === undefined ? {} : { text: patch.text }), ...(patch.active === undefined ? {} : { active: patch.active === 1 }) };
}
