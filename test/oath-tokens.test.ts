import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { base32Decode } from '../src/modules/methods/oath/base32.js';
import { hotp, timeStep, totp, type OathParameters } from '../src/modules/methods/oath/otp.js';
import { openOathSecret } from '../src/modules/methods/oath/secret.js';
import { OathTokens } from '../src/modules/methods/oath/tokens.js';
import { AppError } from '../src/shared/errors.js';
import { oathTokensRepository } from '../src/storage/repositories/oath-tokens.js';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

const codeOf = (promise: Promise<unknown>) => promise.then(() => 'no error', (error: unknown) => (error instanceof AppError ? error.code : String(error)));

/** RFC 6238 appendix B seeds, in hex. */
const RFC_SEED = {
  SHA1: Buffer.from('12345678901234567890').toString('hex'),
  SHA256: Buffer.from('12345678901234567890123456789012').toString('hex'),
  SHA512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234').toString('hex'),
};

const paramsOf = (secret: string, algorithm: OathParameters['algorithm'] = 'SHA1', digits: 6 | 8 = 6): OathParameters => ({ secret: base32Decode(secret)!, algorithm, digits });

describe.each(DIALECTS)('OATH tokens on %s', (dialect) => {
  let t: TestRuntime;
  let oath: OathTokens;
  const setUp = async (overrides: Record<string, unknown> = {}) => {
    t = await createTestRuntime(dialect, overrides);
    oath = new OathTokens({ db: t.runtime.storage.db, transact: t.runtime.storage.transact, keyring: t.runtime.keyring, clock: t.clock, config: t.runtime.config.oath });
    await t.runtime.directory.create({ username: 'alice@contoso.com' }, testActor);
    await t.runtime.directory.create({ username: 'bob@contoso.com' }, testActor);
  };
  beforeEach(() => setUp());
  afterEach(() => t.dispose());

  const db = () => t.runtime.storage.db;
  const row = async (id: string) => (await oathTokensRepository.findById(db(), id))!;
  const audit = async () => db().selectFrom('audit_log').select(['action', 'target_id', 'details']).where('action', 'like', 'oath_token.%').orderBy('id').execute();

  it('enrols a pending TOTP token and returns its secret and otpauth URI once', async () => {
    const enrolled = await oath.enrollSoftware('Alice@Contoso.com', { name: 'Phone' }, testActor);
    expect(enrolled.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(enrolled.secret)).toHaveLength(20);
    expect(enrolled.uri).toBe(`otpauth://totp/Countersign:alice%40contoso.com?secret=${enrolled.secret}&issuer=Countersign&algorithm=SHA1&digits=6&period=30`);
    expect(enrolled.token).toEqual({
      id: enrolled.token.id,
      serial: null,
      kind: 'software',
      type: 'totp',
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
      status: 'pending',
      name: 'Phone',
      user: 'alice@contoso.com',
      created_at: new Date(t.clock.now()).toISOString(),
      last_used_at: null,
    });
    const [entry] = await audit();
    expect(entry).toMatchObject({ action: 'oath_token.enroll', target_id: enrolled.token.id });
    expect(JSON.parse(entry!.details)).toEqual({ user_id: (await t.runtime.directory.get('alice@contoso.com')).id, type: 'totp', algorithm: 'SHA1', digits: 6, period: 30 });
  });

  it('makes seeds as long as the HMAC output and percent-encodes issuer and account', async () => {
    await t.dispose();
    await setUp({ oath: { issuer: 'ACME Co' } });
    const enrolled = await oath.enrollSoftware('bob@contoso.com', { algorithm: 'SHA512', digits: 8, period: 60 }, testActor);
    expect(base32Decode(enrolled.secret)).toHaveLength(64);
    expect(enrolled.uri).toBe(`otpauth://totp/ACME%20Co:bob%40contoso.com?secret=${enrolled.secret}&issuer=ACME%20Co&algorithm=SHA512&digits=8&period=60`);
    expect(base32Decode((await oath.enrollSoftware('bob@contoso.com', { algorithm: 'SHA256' }, testActor)).secret)).toHaveLength(32);
  });

  it('refuses bad enrolment settings naming the field, and unknown users', async () => {
    expect(await codeOf(oath.enrollSoftware('alice@contoso.com', { digits: 7 }, testActor))).toBe('validation_failed');
    expect(await codeOf(oath.enrollSoftware('alice@contoso.com', { period: 5 }, testActor))).toBe('validation_failed');
    expect(await codeOf(oath.enrollSoftware('alice@contoso.com', { type: 'motp' as 'totp' }, testActor))).toBe('validation_failed');
    expect(await codeOf(oath.enrollSoftware('alice@contoso.com', { name: 'x'.repeat(65) }, testActor))).toBe('validation_failed');
    await expect(oath.enrollSoftware('alice@contoso.com', { algorithm: 'MD5' as 'SHA1' }, testActor)).rejects.toMatchObject({ details: { field: 'algorithm' } });
    expect(await codeOf(oath.enrollSoftware('nobody', {}, testActor))).toBe('user_not_found');
    expect(await db().selectFrom('oath_tokens').selectAll().execute()).toEqual([]);
  });

  it('activates a TOTP token with a current code and records its step as used', async () => {
    const { token, secret } = await oath.enrollSoftware('alice@contoso.com', {}, testActor);
    t.clock.advance(45_000);
    const now = t.clock.now();
    expect(await codeOf(oath.activate('alice@contoso.com', token.id, totp(paramsOf(secret), now - 90_000, 30), testActor))).toBe('invalid_oath_code');
    expect(await codeOf(oath.activate('alice@contoso.com', token.id, '12345', testActor))).toBe('validation_failed');
    expect(await codeOf(oath.activate('alice@contoso.com', token.id, '1234567x', testActor))).toBe('validation_failed');
    expect(await codeOf(oath.activate('alice@contoso.com', token.id, '12345678', testActor))).toBe('invalid_oath_code');
    expect((await row(token.id)).status).toBe('pending');
    // One step behind is inside the default window of ±1.
    const code = totp(paramsOf(secret), now - 30_000, 30);
    const active = await oath.activate('alice@contoso.com', token.id, code.slice(0, 3) + ' ' + code.slice(3), testActor);
    expect(active).toMatchObject({ status: 'active', last_used_at: new Date(now).toISOString() });
    const stored = await row(token.id);
    expect(Number(stored.last_used)).toBe(timeStep(now, 30) - 1);
    // A code within the window says the device's clock is right: no drift is recorded (a drift would shift later windows).
    expect(Number(stored.drift)).toBe(0);
    expect(await codeOf(oath.activate('alice@contoso.com', token.id, code, testActor))).toBe('conflict');
    expect((await audit()).map((entry) => entry.action)).toEqual(['oath_token.enroll', 'oath_token.activate']);
  });

  it('does not let another user activate, list or delete a token', async () => {
    const { token, secret } = await oath.enrollSoftware('alice@contoso.com', {}, testActor);
    const code = totp(paramsOf(secret), t.clock.now(), 30);
    expect(await codeOf(oath.activate('bob@contoso.com', token.id, code, testActor))).toBe('oath_token_not_found');
    expect(await codeOf(oath.delete('bob@contoso.com', token.id, testActor))).toBe('oath_token_not_found');
    expect(await oath.listForUser('bob@contoso.com')).toEqual([]);
    expect(await codeOf(oath.activate('alice@contoso.com', 'no-such-id', code, testActor))).toBe('oath_token_not_found');
  });

  it('activates and resynchronises an HOTP token', async () => {
    const { token, secret, uri } = await oath.enrollSoftware('alice@contoso.com', { type: 'hotp' }, testActor);
    expect(uri).toBe(`otpauth://hotp/Countersign:alice%40contoso.com?secret=${secret}&issuer=Countersign&algorithm=SHA1&digits=6&counter=0`);
    const params = paramsOf(secret);
    expect(await codeOf(oath.activate('alice@contoso.com', token.id, hotp(params, 11), testActor))).toBe('invalid_oath_code');
    await oath.activate('alice@contoso.com', token.id, hotp(params, 2), testActor);
    expect(await row(token.id)).toMatchObject({ status: 'active' });
    expect([Number((await row(token.id)).counter), Number((await row(token.id)).last_used)]).toEqual([3, 2]);

    // The device was pressed many times without signing in: its counter ran ahead.
    expect(await codeOf(oath.resync('alice@contoso.com', token.id, hotp(params, 51), hotp(params, 50), testActor))).toBe('invalid_oath_code');
    expect(await codeOf(oath.resync('alice@contoso.com', token.id, hotp(params, 50), hotp(params, 52), testActor))).toBe('invalid_oath_code');
    expect(await codeOf(oath.resync('alice@contoso.com', token.id, hotp(params, 3 + 201), hotp(params, 3 + 202), testActor))).toBe('invalid_oath_code');
    const resynced = await oath.resync('alice@contoso.com', token.id, hotp(params, 50), hotp(params, 51), testActor);
    expect(resynced.last_used_at).toBe(new Date(t.clock.now()).toISOString());
    expect([Number((await row(token.id)).counter), Number((await row(token.id)).last_used)]).toEqual([52, 51]);
    // The same pair cannot be used to move the counter again.
    expect(await codeOf(oath.resync('alice@contoso.com', token.id, hotp(params, 50), hotp(params, 51), testActor))).toBe('invalid_oath_code');
    const resync = (await audit()).filter((entry) => entry.action === 'oath_token.resync');
    expect(resync.map((entry) => JSON.parse(entry.details) as unknown)).toEqual([{ user_id: expect.any(String), counter: 52 }]);
  });

  it('measures the clock drift of a TOTP token from two consecutive codes', async () => {
    const { token, secret } = await oath.enrollSoftware('alice@contoso.com', {}, testActor);
    expect(await codeOf(oath.resync('alice@contoso.com', token.id, '123456', '234567', testActor))).toBe('conflict');
    const params = paramsOf(secret);
    await oath.activate('alice@contoso.com', token.id, totp(params, t.clock.now(), 30), testActor);
    const step = timeStep(t.clock.now(), 30);
    // Further off than oath.maxDriftSteps (10): not taught.
    expect(await codeOf(oath.resync('alice@contoso.com', token.id, hotp(params, step + 11), hotp(params, step + 12), testActor))).toBe('invalid_oath_code');
    // The device runs four and a half minutes fast.
    await oath.resync('alice@contoso.com', token.id, hotp(params, step + 8), hotp(params, step + 9), testActor);
    expect([Number((await row(token.id)).drift), Number((await row(token.id)).last_used)]).toEqual([9, step + 9]);
    // Codes at or before the last one used are never accepted again.
    expect(await codeOf(oath.resync('alice@contoso.com', token.id, hotp(params, step + 8), hotp(params, step + 9), testActor))).toBe('invalid_oath_code');
  });

  const IMPORT = [
    'serial,secret,type,digits,period,algorithm,secret_format',
    'HW-0001,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,,,,',
    `HW-0002,${RFC_SEED.SHA256},TOTP,8,30,sha256,hex`,
    'HW-0003,NOT*BASE32,totp,,,,',
    'HW-0001,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,,,,',
    'HW-0004,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,7,,,',
    'HW-0005,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,motp,,,,',
    `HW-0006,${RFC_SEED.SHA1},hotp,6,,,`,
    'HW-0007,GEZDGNBVGY3TQOJQ,totp,,,,',
    'HW-0008,2345672345672345672345672345672345672345,totp,,,,',
    'HW 0009,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,,,,',
    'HW-0010,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,six,,,',
    'HW-0011,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp,,,,octal',
    'HW-0012,only,three',
  ].join('\n');

  it('imports hardware tokens and reports each bad row with its line and field', async () => {
    const report = await oath.importHardware(IMPORT, testActor);
    expect(report).toMatchObject({ rows: 13, imported: 3, failed: 10 });
    expect(Object.fromEntries(report.errors.map((error) => [error.line, [error.serial, error.field, error.code]]))).toEqual({
      4: ['HW-0003', 'secret', 'invalid_oath_secret'],
      5: ['HW-0001', 'serial', 'oath_serial_taken'],
      6: ['HW-0004', 'digits', 'validation_failed'],
      7: ['HW-0005', 'type', 'validation_failed'],
      9: ['HW-0007', 'secret', 'invalid_oath_secret'],
      10: ['HW-0008', 'secret', 'invalid_oath_secret'],
      11: ['HW 0009', 'serial', 'validation_failed'],
      12: ['HW-0010', 'digits', 'validation_failed'],
      13: ['HW-0011', 'secret_format', 'validation_failed'],
      14: [null, null, 'invalid_csv'],
    });
    expect(report.errors.find((error) => error.line === 10)!.message).toMatch(/could be hex or base32/);
    expect(report.errors.find((error) => error.line === 9)!.message).toMatch(/16 to 128 bytes/);
    const listed = await oath.listUnassigned({});
    expect(listed.items.map((token) => [token.serial, token.type, token.algorithm, token.digits, token.status, token.user])).toEqual([
      ['HW-0001', 'totp', 'SHA1', 6, 'active', null],
      ['HW-0002', 'totp', 'SHA256', 8, 'active', null],
      ['HW-0006', 'hotp', 'SHA1', 6, 'active', null],
    ]);
    const again = await oath.importHardware('serial,secret,type\nHW-0002,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp\nHW-0100,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp\n', testActor);
    expect(again).toMatchObject({ rows: 2, imported: 1, failed: 1, errors: [{ line: 2, serial: 'HW-0002', code: 'oath_serial_taken' }] });
    const imports = (await audit()).filter((entry) => entry.action === 'oath_token.import');
    expect(imports.map((entry) => JSON.parse(entry.details) as unknown)).toEqual([
      { imported: 3, first_line: 2, last_line: 8 },
      { imported: 1, first_line: 3, last_line: 3 },
    ]);
  });

  it('refuses a file with a wrong header or none', async () => {
    expect(await codeOf(oath.importHardware('', testActor))).toBe('invalid_csv');
    expect(await codeOf(oath.importHardware('serial,secret\n', testActor))).toBe('invalid_csv');
    await expect(oath.importHardware('serial,secret,type,colour\n', testActor)).rejects.toThrow(/unknown column "colour"/);
  });

  it('gives the RFC 6238 codes for RFC seeds imported as hardware tokens', async () => {
    const csv = ['serial,secret,type,digits,algorithm', ...Object.entries(RFC_SEED).map(([algorithm, seed]) => `RFC-${algorithm},${seed},totp,8,${algorithm}`)].join('\n');
    expect(await oath.importHardware(csv, testActor)).toMatchObject({ imported: 3, failed: 0 });
    const expected = { SHA1: '07081804', SHA256: '68084774', SHA512: '25091201' };
    for (const [algorithm, code] of Object.entries(expected)) {
      const stored = (await oathTokensRepository.findBySerial(db(), `RFC-${algorithm}`))!;
      const params = { secret: openOathSecret(t.runtime.keyring, stored), algorithm: algorithm as 'SHA1', digits: 8 as const };
      expect(totp(params, 1111111109_000, 30), algorithm).toBe(code);
    }
    // Through the module: the two consecutive RFC codes at 1111111109 s and 1111111111 s resynchronise the token.
    await oath.assign('RFC-SHA1', 'alice@contoso.com', testActor);
    t.clock.set(1111111109_000);
    const token = (await oathTokensRepository.findBySerial(db(), 'RFC-SHA1'))!;
    await oath.resync('alice@contoso.com', token.id, '07081804', '14050471', testActor);
    expect(Number((await row(token.id)).last_used)).toBe(timeStep(1111111111_000, 30));
  });

  it('assigns, lists, unassigns and pages hardware tokens', async () => {
    await oath.importHardware('serial,secret,type\nB-2,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp\nA-1,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,hotp\n', testActor);
    expect(await codeOf(oath.assign('NOPE', 'alice@contoso.com', testActor))).toBe('oath_token_not_found');
    expect(await codeOf(oath.assign('A-1', 'nobody', testActor))).toBe('user_not_found');
    const assigned = await oath.assign('A-1', 'ALICE@contoso.com', testActor);
    expect(assigned).toMatchObject({ serial: 'A-1', user: 'alice@contoso.com', kind: 'hardware' });
    expect(await oath.assign('A-1', 'alice@contoso.com', testActor)).toMatchObject({ user: 'alice@contoso.com' });
    expect(await codeOf(oath.assign('A-1', 'bob@contoso.com', testActor))).toBe('conflict');
    expect((await oath.listForUser('alice@contoso.com')).map((token) => token.serial)).toEqual(['A-1']);
    expect((await oath.listUnassigned({})).items.map((token) => token.serial)).toEqual(['B-2']);
    const all = await oath.listHardware({ limit: 1 });
    expect(all.items.map((token) => [token.serial, token.user])).toEqual([['A-1', 'alice@contoso.com']]);
    const next = await oath.listHardware({ limit: 1, cursor: all.next_cursor! });
    expect(next).toMatchObject({ items: [{ serial: 'B-2', user: null }], next_cursor: null });
    expect(await codeOf(oath.listHardware({ cursor: 'garbage' }))).toBe('invalid_cursor');
    expect(await codeOf(oath.listHardware({ limit: 0 }))).toBe('validation_failed');
    expect(await oath.unassign('A-1', testActor)).toMatchObject({ user: null });
    expect(await oath.unassign('A-1', testActor)).toMatchObject({ user: null });
    expect((await oath.listUnassigned({})).items.map((token) => token.serial)).toEqual(['A-1', 'B-2']);
    expect((await audit()).map((entry) => entry.action)).toEqual(['oath_token.import', 'oath_token.assign', 'oath_token.unassign']);
  });

  it('deletes a token, a user\'s own or any by id', async () => {
    const { token } = await oath.enrollSoftware('alice@contoso.com', {}, testActor);
    await oath.importHardware('serial,secret,type\nDEL-1,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,totp\n', testActor);
    await oath.delete('alice@contoso.com', token.id, testActor);
    expect(await oathTokensRepository.findById(db(), token.id)).toBeUndefined();
    expect(await codeOf(oath.delete('alice@contoso.com', token.id, testActor))).toBe('oath_token_not_found');
    const hardware = (await oath.listUnassigned({})).items[0]!;
    await oath.delete(undefined, hardware.id, testActor);
    expect((await oath.listUnassigned({})).items).toEqual([]);
    const deletes = (await audit()).filter((entry) => entry.action === 'oath_token.delete');
    expect(deletes.map((entry) => [entry.target_id, JSON.parse(entry.details)])).toEqual([
      [token.id, { user_id: expect.any(String), kind: 'software', serial: null }],
      [hardware.id, { user_id: null, kind: 'hardware', serial: 'DEL-1' }],
    ]);
  });

  it('seals every secret and never shows it in a view or an audit record', async () => {
    const enrolled = await oath.enrollSoftware('alice@contoso.com', { type: 'hotp' }, testActor);
    await oath.activate('alice@contoso.com', enrolled.token.id, hotp(paramsOf(enrolled.secret), 0), testActor);
    const hex = RFC_SEED.SHA512;
    await oath.importHardware(`serial,secret,type,algorithm\nSEAL-1,${hex},totp,SHA512\n`, testActor);
    await oath.assign('SEAL-1', 'bob@contoso.com', testActor);
    const secrets = [enrolled.secret, base32Decode(enrolled.secret)!.toString('hex'), hex, Buffer.from(hex, 'hex').toString('base64')];
    const shown = JSON.stringify([
      enrolled.token,
      await oath.listForUser('alice@contoso.com'),
      await oath.listForUser('bob@contoso.com'),
      await oath.listHardware({}),
      await db().selectFrom('audit_log').selectAll().execute(),
    ]);
    const stored = JSON.stringify(await db().selectFrom('oath_tokens').select(['id', 'secret_sealed']).execute());
    for (const secret of secrets) {
      expect(shown).not.toContain(secret);
      expect(shown.toLowerCase()).not.toContain(secret.toLowerCase());
      expect(stored).not.toContain(secret);
    }
    for (const token of await db().selectFrom('oath_tokens').selectAll().execute()) expect(token.secret_sealed).toMatch(/^v1:/);
    const seal = await oathTokensRepository.findBySerial(db(), 'SEAL-1');
    expect(openOathSecret(t.runtime.keyring, seal!).toString('hex')).toBe(hex);
  });

  it('draws the QR code as a PNG and for a terminal', async () => {
    const { uri } = await oath.enrollSoftware('alice@contoso.com', {}, testActor);
    const png = await oath.qrPng(uri);
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    const text = await oath.qrTerminal(uri);
    expect(text).toMatch(/[▀▄█]/);
    expect(text.split('\n').length).toBeLessThan(40);
  });
});
