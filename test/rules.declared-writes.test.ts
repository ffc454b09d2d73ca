import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { ClaimIssuers } from '../src/modules/access/claims.js';
import { issueRememberToken } from '../src/modules/access/remember.js';
import { usernameKey } from '../src/modules/directory/user-input.js';
import { GATE_RULES, SATISFY_RULES, type ReasonCode, type Rule, type SatisfyInput } from '../src/modules/auth/rules/index.js';
import { isPostgres, type Executor, type Unit } from '../src/storage/database.js';
import { usersRepository } from '../src/storage/repositories/users.js';
import { authFixture } from './helpers/auth.js';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

/**
 * Every table's rows, as text: two snapshots differ exactly where a table
 * changed. On PostgreSQL one statement reads them all (a digest of each
 * table's rows), since every statement is a round trip.
 */
async function snapshot(db: Executor): Promise<Map<string, string>> {
  if (isPostgres(db)) {
    const tables = (await sql<{ name: string }>`select tablename as name from pg_tables where schemaname = current_schema()`.execute(db)).rows.map((row) => row.name);
    const digests = sql.join(tables.map((name) => sql`(select coalesce(md5(string_agg(row::text, ',' order by row::text)), '') from ${sql.table(name)} as row) as ${sql.ref(name)}`));
    const row = (await sql<Record<string, string>>`select ${digests}`.execute(db)).rows[0]!;
    return new Map(Object.entries(row));
  }
  const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(db);
  const contents = new Map<string, string>();
  for (const { name } of tables.rows) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db);
    contents.set(name, rows.rows.map((row) => JSON.stringify(row)).sort().join('\n'));
  }
  return contents;
}

const changedTables = (before: Map<string, string>, after: Map<string, string>): string[] =>
  [...new Set([...before.keys(), ...after.keys()])].filter((table) => before.get(table) !== after.get(table)).sort();

/** Thrown to roll a case's unit back, so that every case starts from what its setup committed. */
class RollBack extends Error {}

type Fixture = Awaited<ReturnType<typeof authFixture>>;

interface Case {
  rule: Rule<SatisfyInput>;
  /** What the rule must answer: proof that the case reached the branch it is about. */
  expect: ReasonCode;
  /** Committed before the rule runs. */
  setup?: (f: Fixture) => Promise<void>;
  input?: (f: Fixture) => Partial<SatisfyInput>;
}

const rule = (name: string): Rule<SatisfyInput> => [...GATE_RULES, ...SATISFY_RULES].find((candidate) => candidate.name === name)!;

/**
 * A rule declared as reading (`effects: 'none'`) changes no table, on any
 * branch; a writing rule changes only the tables it declares, and each of
 * them on some branch. Each case runs one rule in a unit against a real
 * store, compares every table before and after, and rolls the unit back.
 */
describe.each(DIALECTS)('rules write only what they declare, on %s', (dialect) => {
  let t: TestRuntime;
  afterEach(() => t.dispose());

  const wrongCodes = async (f: Fixture, count: number) => {
    for (let i = 0; i < count; i += 1) {
      const real = f.token.code(t.clock.now());
      // Each from an IP of its own, so that only the user's count grows.
      await t.runtime.engine.auth(f.request({ passcode: real === '000000' ? '111111' : '000000', ip: `203.0.113.${i + 1}` }));
    }
  };
  const lockoutOf = (f: Fixture, expiresAt: number) =>
    t.runtime.storage.transact(async (unit) => {
      const user = (await usersRepository.lockByKey(unit, usernameKey(f.user.username)))!;
      await t.runtime.blocks.blockInTransaction(unit, user, { reason: 'test lockout', accountLockout: true, expiresAt, blockedBy: 'system:throttle' });
    });

  /** The app password the last case that made one was shown. */
  let appPassword = '';

  const CASES: Case[] = [
    { rule: rule('account_disabled'), expect: 'account_enabled' },
    { rule: rule('account_disabled'), expect: 'account_disabled', setup: async (f) => void (await t.runtime.storage.db.updateTable('users').set({ account_enabled: 0 }).where('id', '=', f.user.id).execute()) },
    { rule: rule('lockout'), expect: 'no_open_block' },
    { rule: rule('lockout'), expect: 'not_a_lockout', setup: async (f) => void (await t.runtime.blocks.block(f.user.username, 'reported stolen', testActor)) },
    { rule: rule('lockout'), expect: 'locked_out', setup: (f) => lockoutOf(f, t.clock.now() + 60_000) },
    { rule: rule('lockout'), expect: 'lockout_ended', setup: (f) => lockoutOf(f, t.clock.now() - 1) },
    { rule: rule('throttle'), expect: 'under_failure_limits' },
    { rule: rule('throttle'), expect: 'user_over_failure_limit', setup: (f) => wrongCodes(f, 5) },
    {
      rule: rule('throttle'),
      expect: 'ip_over_failure_limit',
      setup: async (f) => {
        for (const name of ['x1', 'x2', 'x3']) await t.runtime.engine.auth(f.request({ username: name, ip: '192.0.2.99' }));
      },
      input: () => ({ ip: '192.0.2.99' }),
    },
    { rule: rule('user_blocked'), expect: 'not_blocked' },
    { rule: rule('user_blocked'), expect: 'user_blocked', setup: async (f) => void (await t.runtime.blocks.block(f.user.username, 'reported stolen', testActor)) },
    { rule: rule('trusted_broker'), expect: 'not_a_broker_flow' },
    { rule: rule('trusted_broker'), expect: 'broker_flow', input: (f) => ({ access: { ...t.runtime.config.access, trustedBrokers: `${f.application.name}/winlogon` }, entryPoint: 'winlogon' }) },
    { rule: rule('token_claim'), expect: 'no_claim_token' },
    { rule: rule('token_claim'), expect: 'claim_refused', input: () => ({ claimToken: 'not-a-jwt' }) },
    { rule: rule('remembered_device'), expect: 'no_remember_token' },
    { rule: rule('remembered_device'), expect: 'remember_token_invalid', input: () => ({ rememberToken: 'rd1.not-a-token' }) },
    { rule: rule('remembered_device'), expect: 'device_remembered', input: (f) => ({ rememberToken: issueRememberToken(t.runtime.keyring, f.user.id, t.clock.now(), 7).token }) },
    {
      rule: rule('remembered_device'),
      expect: 'policy_does_not_remember',
      input: (f) => ({ rememberToken: issueRememberToken(t.runtime.keyring, f.user.id, t.clock.now(), 7).token, requirement: { policy: 'per-user MFA', rememberDays: null } }),
    },
    { rule: rule('app_password'), expect: 'no_app_password' },
    { rule: rule('app_password'), expect: 'app_password_wrong', setup: async (f) => void (await t.runtime.appPasswords.create(f.user.username, 'mail', testActor)), input: () => ({ appPassword: 'not-the-password' }) },
    {
      rule: rule('app_password'),
      expect: 'app_password_used',
      setup: async (f) => {
        appPassword = (await t.runtime.appPasswords.create(f.user.username, 'mail', testActor)).password;
      },
      input: () => ({ appPassword }),
    },
    { rule: rule('bypass'), expect: 'no_bypass' },
    { rule: rule('bypass'), expect: 'bypass_used', setup: async (f) => void (await t.runtime.bypasses.grant(f.user.username, { seconds: 300, reason: 'lost phone' }, testActor)) },
    {
      rule: rule('bypass'),
      expect: 'bypass_expired',
      setup: async (f) => {
        await t.runtime.bypasses.grant(f.user.username, { seconds: 60, reason: 'lost phone' }, testActor);
        t.clock.advance(61_000);
      },
    },
    { rule: rule('cache'), expect: 'cache_off' },
    { rule: rule('cache'), expect: 'no_cache_entry', input: () => ({ config: { ...t.runtime.config.auth, cacheKind: 'user', cacheSeconds: 300 } }) },
    {
      rule: rule('cache'),
      expect: 'cache_hit',
      setup: async (f) => void (await t.runtime.engine.auth(f.request({ passcode: f.token.code(t.clock.now()) }))),
      input: () => ({ config: { ...t.runtime.config.auth, cacheKind: 'ip', cacheSeconds: 300 } }),
    },
    { rule: rule('phone_busy'), expect: 'none_in_progress' },
    { rule: rule('phone_busy'), expect: 'in_progress', input: () => ({ openChallenges: ['an-open-challenge'] }) },
  ];

  /** Runs one case's rule in a unit of its own, rolled back: the tables it changed and the code it answered. */
  async function run(c: Case, index: number): Promise<{ changed: string[]; code: ReasonCode }> {
    const f = await authFixture(t.runtime, `case${index}@contoso.com`);
    await c.setup?.(f);
    let result: { changed: string[]; code: ReasonCode } | undefined;
    await t.runtime.storage
      .transact(async (unit: Unit) => {
        const user = (await usersRepository.lockByKey(unit, usernameKey(f.user.username)))!;
        const config = t.runtime.config;
        const input: SatisfyInput = {
          db: unit,
          clock: t.clock,
          keyring: t.runtime.keyring,
          config: config.auth,
          access: config.access,
          claimIssuers: ClaimIssuers.none(),
          blocks: t.runtime.blocks,
          user,
          application: f.application,
          ip: '198.51.100.7',
          authType: 'vpn',
          entryPoint: 'http_api',
          clientType: 'modern',
          deviceId: null,
          openChallenges: [],
          requirement: { policy: 'per-user MFA', rememberDays: 30 },
          ...c.input?.(f),
        };
        const before = await snapshot(unit);
        const decision = await c.rule.evaluate(input);
        result = { changed: changedTables(before, await snapshot(unit)), code: decision.reason.code };
        throw new RollBack();
      })
      .catch((error: unknown) => {
        if (!(error instanceof RollBack)) throw error;
      });
    return result!;
  }

  it('every rule, on each branch: a reading rule changes nothing, a writing rule its declared tables', async () => {
    t = await createTestRuntime(dialect, { auth: { ipFailureLimit: 3 } });
    const changedByRule = new Map<string, Set<string>>();
    for (const [index, c] of CASES.entries()) {
      const { changed, code } = await run(c, index);
      expect(code, `${c.rule.name}: case ${index}`).toBe(c.expect);
      if (c.rule.effects === 'none') expect(changed, `${c.rule.name} (reading) answering ${code}`).toEqual([]);
      const seen = changedByRule.get(c.rule.name) ?? new Set<string>();
      changed.forEach((table) => seen.add(table));
      changedByRule.set(c.rule.name, seen);
    }
    // Every rule of the engine has cases, and a writing rule writes all it declares and nothing else.
    expect([...changedByRule.keys()].sort()).toEqual([...GATE_RULES, ...SATISFY_RULES].map((each) => each.name).sort());
    for (const each of [...GATE_RULES, ...SATISFY_RULES]) {
      const declared = each.effects === 'writes' ? [...each.tables].sort() : [];
      expect([...changedByRule.get(each.name)!].sort(), each.name).toEqual(declared);
    }
  });
});
