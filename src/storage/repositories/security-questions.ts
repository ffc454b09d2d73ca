import type { Selectable } from 'kysely';
import type { Executor } from '../database.js';
import type { SecurityAnswersTable, SecurityQuestionsTable } from '../schema.js';

export type SecurityQuestionRow = Selectable<SecurityQuestionsTable>;
export type SecurityAnswerRow = Selectable<SecurityAnswersTable>;

/** A registered answer with its question, without the hash. */
export interface RegisteredQuestionRow {
  question_id: string;
  text: string;
  created_at: number;
}

/**
 * The admin-defined security questions and the users' hashed answers. The
 * `active` filter runs in code: the list is short, and a boolean comparison
 * reads differently on SQLite (1/0) and PostgreSQL (true/false).
 */
export const securityQuestionsRepository = {
  async insert(db: Executor, row: { id: string; text: string; active: number; created_at: number }): Promise<void> {
    await db.insertInto('security_questions').values(row).execute();
  },

  findById(db: Executor, id: string): Promise<SecurityQuestionRow | undefined> {
    return db.selectFrom('security_questions').selectAll().where('id', '=', id).executeTakeFirst();
  },

  /** Questions by id, for checking a registration in one query. */
  async findByIds(db: Executor, ids: string[]): Promise<SecurityQuestionRow[]> {
    if (ids.length === 0) return [];
    return db.selectFrom('security_questions').selectAll().where('id', 'in', ids).execute();
  },

  /** Every question, oldest first. */
  list(db: Executor): Promise<SecurityQuestionRow[]> {
    return db.selectFrom('security_questions').selectAll().orderBy('created_at').orderBy('id').execute();
  },

  async update(db: Executor, id: string, patch: { text?: string; active?: number }): Promise<void> {
    await db.updateTable('security_questions').set(patch).where('id', '=', id).execute();
  },

  async delete(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('security_questions').where('id', '=', id).execute();
  },

  /** How many users registered an answer to each question, in one query. */
  async answerCounts(db: Executor, questionIds: string[]): Promise<Map<string, number>> {
    if (questionIds.length === 0) return new Map();
    const rows = await db
      .selectFrom('security_answers')
      .select(['question_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('question_id', 'in', questionIds)
      .groupBy('question_id')
      .execute();
    return new Map(rows.map((row) => [row.question_id, Number(row.n)]));
  },

  /** The questions a user answered, in the order the question list has them; no hashes. */
  registeredBy(db: Executor, userId: string): Promise<RegisteredQuestionRow[]> {
    return db
      .selectFrom('security_answers')
      .innerJoin('security_questions', 'security_questions.id', 'security_answers.question_id')
      .select(['security_answers.question_id', 'security_questions.text', 'security_answers.created_at'])
      .where('security_answers.user_id', '=', userId)
      .orderBy('security_questions.created_at')
      .orderBy('security_questions.id')
      .execute();
  },

  async countFor(db: Executor, userId: string): Promise<number> {
    const row = await db.selectFrom('security_answers').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirst();
    return Number(row?.n ?? 0);
  },

  /** The stored hashes of a user's answers to the given questions, by question id. */
  async hashesFor(db: Executor, userId: string, questionIds: string[]): Promise<Map<string, string>> {
    if (questionIds.length === 0) return new Map();
    const rows = await db
      .selectFrom('security_answers')
      .select(['question_id', 'answer_hash'])
      .where('user_id', '=', userId)
      .where('question_id', 'in', questionIds)
      .execute();
    return new Map(rows.map((row) => [row.question_id, row.answer_hash]));
  },

  /** Replaces all of a user's answers. */
  async replaceAnswers(db: Executor, userId: string, rows: SecurityAnswerRow[]): Promise<void> {
    await db.deleteFrom('security_answers').where('user_id', '=', userId).execute();
    if (rows.length > 0) await db.insertInto('security_answers').values(rows).execute();
  },

  async deleteAnswersOf(db: Executor, userId: string): Promise<number> {
    const result = await db.deleteFrom('security_answers').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  },

  async deleteAnswersTo(db: Executor, questionId: string): Promise<number> {
    const result = await db.deleteFrom('security_answers').where('question_id', '=', questionId).executeTakeFirst();
    return Number(result.numDeletedRows);
  },
};
