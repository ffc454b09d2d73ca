import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { SSPR_METHODS } from '../../../config/schema.js';
import type { Runtime } from '../../../main.js';
import { selfActor } from '../../../modules/sspr/sspr.js';
import { appError } from '../../../shared/errors.js';
import { basicCredentials } from '../app-auth.js';
import * as S from '../schemas.js';

const strict = { additionalProperties: false } as const;
const tags = ['self-service'];
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const Method = Type.Enum(SSPR_METHODS);
const Question = Type.Object({ id: Type.String(), text: Type.String() });
const errors = { 400: S.Problem, 401: S.Problem, 404: S.Problem, 409: S.Problem, 429: S.Problem };
const ResetState = Type.Object({
  session_id: Type.String(),
  status: Type.Enum(['open', 'verified', 'completed', 'failed']),
  methods_required: Type.Integer(),
  methods_passed: Type.Array(Method),
  methods_available: Type.Array(Method),
  pending: Type.Optional(
    Type.Object({
      method: Method,
      prompt: Type.String(),
      questions: Type.Optional(Type.Array(Question)),
      number: Type.Optional(Type.String({ description: 'Number matching: the number to type into the app.' })),
      sent_to: Type.Optional(Type.String({ description: 'The masked address the code went to.' })),
    }),
  ),
  expires_at: Type.String({ format: 'date-time' }),
});
const SessionParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, strict);
const Password = Type.String({ minLength: 1, maxLength: 256 });

/**
 * The users' own API (SPEC.md §6, docs/sspr.md): registration of the reset
 * e-mail and security questions, signed in with the user's password (HTTP
 * Basic), and the password reset itself, for someone who has forgotten it.
 */
export function selfServiceRoutes(runtime: Runtime): FastifyPluginAsync {
  return async (instance) => {
    const app = instance.withTypeProvider<TypeBoxTypeProvider>();
    const { selfService, securityQuestions } = runtime;

    /** The signed-in user: name and password by HTTP Basic, checked (and throttled) before the body is read. */
    const signedIn = async (request: FastifyRequest, reply: FastifyReply) => {
      const given = basicCredentials(request.headers.authorization);
      if (!given) {
        reply.header('www-authenticate', 'Basic realm="countersign self-service"');
        throw appError('unauthenticated', 'sign in: Authorization: Basic base64(username:password)');
      }
      return selfService.signIn(given.key, given.secret, request.ip);
    };
    const basic = { security: [{ userPassword: [] }] };

    app.get('/registration', {
      schema: {
        tags,
        ...basic,
        summary: 'What the signed-in user has registered for password reset',
        response: { 200: Type.Object({ email: Nullable(Type.String()), security_questions: Type.Array(Question), methods_available: Type.Array(Method) }), ...errors },
      },
      handler: async (request, reply) => selfService.registration(await signedIn(request, reply)),
    });
    app.get('/security-questions', {
      schema: { tags, ...basic, summary: 'The questions a user may choose from', response: { 200: Type.Object({ items: Type.Array(Question) }), ...errors } },
      handler: async (request, reply) => {
        await signedIn(request, reply);
        const questions = await securityQuestions.listQuestions();
        return { items: questions.filter((question) => question.active).map((question) => ({ id: question.id, text: question.text })) };
      },
    });
    app.put('/registration/email', {
      schema: { tags, ...basic, summary: 'Register (or replace) the e-mail address password reset codes go to', body: Type.Object({ email: Type.String({ minLength: 3, maxLength: 254 }) }, strict), response: { 204: Type.Null(), ...errors } },
      handler: async (request, reply) => {
        await selfService.registerEmail(await signedIn(request, reply), request.body.email, request.ip);
        return reply.code(204).send(null);
      },
    });
    app.delete('/registration/email', {
      schema: { tags, ...basic, summary: 'Remove the registered e-mail address', response: { 204: Type.Null(), ...errors } },
      handler: async (request, reply) => {
        const user = await signedIn(request, reply);
        await selfService.removeEmail(user, selfActor(user), request.ip);
        return reply.code(204).send(null);
      },
    });
    app.put('/registration/security-questions', {
      schema: {
        tags,
        ...basic,
        summary: 'Register answers to security questions (replacing any before)',
        body: Type.Object({ answers: Type.Array(Type.Object({ question_id: Type.String({ minLength: 1, maxLength: 64 }), answer: Type.String({ minLength: 1, maxLength: 256 }) }, strict), { minItems: 1, maxItems: 10 }) }, strict),
        response: { 204: Type.Null(), ...errors },
      },
      handler: async (request, reply) => {
        const user = await signedIn(request, reply);
        await securityQuestions.register(user.username, request.body.answers, selfActor(user));
        return reply.code(204).send(null);
      },
    });
    app.delete('/registration/security-questions', {
      schema: { tags, ...basic, summary: 'Remove the registered answers', response: { 204: Type.Null(), ...errors } },
      handler: async (request, reply) => {
        const user = await signedIn(request, reply);
        await securityQuestions.clear(user.username, selfActor(user));
        return reply.code(204).send(null);
      },
    });

    app.post('/password-reset', {
      schema: { tags, summary: 'Start a password reset', body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 256 }) }, strict), response: { 201: ResetState, ...errors } },
      handler: async (request, reply) => reply.code(201).send(await selfService.start(request.body.username, request.ip)),
    });
    app.get('/password-reset/:id', {
      schema: { tags, summary: 'Where a password reset stands', params: SessionParams, response: { 200: ResetState, ...errors } },
      handler: (request) => selfService.state(request.params.id),
    });
    app.post('/password-reset/:id/verify', {
      schema: {
        tags,
        summary: 'Prove one method: first call sends the code, asks the questions or pushes; the next proves it',
        params: SessionParams,
        body: Type.Object(
          {
            method: Method,
            code: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })),
            answers: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 256 }))),
            wait_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 25, description: 'app: wait this long for the answer.' })),
          },
          strict,
        ),
        response: { 200: ResetState, ...errors },
      },
      handler: (request) => selfService.verify(request.params.id, { method: request.body.method, code: request.body.code, answers: request.body.answers, waitSeconds: request.body.wait_seconds }, request.ip),
    });
    app.post('/password-reset/:id/password', {
      schema: { tags, summary: 'Set the new password once the methods are proved', params: SessionParams, body: Type.Object({ password: Password }, strict), response: { 204: Type.Null(), ...errors } },
      handler: async (request, reply) => {
        await selfService.complete(request.params.id, request.body.password, request.ip);
        return reply.code(204).send(null);
      },
    });
  };
}
