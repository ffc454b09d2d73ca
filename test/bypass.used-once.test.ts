import { afterEach, describe, expect, it } from 'vitest';
import { authFixture } from './helpers/auth.js';
import { BURST_SETUPS, burst, createTestCluster, fulfilled, type TestCluster } from './helpers/cluster.js';
import { testActor } from './helpers/runtime.js';

describe.each(BURST_SETUPS)('a one-time bypass on $name', (setup) => {
  let c: TestCluster;
  afterEach(() => c.dispose());

  it('is used by exactly one of 12 simultaneous authentications, and recorded used once', async () => {
    c = await createTestCluster(setup);
    const { request } = await authFixture(c.runtime);
    await c.runtime.bypasses.grant('alice@contoso.com', { seconds: 300, reason: 'lost phone' }, testActor);
    const results = await burst(12, (i) => c.node(i).engine.auth(request({ ip: `198.51.100.${i + 1}` })));
    const answers = fulfilled(results);
    expect(answers.filter((answer) => answer.result_code === 'SUCCESS_BYPASSED_AUTH')).toHaveLength(1);
    const signins = await c.runtime.storage.db.selectFrom('signins').select('result_code').where('result_code', '=', 'SUCCESS_BYPASSED_AUTH').execute();
    expect(signins).toHaveLength(1);
    const history = (await c.runtime.bypasses.history({ username: 'alice@contoso.com' })).items;
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ bypass_used: true, completion_reason: 'used' });
  });

  it('is granted once when two administrators grant at the same instant: one open bypass, the other replaced', async () => {
    c = await createTestCluster(setup);
    await authFixture(c.runtime);
    await burst(6, (i) => c.node(i).bypasses.grant('alice@contoso.com', { seconds: 300, reason: `grant ${i}` }, testActor));
    const history = (await c.runtime.bypasses.history({ username: 'alice@contoso.com' })).items;
    expect(history).toHaveLength(6);
    // Every grant but the last replaced the one before it: exactly one is open, and it is the user's.
    const open = history.filter((record) => record.completed_at === null);
    expect(open).toHaveLength(1);
    const user = await c.runtime.storage.db.selectFrom('users').select('bypass_id').where('username_key', '=', 'alice@contoso.com').executeTakeFirstOrThrow();
    expect(Number(user.bypass_id)).toBe(open[0]!.id);
  });
});
