import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthInput } from '../src/modules/auth/engine.js';
import { BURST_SETUPS, burst, createTestCluster, fulfilled, type TestCluster } from './helpers/cluster.js';
import { testActor } from './helpers/runtime.js';

describe.each(BURST_SETUPS)('the SMS attempt cap under a burst on $name', (setup) => {
  let c: TestCluster;
  afterEach(() => c.dispose());

  async function smsUser(overrides: Record<string, unknown>, fields: Record<string, unknown> = {}) {
    c = await createTestCluster(setup, { sms: { maxOtpAttempts: 3 }, ...overrides });
    const { application: view } = await c.runtime.applications.create({ name: `VPN ${randomBytes(3).toString('hex')}` }, testActor);
    const application = { id: view.id, name: view.name };
    await c.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' }, ...fields }, testActor);
    const request: AuthInput = { username: 'bob@contoso.com', application, ip: '198.51.100.9', authType: 'vpn', entryPoint: 'http_api', factor: 'sms' };
    return { application, request };
  }

  const signinsOf = (txid: string) => c.runtime.storage.db.selectFrom('challenges').select('signin_id').where('id', '=', txid).where('signin_id', 'is not', null).execute();

  it('answers "try again" at most sms.maxOtpAttempts − 1 times to 12 simultaneous wrong codes, then ends once', async () => {
    const { application, request } = await smsUser({});
    const sent = await c.runtime.engine.auth(request);
    expect(sent).toMatchObject({ result: 'waiting', result_code: 'SUCCESS_SMS_SENT' });
    const results = await burst(12, (i) => c.node(i).engine.respond(application, sent.txid!, { passcode: '0000000' }));
    const answers = fulfilled(results);
    expect(answers).toHaveLength(12);
    expect(answers.filter((answer) => answer.result === 'waiting')).toHaveLength(2);
    expect(answers.filter((answer) => answer.result === 'deny' && answer.result_code === 'FAILED_SMS_MAX_OTP_RETRY_REACHED')).toHaveLength(10);
    expect(await signinsOf(sent.txid!)).toHaveLength(1);
    const signins = await c.runtime.storage.db.selectFrom('signins').select('result_code').where('result_code', '=', 'FAILED_SMS_MAX_OTP_RETRY_REACHED').execute();
    expect(signins).toHaveLength(1);
  });

  it('lets the right code win once among simultaneous answers: one sign-in, every answer the same end', async () => {
    const { application, request } = await smsUser({});
    const sent = await c.runtime.engine.auth(request);
    const page = await c.runtime.telephony.list({ gateway: 'outbox' });
    const code = /code is (\d+)/.exec(page.items[0]!.body ?? '')![1]!;
    const answers = fulfilled(await burst(8, (i) => c.node(i).engine.respond(application, sent.txid!, { passcode: code })));
    expect(answers).toHaveLength(8);
    expect(answers.every((answer) => answer.result === 'allow' && answer.result_code === 'SUCCESS_SMS_SENT')).toBe(true);
    const signins = await c.runtime.storage.db.selectFrom('signins').select('id').where('status', '=', 'success').execute();
    expect(signins).toHaveLength(1);
  });

  it('two-way: 12 simultaneous wrong replies end the challenge once', async () => {
    const { request } = await smsUser({}, { sms_direction: 'two_way' });
    const sent = await c.runtime.engine.auth(request);
    expect(sent).toMatchObject({ result: 'waiting' });
    const answers = fulfilled(await burst(12, (i) => c.node(i).engine.answerReply('+12025550123', '000000')));
    expect(answers.filter((answer) => answer?.result === 'waiting')).toHaveLength(2);
    expect(await signinsOf(sent.txid!)).toHaveLength(1);
  });
});
