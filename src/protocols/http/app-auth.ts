import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Applications, AuthenticatedApplication } from '../../modules/applications/applications.js';
import { appError } from '../../shared/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The application an Auth API request authenticated as. */
    application: AuthenticatedApplication | null;
  }
}

/** Reads "Authorization: Basic base64(name:secret)": an application's integration key and secret, or a user's name and password. */
export function basicCredentials(header: string | undefined): { key: string; secret: string } | null {
  if (!header?.startsWith('Basic ')) return null;
  const decoded = Buffer.from(header.slice('Basic '.length).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon <= 0 ? null : { key: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

/**
 * Guards every route of the plugin it is installed in: the caller is an
 * application, authenticated by HTTP Basic with its integration key and
 * secret, checked before the body is read.
 */
export function installApplicationAuth(app: FastifyInstance, applications: Applications): void {
  app.decorateRequest('application', null);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const given = basicCredentials(request.headers.authorization);
    const application = given ? await applications.authenticate(given.key, given.secret) : null;
    if (!application) {
      reply.header('www-authenticate', 'Basic realm="countersign"');
      throw appError('unauthenticated', 'application credentials required: Authorization: Basic base64(integration key:secret)');
    }
    request.application = application;
  });
}

export function applicationOf(request: FastifyRequest): AuthenticatedApplication {
  if (!request.application) throw appError('unauthenticated', 'application credentials required');
  return request.application;
}
