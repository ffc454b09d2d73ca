import SQLite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReadCache, cachedRead, readCacheOf } from '../src/storage/read-cache.js';
import { addToken, authFixture } from './helpers/auth.js';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

/** A read of the tests' own, declared like the real ones; `probeLoads` counts its trips to the database. */
let probeLoads = 0;
const probe = cachedRead({ name: 'probe', tables: ['users'], key: (name: string) => name, load: async () => ((probeLoads += 1), 'row') });

describe('read cache', () => {
  it('keeps at most its capacity, dropping the least recently used entry', async () => {
    const cache = new ReadCache(2);
    const loads: string[] = [];
    const read = (key: string) => cache.get(probe, key, async () => (loads.push(key), key.toUpperCase()));
    await read('a');
    await read('b');
    expect(await read('a')).toBe('A'); // a is now the most recently used
    await read('c'); // drops b
    await read('a');
    await read('b');
    expect(loads).toEqual(['a', 'b', 'c', 'b']);
    expect(cache.stats()).toMatchObject({ entries: 2, hits: 2, misses: 4 });
  });

  it('does not keep misses, nor a value read while it was emptied', async () => {
    const cache = new ReadCache(10);
    expect(await cache.get(probe, 'nobody', async () => undefined)).toBeUndefined();
    await cache.get(probe, 'raced', async () => {
      cache.invalidate(); // a write landed while the read was under way
      return 'old';
    });
    expect(cache.stats().entries).toBe(0);
  });
});

describe('authentication through the read cache on sqlite', () => {
  let t: TestRuntime;
  beforeEach(async () => {
    t = await createTestRuntime('sqlite');
  });
  afterEach(() => t.dispose());

  const cache = () => readCacheOf(t.runtime.storage.db)!;

  it('reads the user, groups and tokens once for the preauth and auth of a sign-in', async () => {
    const { token, request } = await authFixture(t.runtime);
    await t.runtime.engine.preauth(request());
    const before = cache().stats();
    const answer = await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }));
    expect(answer.result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
    const after = cache().stats();
    expect(after.misses - before.misses).toBe(1); // the groups, read for the attempt record only
    expect(after.hits - before.hits).toBeGreaterThanOrEqual(2); // user, tokens
  });

  it('never trusts a cached token for the replay check, and keeps its drift and last step', async () => {
    const { token, request } = await authFixture(t.runtime);
    const now = t.clock.now();
    expect((await t.runtime.engine.auth(request({ passcode: token.code(now) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
    expect((await t.runtime.engine.auth(request({ passcode: token.code(now) }))).result_code).toBe('FAILED_OATH_CODE_DUPLICATE');
    expect((await t.runtime.engine.auth(request({ passcode: token.code(now, -1) }))).result_code).toBe('FAILED_OATH_CODE_OLD');
    // A resync taught that the device runs five steps fast: codes around its time pass too, and the drift stays.
    await t.runtime.storage.db.updateTable('oath_tokens').set({ drift: 5 }).where('id', '=', token.id).execute();
    expect((await t.runtime.engine.auth(request({ passcode: token.code(now, 5) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
    t.clock.advance(30_000);
    expect((await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now(), 5) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
    // The device's clock was set right: a code of the server's window forgets the drift, in the cached row as in the table.
    t.clock.advance(6 * 30_000);
    expect((await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
    t.clock.advance(30_000);
    expect((await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now(), 5) }))).result_code).toBe('FAILED_OATH_CODE_INCORRECT');
    const stored = await t.runtime.storage.db.selectFrom('oath_tokens').select(['drift', 'last_used']).where('id', '=', token.id).executeTakeFirstOrThrow();
    expect(Number(stored.drift)).toBe(0);
    expect(cache().stats().hits).toBeGreaterThan(0);
  });

  it('sees a change made through this server at once', async () => {
    const { token, request } = await authFixture(t.runtime);
    await t.runtime.engine.preauth(request());
    expect(cache().stats().entries).toBeGreaterThan(0);
    await t.runtime.directory.update('alice@contoso.com', { account_enabled: false }, testActor);
    expect(cache().stats().entries).toBe(1); // the conditional access catalog, which depends on no table the change wrote
    const answer = await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }));
    expect(answer).toMatchObject({ result: 'deny', status_msg: 'the account is disabled' });
  });

  it('sees a token added or removed through this server at once', async () => {
    const { token, request, user } = await authFixture(t.runtime);
    await t.runtime.engine.preauth(request());
    const second = await addToken(t.runtime, user.id);
    expect((await t.runtime.engine.preauth(request())).methods[0]!.devices).toHaveLength(2);
    await t.runtime.oathTokens.delete('alice@contoso.com', token.id, testActor);
    expect((await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }))).result_code).toBe('FAILED_OATH_CODE_INCORRECT');
    expect((await t.runtime.engine.auth(request({ passcode: second.code(t.clock.now()) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
  });

  it('sees a change committed by another process (the CLI) at the next authentication', async () => {
    const { token, request } = await authFixture(t.runtime);
    await t.runtime.engine.preauth(request());
    const other = new SQLite(t.runtime.storage.file!);
    try {
      other.prepare("update users set account_enabled = 0 where username_key = 'alice@contoso.com'").run();
    } finally {
      other.close();
    }
    const answer = await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }));
    expect(answer).toMatchObject({ result: 'deny', status_msg: 'the account is disabled' });
  });

  it('is emptied when a unit of work rolls back, since it may have read what was never committed', async () => {
    const { request } = await authFixture(t.runtime);
    await t.runtime.engine.preauth(request());
    expect(cache().stats().entries).toBeGreaterThan(0);
    await expect(
      t.runtime.storage.transact(async () => {
        throw new Error('unit failed');
      }),
    ).rejects.toThrow('unit failed');
    expect(cache().stats().entries).toBe(0);
  });

  it('does not keep unknown user names', async () => {
    const { request } = await authFixture(t.runtime);
    for (const name of ['mallory1', 'mallory2', 'mallory3']) await t.runtime.engine.auth({ ...request({ passcode: '123456' }), username: name });
    expect(cache().stats().entries).toBe(0);
  });
});

describe.each(DIALECTS.filter((dialect) => dialect === 'postgres'))('no read cache on %s', (dialect) => {
  it('reads a row once per unit of work, again after a write to a cached table, and never keeps it past the unit (a read through the cache takes a Unit: there is no read outside one)', async () => {
    const t = await createTestRuntime(dialect);
    try {
      probeLoads = 0;
      await t.runtime.storage.transact(async (trx) => {
        await probe(trx, 'alice');
        await probe(trx, 'alice');
        expect(probeLoads).toBe(1);
        await trx.updateTable('users').set({ updated_at: 1 }).where('id', '=', 'nobody').execute();
        await probe(trx, 'alice');
        expect(probeLoads).toBe(2);
        // A write to a table nobody caches keeps the memo.
        await trx.deleteFrom('signins').where('id', '=', -1).execute();
        await probe(trx, 'alice');
        expect(probeLoads).toBe(2);
      });
      await t.runtime.storage.transact((trx) => probe(trx, 'alice'));
      expect(probeLoads).toBe(3);
    } finally {
      await t.dispose();
    }
  });

  it('reads from the database every time: other nodes share it', async () => {
    const t = await createTestRuntime(dialect);
    try {
      expect(readCacheOf(t.runtime.storage.db)).toBeNull();
      expect(t.runtime.storage.readCache).toBeNull();
      const { token, request } = await authFixture(t.runtime);
      await t.runtime.storage.db.updateTable('users').set({ account_enabled: 0 }).execute();
      expect(await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }))).toMatchObject({ result: 'deny' });
    } finally {
      await t.dispose();
    }
  });
});
