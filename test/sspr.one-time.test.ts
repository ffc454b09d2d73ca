import { afterEach, describe, expect, it } from 'vitest';
import { BURST_SETUPS, burst, createTestCluster, fulfilled, type TestCluster } from './helpers/cluster.js';
import { testActor } from './helpers/runtime.js';

const PASSWORD = 'correct horse battery';

const codesOf = (results: PromiseSettledResult<unknown>[]): string[] =>
  results.map((result) => (result.status === 'fulfilled' ? 'ok' : String((result.reason as { code?: string }).code)));

/** Self-service password reset's limits and one-time steps, under bursts (SPEC.md §6). */
describe.each(BURST_SETUPS)('self-service password reset under bursts on $name', (setup) => {
  let c: TestCluster;
  afterEach(() => c.dispose());

  async function start(overrides: Record<string, unknown> = {}) {
    c = await createTestCluster(setup, overrides);
    await c.runtime.directory.create({ username: 'dana@contoso.com' }, testActor);
    await c.runtime.selfService.setPassword('dana@contoso.com', PASSWORD, testActor);
    const user = await c.runtime.selfService.signIn('dana@contoso.com', PASSWORD, null);
    await c.runtime.selfService.registerEmail(user, 'dana.private@mail.example', null);
  }
  const mailCode = async () => {
    const row = await c.runtime.storage.db.selectFrom('mail_log').select('body').orderBy('created_at', 'desc').orderBy('id', 'desc').executeTakeFirstOrThrow();
    return /code to reset your password is (\d{8})/.exec(row.body ?? '')![1]!;
  };

  it('lets at most sspr.maxSignInFailures of 30 simultaneous wrong passwords be checked', async () => {
    await start({ sspr: { maxSignInFailures: 4 } });
    const results = await burst(30, (i) => c.node(i).selfService.signIn('dana@contoso.com', `wrong ${i}`, '198.51.100.7'));
    const codes = codesOf(results);
    expect(codes.filter((code) => code === 'unauthenticated')).toHaveLength(4);
    expect(codes.filter((code) => code === 'throttled')).toHaveLength(26);
  });

  it('starts at most sspr.maxResetsPerHour resets from 12 simultaneous starts', async () => {
    await start({ sspr: { maxResetsPerHour: 3 } });
    const codes = codesOf(await burst(12, (i) => c.node(i).selfService.start('dana@contoso.com', null)));
    expect(codes.filter((code) => code === 'ok')).toHaveLength(3);
    expect(await c.runtime.storage.db.selectFrom('sspr_sessions').select('id').execute()).toHaveLength(3);
  });

  it('checks at most five of 12 simultaneous wrong codes in one reset, then fails the reset', async () => {
    await start();
    const { session_id: id } = await c.runtime.selfService.start('dana@contoso.com', null);
    await c.runtime.selfService.verify(id, { method: 'email' }, null);
    const code = await mailCode();
    const wrong = code === '00000000' ? '00000001' : '00000000';
    const results = await burst(12, (i) => c.node(i).selfService.verify(id, { method: 'email', code: wrong }, null));
    const checked = results.filter((result) => result.status === 'rejected' && (result.reason as { code?: string }).code === 'sspr_not_verified');
    expect(checked).toHaveLength(5);
    expect((await c.runtime.selfService.state(id)).status).toBe('failed');
    // The right code no longer helps.
    await expect(c.runtime.selfService.verify(id, { method: 'email', code }, null)).rejects.toMatchObject({ code: 'conflict' });
  });

  it('sets the new password once for 6 simultaneous completions of a verified reset', async () => {
    await start();
    const { session_id: id } = await c.runtime.selfService.start('dana@contoso.com', null);
    await c.runtime.selfService.verify(id, { method: 'email' }, null);
    await c.runtime.selfService.verify(id, { method: 'email', code: await mailCode() }, null);
    const codes = codesOf(await burst(6, (i) => c.node(i).selfService.complete(id, `new password number ${i}`, null)));
    expect(codes.filter((code) => code === 'ok')).toHaveLength(1);
    expect(codes.filter((code) => code === 'conflict')).toHaveLength(5);
    const resets = await c.runtime.storage.db.selectFrom('audit_log').select('id').where('action', '=', 'user.password_reset').execute();
    expect(resets).toHaveLength(1);
    expect(fulfilled(await burst(1, () => c.runtime.selfService.state(id)))[0]).toMatchObject({ status: 'completed' });
  });
});
