import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { buildRuntime } from '../src/main.js';
import { Templates, loadTemplatesFile } from '../src/modules/telephony/templates.js';
import { outboxPhone } from './helpers/phones.js';
import { createTestRuntime, TEST_MASTER_KEY, testActor, type TestRuntime } from './helpers/runtime.js';

const file = (content: unknown): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'countersign-templates-')), 'texts.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};

describe('telephony templates', () => {
  let t: TestRuntime | undefined;
  afterEach(() => t?.dispose());

  it('speak English and French, by the user language or its base, and English otherwise', () => {
    const templates = new Templates();
    expect(templates.text('en', 'sms_otp', { code: '492831' })).toBe('Your verification code is 492831. Do not share it with anyone.');
    expect(templates.text('fr-CA', 'sms_reply_pin', { code: '492831' })).toBe(
      'Pour vous connecter, répondez 492831 suivi de votre code PIN. Si vous ne vous connectez pas, ignorez ce message.',
    );
    expect(templates.language('fr-CA')).toBe('fr');
    expect(templates.language('de')).toBe('en');
    expect(templates.greeting('en', false, '0#')).toBe('This is your sign-in verification call. To sign in, press the pound key. If you are not signing in, press 0 pound to report it.');
    expect(templates.greeting('fr', true, '9*#')).toContain('composez 9 étoile dièse pour le signaler');
  });

  it('take a file that replaces texts and adds languages; missing keys come from English', async () => {
    const path = file({ en: { sms_otp: 'Contoso code: {code}' }, de: { call_standard: 'Dies ist Ihr Anmeldeanruf. Drücken Sie die Rautetaste.', key_pound: 'Raute' } });
    const templates = loadTemplatesFile(path);
    expect(templates.text('en-GB', 'sms_otp', { code: '1' })).toBe('Contoso code: 1');
    expect(templates.greeting('de', false, '0#')).toBe('Dies ist Ihr Anmeldeanruf. Drücken Sie die Rautetaste. If you are not signing in, press 0 Raute to report it.');

    // Through a running server: the texts users receive.
    t = await createTestRuntime('sqlite', { telephony: { templatesFile: path } });
    const { application } = await t.runtime.applications.create({ name: 'VPN' }, testActor);
    await t.runtime.directory.create({ username: 'bob@contoso.com', phone: { number: '202 555 0123' } }, testActor);
    await t.runtime.directory.create({ username: 'udo@contoso.com', phone: { number: '202 555 0188' }, language: 'de' }, testActor);
    const request = (username: string, factor: 'sms' | 'voice') => ({ username, application: { id: application.id, name: application.name }, ip: null, authType: 'vpn', entryPoint: 'http_api', factor });
    await t.runtime.engine.auth(request('bob@contoso.com', 'sms'));
    expect((await t.runtime.telephony.list({ gateway: 'outbox' })).items[0]!.body).toMatch(/^Contoso code: \d{6}$/);
    t.clock.advance(1000);
    await t.runtime.engine.auth(request('udo@contoso.com', 'voice'));
    expect((await outboxPhone(t.runtime).play('answer')).says).toContain('Drücken Sie die Rautetaste');
  });

  it('refuse a file that would leave out the code or is not what they expect, naming what is wrong, before the server creates anything', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'countersign-templates-data-'));
    const start = (templatesFile: string) => buildRuntime(loadConfig({ overrides: { dataDir, security: { masterKey: TEST_MASTER_KEY }, telephony: { templatesFile } } }));
    const bad: [unknown, string][] = [
      ['{ nope', 'not valid JSON'],
      [[1], 'must hold a JSON object of languages'],
      [{ EN: {} }, '"EN" is not a language tag in lower case'],
      [{ en: 'hi' }, 'en: must be an object of template keys'],
      [{ en: { sms_code: 'x' } }, 'en.sms_code: unknown template key'],
      [{ en: { sms_otp: 'Your code' } }, 'en.sms_otp: must contain {code}'],
      [{ fr: { call_fraud_hint: 'Signalez une fraude' } }, 'fr.call_fraud_hint: must contain {fraud}'],
      [{ en: { call_denied: '' } }, 'en.call_denied: must be a text of 1 to 640 characters'],
      [{ en: { call_denied: 'x'.repeat(641) } }, 'en.call_denied: must be a text of 1 to 640 characters'],
    ];
    for (const [content, message] of bad) {
      const path = file(content);
      await expect(start(path), message).rejects.toThrow(`config key telephony.templatesFile ${path}: ${message}`);
    }
    await expect(start('/nonexistent/texts.json')).rejects.toThrow('cannot read it (ENOENT)');
    expect(readdirSync(dataDir)).toEqual([]);
  });
});
