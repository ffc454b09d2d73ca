import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
interface Question {
  id: string;
  text: string;
  active: boolean;
  registered_users: number;
}

describe.each(DIALECTS)('security questions API on %s', (dialect) => {
  let t: TestApp;
  let admin: Record<string, string>;
  beforeEach(async () => {
    t = await createTestApp(dialect);
    admin = await t.as('global_administrator');
  });
  afterEach(() => t.dispose());

  const call = async <T = Record<string, unknown>>(method: string, url: string, payload?: unknown, headers = admin) => {
    const response = await t.app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: response.statusCode, body: (response.body ? response.json() : null) as T, type: response.headers['content-type'] };
  };
  const addQuestions = async (...texts: string[]) => {
    const ids: string[] = [];
    for (const text of texts) {
      ids.push((await call<Question>('POST', '/admin/v1/security-questions', { text })).body.id);
      t.clock.advance(1000);
    }
    return ids;
  };

  it('manages the question list', async () => {
    const created = await call<Question>('POST', '/admin/v1/security-questions', { text: 'Name of your first pet?' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ text: 'Name of your first pet?', active: true, registered_users: 0 });
    const id = created.body.id;
    expect((await call('POST', '/admin/v1/security-questions', { text: 'name of your first pet' })).body).toMatchObject({ code: 'conflict', field: 'text' });
    expect((await call('PATCH', `/admin/v1/security-questions/${id}`, { active: false })).body).toMatchObject({ active: false });
    expect((await call<{ items: Question[] }>('GET', '/admin/v1/security-questions')).body.items).toEqual([]);
    expect((await call<{ items: Question[] }>('GET', '/admin/v1/security-questions?include_inactive=true')).body.items.map((q) => q.id)).toEqual([id]);
    expect((await call('PATCH', `/admin/v1/security-questions/${id}`, { text: 'Your first pet?', active: true })).body).toMatchObject({ text: 'Your first pet?', active: true });
    expect((await call('DELETE', `/admin/v1/security-questions/${id}`)).status).toBe(204);
    expect((await call('DELETE', `/admin/v1/security-questions/${id}`)).body).toMatchObject({ status: 404, code: 'security_question_not_found' });
    const audit = await call<{ items: { action: string }[] }>('GET', '/admin/v1/audit?action=security_question.update');
    expect(audit.body.items).toHaveLength(2);
  });

  it('registers, shows and clears a user\'s answers without ever returning them', async () => {
    const ids = await addQuestions('Pet?', 'City?', 'School?');
    await call('POST', '/admin/v1/users', { username: 'kai@contoso.com' });
    const answers = [
      { question_id: ids[0], answer: 'Biscuit' },
      { question_id: ids[1], answer: 'Lisbon' },
      { question_id: ids[2], answer: 'St. Mary\'s' },
    ];
    const helpdesk = await t.as('authentication_administrator');
    const put = await t.app.inject({ method: 'PUT', url: '/admin/v1/users/kai@contoso.com/security-answers', headers: helpdesk, payload: { answers } });
    expect(put.statusCode, put.body).toBe(200);
    expect(put.body).not.toMatch(/biscuit|lisbon|mary|argon2/i);
    expect(put.json<{ items: { question_id: string }[] }>().items.map((item) => item.question_id)).toEqual(ids);

    const shown = await call<{ items: Record<string, unknown>[] }>('GET', '/admin/v1/users/KAI@contoso.com/security-answers', undefined, await t.as('reports_reader'));
    expect(shown.body.items.map((item) => Object.keys(item).sort())).toEqual(Array(3).fill(['question_id', 'registered_at', 'text']));
    expect((await call<{ items: Question[] }>('GET', '/admin/v1/security-questions')).body.items.map((q) => q.registered_users)).toEqual([1, 1, 1]);
    expect((await call('DELETE', `/admin/v1/security-questions/${ids[0]}`)).body).toMatchObject({ status: 409, code: 'security_question_in_use', registered_users: 1 });

    const audit = await call<{ items: { action: string; details: unknown }[] }>('GET', '/admin/v1/audit');
    expect(JSON.stringify(audit.body)).not.toMatch(/biscuit|lisbon|mary/i);
    expect(JSON.stringify(t.logLines())).not.toMatch(/biscuit|lisbon|mary/i);

    expect((await call('DELETE', '/admin/v1/users/kai@contoso.com/security-answers')).status).toBe(204);
    expect((await call('GET', '/admin/v1/users/kai@contoso.com/security-answers')).body).toEqual({ items: [] });
    expect((await call('DELETE', `/admin/v1/security-questions/${ids[0]}?force=true`)).status).toBe(204);
  });

  it('answers bad input with a 4xx problem naming the field', async () => {
    const ids = await addQuestions('Pet?', 'City?', 'School?');
    await call('POST', '/admin/v1/users', { username: 'lou' });
    const put = (answers: unknown, username = 'lou') => call('PUT', `/admin/v1/users/${username}/security-answers`, { answers });
    const expectProblem = (response: Awaited<ReturnType<typeof call>>, status: number, code: string, field?: string) => {
      expect(response.status).toBe(status);
      expect(response.type).toContain('application/problem+json');
      expect(response.body).toMatchObject({ status, code, ...(field === undefined ? {} : { field }) });
    };
    const answer = (id: string | undefined, text = 'good answer') => ({ question_id: id, answer: text });

    expectProblem(await put([answer(ids[0]), answer(ids[1])]), 400, 'validation_failed', 'answers');
    expectProblem(await put([answer(ids[0]), answer(ids[0]), answer(ids[2])]), 400, 'validation_failed', 'answers[1].question_id');
    expectProblem(await put([answer(ids[0]), answer(ids[1]), answer('no-such-question')]), 400, 'unknown_security_question', 'answers[2].question_id');
    expectProblem(await put([answer(ids[0]), answer(ids[1]), answer(ids[2], '?!')]), 400, 'validation_failed', 'answers[2].answer');
    expectProblem(await put([answer(ids[0]), answer(ids[1]), answer(ids[2], 'x'.repeat(300))]), 400, 'validation_failed', 'body.answers.2.answer');
    expectProblem(await put([{ ...answer(ids[0]), hint: 'x' }, answer(ids[1]), answer(ids[2])]), 400, 'validation_failed', 'body.answers.0.hint');
    expectProblem(await put([answer(ids[0]), answer(ids[1]), { question_id: ids[2], answer: 42 }]), 400, 'validation_failed', 'body.answers.2.answer');
    expectProblem(await put('Biscuit'), 400, 'validation_failed', 'body.answers');
    expectProblem(await put([answer(ids[0]), answer(ids[1]), answer(ids[2])], 'nobody'), 404, 'user_not_found');
    expectProblem(await call('POST', '/admin/v1/security-questions', {}), 400, 'validation_failed', 'body.text');
    expectProblem(await call('POST', '/admin/v1/security-questions', { text: '   ' }), 400, 'validation_failed', 'text');
    expectProblem(await call('PATCH', `/admin/v1/security-questions/${ids[0]}`, {}), 400, 'validation_failed');
    expectProblem(await call('PATCH', `/admin/v1/security-questions/${ids[0]}`, { active: 'false' }), 400, 'validation_failed', 'body.active');
    expectProblem(await call('PATCH', `/admin/v1/security-questions/${'x'.repeat(65)}`, { active: false }), 400, 'validation_failed', 'params.id');
    expectProblem(await call('PATCH', '/admin/v1/security-questions/0000000000000000', { active: false }), 404, 'security_question_not_found');
    expectProblem(await call('GET', '/admin/v1/security-questions?include_inactive=maybe'), 400, 'validation_failed', 'querystring.include_inactive');
    // A refused registration's problem document never repeats the answer.
    const refused = await put([answer(ids[0], 'Biscuit'), answer(ids[1], 'Lisbon'), answer(ids[2], '!')]);
    expect(JSON.stringify(refused.body)).not.toMatch(/biscuit|lisbon/i);
  });

  it('lets only the right roles change questions and answers', async () => {
    const reader = await t.as('reports_reader');
    const helpdesk = await t.as('authentication_administrator');
    expect((await call('GET', '/admin/v1/security-questions', undefined, reader)).status).toBe(200);
    expect((await call('POST', '/admin/v1/security-questions', { text: 'Pet?' }, reader)).status).toBe(403);
    expect((await call('POST', '/admin/v1/security-questions', { text: 'Pet?' }, helpdesk)).status).toBe(403);
    expect((await call('PUT', '/admin/v1/users/x/security-answers', { answers: [] }, reader)).status).toBe(403);
    expect((await call('DELETE', '/admin/v1/users/nobody/security-answers', undefined, helpdesk)).status).toBe(404);
  });
});
