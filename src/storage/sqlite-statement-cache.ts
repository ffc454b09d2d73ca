import type { Database as SqliteConnection, Statement } from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/**
 * Kysely's SQLite driver prepares every statement anew, which costs about as
 * much as running a simple query. This wrapper keeps the most recently used
 * prepared statements by SQL text. Reusing one is safe: the driver runs one
 * query at a time on its single connection, and a streamed query holds the
 * connection until its iteration ends.
 */
export function withStatementCache(connection: SqliteConnection, capacity = 1000): SqliteDatabase {
  const cache = new Map<string, Statement>();
  return {
    close: () => {
      cache.clear();
      connection.close();
    },
    prepare: (sql: string) => {
      let statement = cache.get(sql);
      if (statement) {
        // Map keeps insertion order: delete and set moves the entry to the most recent end.
        cache.delete(sql);
      } else {
        statement = connection.prepare(sql);
        if (cache.size >= capacity) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}
