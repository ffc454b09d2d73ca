import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { Runtime } from '../../../main.js';
import { DENIED_DETAILS, SATISFIED_DETAILS } from '../../../modules/auth/mfa-details.js';
import { RESULT_CODE_NAMES } from '../../../modules/auth/result-codes.js';
import type { AuthRequest } from '../../../modules/auth/engine.js';
import { METHOD_NAMES } from '../../../modules/methods/contract.js';
import { appError } from '../../../shared/errors.js';
import { applicationOf, installApplicationAuth } from '../app-auth.js';
import { Problem } from '../schemas.js';

const strict = { additionalProperties: false } as const;
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const METHODS = METHOD_NAMES;

const requestFields = {
  username: Type.String({ minLength: 1, maxLength: 256 }),
  ip: Type.Optional(Type.String({ anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }], description: "The end user's IP address, as the application saw it." })),
  auth_type: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,32}$', default: 'api', description: 'What kind of sign-in: vpn, radius, web, ... (part of the cache keys).' })),
  entry_point: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$', default: 'http_api', description: 'The front end the request came through (usage by component report).' })),
  client_type: Type.Optional(
    Type.Enum(['modern', 'legacy'], { default: 'modern', description: 'legacy: a protocol that cannot show a second factor (IMAP, SMTP, basic auth); conditional access policies can name either.' }),
  ),
  device_id: Type.Optional(
    Type.String({ minLength: 1, maxLength: 64, description: "The device the user signs in from. It is registered when it is one of the user's active authenticator app devices (conditional access device state)." }),
  ),
  remember_token: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'The remembered-device token an earlier successful MFA of this user answered with (kept on the device).' })),
  claim_token: Type.Optional(Type.String({ minLength: 1, maxLength: 16384, description: 'A signed JWT from a trusted issuer (access.claimIssuersFile) whose amr claim says the user did MFA.' })),
  app_password: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "One of the user's app passwords; only with client_type legacy." })),
};

const Answers = Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 256 }), { maxProperties: 10, description: 'Security-question id → answer.' });
const ResultCode = Nullable(Type.Enum(RESULT_CODE_NAMES));
const Detail = Nullable(Type.Enum([...SATISFIED_DETAILS, ...DENIED_DETAILS]));

const AuthAnswer = Type.Object({
  txid: Nullable(Type.String()),
  result: Type.Enum(['allow', 'deny', 'waiting', 'enroll'], { description: 'enroll: MFA is required and the user has no method registered; send the user to register one.' }),
  result_code: ResultCode,
  detail: Detail,
  status_msg: Type.String(),
  prompt: Type.Optional(Type.String()),
  questions: Type.Optional(Type.Array(Type.Object({ id: Type.String(), text: Type.String() }))),
  fallback: Type.Optional(Type.Array(Type.Enum(METHODS))),
  number: Type.Optional(Type.String({ description: 'Authenticator app with number matching: show this number on the sign-in screen; the user types it into the app.' })),
  expires_at: Type.Optional(Type.String({ format: 'date-time' })),
  remember_token: Type.Optional(Type.String({ description: 'After a successful MFA with remember: true, when the policy lets devices remember MFA: keep it on the device and send it as remember_token with later sign-ins.' })),
  remember_expires_at: Type.Optional(Type.String({ format: 'date-time' })),
});

const PreauthAnswer = Type.Object({
  result: Type.Enum(['auth', 'allow', 'deny', 'enroll', 'unknown_user']),
  result_code: ResultCode,
  detail: Detail,
  status_msg: Type.String(),
  methods: Type.Array(Type.Object({ method: Type.Enum(METHODS), devices: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), type: Type.String() })) })),
  fallback: Type.Array(Type.Enum(METHODS)),
});

const errors = { 400: Problem, 401: Problem, 404: Problem };
const RequestBody = Type.Object(requestFields, strict);
type RequestBody = Static<typeof RequestBody>;
const tags = ['auth api'];

/**
 * The Auth API for applications: preauth → auth → respond / auth_status, in
 * the shape integrators of the well-known preauth/auth/auth_status style know.
 */
export const authApiRoutes = (runtime: Runtime): FastifyPluginAsync => async (plain) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  installApplicationAuth(plain, runtime.applications);
  const { engine } = runtime;
  /**
   * The engine's request. `ip` is the end user's address as the application
   * saw it; an application that sends none is taken at its own address (the
   * connection's, or X-Forwarded-For's behind http.trustProxy), so guesses
   * sent without one still meet the per-IP limit (docs/authentication.md).
   */
  const requestOf = (body: RequestBody, application: ReturnType<typeof applicationOf>, connectionIp: string): AuthRequest => {
    if (body.app_password !== undefined && body.client_type !== 'legacy') {
      throw appError('validation_failed', 'app_password: app passwords are for legacy clients only (client_type legacy)', { field: 'app_password' });
    }
    return {
      username: body.username,
      application,
      ip: body.ip ?? connectionIp,
      authType: body.auth_type ?? 'api',
      entryPoint: body.entry_point ?? 'http_api',
      clientType: body.client_type ?? 'modern',
      deviceId: body.device_id ?? null,
      ...(body.remember_token !== undefined ? { rememberToken: body.remember_token } : {}),
      ...(body.claim_token !== undefined ? { claimToken: body.claim_token } : {}),
      ...(body.app_password !== undefined ? { appPassword: body.app_password } : {}),
    };
  };

  app.get('/check', {
    schema: { tags, summary: 'Check application credentials', security: [{ application: [] }], response: { 200: Type.Object({ application: Type.String() }), 401: Problem } },
    handler: async (request) => ({ application: applicationOf(request).name }),
  });

  app.post('/preauth', {
    schema: {
      tags,
      summary: 'Whether and how a user can authenticate',
      description: 'auth: a second factor is needed (methods and devices listed); allow / deny: decided already (recorded as the sign-in); enroll: MFA required but no method registered; unknown_user.',
      security: [{ application: [] }],
      body: RequestBody,
      response: { 200: PreauthAnswer, ...errors },
    },
    handler: (request) => engine.preauth(requestOf(request.body, applicationOf(request), request.ip)),
  });

  app.post('/auth', {
    schema: {
      tags,
      summary: 'Authenticate a user with a second factor',
      description:
        'With a passcode the answer is final. Without one a challenge opens and the answer is `waiting` with a `txid`: send the code to /respond, or poll /auth_status. After a denied primary method the answer may be `waiting` with `fallback` methods.',
      security: [{ application: [] }],
      body: Type.Object(
        {
          ...requestFields,
          factor: Type.Optional(Type.Enum(['auto', ...METHODS], { default: 'auto' })),
          passcode: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
          device: Type.Optional(Type.String({ maxLength: 64 })),
          async: Type.Optional(Type.Boolean({ default: false, description: 'Return at once with a txid instead of waiting for an out-of-band result.' })),
          remember: Type.Optional(Type.Boolean({ default: false, description: 'The user asked this device to remember MFA: a successful MFA answers with a remember_token when the policy allows.' })),
        },
        strict,
      ),
      response: { 200: AuthAnswer, ...errors },
    },
    handler: async (request) => {
      const { body } = request;
      const application = applicationOf(request);
      const answer = await engine.auth({ ...requestOf(body, application, request.ip), factor: body.factor ?? 'auto', passcode: body.passcode, device: body.device, remember: body.remember === true });
      // Synchronous callers wait for out-of-band methods (no prompt to show); prompts go back at once.
      if (!body.async && answer.result === 'waiting' && answer.txid && !answer.prompt && !answer.fallback) {
        return engine.status(application, answer.txid, runtime.config.auth.challengeTimeoutSeconds * 1000);
      }
      return answer;
    },
  });

  app.post('/respond', {
    schema: {
      tags,
      summary: "The user's answer to an open challenge",
      security: [{ application: [] }],
      body: Type.Object({ txid: Type.String({ format: 'uuid' }), passcode: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })), answers: Type.Optional(Answers) }, { ...strict, minProperties: 2 }),
      response: { 200: AuthAnswer, ...errors },
    },
    handler: (request) => engine.respond(applicationOf(request), request.body.txid, { passcode: request.body.passcode, answers: request.body.answers }),
  });

  app.get('/auth_status', {
    schema: {
      tags,
      summary: 'The state of a challenge (long poll)',
      security: [{ application: [] }],
      querystring: Type.Object(
        { txid: Type.String({ format: 'uuid' }), timeout: Type.Optional(Type.Integer({ minimum: 0, maximum: 120, default: 0, description: 'Seconds to wait for the challenge to end.' })) },
        strict,
      ),
      response: { 200: AuthAnswer, ...errors },
    },
    handler: (request) => {
      const wait = Math.min(request.query.timeout ?? 0, runtime.config.auth.longPollSeconds) * 1000;
      return engine.status(applicationOf(request), request.query.txid, wait);
    },
  });
};
