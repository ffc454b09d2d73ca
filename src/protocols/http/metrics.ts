import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReadCache } from '../../storage/read-cache.js';

/** Prometheus metrics of one server instance (a registry each, so tests can build many). */
export function installMetrics(app: FastifyInstance, readCache: ReadCache | null): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'countersign_' });
  const requests = new Counter({
    name: 'countersign_http_requests_total',
    help: 'HTTP requests answered, by method, route and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'countersign_http_request_duration_seconds',
    help: 'HTTP request duration by method and route.',
    labelNames: ['method', 'route'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  if (readCache) {
    // Read when scraped. Hits and misses count up from the server's start.
    const stats: [name: string, help: string, key: 'entries' | 'hits' | 'misses'][] = [
      ['countersign_read_cache_entries', 'Rows the authentication read cache holds (SQLite).', 'entries'],
      ['countersign_read_cache_hits', 'Authentication reads answered from memory since start.', 'hits'],
      ['countersign_read_cache_misses', 'Authentication reads that went to the database since start.', 'misses'],
    ];
    for (const [name, help, key] of stats) {
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(readCache.stats()[key]);
        },
      });
    }
  }
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  return registry;
}
