import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Database } from './schema.js';
import { writtenTables } from './written-tables.js';

// Queries are only built here, never run.
const db = new Kysely<Database>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (kysely) => new PostgresIntrospector(kysely),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

const written = (query: { toOperationNode(): unknown }) => {
  const tables = writtenTables(query.toOperationNode() as Parameters<typeof writtenTables>[0]);
  return tables === null || tables === 'all' ? tables : [...tables].sort();
};

describe('the tables a statement writes', () => {
  it('are none for a read, whatever it joins', () => {
    expect(written(db.selectFrom('users').innerJoin('user_groups', 'user_groups.user_id', 'users.id').selectAll())).toBeNull();
  });

  it('are the target of an insert, update or delete, not the tables it only reads', () => {
    expect(written(db.insertInto('signins').expression(db.selectFrom('signins').selectAll()))).toEqual(['signins']);
    expect(written(db.updateTable('users').set({ updated_at: 1 }).where('id', 'in', db.selectFrom('challenges').select('user_id')))).toEqual(['users']);
    expect(written(db.deleteFrom('oath_tokens').where('user_id', 'in', db.selectFrom('users').select('id')))).toEqual(['oath_tokens']);
  });

  it('include the writes of a WITH clause', () => {
    const attemptAndSignin = db
      .with('attempt', (qb) => qb.insertInto('auth_attempts').values({ user_group: db.selectFrom('groups').select('name') } as never).returning('id'))
      .insertInto('signins')
      .values((eb) => ({ attempt_id: eb.selectFrom('attempt').select('attempt.id') }) as never);
    expect(written(attemptAndSignin)).toEqual(['auth_attempts', 'signins']);
    expect(written(db.with('gone', (qb) => qb.deleteFrom('blocks').returning('id')).selectFrom('gone').selectAll())).toEqual(['blocks']);
  });

  it('are every table for SQL the builder did not make', () => {
    expect(written(sql`delete from users`)).toBe('all');
  });
});
