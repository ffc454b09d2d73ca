import { mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { GroupCommit } from './group-commit.js';
import { ReadCache, attachReadCache } from './read-cache.js';
import { withStatementCache } from './sqlite-statement-cache.js';

export type DialectName = 'sqlite' | 'postgres';
export type Db = Kysely<Database>;
/** Anything queries can run on: the database or an open transaction. */
export type Executor = Kysely<Database> | Transaction<Database>;

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
  close(): Promise<void>;
  /** True when a trivial query succeeds (readiness probe). */
  ping(): Promise<boolean>;
  /**
   * Runs a unit of work in a transaction and resolves once it is committed.
   * On SQLite concurrent units share one commit (group commit); on PostgreSQL
   * each is its own transaction. The unit must use only the executor it gets.
   */
  transact<T>(work: (trx: Executor) => Promise<T>): Promise<T>;
}

export interface StorageOptions {
  /** postgres://..., sqlite:<path>, or empty for <dataDir>/countersign.db. */
  url: string;
  dataDir: string;
  poolSize?: number;
  /** PostgreSQL schema to use instead of public (tests isolate themselves with it). */
  pgSchema?: string;
  /** SQLite: entries of the authentication read cache (storage/read-cache.ts); 0 turns it off. */
  readCacheEntries?: number;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;
// bigint columns hold epoch milliseconds and counters that fit a double: read them as numbers.
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID || oid === NUMERIC_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Readiness: true when a trivial query answers; never throws. */
async function ping(db: Db): Promise<boolean> {
  try {
    return (await sql<{ ok: number }>`select 1 as ok`.execute(db)).rows[0]?.ok === 1;
  } catch {
    return false;
  }
}

function openSqlite(path: string, readCacheEntries: number): Storage {
  // The database holds personal data: its folder is private to the server's user.
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const connection = new SQLite(path);
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = NORMAL');
  connection.pragma('foreign_keys = ON');
  connection.pragma('busy_timeout = 5000');
  // The default page cache (2 000 pages, 8 MB) is smaller than the working set of a few
  // hundred thousand users and their records; reads then go to the OS on every query.
  connection.pragma('cache_size = -262144');
  connection.pragma('mmap_size = 1073741824');
  const cache = new ReadCache(readCacheEntries);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(connection) }), plugins: [cache.plugin()] });
  attachReadCache(db, cache);
  const groupCommit = new GroupCommit(db, { begin: (batch) => cache.checkDataVersion(batch), rolledBack: () => cache.invalidate() });
  let bulk: Db | null = null;
  const openBulk = (): SQLite.Database => {
    const reader = new SQLite(path, { readonly: true, fileMustExist: true });
    reader.pragma('busy_timeout = 5000');
    reader.pragma('mmap_size = 0');
    reader.pragma('cache_size = -16384');
    return reader;
  };
  return {
    db,
    dialect: 'sqlite',
    file: path,
    readCache: cache,
    get bulkDb() {
      bulk ??= new Kysely<Database>({ dialect: new SqliteDialect({ database: async () => openBulk() }) });
      return bulk;
    },
    close: async () => {
      await bulk?.destroy();
      await db.destroy();
    },
    ping: () => ping(db),
    transact: (work) => groupCommit.run(work),
  };
}

/** Like libpq: a URL without a user name connects as the operating-system user. */
export function withDefaultUser(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username) return url;
    parsed.username = encodeURIComponent(userInfo().username);
    return parsed.toString();
  } catch {
    return url;
  }
}

function openPostgres(url: string, poolSize: number, schema?: string): Storage {
  const pool = new pg.Pool({
    connectionString: withDefaultUser(url),
    max: poolSize,
    types: pgTypes,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: 'postgres',
    file: null,
    readCache: null,
    bulkDb: db,
    close: () => db.destroy(),
    ping: () => ping(db),
    transact: (work) => db.transaction().execute(work),
  };
}

/** Opens the store named by the configuration. */
export function openStorage(options: StorageOptions): Storage {
  const { url } = options;
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return openPostgres(url, options.poolSize ?? 10, options.pgSchema);
  }
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : resolve(options.dataDir, 'countersign.db');
  return openSqlite(path === ':memory:' ? path : resolve(path), options.readCacheEntries ?? 0);
}
