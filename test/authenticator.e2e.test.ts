import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAppServer } from './helpers/app-server.js';
import { startFakeCarrier } from './helpers/fake-carrier.js';
import { testActor } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

const BIN = resolve(import.meta.dirname, '../bin/countersign-authenticator.js');

/** The built countersign-authenticator as a separate process: its output so far, a way to type a line, and its end. */
function authenticator(file: string, args: string[]) {
  const child = spawn(process.execPath, [BIN, '--file', file, ...args], { env: { ...process.env, COUNTERSIGN_AUTHENTICATOR_FILE: '' } });
  let output = '';
  let errors = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const ended = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolvePromise) => child.on('close', (code) => resolvePromise({ code, stdout: output, stderr: errors })));
  return {
    ended,
    type: (line: string) => child.stdin.write(`${line}\n`),
    /** Resolves when the output holds `text`. */
    async sees(text: string, timeoutMs = 15_000): Promise<void> {
      const until = Date.now() + timeoutMs;
      while (!output.includes(text)) {
        if (Date.now() > until) throw new Error(`no "${text}" in:\n${output}\n${errors}`);
        await new Promise((wait) => setTimeout(wait, 20));
      }
    },
    kill: () => child.kill(),
  };
}

const run = async (file: string, args: string[]) => authenticator(file, args).ended;

describe.each(DIALECTS)('countersign-authenticator as a separate process, against a server on %s', (dialect) => {
  let server: Awaited<ReturnType<typeof startAppServer>>;
  let dir: string;
  let file: string;
  beforeEach(async () => {
    server = await startAppServer(dialect);
    await server.t.runtime.directory.create({ username: 'bob@contoso.com', pin: '4821' }, testActor);
    dir = mkdtempSync(join(tmpdir(), 'countersign-authenticator-'));
    file = join(dir, 'keys.json');
  });
  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a sign-in and answers it in `watch --once`, typing `lines`; returns the authenticator's output and the sign-in's end. */
  async function signIn(lines: (number: string | undefined) => string[]) {
    const watcher = authenticator(file, ['watch', '--once', '--wait', '5']);
    await watcher.sees('watching for pushes');
    server.t.clock.advance(1000);
    const started = await server.t.runtime.engine.auth(server.request());
    await watcher.sees('push: Corporate VPN from 198.51.100.9');
    for (const line of lines(started.number)) watcher.type(line);
    const { code, stdout } = await watcher.ended;
    return { code, stdout, end: await server.t.runtime.engine.status(server.application, started.txid!, 0) };
  }

  it('activates, keeps its key in a 0600 file, answers pushes, reports fraud and shows OATH codes', async () => {
    const { uri } = await server.activationCode();
    const activated = await run(file, ['activate', uri, '--name', 'Bob laptop']);
    expect(activated).toMatchObject({ code: 0, stdout: expect.stringContaining('activated bob@contoso.com on') });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain('BEGIN PRIVATE KEY');
    expect((await run(file, ['devices'])).stdout).toMatch(/^bob@contoso\.com {2}http:\/\/127\.0\.0\.1:\d+ {2}device \S+ {2}active, named "Bob laptop"\n$/);
    // The user adds a second authenticator from this one.
    const added = await run(file, ['add-device']);
    const secondUri = /^(countersign:\/\/activate\S+)$/m.exec(added.stdout)![1]!;
    const otherFile = join(dir, 'other.json');
    expect((await run(otherFile, ['activate', secondUri, '--name', 'Bob desktop'])).code).toBe(0);
    const both = await server.t.runtime.appDevices.list('bob@contoso.com');
    expect(both.map((device) => device.name).sort()).toEqual(['Bob desktop', 'Bob laptop']);
    await server.t.runtime.appDevices.delete('bob@contoso.com', both.find((device) => device.name === 'Bob desktop')!.id, testActor);

    // Approve with the number from the sign-in screen.
    const approved = await signIn((number) => [number!, 'approve']);
    expect(approved.stdout).toContain('number shown on the sign-in screen: approve, deny or fraud: allow: SUCCESS_PHONE_APP_AUTHENTICATED');
    expect(approved.end).toMatchObject({ result: 'allow', result_code: 'SUCCESS_PHONE_APP_AUTHENTICATED' });
    // A wrong number (the activation gave an OATH secret, so the application is offered the OATH fallback; left to time out).
    const wrong = await signIn((number) => [number === '42' ? '43' : '42', 'approve']);
    expect(wrong.end).toMatchObject({ result: 'waiting', result_code: 'FAILED_PHONE_APP_INVALID_RESULT', fallback: ['oath'] });
    server.t.clock.advance(310_000);
    // Deny.
    const denied = await signIn(() => ['00', 'deny']);
    expect(denied.stdout).toContain('waiting: FAILED_PHONE_APP_DENIED');
    expect(denied.end).toMatchObject({ result: 'waiting', result_code: 'FAILED_PHONE_APP_DENIED', fallback: ['oath'] });
    // The OATH code the authenticator shows completes that fallback.
    const code = (await run(file, ['code'])).stdout.trim();
    expect(code).toMatch(/^\d{6}$/);
    expect(await server.t.runtime.engine.respond(server.application, denied.end.txid!, { passcode: code })).toMatchObject({ result: 'allow', result_code: 'SUCCESS_FALLBACK_OATH_CODE_VERIFIED' });
    // Fraud: denied, and the user is blocked.
    const fraud = await signIn(() => ['00', 'fraud']);
    expect(fraud.end).toMatchObject({ result: 'deny', result_code: 'FAILED_FRAUD_REPORTED' });
    expect(await server.t.runtime.engine.auth(server.request())).toMatchObject({ result_code: 'SUCCESS_USER_BLOCKED' });
  });

  it('PIN mode, an expired PIN, a push nobody answers, and a device blocked for missing them', async () => {
    await server.t.runtime.directory.update('bob@contoso.com', { app_mode: 'pin' }, testActor);
    const { uri } = await server.activationCode('bob@contoso.com', { oath: false });
    expect((await run(file, ['activate', uri])).code).toBe(0);
    const wrongPin = await signIn((number) => [number!, '1111', 'approve']);
    expect(wrongPin.stdout).toContain('PIN: ');
    expect(wrongPin.end).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_APP_INVALID_PIN' });
    await server.t.runtime.directory.update('bob@contoso.com', { pin_change_required: true }, testActor);
    const notChanged = await signIn((number) => [number!, '4821', '12', 'approve']);
    expect(notChanged.stdout).toContain('new PIN (yours has expired): ');
    expect(notChanged.end).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_APP_PIN_NOT_CHANGED' });
    const changed = await signIn((number) => [number!, '4821', '7340', 'approve']);
    expect(changed.end).toMatchObject({ result: 'allow', result_code: 'SUCCESS_PHONE_APP_AUTHENTICATED' });

    // The authenticator sees the push but nobody answers it.
    const watcher = authenticator(file, ['watch', '--once', '--wait', '5']);
    await watcher.sees('watching for pushes');
    const started = await server.t.runtime.engine.auth(server.request());
    await watcher.sees('push: Corporate VPN');
    watcher.kill();
    server.t.clock.advance(121_000);
    expect(await server.t.runtime.engine.status(server.application, started.txid!, 0)).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_APP_NO_RESPONSE' });
    const [device] = await server.t.runtime.appDevices.list('bob@contoso.com');
    await server.t.runtime.appDevices.block('bob@contoso.com', device!.id, 'stopped answering', testActor);
    expect(await server.t.runtime.engine.auth(server.request())).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_APP_ALL_DEVICES_BLOCKED' });
    expect((await run(file, ['devices'])).stdout).toContain('refused (unauthenticated)');
  });

  it('is woken through a push relay: FAILED_PHONE_APP_NOTIFICATION_FAILED while the relay is down', async () => {
    const relay = await startFakeCarrier();
    await server.close();
    server = await startAppServer(dialect, { app: { pushGateway: 'webhook', pushWebhookUrl: `${relay.url}/push` } });
    try {
      await server.t.runtime.directory.create({ username: 'bob@contoso.com' }, testActor);
      const { uri } = await server.activationCode('bob@contoso.com', { oath: false });
      expect((await run(file, ['activate', uri, '--push-token', 'fcm-token-1'])).code).toBe(0);
      relay.respond((_request, response) => response.writeHead(503).end());
      expect(await server.t.runtime.engine.auth(server.request())).toMatchObject({ result: 'deny', result_code: 'FAILED_PHONE_APP_NOTIFICATION_FAILED' });
      relay.respond((_request, response) => response.writeHead(202).end());
      const approved = await signIn((number) => [number!, 'approve']);
      expect(approved.end).toMatchObject({ result: 'allow', result_code: 'SUCCESS_PHONE_APP_AUTHENTICATED' });
      expect(JSON.parse(relay.requests.at(-1)!.body)).toMatchObject({ push_token: 'fcm-token-1', application: 'Corporate VPN' });
    } finally {
      await relay.close();
    }
  });

  it('refuses a bad activation and a damaged key file with a clear message', async () => {
    expect(await run(file, ['activate', `${server.url}`, 'AAAA-BBBB-CCCC-DDDD'])).toMatchObject({
      code: 1,
      stderr: 'countersign-authenticator: error: code: the activation code does not exist (invalid_activation_code)\n',
    });
    expect(await run(file, ['activate', 'mfa.example.com'])).toMatchObject({ code: 1, stderr: expect.stringContaining('give the countersign://activate URI') });
    expect(await run(file, ['code'])).toMatchObject({ code: 2, stderr: expect.stringContaining('no device is activated yet') });
    expect(await run(file, ['watch', '--wait', '99'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--wait: a whole number of seconds from 1 to 60') });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, '{ nope');
    expect(await run(file, ['devices'])).toMatchObject({ code: 1, stderr: `countersign-authenticator: error: ${file}: not valid JSON\n` });
  });
});
