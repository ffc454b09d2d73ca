import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';

/**
 * Errors that say the database cannot be reached or did not answer in time,
 * rather than that the request was wrong: the server answers them with 503
 * `database_unavailable` and Retry-After, and the node carries on (the pool
 * opens new connections when the database is back).
 */
const PG_STATES = new Set([
  '57P01', // admin_shutdown: pg_terminate_backend, or a fast shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or in recovery
  '57014', // query_canceled: statement_timeout
  '55P03', // lock_not_available: lock_timeout
  '53300', // too_many_connections
  '40P01', // deadlock_detected: the other unit went on; this one may be retried
]);
const PG_CLASSES = ['08']; // connection_exception and its subclasses
const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const SQLITE_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL)/;
const MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'is not queryable',
  'Connection ended',
  'the database connection is not open',
];

function unavailableHere(error: { code?: unknown; message?: unknown }): boolean {
  const code = typeof error.code === 'string' ? error.code : '';
  if (PG_STATES.has(code) || PG_CLASSES.some((prefix) => code.length === 5 && code.startsWith(prefix))) return true;
  if (NODE_CODES.has(code) || SQLITE_CODES.test(code)) return true;
  const message = typeof error.message === 'string' ? error.message : '';
  return MESSAGES.some((text) => message.includes(text));
}

/** True when `error`, or an error it was caused by, says the database is unreachable or timed out. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current !== null && typeof current === 'object' && depth < 5; depth += 1) {
    if (unavailableHere(current as { code?: unknown; message?: unknown })) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The pool handed to Kysely, with two guards:
 *
 * - every client has an 'error' listener of its own for as long as it
 *   lives. pg-pool listens only while a client is idle, so a connection lost
 *   while a unit held it (a terminated backend, a restart) would otherwise be
 *   an unhandled 'error' event, and the process would exit;
 * - a client whose query failed because the database was unreachable or did
 *   not answer in time is destroyed when released, not reused: after a read
 *   timeout its connection may still be waiting for the answer of the query
 *   that timed out.
 */
export function guardedPool(pool: pg.Pool, onClientError: (error: Error) => void): PostgresPool {
  pool.on('connect', (client) => client.on('error', onClientError));
  return {
    connect: async () => {
      const client = await pool.connect();
      let broken = false;
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      // Kysely calls only these two.
      const guarded: PostgresPoolClient = {
        query: ((...args: unknown[]) => {
          const result = query(...args);
          if (!(result instanceof Promise)) return result;
          return result.catch((error: unknown) => {
            if (isDatabaseUnavailable(error)) broken = true;
            throw error;
          });
        }) as PostgresPoolClient['query'],
        release: () => client.release(broken),
      };
      return guarded;
    },
    end: () => pool.end(),
  };
}
