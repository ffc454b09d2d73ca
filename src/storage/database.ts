import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresAdapter, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { GroupCommit } from './group-commit.js';
import { CATALOG_TABLES, ReadCache, UnitReads, attachReadCache, attachUnitReads, invalidatingPlugin } from './read-cache.js';
import { SharedReads } from './shared-reads.js';
import { withStatementCache } from './sqlite-statement-cache.js';
import { isPostgresUrl, openSqliteReader, pgTypes, postgresRows, sqliteRows, withDefaultUser, type RawReader, type StoreLocation } from './raw-reader.js';

export { withDefaultUser };

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
  /** The same connection, also able to return rows as arrays of column values (no object per row: downloads of millions of rows). */
  readonly bulk: BulkReader;
  /** What the storage was opened with: a download's worker threads open their own connections from it. */
  readonly options: StorageOptions;
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

export interface StorageOptions extends StoreLocation {
  poolSize?: number;
  /** SQLite: entries of the authentication read cache (storage/read-cache.ts); 0 turns it off. */
  readCacheEntries?: number;
}

/** True when `db` (a database or a transaction) is PostgreSQL's: for the few statements written per dialect. */
export const isPostgres = (db: Executor): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

/** Readiness: true when a trivial query answers; never throws. */
async function ping(db: Db): Promise<boolean> {
  try {
    return (await sql<{ ok: number }>`select 1 as ok`.execute(db)).rows[0]?.ok === 1;
  } catch {
    return false;
  }
}

function openSqlite(path: string, readCacheEntries: number, options: StorageOptions): Storage {
  // The database holds personal data: its folder is private to the server's user.
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const connection = new SQLite(path);
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = NORMAL');
  connection.pragma('foreign_keys = ON');
  connection.pragma('busy_timeout = 5000');
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
      bulk ??= sqliteBulkReader(path);
      return bulk.db;
    },
    get bulk() {
      bulk ??= sqliteBulkReader(path);
      return bulk;
    },
    close: async () => {
      await bulk?.close();
      await db.destroy();
    },
    ping: () => ping(db),
    transact: (work) => groupCommit.run(work),
  };
}

/** A connection for long reads: queries built with `db`, rows read as arrays with `rows`. */
export interface BulkReader extends RawReader {
  db: Db;
}

/** SQLite's bulk reader: a read-only connection (`openSqliteReader`), opened on first use. */
function sqliteBulkReader(path: string): BulkReader {
  let reader: SQLite.Database | null = null;
  const open = (): SQLite.Database => (reader ??= openSqliteReader(path));
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: async () => open() }) });
  const rows = sqliteRows(open);
  return {
    db,
    rows,
    close: async () => {
      await db.destroy();
      // A connection only `rows` used is not Kysely's to close.
      if (reader?.open) reader.close();
    },
  };
}

function openPostgres(url: string, poolSize: number, options: StorageOptions): Storage {
  const schema = options.pgSchema;
  const clientConfig: pg.ClientConfig = {
    connectionString: withDefaultUser(url),
    types: pgTypes,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  };
  const pool = new pg.Pool({ ...clientConfig, max: poolSize });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const unitReads = new UnitReads();
  const catalog = new SharedReads({ connect: () => new pg.Client(clientConfig) });
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    plugins: [invalidatingPlugin([unitReads.invalidation(), { tables: CATALOG_TABLES, invalidate: () => catalog.invalidate() }])],
  });
  attachUnitReads(db, unitReads, catalog);
  return {
    db,
    dialect: 'postgres',
    options,
    file: null,
    readCache: null,
    bulkDb: db,
    bulk: { db, rows: postgresRows(pool), close: async () => undefined },
    close: async () => {
      await catalog.close();
      await db.destroy();
    },
    ping: () => ping(db),
    transact: (work) =>
      db
        .transaction()
        .execute(work)
        .catch((error: unknown) => {
          // The unit may have read its own catalog change, which is now undone.
          catalog.invalidate();
          throw error;
        }),
  };
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
