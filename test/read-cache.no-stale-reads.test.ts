import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Executor } from '../src/storage/database.js';
import { prepared } from '../src/storage/prepared.js';
import { declaredReads, isKept, sharedReadsOf, type CachedRead, type TableName } from '../src/storage/read-cache.js';
import type { UserRow } from '../src/storage/schema.js';
import { authFixture } from './helpers/auth.js';
import { createTestRuntime, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

/**
 * An argument for each declared read that makes it read rows of the fixture.
 * A read declared without one here fails the first test: add it.
 */
const EXAMPLES: Record<string, (user: UserRow) => unknown> = {
  'user by name': (user) => user.username_key,
  'group names of a user': (user) => user.id,
  'active OATH tokens of a user': (user) => user.id,
  'conditional access catalog': () => undefined,
  'policies and groups of a user': (user) => user.id,
};

const nothing = sql<boolean>`1 = 0`;
/** Writes of every kind that change no row: the memories cannot tell them from writes that do, and must drop the read all the same. */
const WRITES: Record<string, (db: Executor, table: TableName, column: string) => Promise<unknown>> = {
  'built insert': (db, table) => db.insertInto(table as 'users').expression(db.selectFrom(table as 'users').selectAll().where(nothing)).execute(),
  'built update': (db, table, column) => db.updateTable(table as 'users').set({ [column]: sql.ref(column) } as never).where(nothing).execute(),
  'built delete': (db, table) => db.deleteFrom(table as 'users').where(nothing).execute(),
  'raw SQL': (db, table) => sql`delete from ${sql.table(table)} where 1 = 0`.execute(db),
  'prepared insert': (db, table) => prepared((pdb) => pdb.insertInto(table as 'users').expression(pdb.selectFrom(table as 'users').selectAll().where(nothing)))(db, {}),
  'prepared update': (db, table, column) => prepared((pdb) => pdb.updateTable(table as 'users').set({ [column]: sql.ref(column) } as never).where(nothing))(db, {}),
  'prepared delete': (db, table) => prepared((pdb) => pdb.deleteFrom(table as 'users').where(nothing))(db, {}),
};

type Read = CachedRead<unknown, unknown>;

describe.each(DIALECTS)('declared cached reads on %s', (dialect) => {
  let t: TestRuntime;
  let user: UserRow;
  /** A column of each table, for the updates. */
  const columnOf = new Map<string, string>();
  beforeAll(async () => {
    t = await createTestRuntime(dialect);
    await authFixture(t.runtime);
    user = (await t.runtime.storage.db.selectFrom('users').selectAll().executeTakeFirstOrThrow()) as UserRow;
    for (const table of await t.runtime.storage.db.introspection.getTables()) columnOf.set(table.name, table.columns[0]!.name);
    if (dialect === 'postgres') {
      // The shared reads are kept only while the node hears of other nodes' changes.
      await t.runtime.storage.transact((unit) => (declaredReads().find((read) => read.shared) as Read)(unit, undefined));
      for (const until = Date.now() + 2_000; !sharedReadsOf(t.runtime.storage.db)!.listening; ) {
        if (Date.now() > until) throw new Error('the shared reads did not start listening within 2 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  });
  afterAll(() => t.dispose());

  it('has an example argument for every declared read', () => {
    expect(declaredReads().length).toBeGreaterThan(0);
    expect(declaredReads().map((read) => read.name).sort()).toEqual(Object.keys(EXAMPLES).sort());
  });

  const cases = () => declaredReads().flatMap((read) => [...read.tables].flatMap((table) => Object.keys(WRITES).map((write) => ({ read: read as Read, table, write }))));

  it('drops a read after every kind of write, built or prepared, to every table it declares', async () => {
    const stale: string[] = [];
    for (const { read, table, write } of cases()) {
      const arg = EXAMPLES[read.name]!(user);
      await t.runtime.storage.transact(async (unit) => {
        await read(unit, arg);
        if (!isKept(read, unit, arg)) throw new Error(`${read.name} was not kept after it was read`);
        await WRITES[write]!(unit, table, columnOf.get(table)!);
        if (isKept(read, unit, arg)) stale.push(`${read.name} after a ${write} of ${table}`);
      });
    }
    expect(stale).toEqual([]);
  });

  it('keeps a read when a write goes to a table it does not declare', async () => {
    const read = declaredReads().find((candidate) => candidate.name === 'user by name') as Read;
    const arg = EXAMPLES[read.name]!(user);
    await t.runtime.storage.transact(async (unit) => {
      await read(unit, arg);
      for (const write of Object.keys(WRITES).filter((name) => name !== 'raw SQL')) await WRITES[write]!(unit, 'signins', 'id');
      expect(isKept(read, unit, arg)).toBe(true);
    });
  });

  it.runIf(dialect === 'sqlite')('declares every table whose deletes reach its rows through a foreign key', async () => {
    const missing: string[] = [];
    for (const read of declaredReads()) {
      for (const table of read.tables) {
        // The migrations are written once for both dialects: SQLite's catalogue speaks for PostgreSQL's too.
        const { rows } = await sql<{ table: string; on_delete: string; on_update: string }>`select * from pragma_foreign_key_list(${table})`.execute(t.runtime.storage.db);
        for (const key of rows) {
          const acts = [key.on_delete, key.on_update].some((action) => action !== 'NO ACTION' && action !== 'RESTRICT');
          if (acts && !read.tables.has(key.table as TableName)) missing.push(`${read.name}: ${table} → ${key.table} (${key.on_delete})`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it.runIf(dialect === 'postgres')('shares only reads of tables whose every change is announced to the other nodes', async () => {
    const { rows } = await sql<{ table: string }>`select distinct event_object_table as table from information_schema.triggers where trigger_schema = current_schema()`.execute(t.runtime.storage.db);
    const announced = new Set(rows.map((row) => row.table));
    const unannounced = declaredReads()
      .filter((read) => read.shared)
      .flatMap((read) => [...read.tables].filter((table) => !announced.has(table)).map((table) => `${read.name}: ${table}`));
    expect(unannounced).toEqual([]);
  });
});
