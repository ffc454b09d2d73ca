import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MethodContext } from '../src/modules/methods/contract.js';
import { questionsMethod } from '../src/modules/methods/questions/method.js';
import { SecurityQuestions, verifyAnswers } from '../src/modules/methods/questions/questions.js';
import { AppError } from '../src/shared/errors.js';
import type { ResultCode } from '../src/modules/auth/result-codes.js';
import type { UserRow } from '../src/storage/schema.js';
import type { Unit } from '../src/storage/database.js';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => ({ code: 'no error', message: '', field: undefined as unknown }),
    (error: unknown) => (error instanceof AppError ? { code: error.code, message: error.message, field: error.details?.field } : { code: String(error), message: '', field: undefined }),
  );

const ANSWERS = ['  Fluffy!! ', 'Ｓｐｒｉｎｇｆｉｅｌｄ', 'Café Quokka'];

describe.each(DIALECTS)('security questions on %s', (dialect) => {
  let t: TestRuntime;
  let questions: SecurityQuestions;
  let ids: string[];

  beforeEach(async () => {
    t = await createTestRuntime(dialect);
    const { storage, clock, config, directory, changeLog } = t.runtime;
    questions = new SecurityQuestions({ db: storage.db, transact: storage.transact, clock, config: config.questions, directory, changeLog });
    ids = [];
    for (const text of ['Name of your first pet?', 'City you were born in?', 'Favourite café?', 'Street you grew up on?']) {
      ids.push((await questions.addQuestion(text, testActor)).id);
      t.clock.advance(1000);
    }
    await t.runtime.directory.create({ username: 'ann@contoso.com' }, testActor);
  });
  afterEach(() => t.dispose());

  const db = () => t.runtime.storage.db;
  /** The method called on its own, outside the engine: its statements run one by one on the database, as if each were a unit of work. */
  const unit = () => db() as unknown as Unit;
  const auditActions = async () => (await db().selectFrom('audit_log').select('action').orderBy('id').execute()).map((row) => row.action);
  const user = async (username = 'ann@contoso.com'): Promise<UserRow> => t.runtime.directory.find(db(), username);
  const registerAnn = () => questions.register('ann@contoso.com', ids.slice(0, 3).map((id, index) => ({ question_id: id, answer: ANSWERS[index]! })), testActor);
  const answerOf = (id: string) => ANSWERS[ids.indexOf(id)]!;

  describe('the question list', () => {
    it('adds, lists, rewords, retires, restores and deletes questions, each audited', async () => {
      expect((await questions.listQuestions()).map((q) => q.text)).toEqual(['Name of your first pet?', 'City you were born in?', 'Favourite café?', 'Street you grew up on?']);
      const reworded = await questions.updateQuestion(ids[3]!, { text: '  Street   you grew up on? (childhood) ' }, testActor);
      expect(reworded).toMatchObject({ text: 'Street you grew up on? (childhood)', active: true, registered_users: 0 });
      expect(await questions.updateQuestion(ids[3]!, { active: false }, testActor)).toMatchObject({ active: false });
      expect((await questions.listQuestions()).map((q) => q.id)).toEqual(ids.slice(0, 3));
      expect((await questions.listQuestions({ includeInactive: true })).map((q) => q.id)).toEqual(ids);
      expect(await questions.updateQuestion(ids[3]!, { active: true }, testActor)).toMatchObject({ active: true });
      await questions.removeQuestion(ids[3]!, testActor);
      expect((await questions.listQuestions({ includeInactive: true })).map((q) => q.id)).toEqual(ids.slice(0, 3));
      expect(await auditActions()).toEqual([
        ...Array(4).fill('security_question.create'),
        'user.create',
        'security_question.update',
        'security_question.update',
        'security_question.update',
        'security_question.delete',
      ]);
    });

    it('refuses empty, over-long and duplicate questions, and unknown ids', async () => {
      expect(await failure(questions.addQuestion('   ', testActor))).toMatchObject({ code: 'validation_failed', field: 'text' });
      expect(await failure(questions.addQuestion('x'.repeat(257), testActor))).toMatchObject({ code: 'validation_failed', field: 'text' });
      expect(await failure(questions.addQuestion('name of your FIRST pet', testActor))).toMatchObject({ code: 'conflict', field: 'text' });
      expect(await failure(questions.updateQuestion(ids[1]!, { text: 'Name of your first pet?' }, testActor))).toMatchObject({ code: 'conflict' });
      expect(await failure(questions.updateQuestion('0000000000000000', { active: false }, testActor))).toMatchObject({ code: 'security_question_not_found' });
      expect(await failure(questions.removeQuestion('nope', testActor))).toMatchObject({ code: 'security_question_not_found' });
    });

    it('keeps a question users answered unless the delete is forced, and a retired question stays asked', async () => {
      await registerAnn();
      expect((await questions.getQuestion(ids[0]!)).registered_users).toBe(1);
      expect(await failure(questions.removeQuestion(ids[0]!, testActor))).toMatchObject({ code: 'security_question_in_use' });
      await questions.updateQuestion(ids[0]!, { active: false }, testActor);
      expect((await questions.registered('ann@contoso.com')).map((q) => q.question_id)).toEqual(ids.slice(0, 3));
      await questions.removeQuestion(ids[0]!, testActor, { force: true });
      expect((await questions.registered('ann@contoso.com')).map((q) => q.question_id)).toEqual(ids.slice(1, 3));
      const audit = await db().selectFrom('audit_log').select(['action', 'details']).where('action', '=', 'security_question.delete').execute();
      expect(JSON.parse(audit[0]!.details)).toEqual({ answers_removed: 1 });
    });

    it('refuses an askCount above registerCount at start-up', () => {
      const deps = { db: db(), transact: t.runtime.storage.transact, clock: t.clock, directory: t.runtime.directory, changeLog: t.runtime.changeLog };
      expect(() => new SecurityQuestions({ ...deps, config: { registerCount: 2, askCount: 3 } })).toThrow(/askCount \(3\) must not exceed questions.registerCount \(2\)/);
    });
  });

  describe('registration', () => {
    const attempt = (answers: { question_id: string; answer: string }[], username = 'ann@contoso.com') => failure(questions.register(username, answers, testActor));
    const ok = (id: string, answer = 'good answer') => ({ question_id: id, answer });

    it('refuses with an error naming the field', async () => {
      await questions.updateQuestion(ids[3]!, { active: false }, testActor);
      expect(await attempt([ok(ids[0]!), ok(ids[1]!)])).toMatchObject({ code: 'validation_failed', field: 'answers', message: expect.stringMatching(/exactly 3 answers/) });
      expect(await attempt([ok(ids[0]!), ok(ids[1]!), ok(ids[3]!)])).toMatchObject({ code: 'unknown_security_question', field: 'answers[2].question_id', message: expect.stringMatching(/not active/) });
      expect(await attempt([ok('unknown-id'), ok(ids[1]!), ok(ids[2]!)])).toMatchObject({ code: 'unknown_security_question', field: 'answers[0].question_id', message: expect.stringMatching(/does not exist/) });
      expect(await attempt([ok(ids[0]!), ok(ids[0]!), ok(ids[2]!)])).toMatchObject({ code: 'validation_failed', field: 'answers[1].question_id', message: expect.stringMatching(/answered twice/) });
      const short = await attempt([ok(ids[0]!), ok(ids[1]!), ok(ids[2]!, ' Z! ')]);
      expect(short).toMatchObject({ code: 'validation_failed', field: 'answers[2].answer', message: expect.stringMatching(/at least 2/) });
      expect(short.message).not.toContain('Z');
      expect(await attempt([ok(ids[0]!), ok(ids[1]!), ok(ids[2]!)], 'nobody')).toMatchObject({ code: 'user_not_found' });
      expect(await db().selectFrom('security_answers').selectAll().execute()).toEqual([]);
      expect(await auditActions()).not.toContain('security_answers.register');
    });

    it('stores only salted argon2id hashes bound to the user, replaces earlier answers and never logs an answer', async () => {
      const registered = await registerAnn();
      expect(registered.map((q) => q.question_id)).toEqual(ids.slice(0, 3));
      expect(registered[0]).toEqual({ question_id: ids[0], text: 'Name of your first pet?', registered_at: new Date(t.clock.now()).toISOString() });
      const rows = await db().selectFrom('security_answers').selectAll().execute();
      expect(rows).toHaveLength(3);
      for (const row of rows) {
        expect(row.answer_hash).toMatch(/^\$argon2id\$/);
        expect(row.answer_hash.toLowerCase()).not.toMatch(/fluffy|springfield|quokka/);
      }

      // Re-registering replaces the set.
      await questions.register('ann@contoso.com', ids.slice(1, 4).map((id) => ({ question_id: id, answer: 'Fluffy' })), testActor);
      expect((await questions.registered('ann@contoso.com')).map((q) => q.question_id)).toEqual(ids.slice(1, 4));
      const second = await db().selectFrom('security_answers').select('answer_hash').execute();
      expect(new Set(second.map((row) => row.answer_hash)).size).toBe(3); // same answer, different salts

      const audit = await db().selectFrom('audit_log').select(['action', 'details']).where('action', '=', 'security_answers.register').execute();
      expect(JSON.parse(audit[0]!.details)).toEqual({ question_ids: ids.slice(0, 3) });
      const everything = JSON.stringify([await db().selectFrom('audit_log').selectAll().execute(), t.logLines()]).toLowerCase();
      expect(t.logLines().some((line) => line.event === 'security_answers.register')).toBe(true);
      for (const answer of ['fluffy', 'springfield', 'ｓｐｒｉｎｇ', 'quokka']) expect(everything).not.toContain(answer);
    });

    it('clears a user\'s answers, audited', async () => {
      await registerAnn();
      expect(await questions.clear('ann@contoso.com', testActor)).toBe(3);
      expect(await questions.registered('ann@contoso.com')).toEqual([]);
      expect(await auditActions()).toContain('security_answers.clear');
    });
  });

  describe('verification', () => {
    it('matches normalised answers, needs every answer right, and does not verify a hash moved to another user', async () => {
      await registerAnn();
      const ann = await user();
      expect(await verifyAnswers(db(), ann.id, { [ids[0]!]: 'fluffy', [ids[1]!]: 'springfield' })).toBe(true);
      expect(await verifyAnswers(db(), ann.id, { [ids[2]!]: 'CAFE\u0301 -- QUOKKA!' })).toBe(true);
      expect(await verifyAnswers(db(), ann.id, { [ids[0]!]: 'fluffy', [ids[1]!]: 'shelbyville' })).toBe(false);
      expect(await verifyAnswers(db(), ann.id, { [ids[2]!]: 'cafe quokka' })).toBe(false);
      expect(await verifyAnswers(db(), ann.id, { [ids[3]!]: 'fluffy' })).toBe(false);
      expect(await verifyAnswers(db(), ann.id, {})).toBe(false);

      const bob = await t.runtime.directory.create({ username: 'bob' }, testActor);
      const annsRow = await db().selectFrom('security_answers').selectAll().where('question_id', '=', ids[0]!).executeTakeFirstOrThrow();
      await db().insertInto('security_answers').values({ ...annsRow, user_id: bob.id }).execute();
      expect(await verifyAnswers(db(), bob.id, { [ids[0]!]: 'fluffy' })).toBe(false);
    });
  });

  describe('the verification method', () => {
    const method = () => questionsMethod(t.runtime.config.questions);
    const context = async (fallback: boolean, primaryCode: ResultCode | null = 'FAILED_PHONE_APP_DENIED'): Promise<MethodContext> => ({
      db: unit(),
      clock: t.clock,
      keyring: t.runtime.keyring,
      user: await user(),
      application: { id: 'app', name: 'VPN' },
      ip: '192.0.2.1',
      authType: 'radius',
      entryPoint: 'test',
      fallback,
      primaryCode,
      challengeId: 'test-challenge',
    });

    it('describes the method only when enough answers are registered', async () => {
      expect(await method().describe(unit(), await user())).toBeNull();
      await registerAnn();
      expect(await method().describe(unit(), await user())).toEqual({
        method: 'questions',
        devices: [{ id: 'security-questions', name: '3 security questions', type: 'questions' }],
      });
      await questions.removeQuestion(ids[0]!, testActor, { force: true });
      await questions.removeQuestion(ids[1]!, testActor, { force: true });
      expect(await method().describe(unit(), await user())).toBeNull();
      expect(method()).toMatchObject({ name: 'questions', timeoutCode: 'FAILED_SECURITY_QUESTIONS_TIMEOUT', fallbackOnly: true, fallback: { allowedBy: 'fallbackQuestions', answer: 'answers', asksWhenOffered: true, prompt: 'answer your security questions' } });
    });

    it('asks askCount of the registered questions at random and keeps no answer in its state', async () => {
      await registerAnn();
      const ctx = await context(true);
      const seen = new Set<string>();
      for (let round = 0; round < 40; round++) {
        const step = await method().start(ctx, {});
        if (step.status !== 'pending') throw new Error('expected a pending step');
        expect(step.code).toBe('FAILED_PHONE_APP_DENIED');
        expect(step.questions).toHaveLength(2);
        const asked = step.questions!.map((q) => q.id);
        expect(new Set(asked).size).toBe(2);
        expect(step.state).toEqual({ question_ids: asked });
        for (const q of step.questions!) {
          expect(ids.slice(0, 3)).toContain(q.id);
          expect(q.text).toBe((await questions.getQuestion(q.id)).text);
          seen.add(q.id);
        }
      }
      expect([...seen].sort()).toEqual(ids.slice(0, 3).sort());
    });

    it('authenticates right answers as fallback and keeps the primary denial otherwise', async () => {
      await registerAnn();
      const ctx = await context(true);
      const step = await method().start(ctx, {});
      if (step.status !== 'pending') throw new Error('expected a pending step');
      const [a, b] = step.questions!.map((q) => q.id) as [string, string];
      const other = ids.slice(0, 3).find((id) => id !== a && id !== b)!;
      const respond = (answers: Record<string, string> | undefined, c = ctx) => method().respond(c, step.state, answers === undefined ? {} : { answers });

      expect(await respond({ [a]: ` ${answerOf(a).toUpperCase()} `, [b]: answerOf(b) })).toEqual({
        status: 'done',
        code: 'SUCCESS_FALLBACK_SECURITY_QUESTIONS_ANSWERED',
        authenticated: true,
      });
      expect(await respond({ [a]: answerOf(a), [b]: 'wrong answer' })).toEqual({ status: 'done', code: 'FAILED_PHONE_APP_DENIED', authenticated: false, countsAsFailure: true });
      expect(await respond({ [a]: answerOf(a) })).toMatchObject({ code: 'FAILED_PHONE_APP_DENIED', authenticated: false });
      expect(await respond({ [a]: answerOf(a), [b]: answerOf(b), [other]: answerOf(other) })).toMatchObject({ authenticated: false });
      expect(await respond({ [a]: answerOf(a), [other]: answerOf(other) })).toMatchObject({ authenticated: false });
      expect(await respond(undefined)).toMatchObject({ authenticated: false });
      expect(await method().respond(ctx, {}, { answers: { [a]: answerOf(a), [b]: answerOf(b) } })).toMatchObject({ authenticated: false, countsAsFailure: false });
      expect(await respond({ [a]: answerOf(a), [b]: 'wrong answer' }, await context(true, null))).toMatchObject({ code: 'FAILED_AUTH_RESULT_TIMEOUT', authenticated: false });
    });

    it('never authenticates as a primary method', async () => {
      await registerAnn();
      const primary = await context(false, null);
      const all = Object.fromEntries(ids.slice(0, 3).map((id) => [id, answerOf(id)]));
      expect(await method().start(primary, {})).toEqual({ status: 'done', code: 'FAILED_AUTH_RESULT_TIMEOUT', authenticated: false, countsAsFailure: false });
      expect(await method().start(primary, { answers: all })).toMatchObject({ authenticated: false });
      expect(await method().respond(primary, { question_ids: ids.slice(0, 2) }, { answers: all })).toMatchObject({ authenticated: false, countsAsFailure: false });
    });

    it('verifies answers given up front only when they cover every registered question', async () => {
      await registerAnn();
      const ctx = await context(true);
      const all = Object.fromEntries(ids.slice(0, 3).map((id) => [id, answerOf(id)]));
      expect(await method().start(ctx, { answers: all })).toMatchObject({ status: 'done', code: 'SUCCESS_FALLBACK_SECURITY_QUESTIONS_ANSWERED', authenticated: true });
      const two = { [ids[0]!]: answerOf(ids[0]!), [ids[1]!]: answerOf(ids[1]!) };
      expect(await method().start(ctx, { answers: two })).toMatchObject({ status: 'done', code: 'FAILED_PHONE_APP_DENIED', authenticated: false });
    });

    it('exports which questions were registered but no answer or hash, and deletes the answers', async () => {
      await registerAnn();
      const ann = await user();
      const exported = await method().exportUserData(db(), ann.id);
      expect(exported).toEqual({
        security_questions: {
          registered: (await questions.registered('ann@contoso.com')),
          answers: 'stored as salted argon2id hashes; they cannot be exported',
        },
      });
      expect(JSON.stringify(exported)).not.toMatch(/\$argon2|fluffy|springfield/i);
      await method().deleteUserData(db(), ann.id);
      expect(await db().selectFrom('security_answers').selectAll().where('user_id', '=', ann.id).execute()).toEqual([]);
      expect(await method().describe(unit(), ann)).toBeNull();
    });
  });
});
