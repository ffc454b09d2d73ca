import { availableParallelism } from 'node:os';
import Tinypool from 'tinypool';
import type { Db, DialectName } from './database.js';
import type { RawReader, StoreLocation } from './raw-reader.js';

/** A bulk reader's own connection: queries built with `db`, rows read as arrays with `rows`. */
export interface BulkConnection extends RawReader {
  db: Db;
}

/**
 * How a download turns rows into text, named so that a worker thread can
 * load it: `module` is the location of the module that exports `name` (its
 * own `import.meta.url`, right whether it runs built or from the TypeScript
 * sources), and `format` is the same function, for reads done in this
 * thread. A worker imports that module, so it should import little (no
 * query builder); its options must survive a structured clone.
 */
export interface BulkFormatter<O> {
  module: string;
  name: string;
  format: (rows: unknown[][], options: O) => string;
}

/** A query read and formatted: its text (UTF-8 bytes when a worker thread made it), how many rows the query gave, and the last of them, for key-set paging. */
export interface FormattedBatch {
  text: string | Uint8Array;
  count: number;
  last: unknown[] | null;
}

/** What `storage/bulk-worker.ts` is given for one query. */
export interface BulkTask {
  sql: string;
  parameters: unknown[];
  module: string;
  name: string;
  options: unknown;
}

/**
 * Reads for downloads of millions of rows. Reading and formatting them is
 * bound by making their JavaScript strings, so `formatted` runs in worker
 * threads, each with a connection of its own, and the caller only passes the
 * bytes on; the caller decides what to read and how to format it, the reader
 * where that happens. Without threads (one core, an in-memory database) the
 * same reads run here, in turn.
 */
export interface BulkReader extends BulkConnection {
  dialect: DialectName;
  /** How many `formatted` reads to keep in flight so that the threads never wait: two per thread, or one without threads. */
  readonly readAhead: number;
  formatted<O>(query: { sql: string; parameters: readonly unknown[] }, formatter: BulkFormatter<O>, options: O): Promise<FormattedBatch>;
  /** The same connection with `threads` threads of its own (below 2: none); its `close` ends those threads, not the connection. */
  withThreads(threads: number): BulkReader;
}

/**
 * A worker holds one batch at a time: a small heap is enough, and keeps a
 * download's memory flat (V8 would otherwise grow each worker's young
 * generation to tens of megabytes).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 12, maxOldGenerationSizeMb: 64 };

/** Idle threads end after this long, and are started again by the next download. */
const IDLE_MS = 30_000;

/**
 * The worker sits beside this file and has its extension: `.js` built, `.ts`
 * when tests run the sources. Node runs a `.ts` worker only with a loader,
 * which the test processes' worker threads get from vitest.config.ts
 * (test/helpers/typescript-in-workers.mjs); src/ never loads one itself.
 */
const WORKER = new URL(`./bulk-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

/** Threads a download reads with by default: two at most (the request's thread has work too), none on one core. */
const DEFAULT_THREADS = Math.min(2, availableParallelism());

/**
 * A bulk reader over `connection`, whose worker threads open their own
 * connections to `location`. The threads start with the first `formatted`
 * read and end when idle or at `close`.
 */
export function bulkReader(connection: BulkConnection, dialect: DialectName, location: StoreLocation, threads = DEFAULT_THREADS): BulkReader {
  // Only where the store is: options may also hold functions (a connection-error listener), which a thread cannot be given.
  const where: StoreLocation = { url: location.url, dataDir: location.dataDir, ...(location.pgSchema ? { pgSchema: location.pgSchema } : {}) };
  // Another thread cannot open an in-memory database.
  const parallel = threads >= 2 && location.url !== 'sqlite::memory:';
  let pool: Tinypool | null = null;
  const threadPool = () =>
    (pool ??= new Tinypool({
      filename: WORKER.href,
      minThreads: 0,
      maxThreads: threads,
      idleTimeout: IDLE_MS,
      // Idle threads wait on their message port, not in Atomics.wait, so a PostgreSQL connection's events (a backend that went away) are handled while they wait.
      useAtomics: false,
      workerData: where,
      resourceLimits: WORKER_LIMITS,
    }));
  return {
    db: connection.db,
    rows: connection.rows,
    dialect,
    readAhead: parallel ? threads * 2 : 1,
    async formatted(query, formatter, options) {
      if (parallel) {
        const task: BulkTask = { sql: query.sql, parameters: [...query.parameters], module: formatter.module, name: formatter.name, options };
        return (await threadPool().run(task)) as FormattedBatch;
      }
      const rows = await connection.rows(query.sql, query.parameters);
      return { text: formatter.format(rows, options), count: rows.length, last: rows[rows.length - 1] ?? null };
    },
    withThreads: (count) => bulkReader({ ...connection, close: async () => undefined }, dialect, location, count),
    async close() {
      const ending = pool;
      pool = null;
      await ending?.destroy();
      await connection.close();
    },
  };
}
