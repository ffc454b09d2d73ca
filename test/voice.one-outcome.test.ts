import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthInput } from '../src/modules/auth/engine.js';
import { playOutboxCall } from '../src/modules/telephony/outbox.js';
import { BURST_SETUPS, burst, createTestCluster, type TestCluster } from './helpers/cluster.js';
import { testActor } from './helpers/runtime.js';

/** A carrier that repeats a webhook, or two nodes that get the same one: a call still ends once. */
describe.each(BURST_SETUPS)('voice calls under repeated call events on $name', (setup) => {
  let c: TestCluster;
  afterEach(() => c.dispose());

  async function call() {
    c = await createTestCluster(setup, { auth: { fallbackOath: false } });
    const { application: view } = await c.runtime.applications.create({ name: `VPN ${randomBytes(3).toString('hex')}` }, testActor);
    const application = { id: view.id, name: view.name };
    await c.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' } }, testActor);
    const request: AuthInput = { username: 'bob@contoso.com', application, ip: '198.51.100.9', authType: 'vpn', entryPoint: 'http_api', factor: 'voice' };
    const started = await c.runtime.engine.auth(request);
    expect(started).toMatchObject({ result: 'waiting' });
    const [placed] = (await c.runtime.telephony.list({ gateway: 'outbox' })).items;
    await playOutboxCall(c.runtime.telephony, c.runtime.engine, placed!.id, 'answer');
    return { application, txid: started.txid!, callId: placed!.id };
  }

  const db = () => c.runtime.storage.db;

  it('records one fraud report and one block for the fraud code arriving 8 times at once', async () => {
    const { application, txid, callId } = await call();
    await burst(8, (i) => c.node(i).engine.callEvent(callId, { type: 'keys', digits: '0', finished: true }));
    expect(await c.runtime.engine.status(application, txid, 0)).toMatchObject({ result: 'deny', result_code: 'FAILED_FRAUD_CODE_ENTERED' });
    expect(await db().selectFrom('blocks').select('id').where('fraud_alert', '=', 1).execute()).toHaveLength(1);
    expect(await db().selectFrom('signins').select('id').execute()).toHaveLength(1);
  });

  it('ends once when "#" and a hang-up arrive at the same instant', async () => {
    const { application, txid, callId } = await call();
    await burst(8, (i) => c.node(i).engine.callEvent(callId, i % 2 === 0 ? { type: 'keys', digits: '', finished: true } : { type: 'ended', status: 'completed' }));
    const final = await c.runtime.engine.status(application, txid, 0);
    expect(['SUCCESS_NO_PIN', 'FAILED_USER_HUNGUP_ON_US']).toContain(final.result_code);
    expect(await db().selectFrom('signins').select('id').execute()).toHaveLength(1);
  });
});
