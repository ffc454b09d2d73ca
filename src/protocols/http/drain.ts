import type { FastifyInstance, RouteOptions } from 'fastify';

declare module 'fastify' {
  interface FastifyInstance {
    /** Resolves when no route handler is running, or after `timeoutMs`; true when drained. */
    drain(timeoutMs: number): Promise<boolean>;
  }
}

/**
 * Counts running route handlers. `app.close()` stops waiting for a request
 * whose client went away, while its handler may still be writing to the
 * database; shutdown waits for the count to reach zero before the database
 * is closed, so such a write finishes instead of failing half-way.
 */
export function installDrain(app: FastifyInstance): void {
  let running = 0;
  let idle: (() => void)[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const handler = route.handler;
    route.handler = async function (this: FastifyInstance, request, reply) {
      running += 1;
      try {
        return await handler.call(this, request, reply);
      } finally {
        running -= 1;
        if (running === 0) {
          idle.forEach((resolve) => resolve());
          idle = [];
        }
      }
    };
  });
  app.decorate('drain', (timeoutMs: number) => {
    if (running === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  });
}
