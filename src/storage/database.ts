import { closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresAdapter, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { guardedPool } from './availability.js';
import { GroupCommit } from './group-commit.js';
import { CATALOG_TABLES, ReadCache, UnitReads, attachReadCache, attachUnitReads, invalidatingPlugin } from './read-cache.js';
import { SharedReads } from './shared-reads.js';
import { withStatementCache } from './sqlite-statement-cache.js';
import { isPostgresUrl, openSqliteReader, pgTypes, postgresRows, sqliteRows, withDefaultUser, type StoreLocation } from './raw-reader.js';
import { bulkReader, type BulkConnection, type BulkReader } from './bulk.js';

export { withDefaultUser, type BulkReader };

export type DialectName = 'sqlite' | 'postgres';
export type Db = Kysely<Database>;
/** Anything queries can run on: the database or an open transaction. */
export type Executor = Kysely<Database> | Transaction<Database>;

declare const unitBrand: unique symbol;
/**
 * The executor of a unit of work: only `Storage.transact` makes one, so a
 * function that takes a `Unit` (a row lock, a read through the cache) can
 * only run inside a transaction. A unit must use only this executor: on
 * SQLite the unit holds the one connection, and a query on the database
 * itself would wait for it forever.
 */
export type Unit = Executor & { readonly [unitBrand]: true };

/**
 * Runs `work` as one unit of work and resolves once it has committed.
 * On SQLite the unit runs while this process holds the write lock (taken
 * with BEGIN IMMEDIATE by the group commit), so units never interleave and
 * another process's write cannot slip in between a unit's read and its
 * write; on PostgreSQL it is a transaction of its own, and units that touch
 * one user serialise on that user's row lock (`usersRepository.lock*`).
 */
export type UnitOfWork = <T>(work: (unit: Unit) => Promise<T>) => Promise<T>;

export interface Storage {
  db: Db;
  dialect: DialectName;
  /** SQLite file path, or null for PostgreSQL. */
  file: string | null;
  /** The authentication read cache (SQLite), or null (PostgreSQL). */
  readCache: ReadCache | null;
  /**
   * For long reads (downloads). On SQLite a read-only connection of its own,
   * opened on first use, without the memory map and with a small page cache:
   * a download neither holds the writer's connection nor maps the database
   * into the process. On PostgreSQL the same pool as `db`.
   */
  readonly bulkDb: Db;
  /**
   * The same connection, also able to return rows as arrays of column values (no object per row: downloads of
   * millions of rows), and to read and format them in worker threads with connections of their own (storage/bulk.ts).
   */
  readonly bulk: BulkReader;
  /** What the storage was opened with (the bulk reads' worker threads open their own connections where it says). */
  readonly options: StorageOptions;
  close(): Promise<void>;
  /** True when a trivial query succeeds within `timeoutMs` (readiness probe); never waits longer. */
  ping(timeoutMs?: number): Promise<boolean>;
  /**
   * Runs a unit of work in a transaction and resolves once it is committed
   * (`UnitOfWork`). On SQLite concurrent units share one commit (group
   * commit); on PostgreSQL each is its own transaction. Every write of every
   * module goes through it.
   */
  transact: UnitOfWork;
}

/** SQLite's `synchronous` setting (docs/configuration.md, database.sqliteSynchronous). */
export type SqliteSynchronous = 'full' | 'normal' | 'extra';

/** How long the store waits (docs/configuration.md, database.*). */
export interface StoreTimeouts {
  /** PostgreSQL: to open a connection, or to wait for a free one in the pool. */
  connectMs: number;
  /** A statement's longest run (PostgreSQL statement_timeout; the client gives up a little later); SQLite: the longest wait for another process's write lock. */
  statementMs: number;
}

export const DEFAULT_TIMEOUTS: StoreTimeouts = { connectMs: 3_000, statementMs: 10_000 };

export interface StorageOptions extends StoreLocation {
  poolSize?: number;
  /** SQLite: `full` (the default) makes every commit durable before it is answered; see docs/configuration.md. */
  sqliteSynchronous?: SqliteSynchronous;
  timeouts?: StoreTimeouts;
  /** Called with errors of PostgreSQL connections that broke while in use (they are replaced); for the service log. */
  onConnectionError?: (error: Error) => void;
  /** SQLite: entries of the authentication read cache (storage/read-cache.ts); 0 turns it off. */
  readCacheEntries?: number;
}

/** True when `db` (a database or a transaction) is PostgreSQL's: for the few statements written per dialect. */
export const isPostgres = (db: Executor): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

/** Readiness: true when a trivial query answers within `timeoutMs`; never throws. */
async function ping(db: Db, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const answered = sql<{ ok: number }>`select 1 as ok`
    .execute(db)
    .then((result) => result.rows[0]?.ok === 1)
    .catch(() => false);
  try {
    return await Promise.race([answered, late]);
  } finally {
    clearTimeout(timer);
  }
}

function openSqlite(path: string, readCacheEntries: number, options: StorageOptions): Storage {
  // The database holds personal data: its folder is private to the server's user, and the file is made
  // 0600 before SQLite opens it (SQLite gives the -wal and -shm files the database file's mode).
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (path !== ':memory:' && !existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  const connection = new SQLite(path);
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  connection.pragma('journal_mode = WAL');
  // FULL: a commit is on disk before it is answered, so a used OATH step or bypass survives a power loss
  // (NORMAL could roll the last commits back). Group commit makes it one sync per batch, not per unit.
  connection.pragma(`synchronous = ${options.sqliteSynchronous ?? 'full'}`);
  connection.pragma('foreign_keys = ON');
  // Another process's write (a CLI command) holds the lock for a moment: wait for it, up to the statement timeout.
  connection.pragma(`busy_timeout = ${timeouts.statementMs}`);
  // Deleted rows are overwritten with zeros, not left in free space: a privacy delete or a retention
  // purge leaves nothing readable in the file (docs/privacy.md). Deletes are rare; inserts pay nothing.
  connection.pragma('secure_delete = ON');
  // The default page cache (2 000 pages, 8 MB) is smaller than the working set of a few
  // hundred thousand users and their records; reads then go to the OS on every query.
  connection.pragma('cache_size = -262144');
  connection.pragma('mmap_size = 1073741824');
  const cache = new ReadCache(readCacheEntries);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(connection) }), plugins: [invalidatingPlugin([cache.invalidation()])] });
  attachReadCache(db, cache);
  const groupCommit = new GroupCommit(db, { begin: (batch) => cache.checkDataVersion(batch), rolledBack: () => cache.invalidate() });
  let bulk: BulkReader | null = null;
  return {
    db,
    dialect: 'sqlite',
    options,
    file: path,
    readCache: cache,
    get bulkDb() {
      bulk ??= sqliteBulkReader(path, options);
      return bulk.db;
    },
    get bulk() {
      bulk ??= sqliteBulkReader(path, options);
      return bulk;
    },
    close: async () => {
      await bulk?.close();
      await db.destroy();
    },
    ping: (timeoutMs = 1_500) => ping(db, timeoutMs),
    transact: (work) => groupCommit.run((connection) => work(connection as Unit)),
  };
}

/** SQLite's bulk reader: a read-only connection (`openSqliteReader`), opened on first use. */
function sqliteBulkReader(path: string, options: StorageOptions): BulkReader {
  let reader: SQLite.Database | null = null;
  const open = (): SQLite.Database => (reader ??= openSqliteReader(path));
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: async () => open() }) });
  const rows = sqliteRows(open);
  const connection: BulkConnection = {
    db,
    rows,
    close: async () => {
      await db.destroy();
      // A connection only `rows` used is not Kysely's to close.
      if (reader?.open) reader.close();
    },
  };
  return bulkReader(connection, 'sqlite', options);
}

function openPostgres(url: string, poolSize: number, options: StorageOptions): Storage {
  const schema = options.pgSchema;
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const onError = options.onConnectionError ?? (() => undefined);
  // Server side: a statement runs at most statementMs, and a transaction left idle by a node that froze
  // or lost its connection is ended, so the user locks it holds do not outlive it for long.
  const settings = [`statement_timeout=${timeouts.statementMs}`, `idle_in_transaction_session_timeout=${Math.max(30_000, 3 * timeouts.statementMs)}`, ...(schema ? [`search_path=${schema}`] : [])];
  const clientConfig: pg.ClientConfig = {
    connectionString: withDefaultUser(url),
    types: pgTypes,
    options: settings.map((setting) => `-c ${setting}`).join(' '),
    connectionTimeoutMillis: timeouts.connectMs,
    // Client side, a little later: a database that stopped answering altogether (frozen, cut off) is given up on too.
    query_timeout: timeouts.statementMs + 1_000,
    keepAlive: true,
  };
  const pool = new pg.Pool({ ...clientConfig, max: poolSize });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', onError);
  const unitReads = new UnitReads();
  // The listening connection waits for notifications indefinitely: no read timeout on it.
  const catalog = new SharedReads({ connect: () => new pg.Client({ ...clientConfig, query_timeout: undefined }) });
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: guardedPool(pool, onError) }),
    plugins: [invalidatingPlugin([unitReads.invalidation(), { tables: CATALOG_TABLES, invalidate: () => catalog.invalidate() }])],
  });
  attachUnitReads(db, unitReads, catalog);
  const bulk = bulkReader({ db, rows: postgresRows(pool), close: async () => undefined }, 'postgres', options);
  return {
    db,
    dialect: 'postgres',
    options,
    file: null,
    readCache: null,
    bulkDb: db,
    bulk,
    close: async () => {
      await bulk.close();
      await catalog.close();
      await db.destroy();
    },
    ping: (timeoutMs = 1_500) => ping(db, timeoutMs),
    transact: (work) =>
      db
        .transaction()
        .execute((trx) => work(trx as unknown as Unit))
        .catch((error: unknown) => {
          // The unit may have read its own catalog change, which is now undone.
          catalog.invalidate();
          throw error;
        }),
  };
}

/**
 * What is wider than it should be about a SQLite store on disk: its folder
 * (0700) and its files (0600), which hold personal data. Empty for PostgreSQL
 * and a private store. The server warns at start; it does not change modes
 * an operator may have chosen.
 */
export function permissionProblems(storage: Pick<Storage, 'file'>): string[] {
  if (!storage.file || storage.file === ':memory:') return [];
  const problems: string[] = [];
  const check = (path: string, kind: string, wanted: string) => {
    if (!existsSync(path)) return;
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) problems.push(`${path}: the ${kind} is open to other users (mode ${mode.toString(8)}); it holds personal data: chmod ${wanted} it`);
  };
  check(dirname(storage.file), 'database folder', '700');
  for (const suffix of ['', '-wal', '-shm']) check(storage.file + suffix, 'database file', '600');
  return problems;
}

/** Opens the store named by the configuration. */
export function openStorage(options: StorageOptions): Storage {
  const { url } = options;
  if (isPostgresUrl(url)) {
    return openPostgres(url, options.poolSize ?? 10, options);
  }
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : resolve(options.dataDir, 'countersign.db');
  return openSqlite(path === ':memory:' ? path : resolve(path), options.readCacheEntries ?? 0, options);
}
