import { afterEach, describe, expect, it } from 'vitest';
import { revokeRememberedDevices } from '../src/modules/access/remember.js';
import { authFixture } from './helpers/auth.js';
import { BURST_SETUPS, burst, createTestCluster, fulfilled, type TestCluster } from './helpers/cluster.js';
import { testActor } from './helpers/runtime.js';

/** Conditional access's per-user states under bursts: app passwords (a cap per user) and remembered-device tokens. */
describe.each(BURST_SETUPS)('app passwords and remembered devices under bursts on $name', (setup) => {
  let c: TestCluster;
  afterEach(() => c.dispose());

  it('creates at most 40 app passwords for a user from 46 simultaneous requests', async () => {
    c = await createTestCluster(setup);
    await authFixture(c.runtime);
    const results = await burst(46, (i) => c.node(i).appPasswords.create('alice@contoso.com', `mail client ${i}`, testActor));
    expect(fulfilled(results)).toHaveLength(40);
    expect(results.filter((result) => result.status === 'rejected').map((result) => (result as PromiseRejectedResult).reason.code)).toEqual(Array(6).fill('conflict'));
    expect(await c.runtime.appPasswords.list('alice@contoso.com')).toHaveLength(40);
  });

  it('issues one remembered-device token for a challenge answered 6 times at once', async () => {
    c = await createTestCluster(setup);
    await c.runtime.policies.create({ name: 'MFA, remembered a week', users: { include: ['all'] }, grant: 'mfa', remember_mfa_days: 7 }, testActor);
    // Per-user MFA off: the policy alone requires MFA, and it lets a device remember it.
    const { application, request, token } = await authFixture(c.runtime, 'alice@contoso.com', { mfa_state: 'Disabled' });
    const pending = await c.runtime.engine.auth(request({ remember: true }));
    expect(pending).toMatchObject({ result: 'waiting', result_code: 'SUCCESS_OATH_CODE_PENDING' });
    const answers = fulfilled(await burst(6, (i) => c.node(i).engine.respond(application, pending.txid!, { passcode: token.code(c.clock.now()) })));
    expect(answers.every((answer) => answer.result === 'allow')).toBe(true);
    expect(new Set(answers.map((answer) => answer.remember_token)).size).toBe(1);
    expect(answers[0]!.remember_token).toMatch(/^rd1\./);
  });

  it('honours no token issued before a revocation, whichever node a sign-in reaches', async () => {
    c = await createTestCluster(setup);
    await c.runtime.policies.create({ name: 'MFA, remembered a week', users: { include: ['all'] }, grant: 'mfa', remember_mfa_days: 7 }, testActor);
    const { request, token } = await authFixture(c.runtime, 'alice@contoso.com', { mfa_state: 'Disabled' });
    const first = await c.runtime.engine.auth(request({ passcode: token.code(c.clock.now()), remember: true }));
    expect(first.remember_token).toMatch(/^rd1\./);
    c.clock.advance(1000);
    await revokeRememberedDevices({ transact: c.runtime.storage.transact, clock: c.clock, directory: c.runtime.directory }, 'alice@contoso.com', testActor);
    const answers = fulfilled(await burst(6, (i) => c.node(i).engine.auth(request({ rememberToken: first.remember_token!, ip: `198.51.100.${i + 1}` }))));
    expect(answers.some((answer) => answer.detail === 'skipped due to remembered device')).toBe(false);
  });
});
