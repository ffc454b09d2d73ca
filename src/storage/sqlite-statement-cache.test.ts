import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { withStatementCache } from './sqlite-statement-cache.js';

describe('SQLite statement cache', () => {
  it('reuses the prepared statement for the same SQL and evicts the least recently used', () => {
    const connection = new SQLite(':memory:');
    const prepared: string[] = [];
    const original = connection.prepare.bind(connection);
    connection.prepare = ((sql: string) => {
      prepared.push(sql);
      return original(sql);
    }) as typeof connection.prepare;
    const db = withStatementCache(connection, 2);
    expect(db.prepare('select 1 as a').all([])).toEqual([{ a: 1 }]);
    expect(db.prepare('select 1 as a').all([])).toEqual([{ a: 1 }]);
    db.prepare('select 2 as b');
    db.prepare('select 1 as a');
    db.prepare('select 3 as c'); // evicts "select 2", the least recently used
    db.prepare('select 1 as a');
    db.prepare('select 2 as b');
    expect(prepared).toEqual(['select 1 as a', 'select 2 as b', 'select 3 as c', 'select 2 as b']);
    db.close();
    expect(connection.open).toBe(false);
  });

  it('keeps statements with parameters correct across reuse', () => {
    const db = withStatementCache(new SQLite(':memory:'));
    db.prepare('create table t (v integer)').run([]);
    for (const value of [1, 2, 3]) db.prepare('insert into t (v) values (?)').run([value]);
    expect(db.prepare('select sum(v) as s from t where v > ?').all([1])).toEqual([{ s: 5 }]);
    expect(db.prepare('select sum(v) as s from t where v > ?').all([2])).toEqual([{ s: 3 }]);
  });
});
