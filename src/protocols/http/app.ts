import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Runtime } from '../../main.js';
import { ADMIN_PREFIX, installAdminAuth, type AdminRoute } from './admin-auth.js';
import { installDrain } from './drain.js';
import { installMetrics } from './metrics.js';
import { AppError } from '../../shared/errors.js';
import { clientErrorHandler, frameworkErrors, installProblemHandlers } from './problem.js';
import { adminRoutes } from './routes/admin.js';
import { authAdminRoutes } from './routes/auth-admin.js';
import { authApiRoutes } from './routes/auth-api.js';
import { groupRoutes } from './routes/groups.js';
import { accessRoutes } from './routes/access.js';
import { oathRoutes } from './routes/oath.js';
import { questionRoutes } from './routes/questions.js';
import { healthRoutes } from './routes/health.js';
import { telephonyRoutes } from './routes/telephony.js';
import { telephonyWebhookRoutes } from './routes/telephony-webhooks.js';
import { appDeviceAdminRoutes, appDeviceRoutes } from './routes/app-devices.js';
import { signinRoutes } from './routes/signins.js';
import { reportRoutes } from './routes/reports.js';
import { privacyRoutes } from './routes/privacy.js';
import { selfServiceRoutes } from './routes/self-service.js';
import { VERSION } from '../../shared/version.js';
import { userRoutes } from './routes/users.js';
import { installTextGuard, validatorCompiler } from './validation.js';
import { describeProblems } from './openapi.js';
import { Problem } from './schemas.js';

/** The Auth API that applications call. */
export const AUTH_PREFIX = '/auth/v1';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Sent with every answer; a route that must differ (a download, later a page) sets its own. */
const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
} as const;

declare module 'fastify' {
  interface FastifyInstance {
    /** Every admin route with its allowed roles (the role × route test walks it). */
    adminRoutes: AdminRoute[];
  }
}

/** Builds the HTTP server on a runtime. It does not listen; the caller does. */
export async function buildHttpApp(runtime: Runtime): Promise<FastifyInstance> {
  const { config } = runtime;
  const app = Fastify({
    loggerInstance: runtime.log as FastifyBaseLogger,
    // One line per request only at debug level: at info the service log holds events, not traffic.
    logController: new LogController({ disableRequestLogging: config.log.level !== 'debug' && config.log.level !== 'trace' }),
    // A request line names the route's pattern, never its path or the client's address: paths carry
    // usernames and addresses are personal data, which the service log only holds sealed (docs/privacy.md).
    childLoggerFactory: (logger, bindings, options) =>
      logger.child(bindings, { ...options, serializers: { ...options.serializers, req: (request: FastifyRequest) => ({ method: request.method, route: request.routeOptions.url ?? null }) } }),
    bodyLimit: config.http.bodyLimit,
    // A client that sends its request too slowly holds a connection and memory: it gets this long in all.
    requestTimeout: config.http.requestTimeoutSeconds * 1000,
    trustProxy: config.http.trustProxy,
    requestIdHeader: false,
    // A caller's request id is kept when it is a plain token, so logs can be correlated across services.
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // A user name may be 256 characters, and each one up to 12 once percent-encoded (4 UTF-8 bytes).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 3072 },
    frameworkErrors,
    clientErrorHandler,
    exposeHeadRoutes: false,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // Every answer is about someone and may carry a secret (an API key, an OATH seed, an application
    // secret): no cache keeps it. The API serves no page, so nothing it sends may run as one either.
    reply.headers(SECURITY_HEADERS);
  });
  installProblemHandlers(app);
  installTextGuard(app);
  installDrain(app);
  const metrics = config.metrics.enabled ? installMetrics(app, runtime.storage.readCache) : null;

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Countersign', version: VERSION, description: 'Multi-factor authentication server: admin and operations API.' },
      components: {
        securitySchemes: {
          adminKey: { type: 'http', scheme: 'bearer', description: 'Admin API key (csk_...).' },
          application: { type: 'http', scheme: 'basic', description: 'Auth API: integration key as user name, application secret as password.' },
          userPassword: { type: 'http', scheme: 'basic', description: "Self-service API: the user's own username and password." },
        },
      },
    },
  });
  // An unknown user is the handler's to refuse (404); any other failure fails the request, never the check.
  const targetOf = (username: string) =>
    runtime.directory.find(runtime.storage.db, username).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'user_not_found') return null;
      throw error;
    });
  app.decorate('adminRoutes', installAdminAuth(app, runtime.adminKeys, targetOf));

  app.get('/openapi.json', { schema: { tags: ['operations'], summary: 'This OpenAPI 3.1 document' }, handler: async () => describeProblems(structuredClone(app.swagger()) as Record<string, unknown>, Problem) });
  await app.register(healthRoutes(runtime, metrics));
  await app.register(userRoutes(runtime), { prefix: ADMIN_PREFIX });
  await app.register(groupRoutes(runtime), { prefix: ADMIN_PREFIX });
  await app.register(accessRoutes(runtime), { prefix: ADMIN_PREFIX });
  await app.register(oathRoutes(runtime, runtime.oathTokens), { prefix: ADMIN_PREFIX });
  await app.register(questionRoutes(runtime, runtime.securityQuestions), { prefix: ADMIN_PREFIX });
  await app.register(adminRoutes(runtime), { prefix: ADMIN_PREFIX });
  await app.register(authAdminRoutes(runtime), { prefix: ADMIN_PREFIX });
  await app.register(telephonyRoutes(runtime), { prefix: ADMIN_PREFIX });
  await app.register(authApiRoutes(runtime), { prefix: AUTH_PREFIX });
  await app.register(telephonyWebhookRoutes(runtime), { prefix: '/telephony/v1' });
  await app.register(appDeviceAdminRoutes(runtime), { prefix: ADMIN_PREFIX });
  await app.register(privacyRoutes(runtime), { prefix: ADMIN_PREFIX });
  await app.register(selfServiceRoutes(runtime), { prefix: '/self/v1' });
  await app.register(signinRoutes(runtime), { prefix: ADMIN_PREFIX });
  await app.register(reportRoutes(runtime), { prefix: ADMIN_PREFIX });
  await app.register(appDeviceRoutes(runtime), { prefix: '/app/v1' });
  return app;
}
