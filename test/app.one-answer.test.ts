import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthInput } from '../src/modules/auth/engine.js';
import { generateDeviceKey, signParts } from '../src/modules/methods/app/protocol.js';
import { BURST_SETUPS, burst, createTestCluster, fulfilled, type TestCluster } from './helpers/cluster.js';
import { testActor } from './helpers/runtime.js';

const publicJwk = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });

/**
 * The authenticator app's one-time states under bursts: an activation code,
 * a push's answer, a fraud report, the missed-push count of an expired push,
 * and the one push a user may have open (FAILED_PHONE_BUSY).
 */
describe.each(BURST_SETUPS)('the authenticator app under bursts on $name', (setup) => {
  let c: TestCluster;
  afterEach(() => c.dispose());

  async function appUser(overrides: Record<string, unknown> = {}) {
    c = await createTestCluster(setup, { auth: { fallbackOath: false }, ...overrides });
    const { application: view } = await c.runtime.applications.create({ name: 'Corporate VPN' }, testActor);
    const application = { id: view.id, name: view.name };
    await c.runtime.directory.create({ username: 'bob@contoso.com' }, testActor);
    const { code } = await c.runtime.appDevices.createActivation('bob@contoso.com', { url: 'http://127.0.0.1:1', oath: false }, testActor);
    const { device_id: deviceId } = await c.runtime.appDevices.activate({ code, public_key: publicJwk(), device_name: 'Bob phone', device_type: 'android' });
    const request: AuthInput = { username: 'bob@contoso.com', application, ip: '198.51.100.9', authType: 'vpn', entryPoint: 'http_api', factor: 'app' };
    return { application, request, deviceId };
  }

  const db = () => c.runtime.storage.db;
  const signinCount = async () => (await db().selectFrom('signins').select('id').execute()).length;

  it('activates one device from a code used by 8 simultaneous activations', async () => {
    c = await createTestCluster(setup);
    await c.runtime.directory.create({ username: 'bob@contoso.com' }, testActor);
    const { code } = await c.runtime.appDevices.createActivation('bob@contoso.com', { url: 'http://127.0.0.1:1', oath: true }, testActor);
    const results = await burst(8, (i) => c.node(i).appDevices.activate({ code, public_key: publicJwk(), device_name: `phone ${i}`, device_type: 'android' }));
    expect(fulfilled(results)).toHaveLength(1);
    expect(results.filter((result) => result.status === 'rejected').map((result) => (result as PromiseRejectedResult).reason.code)).toEqual(Array(7).fill('invalid_activation_code'));
    expect(await db().selectFrom('app_devices').select('id').execute()).toHaveLength(1);
    expect(await db().selectFrom('oath_tokens').select('id').execute()).toHaveLength(1);
  });

  it('accepts one of 30 simultaneous copies of a signed device request, and refuses the others as replays', async () => {
    c = await createTestCluster(setup);
    await c.runtime.directory.create({ username: 'bob@contoso.com' }, testActor);
    const key = generateDeviceKey();
    const { code } = await c.runtime.appDevices.createActivation('bob@contoso.com', { url: 'http://127.0.0.1:1', oath: false }, testActor);
    const { device_id: deviceId } = await c.runtime.appDevices.activate({ code, public_key: key.publicJwk, device_name: 'Bob phone', device_type: 'android' });
    const parts = { method: 'GET', path: '/app/v1/pushes', timestamp: String(c.clock.now()), nonce: randomBytes(16).toString('base64url'), body: '' };
    const signature = signParts(key.privateKeyPem, parts);
    const results = fulfilled(await burst(30, (i) => c.node(i).appDevices.check(deviceId, parts, signature)));
    expect(results).toHaveLength(30);
    expect(results.filter((result) => 'device' in result)).toHaveLength(1);
    expect(results.filter((result) => 'refused' in result && result.refused === 'replay')).toHaveLength(29);
  });

  it('opens one push for 12 simultaneous sign-ins; the others are FAILED_PHONE_BUSY', async () => {
    const { request } = await appUser();
    const answers = fulfilled(await burst(12, (i) => c.node(i).engine.auth({ ...request, ip: `198.51.100.${i + 1}` })));
    expect(answers.filter((answer) => answer.result === 'waiting')).toHaveLength(1);
    expect(answers.filter((answer) => answer.result_code === 'FAILED_PHONE_BUSY')).toHaveLength(11);
    expect(await db().selectFrom('challenges').select('id').execute()).toHaveLength(1);
  });

  it('ends a push once when approvals and denials arrive at the same instant', async () => {
    const { application, request, deviceId } = await appUser();
    const push = await c.runtime.engine.auth(request);
    expect(push).toMatchObject({ result: 'waiting' });
    const answers = fulfilled(
      await burst(10, (i) => c.node(i).engine.deviceAnswer(push.txid!, { deviceId, verified: true, decision: i % 2 === 0 ? 'approve' : 'deny', number: push.number })),
    );
    expect(answers).toHaveLength(10);
    const final = await c.runtime.engine.status(application, push.txid!, 0);
    expect(['allow', 'deny']).toContain(final.result);
    expect(answers.every((answer) => answer?.result === final.result && answer?.result_code === final.result_code)).toBe(true);
    expect(await signinCount()).toBe(1);
  });

  it('records one fraud report and one block for 10 simultaneous reports of one push', async () => {
    const { request, deviceId } = await appUser();
    const push = await c.runtime.engine.auth(request);
    const answers = fulfilled(await burst(10, (i) => c.node(i).engine.deviceAnswer(push.txid!, { deviceId, verified: true, decision: 'fraud' })));
    expect(answers.every((answer) => answer?.result_code === 'FAILED_FRAUD_REPORTED')).toBe(true);
    expect(await db().selectFrom('blocks').select('id').where('fraud_alert', '=', 1).execute()).toHaveLength(1);
    expect(await signinCount()).toBe(1);
  });

  it('counts one missed push when every node ends the same expired push', async () => {
    const { application, request, deviceId } = await appUser();
    const push = await c.runtime.engine.auth(request);
    c.clock.advance(10 * 60_000);
    await burst(8, (i): Promise<unknown> => (i % 2 === 0 ? c.node(i).engine.expireDue() : c.node(i).engine.status(application, push.txid!, 0)));
    const device = await db().selectFrom('app_devices').select('missed_pushes').where('id', '=', deviceId).executeTakeFirstOrThrow();
    expect(Number(device.missed_pushes)).toBe(1);
    expect(await signinCount()).toBe(1);
  });
});

