import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ACCESS } from '../../../modules/admin-access/roles.js';
import { MAX_ANSWER_LENGTH } from '../../../modules/methods/questions/normalize.js';
import type { SecurityQuestions } from '../../../modules/methods/questions/questions.js';
import type { Runtime } from '../../../main.js';
import { actorOf } from '../admin-auth.js';
import * as S from '../schemas.js';

const tags = ['security questions'];
const strict = { additionalProperties: false } as const;
const Timestamp = Type.String({ format: 'date-time' });
const QuestionId = Type.String({ minLength: 1, maxLength: 64, description: 'Security question id.' });

const SecurityQuestion = Type.Object({
  id: Type.String(),
  text: Type.String(),
  active: Type.Boolean({ description: 'Inactive questions are not offered for new registrations; answers already given to them still count.' }),
  registered_users: Type.Integer({ description: 'Users who registered an answer to this question.' }),
  created_at: Timestamp,
});
const QuestionList = Type.Object({ items: Type.Array(SecurityQuestion) });
const QuestionListQuery = Type.Object({ include_inactive: Type.Optional(Type.Boolean({ default: false })) }, strict);
const QuestionCreate = Type.Object({ text: Type.String({ minLength: 1, maxLength: 256 }) }, strict);
const QuestionUpdate = Type.Object(
  { text: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })), active: Type.Optional(Type.Boolean()) },
  { ...strict, minProperties: 1 },
);
const QuestionParams = Type.Object({ id: QuestionId }, strict);
const QuestionDeleteQuery = Type.Object(
  { force: Type.Optional(Type.Boolean({ default: false, description: "Delete even when users answered it, removing their answers." })) },
  strict,
);

const RegisteredQuestion = Type.Object({ question_id: Type.String(), text: Type.String(), registered_at: Timestamp });
const RegisteredList = Type.Object({ items: Type.Array(RegisteredQuestion) });
const AnswersRegister = Type.Object(
  {
    answers: Type.Array(
      Type.Object(
        {
          question_id: QuestionId,
          answer: Type.String({ maxLength: MAX_ANSWER_LENGTH, description: 'Normalised (case, punctuation, spacing) and stored as an argon2id hash; never returned.' }),
        },
        strict,
      ),
      { minItems: 1, maxItems: 10, description: 'Exactly questions.registerCount answers, to distinct active questions.' },
    ),
  },
  strict,
);

/** The admin list of security questions and users' registered answers (never the answers themselves). */
export const questionRoutes = (_runtime: Runtime, questions: SecurityQuestions): FastifyPluginAsync => async (plain) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const notFound = { 404: S.Problem };

  app.get('/security-questions', {
    config: { roles: ACCESS.directoryRead },
    schema: { tags, summary: 'List security questions', querystring: QuestionListQuery, response: { 200: QuestionList, ...S.adminErrors } },
    handler: async (request) => ({ items: await questions.listQuestions({ includeInactive: request.query.include_inactive ?? false }) }),
  });

  app.post('/security-questions', {
    config: { roles: ACCESS.directoryWrite },
    schema: { tags, summary: 'Add a security question', body: QuestionCreate, response: { 201: SecurityQuestion, ...S.adminErrors, 409: S.Problem } },
    handler: async (request, reply) => reply.code(201).send(await questions.addQuestion(request.body.text, actorOf(request))),
  });

  app.patch('/security-questions/:id', {
    config: { roles: ACCESS.directoryWrite },
    schema: {
      tags,
      summary: 'Reword, deactivate or reactivate a security question',
      description: 'Deactivating retires a question: it is no longer offered for registration, and users who answered it keep it.',
      params: QuestionParams,
      body: QuestionUpdate,
      response: { 200: SecurityQuestion, ...S.adminErrors, ...notFound, 409: S.Problem },
    },
    handler: (request) => questions.updateQuestion(request.params.id, request.body, actorOf(request)),
  });

  app.delete('/security-questions/:id', {
    config: { roles: ACCESS.directoryWrite },
    schema: {
      tags,
      summary: 'Delete a security question',
      description: 'Refused with 409 security_question_in_use while users have answered it, unless force=true (which removes their answers too).',
      params: QuestionParams,
      querystring: QuestionDeleteQuery,
      response: { 204: Type.Null(), ...S.adminErrors, ...notFound, 409: S.Problem },
    },
    handler: async (request, reply) => {
      await questions.removeQuestion(request.params.id, actorOf(request), { force: request.query.force ?? false });
      return reply.code(204).send(null);
    },
  });

  app.get('/users/:username/security-answers', {
    config: { roles: ACCESS.directoryRead },
    schema: {
      tags,
      summary: "The questions a user answered (never the answers)",
      params: S.UsernameParams,
      response: { 200: RegisteredList, ...S.adminErrors, ...notFound },
    },
    handler: async (request) => ({ items: await questions.registered(request.params.username) }),
  });

  app.put('/users/:username/security-answers', {
    config: { roles: ACCESS.directoryUpdate },
    schema: {
      tags,
      summary: "Register a user's security answers",
      description: 'Replaces earlier answers. Answers are normalised and stored as argon2id hashes: they cannot be read back or exported.',
      params: S.UsernameParams,
      body: AnswersRegister,
      response: { 200: RegisteredList, ...S.adminErrors, ...notFound, 409: S.Problem },
    },
    handler: async (request) => ({ items: await questions.register(request.params.username, request.body.answers, actorOf(request)) }),
  });

  app.delete('/users/:username/security-answers', {
    config: { roles: ACCESS.directoryUpdate },
    schema: { tags, summary: "Remove a user's security answers", params: S.UsernameParams, response: { 204: Type.Null(), ...S.adminErrors, ...notFound } },
    handler: async (request, reply) => {
      await questions.clear(request.params.username, actorOf(request));
      return reply.code(204).send(null);
    },
  });
};
