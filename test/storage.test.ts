import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../src/shared/clock.js';
import type { Storage } from '../src/storage/database.js';
import { isUniqueViolation } from '../src/storage/errors.js';
import { migrateToLatest, migrationStatus, rollbackLast, type Migration } from '../src/storage/migrator.js';
import { migrations } from '../src/storage/migrations/index.js';
import { groupsRepository } from '../src/storage/repositories/groups.js';
import { usersRepository } from '../src/storage/repositories/users.js';
import type { NewUserRow } from '../src/storage/schema.js';
import { createTestStorage, DIALECTS, type TestStorage } from './helpers/storage.js';

const clock = new FakeClock();

const user = (name: string, extra: Partial<NewUserRow> = {}): NewUserRow => ({
  id: `id-${name}`,
  username: name,
  username_key: name.toLowerCase(),
  first_name: null,
  last_name: null,
  email: null,
  language: 'en',
  account_enabled: 1,
  mfa_state: 'Enabled',
  pin_hash: null,
  pin_change_required: 0,
  phone_country_code: null,
  phone_number: null,
  phone_extension: null,
  backup_country_code: null,
  backup_phone_number: null,
  backup_extension: null,
  created_at: 1_700_000_000_123,
  updated_at: 1_700_000_000_123,
  ...extra,
});

describe.each(DIALECTS)('storage on %s', (dialect) => {
  let test: TestStorage;
  let storage: Storage;

  beforeEach(async () => {
    test = await createTestStorage(dialect);
    storage = test.storage;
    await migrateToLatest(storage.db, storage.dialect, clock);
  });
  afterEach(() => test.dispose());

  it('reads long downloads through the bulk connection: committed rows, and on SQLite nothing written through it', async () => {
    await usersRepository.insert(storage.db, user('bulk-reader'));
    expect(await storage.bulkDb.selectFrom('users').select('username').execute()).toEqual([{ username: 'bulk-reader' }]);
    if (storage.dialect === 'sqlite') {
      await expect(storage.bulkDb.deleteFrom('users').execute()).rejects.toThrow(/readonly/);
      expect(await usersRepository.count(storage.db)).toBe(1);
    } else {
      expect(storage.bulkDb).toBe(storage.db);
    }
  });

  describe('migrations', () => {
    it('apply once: a second run applies nothing', async () => {
      expect(await migrateToLatest(storage.db, storage.dialect, clock)).toEqual([]);
      expect((await migrationStatus(storage.db)).every((row) => row.appliedAt !== null)).toBe(true);
    });

    it('roll back and apply again', async () => {
      expect(await rollbackLast(storage.db, storage.dialect)).toBe(migrations[migrations.length - 1]!.name);
      expect(await migrateToLatest(storage.db, storage.dialect, clock)).toEqual([migrations[migrations.length - 1]!.name]);
      await usersRepository.insert(storage.db, user('after-redo'));
      expect(await usersRepository.count(storage.db)).toBe(1);
    });

    it('never half-apply: a failing migration leaves no table and no record', async () => {
      const broken: Migration = {
        name: '9999-broken',
        async up(db) {
          await db.schema.createTable('half_made').addColumn('id', 'integer').execute();
          throw new Error('boom');
        },
        async down() {},
      };
      await expect(migrateToLatest(storage.db, storage.dialect, clock, [...migrations, broken])).rejects.toThrow('boom');
      const status = await migrationStatus(storage.db, [...migrations, broken]);
      expect(status.find((row) => row.name === '9999-broken')?.appliedAt).toBeNull();
      await expect(sql`select * from half_made`.execute(storage.db)).rejects.toThrow();
    });
  });

  it('round-trips booleans, big timestamps and nulls', async () => {
    await usersRepository.insert(storage.db, user('Round', { account_enabled: 0, pin_change_required: 1, email: null }));
    const row = await usersRepository.findByKey(storage.db, 'round');
    expect(Boolean(row!.account_enabled)).toBe(false);
    expect(Boolean(row!.pin_change_required)).toBe(true);
    expect(row!.created_at).toBe(1_700_000_000_123);
    expect(typeof row!.created_at).toBe('number');
    expect(row!.email).toBeNull();
  });

  it('reports a duplicate username key as a unique violation', async () => {
    await usersRepository.insert(storage.db, user('dup'));
    const error = await usersRepository.insert(storage.db, user('DUP', { id: 'other' })).catch((caught: unknown) => caught);
    expect(isUniqueViolation(error)).toBe(true);
  });

  it('rolls a transaction back whole', async () => {
    await expect(
      storage.db.transaction().execute(async (trx) => {
        await usersRepository.insert(trx, user('inside'));
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await usersRepository.findByKey(storage.db, 'inside')).toBeUndefined();
  });

  it('pages users by username and searches case-insensitively, with wildcards taken literally', async () => {
    const names = ['carol', 'alice', 'bob', 'dave_x', 'daveyx', 'Eve'];
    for (const name of names) await usersRepository.insert(storage.db, user(name, { last_name: name === 'bob' ? 'Smith' : null }));
    const first = await usersRepository.list(storage.db, { limit: 2 });
    expect(first.map((row) => row.username)).toEqual(['alice', 'bob']);
    const next = await usersRepository.list(storage.db, { limit: 10, afterKey: 'bob' });
    expect(next.map((row) => row.username)).toEqual(['carol', 'dave_x', 'daveyx', 'Eve']);
    expect((await usersRepository.list(storage.db, { limit: 10, search: 'SMI' })).map((row) => row.username)).toEqual(['bob']);
    expect((await usersRepository.list(storage.db, { limit: 10, search: 'dave_' })).map((row) => row.username)).toEqual(['dave_x']);
    expect((await usersRepository.list(storage.db, { limit: 10, search: 'eve' })).map((row) => row.username)).toEqual(['Eve']);
  });

  it('removes memberships with the user but keeps the group', async () => {
    await usersRepository.insert(storage.db, user('member'));
    await groupsRepository.insert(storage.db, { id: 'g1', name: 'VPN', name_key: 'vpn', description: null, created_at: 1, updated_at: 1 });
    await groupsRepository.setMembership(storage.db, 'id-member', ['g1']);
    expect(await groupsRepository.memberCount(storage.db, 'g1')).toBe(1);
    await usersRepository.delete(storage.db, 'id-member');
    expect(await groupsRepository.memberCount(storage.db, 'g1')).toBe(0);
    expect(await groupsRepository.findByKey(storage.db, 'vpn')).toBeDefined();
  });

  it('answers the readiness ping', async () => {
    expect(await storage.ping()).toBe(true);
  });
});
