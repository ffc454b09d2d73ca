import { afterEach, describe, expect, it } from 'vitest';
import { authFixture } from './helpers/auth.js';
import { BURST_SETUPS, burst, createTestCluster, fulfilled, type TestCluster } from './helpers/cluster.js';

/** A code that is not the token's current one (nor its neighbours in the window). */
const wrongCode = (right: string[]): string => ['000000', '111111', '222222', '333333'].find((code) => !right.includes(code))!;

describe.each(BURST_SETUPS)('throttling under a burst of guesses on $name', (setup) => {
  let c: TestCluster;
  afterEach(() => c.dispose());

  it('lets at most auth.userFailureLimit of 40 simultaneous wrong codes reach the code check', async () => {
    c = await createTestCluster(setup);
    const { request, token } = await authFixture(c.runtime);
    const now = c.clock.now();
    const guess = wrongCode([-1, 0, 1].map((offset) => token.code(now, offset)));
    const results = await burst(40, (i) => c.node(i).engine.auth(request({ passcode: guess, ip: `198.51.100.${i + 1}` })));
    const answers = fulfilled(results);
    expect(answers).toHaveLength(40);
    const checked = answers.filter((answer) => answer.result_code === 'FAILED_OATH_CODE_INCORRECT');
    const throttled = answers.filter((answer) => answer.result_code === 'FAILED_AUTHENTICATION_THROTTLED');
    expect(checked).toHaveLength(c.runtime.config.auth.userFailureLimit);
    expect(throttled).toHaveLength(40 - checked.length);
    // One lockout, however many requests saw the limit crossed.
    const lockouts = await c.runtime.storage.db.selectFrom('blocks').select('id').where('account_lockout', '=', 1).execute();
    expect(lockouts).toHaveLength(1);
  });

  it('refuses the right code too once the limit is reached in the same burst', async () => {
    c = await createTestCluster(setup);
    const { request, token } = await authFixture(c.runtime);
    const now = c.clock.now();
    const guess = wrongCode([-1, 0, 1].map((offset) => token.code(now, offset)));
    await burst(10, (i) => c.node(i).engine.auth(request({ passcode: guess })));
    const answer = await c.runtime.engine.auth(request({ passcode: token.code(now) }));
    expect(answer.result_code).toBe('FAILED_AUTHENTICATION_THROTTLED');
  });
});
