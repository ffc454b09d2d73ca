import { afterEach, describe, expect, it } from 'vitest';
import { addToken } from './helpers/auth.js';
import { startAppServer } from './helpers/app-server.js';
import { testActor } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

/** Number matching off, so the defence has something to turn on; no fallback, so a denial ends the sign-in. */
const FATIGUE = { app: { numberMatching: false, unansweredForMatching: 2, unansweredForCodes: 3, pushLimit: 5, pushWindowMinutes: 15 }, auth: { fallbackOath: false } };

describe.each(DIALECTS)('the push-fatigue defence on %s', (dialect) => {
  let server: Awaited<ReturnType<typeof startAppServer>>;
  afterEach(() => server.close());
  const db = () => server.t.runtime.storage.db;
  const lastSignin = () => db().selectFrom('signins').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow();

  async function setUp(withOath: boolean) {
    server = await startAppServer(dialect, FATIGUE);
    const user = await server.t.runtime.directory.create({ username: 'bob@contoso.com' }, testActor);
    const device = await server.device();
    const token = withOath ? await addToken(server.t.runtime, user.id) : null;
    return { device, token };
  }

  /** One push, denied in the app. */
  async function denied(device: Awaited<ReturnType<typeof setUp>>['device']) {
    server.t.clock.advance(1000);
    const started = await server.t.runtime.engine.auth(server.request());
    const [seen] = await device.pushes();
    await device.answer(seen!.txid, { decision: 'deny' });
    return started;
  }

  it('requires number matching after repeated denials, then asks for a code instead of pushing', async () => {
    const { device, token } = await setUp(true);
    expect(await denied(device)).not.toHaveProperty('number');
    expect(await denied(device)).not.toHaveProperty('number');
    expect((await lastSignin()).push_fatigue).toBeNull();
    // Two denied: number matching although app.numberMatching is off.
    const third = await denied(device);
    expect(third).toMatchObject({ result: 'waiting', number: expect.stringMatching(/^\d{2}$/) });
    expect(await lastSignin()).toMatchObject({ result_code: 'FAILED_PHONE_APP_DENIED', push_fatigue: 'number_matching_required' });
    // Three denied: no push; the code the app shows instead.
    server.t.clock.advance(1000);
    const fourth = await server.t.runtime.engine.auth(server.request());
    expect(fourth).toMatchObject({ result: 'waiting', result_code: 'SUCCESS_OATH_CODE_PENDING', prompt: 'Too many sign-in requests went to your authenticator app: enter the code it shows instead' });
    expect(await device.pushes()).toEqual([]);
    const done = await server.t.runtime.engine.respond(server.application, fourth.txid!, { passcode: token!.code(server.t.clock.now()) });
    expect(done).toMatchObject({ result: 'allow', result_code: 'SUCCESS_OATH_CODE_VERIFIED' });
    expect(await lastSignin()).toMatchObject({ method: 'app', status: 'success', push_fatigue: 'codes_instead_of_push' });
    // Once the window has passed, pushes go out again.
    server.t.clock.advance(16 * 60_000);
    const again = await server.t.runtime.engine.auth(server.request());
    const [seen] = await device.pushes();
    expect(seen).toMatchObject({ txid: again.txid, number_matching: false });
  });

  it('stops pushing past the limit, and refuses a user with no code to give (FAILED_AUTHENTICATION_THROTTLED)', async () => {
    const { device } = await setUp(false);
    for (let push = 1; push <= 5; push += 1) {
      server.t.clock.advance(1000);
      await server.t.runtime.engine.auth(server.request());
      const [seen] = await device.pushes();
      expect(await device.answer(seen!.txid, { decision: 'approve' })).toMatchObject({ result: 'allow' });
    }
    server.t.clock.advance(1000);
    expect(await server.t.runtime.engine.auth(server.request())).toMatchObject({ result: 'deny', result_code: 'FAILED_AUTHENTICATION_THROTTLED' });
    expect(await lastSignin()).toMatchObject({ method: 'app', push_fatigue: 'push_limit_reached', counted_failure: expect.anything() });
    expect(Boolean((await lastSignin()).counted_failure)).toBe(false);
    expect(await device.pushes()).toEqual([]);
  });
});
