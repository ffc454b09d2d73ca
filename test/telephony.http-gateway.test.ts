import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { httpGateway } from '../src/modules/telephony/http-gateway.js';
import type { AuthenticatedApplication } from '../src/modules/applications/applications.js';
import { startFakeCarrier } from './helpers/fake-carrier.js';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';

type Carrier = Awaited<ReturnType<typeof startFakeCarrier>>;

describe('the http gateway (sqlite)', () => {
  let carrier: Carrier;
  let t: TestRuntime;
  let application: AuthenticatedApplication;
  const request = () => ({ username: 'bob@contoso.com', application, ip: null, authType: 'vpn', entryPoint: 'http_api', factor: 'sms' as const });

  const start = async (http: Record<string, unknown> = {}) => {
    t = await createTestRuntime('sqlite', { telephony: { gateway: 'http', http: { url: `${carrier.url}/sms/send`, authorization: 'Bearer s3cret', ...http } } });
    const { application: view } = await t.runtime.applications.create({ name: `VPN ${randomBytes(3).toString('hex')}` }, testActor);
    application = { id: view.id, name: view.name };
    await t.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' } }, testActor);
  };
  const lastLog = async () => (await t.runtime.telephony.list({ limit: 1 })).items[0]!;

  beforeEach(async () => {
    carrier = await startFakeCarrier();
  });
  afterEach(async () => {
    await t?.dispose();
    await carrier.close();
  });

  it('POSTs the message as JSON with the Authorization header and keeps the provider id, not the text', async () => {
    await start();
    const sent = await t.runtime.engine.auth(request());
    expect(sent).toMatchObject({ result: 'waiting', result_code: 'SUCCESS_SMS_SENT' });
    expect(carrier.requests).toHaveLength(1);
    const [call] = carrier.requests;
    expect(call).toMatchObject({ method: 'POST', path: '/sms/send' });
    expect(call!.headers).toMatchObject({ authorization: 'Bearer s3cret', 'content-type': 'application/json' });
    const body = JSON.parse(call!.body) as { to: string; text: string; reference: string };
    expect(body.to).toBe('+12025550123');
    const log = await lastLog();
    expect(body.reference).toBe(log.id);
    expect(log).toMatchObject({ gateway: 'http', status: 'sent', provider_id: 'msg-1', body: null });
    const code = /code is (\d{6})/.exec(body.text)![1]!;
    expect(await t.runtime.engine.respond(application, sent.txid!, { passcode: code })).toMatchObject({ result: 'allow', result_code: 'SUCCESS_SMS_SENT' });
  });

  it('fills a template of the provider’s own shape and reads its id field', async () => {
    await start({ bodyTemplate: '{"message":{"recipients":["{{to}}"],"content":"SMS: {{body}}"},"meta":{"ref":"{{reference}}","n":1}}', idField: 'messageId' });
    carrier.respond((_request, response) => response.writeHead(202, { 'content-type': 'application/json' }).end('{"messageId":42}'));
    await t.runtime.engine.auth(request());
    const body = JSON.parse(carrier.requests[0]!.body) as { message: { recipients: string[]; content: string }; meta: { ref: string; n: number } };
    expect(body.message.recipients).toEqual(['+12025550123']);
    expect(body.message.content).toMatch(/^SMS: Your verification code is \d{6}\./);
    expect(body.meta.n).toBe(1);
    expect((await lastLog()).provider_id).toBe('42');
  });

  it('denies with FAILED_SMS_NOT_SENT when the provider refuses, and logs its answer', async () => {
    await start();
    carrier.respond((_request, response) => response.writeHead(503).end('try later'));
    expect(await t.runtime.engine.auth(request())).toMatchObject({ result: 'deny', result_code: 'FAILED_SMS_NOT_SENT' });
    expect(await lastLog()).toMatchObject({ status: 'failed', error: 'HTTP 503: try later' });
  });

  it('denies with FAILED_SMS_NOT_SENT when the provider does not answer in time', async () => {
    await start({ timeoutMs: 200 });
    carrier.respond(() => undefined); // never answers
    expect(await t.runtime.engine.auth(request())).toMatchObject({ result: 'deny', result_code: 'FAILED_SMS_NOT_SENT' });
    expect(await lastLog()).toMatchObject({ status: 'failed', error: 'no answer in time' });
  });

  it('denies with FAILED_SMS_NOT_SENT when nothing listens at the URL', async () => {
    const closed = carrier.url;
    await carrier.close();
    carrier = await startFakeCarrier();
    t = await createTestRuntime('sqlite', { telephony: { gateway: 'http', http: { url: `${closed}/sms` } } });
    const { application: view } = await t.runtime.applications.create({ name: 'VPN' }, testActor);
    application = { id: view.id, name: view.name };
    await t.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' } }, testActor);
    expect(await t.runtime.engine.auth(request())).toMatchObject({ result: 'deny', result_code: 'FAILED_SMS_NOT_SENT' });
    expect((await lastLog()).error).toMatch(/fetch failed/);
  });
});

describe('the http gateway on its own', () => {
  it('keeps quotes and line breaks of the text inside its JSON string', async () => {
    const carrier = await startFakeCarrier();
    try {
      const config = loadConfig({ overrides: { telephony: { gateway: 'http', http: { url: carrier.url, bodyTemplate: '{"text":"{{body}}","to":"{{to}}"}' } } } });
      const gateway = httpGateway(config.telephony.http);
      const text = 'He said "hi",\n"to": "+999"';
      expect(await gateway.sendSms({ to: '+12025550123', body: text, reference: 'r1' })).toEqual({ status: 'sent', providerId: 'msg-1' });
      expect(JSON.parse(carrier.requests[0]!.body)).toEqual({ text, to: '+12025550123' });
    } finally {
      await carrier.close();
    }
  });
});

describe('http gateway configuration', () => {
  it('names the key when the URL or the body template is unusable', () => {
    expect(() => loadConfig({ overrides: { telephony: { gateway: 'http' } } })).toThrow('config key telephony.http.url: must be an http:// or https:// URL when telephony.gateway is http');
    expect(() => loadConfig({ overrides: { telephony: { gateway: 'http', http: { url: 'ftp://example.invalid/' } } } })).toThrow('telephony.http.url');
    expect(() => loadConfig({ overrides: { telephony: { gateway: 'http', http: { url: 'http://127.0.0.1:9/', bodyTemplate: '[1]' } } } })).toThrow(
      'config key telephony.http.bodyTemplate: must be a JSON object',
    );
    expect(() => loadConfig({ env: { COUNTERSIGN_TELEPHONY_GATEWAY: 'pigeon' } })).toThrow('telephony.gateway');
  });
});
