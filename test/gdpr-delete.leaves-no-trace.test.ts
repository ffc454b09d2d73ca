import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthenticatorClient } from '../src/authenticator/client.js';
import type { AuthInput } from '../src/modules/auth/engine.js';
import { playOutboxCall } from '../src/modules/telephony/outbox.js';
import { ipKey } from '../src/shared/ip-key.js';
import { closeServiceLog, createServiceLog } from '../src/shared/logger.js';
import { addToken } from './helpers/auth.js';
import { startAppServer } from './helpers/app-server.js';
import { testActor } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

/** A syslog receiver on 127.0.0.1 keeping every byte it is sent: the "syslog copy" of the service log. */
async function syslogReceiver(): Promise<{ port: number; bytes: () => Buffer; close: () => Promise<void> }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    bytes: () => Buffer.concat(chunks),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The values that must not be found anywhere, as lower-case text (searches are case-insensitive). */
function personalValues(tag: string) {
  return {
    username: `quillon.${tag}@contoso.com`,
    firstName: `Ysoldine${tag}`,
    lastName: `Marchbanks${tag}`,
    email: `y.${tag}@mail.example`,
    phone: '2025550187',
    ip: '203.0.113.187',
    device: `Phone of ${tag}`,
    ssprEmail: `reset.${tag}@home.example`,
  };
}

/** Which of the values occur in the bytes (compared lower-case, as Latin-1 so no byte is lost). */
function found(bytes: Buffer, values: string[]): string[] {
  const text = bytes.toString('latin1').toLowerCase();
  return values.filter((value) => text.includes(value.toLowerCase()));
}

describe.each(DIALECTS)('gdpr-delete.leaves-no-trace on %s', (dialect) => {
  let cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step();
    cleanup = [];
  });

  it('erases a user who signed in through every method from the database, its WAL, the service log file and the syslog copy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'countersign-gdpr-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const receiver = await syslogReceiver();
    cleanup.push(() => receiver.close());
    const logFile = join(dir, 'service.log');
    const console = new Writable({ write: (_chunk, _encoding, done) => done() });
    // Debug: request lines too, so that what a request carries (paths, addresses) is checked as well.
    const log = createServiceLog({ level: 'debug', file: logFile, stdout: console, syslog: { protocol: 'tcp', host: '127.0.0.1', port: receiver.port } });
    const server = await startAppServer(dialect, { auth: { fallbackQuestions: true }, log: { file: logFile } }, { log });
    cleanup.push(() => server.close());
    const { runtime, clock } = server.t;
    const db = runtime.storage.db;
    const tag = randomBytes(5).toString('hex');
    const values = personalValues(tag);

    // A user with every kind of data.
    const group = await runtime.groups.create({ name: `Team ${tag}` }, testActor);
    const user = await runtime.directory.create(
      { username: values.username, first_name: values.firstName, last_name: values.lastName, email: values.email, phone: { number: values.phone }, groups: [group.name] },
      testActor,
    );
    const token = await addToken(runtime, user.id);
    const questionIds: string[] = [];
    for (const text of ['First pet?', 'Birth town?', 'First school?']) questionIds.push((await runtime.securityQuestions.addQuestion(text, testActor)).id);
    await runtime.securityQuestions.register(values.username, questionIds.map((id, index) => ({ question_id: id, answer: `answer ${index}` })), testActor);
    await runtime.appPasswords.create(values.username, 'Mail client', testActor);
    await runtime.policies.create({ name: `Policy ${tag}`, grant: 'mfa', users: { include: [values.username] } }, testActor);
    const request = (extra: Partial<AuthInput>): AuthInput => ({ username: values.username, application: server.application, ip: values.ip, authType: 'vpn', entryPoint: 'http_api', factor: 'auto', ...extra });
    const next = () => clock.advance(31_000);

    // Sign-ins through every method.
    next();
    expect(await runtime.engine.auth(request({ factor: 'oath', passcode: token.code(clock.now()) }))).toMatchObject({ result: 'allow', result_code: 'SUCCESS_OATH_CODE_VERIFIED' });
    next();
    const texted = await runtime.engine.auth(request({ factor: 'sms' }));
    const message = (await runtime.telephony.list({ gateway: 'outbox' })).items.find((item) => item.kind === 'sms');
    const code = /(\d{6})/.exec(message?.body ?? '')![1]!;
    expect(await runtime.engine.respond(server.application, texted.txid!, { passcode: code })).toMatchObject({ result: 'allow', result_code: 'SUCCESS_SMS_SENT' });
    next();
    const called = await runtime.engine.auth(request({ factor: 'voice' }));
    const call = (await runtime.telephony.list({ gateway: 'outbox' })).items.find((item) => item.kind === 'call')!;
    await playOutboxCall(runtime.telephony, runtime.engine, call.id, 'answer');
    await playOutboxCall(runtime.telephony, runtime.engine, call.id, 'keys', '#');
    expect(await runtime.engine.status(server.application, called.txid!, 0)).toMatchObject({ result: 'allow' });
    next();
    const device: AuthenticatorClient = await server.device(values.username, values.device);
    const pushed = await runtime.engine.auth(request({ factor: 'app' }));
    const [seen] = await device.pushes();
    expect(await device.answer(seen!.txid, { decision: 'approve', number: pushed.number })).toMatchObject({ result: 'allow', result_code: 'SUCCESS_PHONE_APP_AUTHENTICATED' });
    next();
    const wrong = token.code(clock.now()) === '000000' ? '000001' : '000000';
    const offer = await runtime.engine.auth(request({ factor: 'oath', passcode: wrong }));
    const answers = Object.fromEntries(offer.questions!.map((question) => [question.id, `answer ${questionIds.indexOf(question.id)}`]));
    expect(await runtime.engine.respond(server.application, offer.txid!, { answers })).toMatchObject({ result: 'allow', result_code: 'SUCCESS_FALLBACK_SECURITY_QUESTIONS_ANSWERED' });
    // A bypass used, a block with denied sign-ins (repeated failures, for the daily roll-up), an unblock.
    await runtime.bypasses.grant(values.username, { seconds: 300, reason: 'lost phone' }, testActor);
    next();
    expect(await runtime.engine.auth(request({}))).toMatchObject({ result: 'allow', result_code: 'SUCCESS_BYPASSED_AUTH' });
    await runtime.blocks.block(values.username, 'travelling', testActor);
    for (let n = 0; n < 3; n += 1) {
      next();
      expect(await runtime.engine.auth(request({}))).toMatchObject({ result: 'deny', result_code: 'SUCCESS_USER_BLOCKED' });
    }
    await runtime.blocks.unblock(values.username, 'back', testActor);
    // A sign-in typed with a different case.
    next();
    expect(await runtime.engine.auth(request({ username: values.username.toUpperCase(), factor: 'oath', passcode: token.code(clock.now()) }))).toMatchObject({ result: 'allow' });
    // A password, a reset e-mail, and a password reset proved by an e-mailed code.
    await runtime.selfService.setPassword(values.username, 'a long enough password', testActor);
    await runtime.selfService.registerEmail((await runtime.directory.find(db, values.username)), values.ssprEmail, values.ip);
    const reset = await runtime.selfService.start(values.username, values.ip);
    await runtime.selfService.verify(reset.session_id, { method: 'email' }, values.ip);
    const mailed = await db.selectFrom('mail_log').select(['to_address', 'body']).executeTakeFirstOrThrow();
    expect(mailed.to_address).toBe(values.ssprEmail);
    const resetCode = /(\d{8})/.exec(mailed.body!)![1]!;
    expect((await runtime.selfService.verify(reset.session_id, { method: 'email', code: resetCode }, values.ip)).status).toBe('verified');
    await runtime.selfService.complete(reset.session_id, 'another long password', values.ip);
    // Admin requests that carry the name in the path and in a refused body.
    const admin = await server.admin();
    expect((await fetch(`${server.url}/admin/v1/users/${values.username}`, { headers: admin })).status).toBe(200);
    expect((await fetch(`${server.url}/admin/v1/users`, { method: 'POST', headers: admin, body: JSON.stringify({ username: values.username }) })).status).toBe(409);
    // The next days: the roll-up of the day keeps the user's repeated failures by name.
    clock.advance(2 * 86_400_000);
    expect(await runtime.reports.rollUp()).toBeGreaterThan(0);
    expect(await db.selectFrom('signin_rollup_failures').select('username').execute()).toEqual([{ username: values.username }]);

    // The export holds every category.
    const exported = await fetch(`${server.url}/admin/v1/privacy/users/${encodeURIComponent(values.username)}/export`, { headers: admin });
    expect(exported.status).toBe(200);
    const document = (await exported.json()) as Record<string, Record<string, unknown>>;
    expect(document.schema).toBe('urn:countersign:privacy-export:1');
    // The document matches its published JSON schema (docs/schemas/privacy-export-1.schema.json).
    const ajv = new Ajv({ allErrors: true, strict: false });
    // Formats are checked too: every time in the export is an RFC 3339 date-time.
    addFormats.default(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(new URL('../docs/schemas/privacy-export-1.schema.json', import.meta.url), 'utf8')) as object);
    expect(validate(document) ? [] : validate.errors).toEqual([]);
    expect(document.profile).toMatchObject({ username: values.username, first_name: values.firstName, last_name: values.lastName, email: values.email, groups: [group.name] });
    const methods = document.methods as Record<string, unknown[] & Record<string, unknown>>;
    expect(methods.oath_tokens).toEqual([expect.objectContaining({ id: token.id, secret: 'sealed; never exported' })]);
    expect(methods.app_devices).toEqual([expect.objectContaining({ name: values.device })]);
    expect(methods.app_passwords).toEqual([expect.objectContaining({ name: 'Mail client', password: 'stored as a keyed hash; never exported' })]);
    expect(methods.security_questions).toMatchObject({ registered: expect.any(Array), answers: expect.stringContaining('cannot be exported') });
    expect(methods.conditional_access_policies).toEqual([{ policy: `Policy ${tag}`, mode: 'include' }]);
    const records = document.records as Record<string, unknown[]>;
    expect(records.signins!.length).toBe(10);
    expect(records.attempts!.length).toBeGreaterThanOrEqual(6);
    expect(records.activations!.length).toBeGreaterThanOrEqual(2);
    expect(records.blocks).toHaveLength(1);
    expect(records.bypasses).toHaveLength(1);
    expect(records.changes!.length).toBeGreaterThanOrEqual(1);
    expect(records.audit!.length).toBeGreaterThanOrEqual(5);
    const telephony = document.telephony as Record<string, unknown[]>;
    expect(telephony.sms).toHaveLength(1);
    // The text held the code: its words are withheld, as the mail's are (docs/privacy.md).
    expect(telephony.sms![0]).toMatchObject({ body: 'kept by the outbox; not exported (it held a one-time code)' });
    expect(JSON.stringify(document)).not.toContain(code);
    expect(telephony.calls).toHaveLength(1);
    const serviceLog = document.service_log as { lines: { event: string; personal: Record<string, unknown> | null }[] };
    expect(serviceLog.lines.map((line) => line.event)).toEqual(expect.arrayContaining(['user.create', 'security_answers.register']));
    expect(serviceLog.lines.every((line) => line.personal?.username === values.username)).toBe(true);
    expect(document.mail).toEqual([expect.objectContaining({ to: values.ssprEmail, subject: 'Your password reset code' })]);
    expect(records.password_resets).toEqual([expect.objectContaining({ status: 'completed', methods_passed: ['email'] })]);
    expect(records.password_reset_steps!.length).toBeGreaterThanOrEqual(4);
    expect(document.profile).toMatchObject({ password_set: true, sspr_email: values.ssprEmail });

    // Before the delete, the scan finds the values (it would see them if they stayed).
    const stores = () => (dialect === 'sqlite' ? [runtime.storage.file!, `${runtime.storage.file!}-wal`].filter(existsSync).map((file) => readFileSync(file)) : []);
    const everyValue = [...Object.values(values), ipKey(values.ip)!, user.id];
    if (dialect === 'sqlite') expect(found(Buffer.concat(stores()), everyValue)).toEqual(expect.arrayContaining([values.username, values.email, values.ip]));

    const erased = await fetch(`${server.url}/admin/v1/privacy/users/${encodeURIComponent(values.username)}`, { method: 'DELETE', headers: { authorization: admin.authorization! } });
    expect(erased.status).toBe(200);
    const receipt = (await erased.json()) as { counts: Record<string, number>; username_hash: string; storage: { wal_truncated: boolean | null } };
    expect(receipt.counts).toMatchObject({ users: 1, signins: 10, blocks: 1, bypasses: 1, telephony_log: expect.any(Number), log_keys: 1, signin_rollup_failures: 1, security_answers: 3, app_devices: 1, mail_log: 1, sspr_sessions: 1 });
    expect(receipt.storage.wal_truncated).toBe(dialect === 'sqlite' ? true : null);
    expect(JSON.stringify(receipt)).not.toContain(values.username);
    // The receipt can tell the name was erased; the export now finds nothing.
    const receipts = (await (await fetch(`${server.url}/admin/v1/privacy/receipts?username=${encodeURIComponent(values.username)}`, { headers: admin })).json()) as { items: { matches: boolean }[] };
    expect(receipts.items.map((item) => item.matches)).toEqual([true]);
    expect((await fetch(`${server.url}/admin/v1/privacy/users/${encodeURIComponent(values.username)}/export`, { headers: admin })).status).toBe(404);

    // The database: no byte of the file and its write-ahead log (SQLite), no row of any table (PostgreSQL).
    if (dialect === 'sqlite') {
      expect(found(Buffer.concat(stores()), everyValue)).toEqual([]);
    } else {
      const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = current_schema()`.execute(db);
      expect(tables.rows.length).toBeGreaterThan(20);
      for (const { table_name: table } of tables.rows) {
        const rows = await sql<{ row: string }>`select t::text as row from ${sql.table(table)} t`.execute(db);
        expect({ table, found: found(Buffer.from(rows.rows.map((row) => row.row).join('\n')), everyValue) }).toEqual({ table, found: [] });
      }
    }

    // The logs: everything written out and the connection closed before the bytes are read.
    await server.app.close();
    await closeServiceLog(log);
    await receiver.close();

    // Lines about the user are still in the log file, by id, but with no key they open to nothing.
    const logText = readFileSync(logFile);
    expect(logText.toString('utf8')).toContain(user.id);
    expect(found(logText, Object.values(values))).toEqual([]);
    expect(found(receiver.bytes(), Object.values(values))).toEqual([]);
    expect(receiver.bytes().length).toBeGreaterThan(1000);
    const lines: unknown[] = [];
    for await (const line of runtime.privacy.searchLog(user.id)) lines.push(line);
    expect(lines).toEqual([]);
  });
});
