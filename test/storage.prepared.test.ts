import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../src/shared/clock.js';
import type { Storage } from '../src/storage/database.js';
import { migrateToLatest } from '../src/storage/migrator.js';
import { prepared } from '../src/storage/prepared.js';
import { createTestStorage, DIALECTS, type TestStorage } from './helpers/storage.js';

const user = (name: string, enabled: boolean) => ({
  id: `id-${name}`,
  username: name,
  username_key: name,
  first_name: null,
  last_name: null,
  email: null,
  language: 'en',
  account_enabled: enabled ? 1 : 0,
  mfa_state: 'Enabled',
  pin_hash: null,
  pin_change_required: 0,
  created_at: 1,
  updated_at: 1,
});

describe.each(DIALECTS)('prepared queries on %s', (dialect) => {
  let test: TestStorage;
  let storage: Storage;
  let builds: number;
  // A constant of the builder (status) next to two parameters, one of them used twice.
  const enabledUsers = prepared<{ from: string; to: string }, { username: string }>((db, param) => {
    builds += 1;
    return db
      .selectFrom('users')
      .select('username')
      .where('account_enabled', '=', 1)
      .where('username_key', '>=', param('from'))
      .where('username_key', '<=', param('to'))
      .where((eb) => eb.or([eb('username_key', '=', param('from')), eb('username_key', '!=', param('from'))]))
      .orderBy('username_key');
  });

  beforeEach(async () => {
    test = await createTestStorage(dialect);
    storage = test.storage;
    await migrateToLatest(storage.db, storage.dialect, new FakeClock());
    builds = 0;
    await storage.db.insertInto('users').values([user('a', true), user('b', false), user('c', true), user('d', true)]).execute();
  });
  afterEach(() => test.dispose());

  it('binds new values on each run and keeps the constants the builder put in', async () => {
    expect((await enabledUsers(storage.db, { from: 'a', to: 'c' })).rows.map((row) => row.username)).toEqual(['a', 'c']);
    expect((await enabledUsers(storage.db, { from: 'c', to: 'z' })).rows.map((row) => row.username)).toEqual(['c', 'd']);
  });

  it('builds the query once per database, and runs it in transactions of that database', async () => {
    await enabledUsers(storage.db, { from: 'a', to: 'z' });
    await storage.transact((trx) => enabledUsers(trx, { from: 'a', to: 'z' }));
    await storage.db.transaction().execute((trx) => enabledUsers(trx, { from: 'a', to: 'z' }));
    expect(builds).toBe(1);
    const other = await createTestStorage(dialect);
    try {
      await migrateToLatest(other.storage.db, other.storage.dialect, new FakeClock());
      expect((await enabledUsers(other.storage.db, { from: 'a', to: 'z' })).rows).toEqual([]);
      expect(builds).toBe(2);
    } finally {
      await other.dispose();
    }
  });

  it('takes values from a function of the parameter name', async () => {
    const values: Record<string, string> = { from: 'b', to: 'd' };
    const { rows } = await enabledUsers(storage.db, (name) => values[name]!);
    expect(rows.map((row) => row.username)).toEqual(['c', 'd']);
  });

  it('refuses to run with a parameter missing instead of binding undefined', async () => {
    await expect(enabledUsers(storage.db, { from: 'a' } as never)).rejects.toThrow('no value for parameter to');
  });

  it('reports the rows a prepared write changed', async () => {
    const disable = prepared<{ key: string }, never>((db, param) => db.updateTable('users').set({ account_enabled: 0 }).where('username_key', '=', param('key')));
    expect(Number((await disable(storage.db, { key: 'c' })).numAffectedRows)).toBe(1);
    expect(Number((await disable(storage.db, { key: 'nobody' })).numAffectedRows)).toBe(0);
  });
});
