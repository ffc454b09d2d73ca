import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';

/**
 * Reads that return rows as arrays of column values, for downloads of
 * millions of rows: no query builder (a download's worker threads load only
 * this and the formatter, and stay small), no object per row.
 */
export interface RawReader {
  rows(sql: string, parameters: readonly unknown[]): Promise<unknown[][]>;
  close(): Promise<void>;
}

/** Where a store is: what `openStorage` and a download's workers are given. */
export interface StoreLocation {
  /** postgres://..., sqlite:<path>, or empty for <dataDir>/countersign.db. */
  url: string;
  dataDir: string;
  /** PostgreSQL schema to use instead of public (tests isolate themselves with it). */
  pgSchema?: string;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;
/** bigint columns hold epoch milliseconds and counters that fit a double: read them as numbers. */
export const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID || oid === NUMERIC_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export const isPostgresUrl = (url: string): boolean => url.startsWith('postgres://') || url.startsWith('postgresql://');

/** The SQLite file a location names. */
export const sqlitePathOf = (location: StoreLocation): string =>
  resolve(location.url.startsWith('sqlite:') ? location.url.slice('sqlite:'.length) : resolve(location.dataDir, 'countersign.db'));

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

/** A read-only SQLite connection for long reads: no memory map (it would count in the process's memory), a 4 MB page cache. */
export function openSqliteReader(path: string): SQLite.Database {
  const reader = new SQLite(path, { readonly: true, fileMustExist: true });
  reader.pragma('busy_timeout = 5000');
  reader.pragma('mmap_size = 0');
  reader.pragma('cache_size = -4096');
  return reader;
}

/** `rows` over a SQLite connection, with its prepared statements kept (a download runs the same few many times). */
export function sqliteRows(connection: () => SQLite.Database): RawReader['rows'] {
  const statements = new Map<string, SQLite.Statement>();
  return async (sql, parameters) => {
    let statement = statements.get(sql);
    if (!statement) {
      if (statements.size >= 32) statements.clear();
      statement = connection().prepare(sql).raw();
      statements.set(sql, statement);
    }
    return statement.all(...parameters) as unknown[][];
  };
}

/** `rows` over a PostgreSQL pool: each query text a named prepared statement (parsed and planned once per connection). */
export function postgresRows(pool: pg.Pool): RawReader['rows'] {
  const names = new Map<string, string>();
  return async (sql, parameters) => {
    let name = names.get(sql);
    if (!name) {
      if (names.size >= 32) names.clear();
      name = `bulk_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
      names.set(sql, name);
    }
    return (await pool.query<unknown[]>({ name, text: sql, values: parameters as unknown[], rowMode: 'array' })).rows;
  };
}

/** A reader with a connection of its own: read-only on SQLite, one connection on PostgreSQL. */
export function openRawReader(location: StoreLocation): RawReader {
  if (isPostgresUrl(location.url)) {
    const pool = new pg.Pool({ connectionString: withDefaultUser(location.url), max: 1, types: pgTypes, ...(location.pgSchema ? { options: `-c search_path=${location.pgSchema}` } : {}) });
    pool.on('error', () => undefined);
    return { rows: postgresRows(pool), close: () => pool.end() };
  }
  const connection = openSqliteReader(sqlitePathOf(location));
  return {
    rows: sqliteRows(() => connection),
    close: async () => {
      connection.close();
    },
  };
}
