import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/program.js';
import { Mail } from '../src/modules/mail/mail.js';
import { outboxMailGateway } from '../src/modules/mail/outbox.js';
import { FakeClock } from '../src/shared/clock.js';
import { openStorage } from '../src/storage/database.js';
import { cliSandbox } from './helpers/cli.js';

type Sandbox = ReturnType<typeof cliSandbox>;

describe('countersign CLI', () => {
  let cli: Sandbox;
  beforeEach(() => {
    cli = cliSandbox();
  });
  afterEach(() => cli.dispose());

  it('has --help on every command', async () => {
    const walk = (command: ReturnType<typeof buildProgram>, path: string[]): string[][] => [path, ...command.commands.flatMap((sub) => walk(sub as typeof command, [...path, sub.name()]))];
    const paths = walk(buildProgram({ stdout: { write: () => true }, stderr: { write: () => true }, stdin: process.stdin, env: {} }), []);
    expect(paths.length).toBeGreaterThan(18);
    for (const path of paths) {
      const result = await cli.run([...path, '--help']);
      expect(result.code, path.join(' ')).toBe(0);
      expect(result.stdout, path.join(' ')).toMatch(/^Usage: countersign/);
    }
  });

  it('adds, shows, lists, updates and deletes a user', async () => {
    const added = await cli.run(['user', 'add', 'kim@contoso.com', '--first-name', 'Kim', '--phone', '2025550111', '--extension', '9#', '--pin', '4321']);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/username\s+kim@contoso.com/);
    expect(added.stdout).toMatch(/phone\s+\+1 2025550111 x9#/);
    const json = await cli.run(['--json', 'user', 'get', 'KIM@contoso.com']);
    expect(JSON.parse(json.stdout)).toMatchObject({ username: 'kim@contoso.com', pin_set: true, mfa_state: 'Enabled' });
    const updated = await cli.run(['--json', 'user', 'update', 'kim@contoso.com', '--mfa-state', 'Enforced', '--clear-phone', '--disabled']);
    expect(JSON.parse(updated.stdout)).toMatchObject({ mfa_state: 'Enforced', phone: null, account_enabled: false });
    const listed = await cli.run(['user', 'list']);
    expect(listed.stdout).toMatch(/^USERNAME\s+NAME\s+MFA STATE/);
    expect(listed.stdout).toMatch(/kim@contoso.com\s+Kim\s+Enforced\s+disabled/);
    expect((await cli.run(['user', 'delete', 'kim@contoso.com'])).code).toBe(1);
    expect((await cli.run(['user', 'delete', 'kim@contoso.com', '--yes'])).stdout).toBe('deleted kim@contoso.com\n');
  });

  it('fails with one clear line and a non-zero exit', async () => {
    const badPhone = await cli.run(['user', 'add', 'x', '--phone', '12']);
    expect(badPhone).toMatchObject({ code: 1, stdout: '' });
    expect(badPhone.stderr).toBe('countersign: error: phone.number: phone number must be numeric (4 to 15 digits)\n');
    const badExtension = await cli.run(['user', 'add', 'x', '--phone', '2025550123', '--extension', 'abc']);
    expect(badExtension.stderr).toMatch(/^countersign: error: phone.extension: extension may hold only/);
    const missing = await cli.run(['user', 'get', 'nobody']);
    expect(missing).toMatchObject({ code: 1, stderr: 'countersign: error: user nobody does not exist\n' });
    await cli.run(['user', 'add', 'dup']);
    expect((await cli.run(['user', 'add', 'DUP'])).stderr).toBe('countersign: error: username: DUP already exists\n');
    const unknown = await cli.run(['user', 'frobnicate']);
    expect(unknown.code).toBe(2);
    const badConfig = await cliSandbox({ COUNTERSIGN_HTTP_PORT: 'x' }).run(['user', 'list']);
    expect(badConfig).toMatchObject({ code: 1, stderr: 'countersign: error: COUNTERSIGN_HTTP_PORT: expected a whole number, got "x"\n' });
  });

  it('imports a CSV file, prints the per-row report and exits 3 when rows were refused', async () => {
    const file = join(cli.dir, 'users.csv');
    writeFileSync(file, 'username,phone_number,groups\nok@contoso.com,2025550101,Staff\nbad@contoso.com,99,\n');
    const result = await cli.run(['user', 'import', file, '--create-groups']);
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('2 rows: 1 created, 1 failed');
    expect(result.stdout).toContain('groups created: Staff');
    expect(result.stdout).toMatch(/3\s+bad@contoso.com\s+phone.number\s+phone.number: phone number must be numeric/);
    const fromStdin = await cli.run(['--json', 'user', 'import', '-'], 'username\nstdin@contoso.com\n');
    expect(JSON.parse(fromStdin.stdout)).toMatchObject({ rows: 1, created: 1, failed: 0 });
    expect(fromStdin.code).toBe(0);
    expect((await cli.run(['user', 'import', '--template'])).stdout).toMatch(/^username,first_name,last_name,email,/);
    expect((await cli.run(['user', 'import', join(cli.dir, 'missing.csv')])).stderr).toMatch(/missing.csv: cannot read file \(ENOENT\)/);
  });

  it('manages groups', async () => {
    await cli.run(['user', 'add', 'lee']);
    expect((await cli.run(['group', 'create', 'Remote', '--description', 'remote staff'])).code).toBe(0);
    expect((await cli.run(['group', 'add-member', 'remote', 'lee'])).stdout).toMatch(/members\s+1/);
    expect((await cli.run(['group', 'list'])).stdout).toMatch(/Remote\s+1\s+remote staff/);
    expect((await cli.run(['group', 'update', 'remote', '--name', 'Remote Staff'])).stdout).toMatch(/name\s+Remote Staff/);
    expect((await cli.run(['group', 'remove-member', 'remote staff', 'lee'])).code).toBe(0);
    expect((await cli.run(['group', 'delete', 'remote staff'])).stdout).toBe('deleted group remote staff\n');
    expect((await cli.run(['group', 'get', 'remote staff'])).code).toBe(1);
  });

  it('creates, lists and revokes admin keys', async () => {
    const created = await cli.run(['--json', 'admin-key', 'create', '--name', 'ci', '--role', 'Reports Reader']);
    const { key, secret } = JSON.parse(created.stdout) as { key: { id: string; role: string }; secret: string };
    expect(key.role).toBe('reports_reader');
    expect(secret).toMatch(/^csk_[0-9a-f]{16}_/);
    expect((await cli.run(['admin-key', 'list'])).stdout).toMatch(new RegExp(`${key.id}\\s+ci\\s+reports_reader`));
    expect((await cli.run(['admin-key', 'revoke', key.id])).stdout).toBe(`revoked ${key.id} (ci)\n`);
    expect((await cli.run(['admin-key', 'list'])).stdout).not.toContain(key.id);
    expect((await cli.run(['admin-key', 'list', '--all'])).stdout).toContain(key.id);
    expect((await cli.run(['admin-key', 'create', '--name', 'x', '--role', 'boss'])).stderr).toMatch(/role: must be one of/);
  });

  it('migrates, shows status and rolls back', async () => {
    expect((await cli.run(['migrate'])).stdout).toBe('applied 0001-foundation, 0002-authentication, 0003-lean-attempt-indexes, 0004-telephony, 0005-voice, 0006-authenticator-app, 0007-signin-log, 0008-server-nodes, 0009-conditional-access, 0010-signin-rollups, 0011-privacy, 0012-self-service, 0013-catalog-notify, 0014-cluster, 0015-username-keys, 0016-sspr-name-throttle\n');
    expect((await cli.run(['migrate'])).stdout).toBe('database is up to date\n');
    expect((await cli.run(['migrate', '--status'])).stdout).toMatch(/0016-sspr-name-throttle\s+\d{4}-/);
    expect((await cli.run(['migrate', '--rollback'])).stdout).toBe('reverted 0016-sspr-name-throttle\n');
    expect((await cli.run(['migrate', '--status'])).stdout).toMatch(/0016-sspr-name-throttle\s+pending/);
    expect((await cli.run(['migrate'])).stdout).toBe('applied 0016-sspr-name-throttle\n');
  });
});

describe('countersign outbox mail', () => {
  let cli: Sandbox;
  beforeEach(() => {
    cli = cliSandbox();
  });
  afterEach(() => cli.dispose());

  it('shows the e-mails the mail outbox kept, newest first, with their text', async () => {
    expect((await cli.run(['outbox', 'mail'])).stdout).toBe('no e-mail in the outbox\n');
    const storage = openStorage({ url: `sqlite:${join(cli.dir, 'countersign.db')}`, dataDir: cli.dir });
    const clock = new FakeClock(Date.UTC(2026, 10, 1, 12, 0, 0));
    const mail = new Mail({ db: storage.db, clock, gateway: outboxMailGateway });
    await mail.prepare(storage.db, { userId: null, to: 'kim@example.com', subject: 'Reset your password', text: 'Your code is 123456.\nIt expires in 10 minutes.\n' });
    clock.advance(60_000);
    await mail.prepare(storage.db, { userId: null, to: 'lee@example.com', subject: 'Your password was changed', text: 'If this was not you, call the help desk.' });
    await storage.close();
    const shown = await cli.run(['outbox', 'mail']);
    expect(shown.stdout).toMatch(/^time\s+2026-11-01T12:01:00\.000Z\nid\s+\w+\nto\s+lee@example\.com\nsubject\s+Your password was changed\nstatus\s+stored\n\n {2}If this was not you, call the help desk\.\n\n/);
    expect(shown.stdout).toMatch(/to\s+kim@example\.com\nsubject\s+Reset your password\nstatus\s+stored\n\n {2}Your code is 123456\.\n {2}It expires in 10 minutes\.\n$/);
    const json = JSON.parse((await cli.run(['--json', 'outbox', 'mail', '--limit', '1'])).stdout) as { items: { to: string; body: string }[] };
    expect(json.items).toEqual([expect.objectContaining({ to: 'lee@example.com', body: 'If this was not you, call the help desk.' })]);
    expect((await cli.run(['outbox', 'mail', '--limit', '0'])).stderr).toBe('countersign: error: limit: must be a whole number from 1 to 1000\n');
    expect((await cli.run(['outbox', '--limit', '1', 'mail'])).stdout).not.toContain('kim@example.com');
    expect((await cli.run(['outbox', 'mail', '--cursor', 'x'])).stderr).toBe('countersign: error: cursor: outbox mail shows the newest e-mails only; use --limit\n');
  });
});
