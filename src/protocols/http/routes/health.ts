import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { Type } from 'typebox';
import type { Runtime } from '../../../main.js';
import { sendProblem } from '../problem.js';
import { Problem } from '../schemas.js';

const Status = Type.Object({ status: Type.String() });

/** Liveness, readiness and metrics: unauthenticated, for load balancers and Prometheus. */
export const healthRoutes = (runtime: Runtime, metrics: Registry | null): FastifyPluginAsync => async (app) => {
  app.get('/healthz', {
    schema: { tags: ['operations'], summary: 'Liveness: the process answers', response: { 200: Status } },
    handler: async () => ({ status: 'ok' }),
  });

  app.get('/readyz', {
    schema: { tags: ['operations'], summary: 'Readiness: the database answers within 1.5 s', response: { 200: Status, 503: Problem } },
    handler: async (request, reply) => {
      // Bounded: a load balancer's probe gets its answer in time even when the database hangs.
      if (await runtime.storage.ping(1_500)) return { status: 'ready' };
      return sendProblem(reply, {
        type: 'urn:countersign:problem:database_unavailable',
        title: 'Service Unavailable',
        status: 503,
        detail: 'the database does not answer',
        code: 'database_unavailable',
        instance: request.url,
        request_id: request.id,
      });
    },
  });

  if (metrics) {
    app.get('/metrics', {
      schema: { tags: ['operations'], summary: 'Prometheus metrics (text exposition format)', produces: ['text/plain'], response: { 200: Type.String() } },
      handler: async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()),
    });
  }
};
