import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { base32Decode } from '../src/modules/methods/oath/base32.js';
import { totp } from '../src/modules/methods/oath/otp.js';
import { cliSandbox } from './helpers/cli.js';

type Sandbox = ReturnType<typeof cliSandbox>;

describe('countersign app', () => {
  let cli: Sandbox;
  beforeEach(() => {
    cli = cliSandbox();
  });
  afterEach(() => cli.dispose());

  it('creates, lists, shows, updates, rotates and deletes an application', async () => {
    const created = await cli.run(['app', 'create', 'VPN']);
    expect(created.code, created.stderr).toBe(0);
    const key = /integration key\s+(CI[0-9A-Z]{18})\n/.exec(created.stdout)![1]!;
    const secret = /secret\s+(\S+)\n/.exec(created.stdout)![1]!;
    expect(created.stdout).toMatch(/name\s+VPN\n/);
    expect(created.stdout).toMatch(/status\s+enabled/);
    expect(created.stdout).toContain('Store the secret now: it is not shown again.\n');

    const json = await cli.run(['--json', 'app', 'create', 'Web portal']);
    const body = JSON.parse(json.stdout) as { application: { name: string; integration_key: string; enabled: boolean }; secret: string };
    expect(body.application).toMatchObject({ name: 'Web portal', enabled: true });
    expect(body.secret.length).toBeGreaterThan(20);

    const duplicate = await cli.run(['app', 'create', 'vpn']);
    expect(duplicate).toMatchObject({ code: 1, stdout: '', stderr: 'countersign: error: name: application vpn already exists\n' });

    const listed = await cli.run(['app', 'list']);
    expect(listed.stdout).toMatch(/^NAME\s+INTEGRATION KEY\s+STATUS\s+CREATED\n/);
    expect(listed.stdout).toMatch(new RegExp(`VPN\\s+${key}\\s+enabled`));
    expect(listed.stdout).toContain('Web portal');
    expect(listed.stdout).not.toContain(secret);
    const listedJson = JSON.parse((await cli.run(['--json', 'app', 'list'])).stdout) as { items: { name: string }[] };
    expect(listedJson.items.map((item) => item.name).sort()).toEqual(['VPN', 'Web portal']);

    const shown = await cli.run(['app', 'get', 'vpn']);
    expect(shown.stdout).toMatch(new RegExp(`integration key\\s+${key}`));
    expect(shown.stdout).not.toContain(secret);
    expect((await cli.run(['app', 'get', 'nope'])).stderr).toBe('countersign: error: application nope does not exist\n');

    const renamed = await cli.run(['app', 'update', 'vpn', '--name', 'VPN gateway', '--disable']);
    expect(renamed.code, renamed.stderr).toBe(0);
    expect(renamed.stdout).toMatch(/name\s+VPN gateway\n/);
    expect(renamed.stdout).toMatch(/status\s+disabled/);
    expect(JSON.parse((await cli.run(['--json', 'app', 'update', 'VPN gateway', '--enable'])).stdout)).toMatchObject({ name: 'VPN gateway', enabled: true, integration_key: key });
    expect((await cli.run(['app', 'update', 'VPN gateway'])).stderr).toBe('countersign: error: nothing to change: give --name, --enable or --disable\n');
    expect((await cli.run(['app', 'update', 'VPN gateway', '--enable', '--disable'])).stderr).toBe('countersign: error: --enable and --disable exclude each other\n');
    expect((await cli.run(['app', 'update', 'VPN gateway', '--name', 'web PORTAL'])).stderr).toBe('countersign: error: name: application web PORTAL already exists\n');

    const rotated = await cli.run(['app', 'rotate-secret', 'VPN gateway']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newSecret = /secret\s+(\S+)\n/.exec(rotated.stdout)![1]!;
    expect(newSecret).not.toBe(secret);
    expect(rotated.stdout).toContain('it is not shown again');
    const rotatedJson = JSON.parse((await cli.run(['--json', 'app', 'rotate-secret', 'VPN gateway'])).stdout) as { application: { name: string }; secret: string };
    expect(rotatedJson.application.name).toBe('VPN gateway');
    expect(rotatedJson.secret).not.toBe(newSecret);

    const refused = await cli.run(['app', 'delete', 'VPN gateway']);
    expect(refused).toMatchObject({ code: 1, stderr: 'countersign: error: deleting application VPN gateway needs --yes to confirm\n' });
    expect((await cli.run(['app', 'delete', 'VPN gateway', '--yes'])).stdout).toBe('deleted application VPN gateway\n');
    expect(JSON.parse((await cli.run(['--json', 'app', 'delete', 'web portal', '--yes'])).stdout)).toEqual({ deleted: 'web portal' });
    expect((await cli.run(['app', 'delete', 'VPN gateway', '--yes'])).stderr).toBe('countersign: error: application VPN gateway does not exist\n');
    expect((await cli.run(['app', 'list'])).stdout).toBe('NAME  INTEGRATION KEY  STATUS  CREATED\n');
  });
});

describe('countersign bypass, block, unblock', () => {
  let cli: Sandbox;
  beforeEach(async () => {
    cli = cliSandbox();
    expect((await cli.run(['user', 'add', 'kim@contoso.com'])).code).toBe(0);
    expect((await cli.run(['user', 'add', 'lee@contoso.com'])).code).toBe(0);
  });
  afterEach(() => cli.dispose());

  it('grants, cancels and lists bypasses', async () => {
    const granted = await cli.run(['bypass', 'kim@contoso.com', '--seconds', '300', '--reason', 'lost phone']);
    expect(granted.code, granted.stderr).toBe(0);
    expect(granted.stdout).toMatch(/user\s+kim@contoso.com/);
    expect(granted.stdout).toMatch(/status\s+open/);
    expect(granted.stdout).toMatch(/seconds\s+300/);
    expect(granted.stdout).toMatch(/reason\s+lost phone/);
    expect(granted.stdout).toMatch(/granted by\s+cli:/);

    const cancelled = await cli.run(['--json', 'bypass', 'kim@contoso.com', '--cancel']);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ username: 'kim@contoso.com', completion_reason: 'cancelled', bypass_used: false, duration_seconds: 300 });
    expect((await cli.run(['bypass', 'kim@contoso.com', '--cancel'])).stderr).toBe('countersign: error: user kim@contoso.com has no open bypass\n');

    await cli.run(['bypass', 'lee@contoso.com', '--seconds', '60', '--reason', 'travel']);
    const history = await cli.run(['bypass', '--history']);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toMatch(/^ID\s+USER\s+GRANTED\s+SECONDS\s+GRANTED BY\s+STATUS\s+REASON\n/);
    expect(history.stdout).toMatch(/2\s+lee@contoso.com\s+\S+\s+60\s+cli:\S+\s+open\s+travel\n1\s+kim@contoso.com\s+\S+\s+300\s+cli:\S+\s+cancelled\s+lost phone\n$/);
    const mine = JSON.parse((await cli.run(['--json', 'bypass', '--history', '--user', 'kim@contoso.com'])).stdout) as { items: { username: string }[]; next_cursor: string | null };
    expect(mine.items.map((item) => item.username)).toEqual(['kim@contoso.com']);
    const paged = await cli.run(['bypass', '--history', '--limit', '1']);
    expect(paged.stdout).toMatch(/lee@contoso.com[\s\S]*more: --cursor \S+\n$/);
    expect(paged.stdout).not.toContain('kim@contoso.com');
  });

  it('refuses bad bypass options with one clear line', async () => {
    const bad = await cli.run(['bypass', 'kim@contoso.com', '--seconds', 'ten', '--reason', 'x']);
    expect(bad).toMatchObject({ code: 1, stdout: '', stderr: 'countersign: error: --seconds: must be a whole number, got "ten"\n' });
    expect((await cli.run(['bypass', 'kim@contoso.com', '--seconds', '1.5', '--reason', 'x'])).stderr).toBe('countersign: error: --seconds: must be a whole number, got "1.5"\n');
    expect((await cli.run(['bypass', 'kim@contoso.com', '--seconds', '0', '--reason', 'x'])).stderr).toBe('countersign: error: --seconds: must be 1 to 2592000, got 0\n');
    expect((await cli.run(['bypass', 'kim@contoso.com', '--reason', 'x'])).stderr).toBe('countersign: error: --seconds is required: how long the bypass waits to be used\n');
    expect((await cli.run(['bypass', 'kim@contoso.com', '--seconds', '60'])).stderr).toBe('countersign: error: --reason is required: say why (it is recorded)\n');
    expect((await cli.run(['bypass', '--seconds', '60', '--reason', 'x'])).stderr).toBe('countersign: error: give a username (or --history to list the bypass history)\n');
    expect((await cli.run(['bypass', 'nobody', '--seconds', '60', '--reason', 'x'])).stderr).toBe('countersign: error: user nobody does not exist\n');
    expect((await cli.run(['bypass', 'kim@contoso.com', '--cancel', '--seconds', '60'])).stderr).toBe('countersign: error: --cancel excludes --seconds and --reason\n');
    expect((await cli.run(['bypass', '--history', '--seconds', '60'])).stderr).toBe('countersign: error: --history excludes --seconds\n');
    expect((await cli.run(['bypass', 'kim@contoso.com', '--user', 'lee'])).stderr).toBe('countersign: error: --user goes with --history\n');
    expect((await cli.run(['bypass', '--history', '--limit', 'all'])).stderr).toBe('countersign: error: --limit: must be a whole number, got "all"\n');
  });

  it('blocks, unblocks and lists blocks', async () => {
    const blocked = await cli.run(['block', 'kim@contoso.com', '--reason', 'reported fraud']);
    expect(blocked.code, blocked.stderr).toBe(0);
    expect(blocked.stdout).toMatch(/user\s+kim@contoso.com/);
    expect(blocked.stdout).toMatch(/status\s+blocked\n/);
    expect(blocked.stdout).toMatch(/reason\s+reported fraud/);
    expect(blocked.stdout).toMatch(/kind\s+administrator/);

    const unblocked = await cli.run(['unblock', 'kim@contoso.com', '--reason', 'phone replaced']);
    expect(unblocked.code, unblocked.stderr).toBe(0);
    expect(unblocked.stdout).toMatch(/status\s+ended: phone replaced/);
    expect((await cli.run(['unblock', 'kim@contoso.com', '--reason', 'again'])).stderr).toBe('countersign: error: user kim@contoso.com is not blocked\n');
    expect((await cli.run(['unblock', 'kim@contoso.com'])).stderr).toBe('countersign: error: --reason is required: say why (it is recorded)\n');
    expect((await cli.run(['block', 'kim@contoso.com'])).stderr).toBe('countersign: error: --reason is required: say why (it is recorded)\n');
    expect((await cli.run(['block', 'kim@contoso.com', '--reason', '  '])).stderr).toBe('countersign: error: --reason: must be 1 to 500 characters\n');
    expect((await cli.run(['block', 'nobody', '--reason', 'x'])).stderr).toBe('countersign: error: user nobody does not exist\n');

    expect(JSON.parse((await cli.run(['--json', 'block', 'lee@contoso.com', '--reason', 'left'])).stdout)).toMatchObject({ username: 'lee@contoso.com', blocked: true, block_reason: 'left' });
    const history = await cli.run(['block', '--history']);
    expect(history.stdout).toMatch(/^ID\s+USER\s+BLOCKED\s+BLOCKED BY\s+STATUS\s+REASON\n/);
    expect(history.stdout).toMatch(/2\s+lee@contoso.com\s+\S+\s+cli:\S+\s+blocked\s+left\n1\s+kim@contoso.com\s+\S+\s+cli:\S+\s+ended: phone replaced\s+reported fraud\n$/);
    const kim = JSON.parse((await cli.run(['--json', 'block', '--history', '--user', 'kim@contoso.com'])).stdout) as { items: { username: string; completion_reason: string }[] };
    expect(kim.items).toMatchObject([{ username: 'kim@contoso.com', completion_reason: 'phone replaced' }]);
    expect((await cli.run(['block', '--history', '--user', 'nobody'])).stderr).toBe('countersign: error: user nobody does not exist\n');
    expect((await cli.run(['block', '--history', '--reason', 'x'])).stderr).toBe('countersign: error: --history excludes --reason\n');
  });
});

describe('countersign auth', () => {
  let cli: Sandbox;
  beforeEach(() => {
    cli = cliSandbox();
  });
  afterEach(() => cli.dispose());

  /**
   * A user with an active TOTP token. Activation uses up the current time
   * step, so each returned code is for the next step (the engine accepts one
   * step either side): one accepted code per user.
   */
  async function userWithToken(username: string): Promise<{ code: () => string }> {
    expect((await cli.run(['user', 'add', username])).code).toBe(0);
    const enrolled = await cli.run(['--json', 'oath', 'enroll', username, '--name', 'Phone']);
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const { token, secret } = JSON.parse(enrolled.stdout) as { token: { id: string }; secret: string };
    const params = { secret: base32Decode(secret)!, algorithm: 'SHA1' as const, digits: 6 as const };
    const activated = await cli.run(['oath', 'activate', username, token.id, totp(params, Date.now(), 30)]);
    expect(activated.code, activated.stderr).toBe(0);
    return { code: () => totp(params, Date.now() + 30_000, 30) };
  }

  it('allows a right code given with --code and denies a wrong one', async () => {
    const kim = await userWithToken('kim@contoso.com');
    const allowed = await cli.run(['auth', 'kim@contoso.com', '--code', kim.code()]);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout).toBe('methods: oath (Phone)\nallowed: SUCCESS_OATH_CODE_VERIFIED (successfully completed)\n');
    expect(allowed.stderr).toBe('');

    const denied = await cli.run(['auth', 'kim@contoso.com', '--code', '000000', '--ip', '192.0.2.7']);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toBe('methods: oath (Phone)\ndenied: FAILED_OATH_CODE_INCORRECT (user entered incorrect code)\n');
    expect(denied.stderr).toBe('');

    // The CLI registered its own application on first use.
    expect((await cli.run(['app', 'list'])).stdout).toMatch(/Countersign CLI\s+CI[0-9A-Z]{18}\s+enabled/);
  });

  it('asks for the code on the terminal and reads it from stdin', async () => {
    const lee = await userWithToken('lee@contoso.com');
    const result = await cli.run(['auth', 'lee@contoso.com'], `${lee.code()}\n`);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('Enter the code from your OATH token: ');
    expect(result.stdout).toBe('methods: oath (Phone)\nallowed: SUCCESS_OATH_CODE_VERIFIED (successfully completed)\n');

    const wrong = await cli.run(['auth', 'lee@contoso.com'], '123\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/denied: FAILED_OATH_CODE_INCORRECT \(user entered incorrect code\)\n$/);

    const nothing = await cli.run(['auth', 'lee@contoso.com'], '');
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toMatch(/countersign: error: no answer given: standard input ended/);
  });

  it('authenticates as a named application and prints JSON', async () => {
    const sam = await userWithToken('sam@contoso.com');
    expect((await cli.run(['app', 'create', 'VPN'])).code).toBe(0);
    const result = await cli.run(['--json', 'auth', 'sam@contoso.com', '--app', 'vpn', '--code', sam.code(), '--auth-type', 'vpn']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ result: 'allow', result_code: 'SUCCESS_OATH_CODE_VERIFIED', detail: 'successfully completed' });
    expect((await cli.run(['app', 'list'])).stdout).not.toContain('Countersign CLI');

    expect((await cli.run(['auth', 'sam@contoso.com', '--app', 'nope', '--code', '1'])).stderr).toBe('countersign: error: application nope does not exist\n');
    await cli.run(['app', 'update', 'vpn', '--disable']);
    expect((await cli.run(['auth', 'sam@contoso.com', '--app', 'vpn', '--code', '1'])).stderr).toBe('countersign: error: application VPN is disabled\n');
    expect((await cli.run(['auth', 'sam@contoso.com', '--ip', 'here'])).stderr).toBe('countersign: error: --ip: here is not an IPv4 or IPv6 address\n');
  });

  it('asks the security questions, one line each, after a wrong code when that fallback is on', async () => {
    const withQuestions = cliSandbox({ COUNTERSIGN_AUTH_FALLBACK_QUESTIONS: 'true' });
    try {
      expect((await withQuestions.run(['user', 'add', 'ivy'])).code).toBe(0);
      const enrolled = JSON.parse((await withQuestions.run(['--json', 'oath', 'enroll', 'ivy'])).stdout) as { token: { id: string }; secret: string };
      const params = { secret: base32Decode(enrolled.secret)!, algorithm: 'SHA1' as const, digits: 6 as const };
      expect((await withQuestions.run(['oath', 'activate', 'ivy', enrolled.token.id, totp(params, Date.now(), 30)])).code).toBe(0);
      const ids: string[] = [];
      for (const text of ['Pet?', 'City?', 'School?']) ids.push((JSON.parse((await withQuestions.run(['--json', 'question', 'add', text])).stdout) as { id: string }).id);
      // The engine draws the questions at random: one answer for all three keeps the test independent of the draw.
      const registered = await withQuestions.run(['question', 'register', 'ivy', '--stdin'], ids.map((id) => `${id}=Biscuit\n`).join(''));
      expect(registered.code, registered.stderr).toBe(0);

      const wrong = await withQuestions.run(['auth', 'ivy', '--code', '000000'], 'Rex\nRex\n');
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/^Answer your security questions\n(Pet|City|School)\?: (Pet|City|School)\?: $/);
      expect(wrong.stdout).toMatch(/^methods: oath \(OATH token\)\ndenied: FAILED_OATH_CODE_INCORRECT \(user entered incorrect code\)\n$/);

      // The code prompt first, then the two questions: three successive lines of stdin.
      const right = await withQuestions.run(['--json', 'auth', 'ivy'], '000000\nbiscuit\nBISCUIT\n');
      expect(right.code, right.stderr).toBe(0);
      expect(right.stderr).toMatch(/^Enter the code from your OATH token: Answer your security questions\n(Pet|City|School)\?: (Pet|City|School)\?: $/);
      expect(JSON.parse(right.stdout)).toMatchObject({ result: 'allow', result_code: 'SUCCESS_FALLBACK_SECURITY_QUESTIONS_ANSWERED' });
    } finally {
      withQuestions.dispose();
    }
  });

  it('denies an unknown user, a blocked user and a user without methods; allows a bypass', async () => {
    const unknown = await cli.run(['auth', 'nobody@contoso.com', '--code', '123456']);
    expect(unknown).toMatchObject({ code: 1, stdout: 'denied: user not found\n', stderr: '' });
    const unknownJson = await cli.run(['--json', 'auth', 'nobody@contoso.com']);
    expect(unknownJson.code).toBe(1);
    expect(JSON.parse(unknownJson.stdout)).toMatchObject({ result: 'unknown_user', detail: 'user not found' });

    await cli.run(['user', 'add', 'new@contoso.com']);
    expect((await cli.run(['auth', 'new@contoso.com'])).stdout).toBe('enroll: no verification method registered (registration prompted)\n');

    await cli.run(['bypass', 'new@contoso.com', '--seconds', '60', '--reason', 'first day']);
    const bypassed = await cli.run(['auth', 'new@contoso.com']);
    expect(bypassed.code, bypassed.stderr).toBe(0);
    expect(bypassed.stdout).toMatch(/^allowed: SUCCESS_BYPASSED_AUTH \(/);

    await cli.run(['block', 'new@contoso.com', '--reason', 'fraud']);
    const blocked = await cli.run(['auth', 'new@contoso.com']);
    expect(blocked.code).toBe(1);
    expect(blocked.stdout).toBe('denied: SUCCESS_USER_BLOCKED (user is blocked)\n');
  });
});

describe('countersign outbox', () => {
  let cli: Sandbox;
  beforeEach(() => {
    cli = cliSandbox();
  });
  afterEach(() => cli.dispose());

  it('shows the text messages an authentication sent to the outbox', async () => {
    expect((await cli.run(['user', 'add', 'bob@contoso.com', '--phone', '202 555 0123'])).code).toBe(0);
    expect((await cli.run(['outbox'])).stdout).not.toContain('+12025550123');
    // Three wrong codes (one chance in about 330 000 that a random code is among them).
    const denied = await cli.run(['auth', 'bob@contoso.com'], '000000\n000001\n000002\n');
    expect(denied.stderr).toContain('Enter the code sent to your phone');
    expect(denied.stdout).toContain('denied: FAILED_SMS_MAX_OTP_RETRY_REACHED');
    const shown = await cli.run(['outbox']);
    expect(shown.stdout).toMatch(/sms\s+bob@contoso\.com\s+\+12025550123\s+to\s+stored\s+Your verification code is \d{6}\./);
    const json = JSON.parse((await cli.run(['--json', 'outbox', '--limit', '1'])).stdout) as { items: { to: string; gateway: string }[] };
    expect(json.items).toEqual([expect.objectContaining({ to: '+12025550123', gateway: 'outbox' })]);
    expect((await cli.run(['outbox', '--limit', '0'])).stderr).toBe('countersign: error: limit: must be a whole number from 1 to 1000\n');
  });

  it('sets the SMS and OATH modes of a user', async () => {
    expect((await cli.run(['user', 'add', 'bob@contoso.com', '--sms-mode', 'otp_pin'])).code).toBe(0);
    expect((await cli.run(['user', 'update', 'bob@contoso.com', '--oath-mode', 'pin'])).code).toBe(0);
    const shown = (await cli.run(['user', 'get', 'bob@contoso.com'])).stdout;
    expect(shown).toMatch(/oath mode\s+pin\n/);
    expect(shown).toMatch(/sms mode\s+otp_pin\n/);
    const bad = await cli.run(['user', 'update', 'bob@contoso.com', '--sms-mode', 'pin']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("argument 'pin' is invalid");
  });

  it('replies to a two-way text as the phone would, and an authentication waiting in another process sees it', async () => {
    expect((await cli.run(['user', 'add', 'bob@contoso.com', '--phone', '202 555 0123', '--sms-direction', 'two_way'])).code).toBe(0);
    expect((await cli.run(['outbox', 'reply', '+12025550123', '123456'])).stdout).toBe('no two-way text message is waiting for +12025550123\n');
    const waiting = cli.run(['auth', 'bob@contoso.com']);
    let code: string | undefined;
    for (let tries = 0; tries < 300 && !code; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const page = JSON.parse((await cli.run(['--json', 'outbox'])).stdout) as { items: { direction: string; body: string | null }[] };
      code = /reply with (\d{6})/.exec(page.items.find((item) => item.direction === 'outbound')?.body ?? '')?.[1];
    }
    expect((await cli.run(['outbox', 'reply', '+12025550123', code!])).stdout).toBe('allow: SUCCESS_SMS_AUTHENTICATED\n');
    const done = await waiting;
    expect(done.stdout).toContain('allowed: SUCCESS_SMS_AUTHENTICATED');
    expect((await cli.run(['outbox', 'reply', '2025550123', 'x'])).stderr).toBe('countersign: error: from: must be a number in E.164, such as +12025550123\n');
    expect((await cli.run(['outbox'])).stdout).toMatch(/\+12025550123\s+from\s+received\s+\d{6}/);
  });

  it('plays the phone on a voice call: answer, then the PIN and #', async () => {
    expect((await cli.run(['user', 'add', 'bob@contoso.com', '--phone', '202 555 0123', '--call-mode', 'pin', '--pin', '4821'])).code).toBe(0);
    expect((await cli.run(['user', 'get', 'bob@contoso.com'])).stdout).toMatch(/call mode\s+pin\n/);
    const waiting = cli.run(['auth', 'bob@contoso.com', '--factor', 'voice']);
    let id: string | undefined;
    for (let tries = 0; tries < 300 && !id; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const page = JSON.parse((await cli.run(['--json', 'outbox'])).stdout) as { items: { id: string; kind: string }[] };
      id = page.items.find((item) => item.kind === 'call')?.id;
    }
    expect((await cli.run(['outbox'])).stdout).toMatch(/call\s+bob@contoso\.com\s+\+12025550123\s+to\s+stored\s+This is your sign-in verification call/);
    const answered = await cli.run(['outbox', 'call', id!, 'answer']);
    expect(answered.stdout).toBe('says: This is your sign-in verification call. To sign in, enter your PIN followed by the pound key. If you are not signing in, press 0 pound to report it.\nwaits for keys\n');
    expect((await cli.run(['outbox', 'call', id!, 'keys', '48x1#'])).stderr).toContain('keys: give 1 to 32 of 0-9, * and #');
    expect((await cli.run(['outbox', 'call', id!, 'dance'])).stderr).toContain('action: must be one of answer, voicemail, fax, keys');
    expect((await cli.run(['outbox', 'call', id!, 'keys', '4821#'])).stdout).toBe('says: You are signed in. Goodbye.\nhung up\n');
    expect((await waiting).stdout).toContain('allowed: SUCCESS_WITH_PIN');
    expect((await cli.run(['outbox', 'call', 'no-such-call', 'answer'])).stderr).toBe('countersign: error: call no-such-call is not one this gateway placed\n');
  });
});
