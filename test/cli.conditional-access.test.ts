import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRuntime } from '../src/cli/io.js';
import { cliSandbox, type CliResult } from './helpers/cli.js';
import { TEST_MASTER_KEY } from './helpers/runtime.js';

type Sandbox = ReturnType<typeof cliSandbox>;

/** A refusal: exit 1, nothing on stdout, exactly one error line on stderr (no stack trace). */
function expectRefused(result: CliResult, message: string): void {
  expect(result).toEqual({ code: 1, stdout: '', stderr: `countersign: error: ${message}\n` });
}

async function ok(cli: Sandbox, args: string[], stdin?: string): Promise<CliResult> {
  const result = await cli.run(args, stdin);
  expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
  expect(result.stderr).toBe('');
  return result;
}

describe('countersign location', () => {
  let cli: Sandbox;
  beforeEach(() => {
    cli = cliSandbox();
  });
  afterEach(() => cli.dispose());

  it('adds, lists, shows, updates and deletes a named location', async () => {
    const added = await ok(cli, ['location', 'add', 'HQ', '--range', '192.0.2.0/24,198.51.100.7', '--range', '2001:db8::/32', '--trusted']);
    expect(added.stdout).toMatch(/^name\s+HQ\n/);
    expect(added.stdout).toMatch(/trusted\s+yes\n/);
    expect(added.stdout).toMatch(/ranges\s+192\.0\.2\.0\/24, 198\.51\.100\.7, 2001:db8::\/32\n/);
    await ok(cli, ['location', 'add', 'Branch', '--range', '203.0.113.0/24']);

    const listed = await ok(cli, ['location', 'list']);
    expect(listed.stdout).toMatch(/^NAME\s+TRUSTED\s+RANGES\s+UPDATED\n/);
    expect(listed.stdout).toMatch(/\nBranch\s+no\s+203\.0\.113\.0\/24\s+\S+\nHQ\s+yes\s+192\.0\.2\.0\/24, 198\.51\.100\.7, 2001:db8::\/32\s+\S+\n$/);
    const listedJson = JSON.parse((await ok(cli, ['--json', 'location', 'list'])).stdout) as { items: { name: string }[] };
    expect(listedJson.items.map((item) => item.name)).toEqual(['Branch', 'HQ']);

    const shown = JSON.parse((await ok(cli, ['--json', 'location', 'show', 'hq'])).stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({ name: 'HQ', trusted: true, ranges: ['192.0.2.0/24', '198.51.100.7', '2001:db8::/32'] });

    const updated = await ok(cli, ['location', 'update', 'HQ', '--name', 'Head office', '--untrusted', '--range', '192.0.2.0/25']);
    expect(updated.stdout).toMatch(/^name\s+Head office\n/);
    expect(updated.stdout).toMatch(/trusted\s+no\n/);
    expect(updated.stdout).toMatch(/ranges\s+192\.0\.2\.0\/25\n/);
    expect(JSON.parse((await ok(cli, ['--json', 'location', 'update', 'head office', '--trusted'])).stdout)).toMatchObject({ name: 'Head office', trusted: true, ranges: ['192.0.2.0/25'] });

    expect((await ok(cli, ['location', 'delete', 'Branch'])).stdout).toBe('deleted named location Branch\n');
    expect(JSON.parse((await ok(cli, ['--json', 'location', 'delete', 'Head office'])).stdout)).toEqual({ deleted: 'Head office' });
    expect((await ok(cli, ['location', 'list'])).stdout).toBe('NAME  TRUSTED  RANGES  UPDATED\n');
    expectRefused(await cli.run(['location', 'show', 'HQ']), 'named location HQ does not exist');
  });

  it('refuses bad options and bad ranges with one line naming the problem', async () => {
    expectRefused(await cli.run(['location', 'add', 'HQ']), '--range is required: give at least one IP address or CIDR block');
    expectRefused(await cli.run(['location', 'add', 'HQ', '--range', '192.0.2.0/24,']), '--range: empty entry: give IP addresses or CIDR blocks, such as 192.0.2.0/24');
    expectRefused(await cli.run(['location', 'add', 'HQ', '--range', '192.0.2.0/24', '--range', 'intranet']), 'ranges[1]: "intranet" is not an IP address or CIDR block');
    await ok(cli, ['location', 'add', 'HQ', '--range', '192.0.2.0/24']);
    expectRefused(await cli.run(['location', 'add', 'hq', '--range', '198.51.100.0/24']), 'name: named location hq already exists');
    expectRefused(await cli.run(['location', 'update', 'HQ']), 'nothing to change: give --name, --range, --trusted or --untrusted');
    expectRefused(await cli.run(['location', 'update', 'HQ', '--trusted', '--untrusted']), '--trusted and --untrusted exclude each other');
    expectRefused(await cli.run(['location', 'update', 'Nowhere', '--trusted']), 'named location Nowhere does not exist');
  });
});

describe('countersign policy', () => {
  let cli: Sandbox;
  const file = (name: string, content: unknown) => {
    const path = join(cli.dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  beforeEach(async () => {
    cli = cliSandbox();
    await ok(cli, ['user', 'add', 'ann@contoso.com']);
    await ok(cli, ['group', 'create', 'Sales']);
    await ok(cli, ['group', 'create', 'Admins']);
    await ok(cli, ['location', 'add', 'HQ', '--range', '192.0.2.0/24', '--trusted']);
  });
  afterEach(() => cli.dispose());

  it('adds a policy from a file, lists, shows, disables, enables, updates and deletes it', async () => {
    const policy = {
      name: 'MFA outside the office',
      users: { include: ['all'] },
      groups: { exclude: ['Admins'] },
      locations: { include: ['any'], exclude: ['HQ'] },
      grant: 'mfa',
      remember_mfa_days: 14,
    };
    const added = await ok(cli, ['policy', 'add', '--file', file('policy.json', policy)]);
    expect(added.stdout).toMatch(/^name\s+MFA outside the office\n/);
    expect(added.stdout).toMatch(/state\s+enabled\n/);
    expect(added.stdout).toMatch(/groups excluded\s+Admins\n/);
    expect(added.stdout).toMatch(/remember MFA days\s+14\n/);
    await ok(cli, ['policy', 'add', '--file', '-'], JSON.stringify({ name: 'Block Sales', users: { include: ['ann@contoso.com'] }, groups: { include: ['Sales'] }, grant: 'block' }));

    const listed = (await ok(cli, ['policy', 'list'])).stdout.split('\n');
    expect(listed[0]).toMatch(/^NAME\s+STATE\s+GRANT\s+USERS\s+APPLICATIONS\s+LOCATIONS\s+REMEMBER DAYS$/);
    expect(listed[1]).toMatch(/^Block Sales\s+enabled\s+block\s+ann@contoso\.com, group:Sales\s+all\s+any\s+-$/);
    expect(listed[2]).toMatch(/^MFA outside the office\s+enabled\s+mfa\s+all users except group:Admins\s+all\s+any except HQ\s+14$/);

    const shown = JSON.parse((await ok(cli, ['--json', 'policy', 'show', 'mfa outside the office'])).stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({
      name: 'MFA outside the office',
      state: 'enabled',
      users: { include: ['all'], exclude: [] },
      groups: { include: [], exclude: ['Admins'] },
      locations: { include: ['any'], exclude: ['HQ'] },
      client_types: ['modern', 'legacy'],
      grant: 'mfa',
      remember_mfa_days: 14,
    });

    expect((await ok(cli, ['policy', 'disable', 'Block Sales'])).stdout).toMatch(/state\s+disabled\n/);
    expect((await ok(cli, ['policy', 'list'])).stdout).toMatch(/Block Sales\s+disabled\s+block/);
    expect(JSON.parse((await ok(cli, ['--json', 'policy', 'enable', 'Block Sales'])).stdout)).toMatchObject({ name: 'Block Sales', state: 'enabled' });

    const updated = JSON.parse((await ok(cli, ['--json', 'policy', 'update', 'MFA outside the office', '--file', file('patch.json', { grant: 'block', client_types: ['legacy'] })])).stdout) as Record<string, unknown>;
    expect(updated).toMatchObject({ grant: 'block', client_types: ['legacy'], remember_mfa_days: null, groups: { exclude: ['Admins'] }, locations: { exclude: ['HQ'] } });

    expect((await ok(cli, ['policy', 'delete', 'Block Sales'])).stdout).toBe('deleted policy Block Sales\n');
    expect(JSON.parse((await ok(cli, ['--json', 'policy', 'list'])).stdout)).toMatchObject({ items: [{ name: 'MFA outside the office' }] });
    expectRefused(await cli.run(['policy', 'show', 'Block Sales']), 'policy Block Sales does not exist');
  });

  it('refuses to delete a named location while a policy uses it', async () => {
    await ok(cli, ['policy', 'add', '--file', file('p.json', { name: 'Office only', users: { include: ['all'] }, locations: { include: ['HQ'] }, grant: 'allow' })]);
    expectRefused(await cli.run(['location', 'delete', 'HQ']), 'named location HQ is used by policy Office only');
    await ok(cli, ['policy', 'delete', 'Office only']);
    await ok(cli, ['location', 'delete', 'HQ']);
  });

  it('refuses a bad file or a bad policy with one clean line', async () => {
    expectRefused(await cli.run(['policy', 'add']), '--file is required: a JSON file with the policy\'s fields ("-" reads stdin)');
    const missing = join(cli.dir, 'missing.json');
    expectRefused(await cli.run(['policy', 'add', '--file', missing]), `${missing}: cannot read file (ENOENT)`);

    const notJson = file('notes.txt', 'grant: mfa\nusers: all\n');
    const result = await cli.run(['policy', 'add', '--file', notJson]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^countersign: error: ${notJson.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON \\([^\\n]*\\)\\n$`));

    expectRefused(await cli.run(['policy', 'add', '--file', file('list.json', [{ name: 'x' }])]), `${join(cli.dir, 'list.json')}: must hold a JSON object with the policy's fields`);
    expectRefused(await cli.run(['policy', 'add', '--file', '-'], 'null'), "standard input: must hold a JSON object with the policy's fields");

    const unknownGroup = file('bad.json', { name: 'Bad', groups: { include: ['Nobody'] }, grant: 'mfa' });
    expectRefused(await cli.run(['policy', 'add', '--file', unknownGroup]), 'groups.include: group Nobody does not exist');
    expectRefused(await cli.run(['policy', 'add', '--file', file('typo.json', { name: 'Typo', users: { include: ['all'] }, grant: 'mfa', grnat: 'x' })]), 'grnat: unknown field');

    await ok(cli, ['policy', 'add', '--file', file('good.json', { name: 'Good', users: { include: ['all'] }, grant: 'mfa' })]);
    expectRefused(await cli.run(['policy', 'update', 'Good', '--file', file('empty.json', {})]), `${join(cli.dir, 'empty.json')}: no fields to change`);
    expectRefused(await cli.run(['policy', 'update', 'Good', '--file', file('days.json', { remember_mfa_days: 400 })]), 'remember_mfa_days: must be a whole number of days from 1 to 365, or null');
    expectRefused(await cli.run(['policy', 'enable', 'Nothing']), 'policy Nothing does not exist');
    expect(JSON.parse((await ok(cli, ['--json', 'policy', 'list'])).stdout)).toMatchObject({ items: [{ name: 'Good', remember_mfa_days: null }] });
  });
});

describe('countersign app-password and remembered-devices', () => {
  let cli: Sandbox;
  beforeEach(async () => {
    cli = cliSandbox();
    await ok(cli, ['user', 'add', 'ann@contoso.com']);
  });
  afterEach(() => cli.dispose());

  it('creates an app password shown once, lists and revokes it', async () => {
    const created = await ok(cli, ['app-password', 'create', 'ann@contoso.com', '--name', 'Mail on the old laptop']);
    const password = /\npassword\s+([a-z]{16})\n/.exec(created.stdout)![1]!;
    const id = /\nid\s+(\S+)\n/.exec(created.stdout)![1]!;
    expect(created.stdout).toMatch(/name\s+Mail on the old laptop\n/);
    expect(created.stdout).toMatch(/Store the password now: it is not shown again\.\n$/);

    const json = JSON.parse((await ok(cli, ['--json', 'app-password', 'create', 'ann@contoso.com', '--name', 'Printer'])).stdout) as { id: string; name: string; password: string };
    expect(json).toMatchObject({ name: 'Printer', last_used_at: null });
    expect(json.password).toMatch(/^[a-z]{16}$/);

    const listed = await ok(cli, ['app-password', 'list', 'ann@contoso.com']);
    expect(listed.stdout).toMatch(/^ID\s+NAME\s+CREATED\s+LAST USED\n/);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+Mail on the old laptop\\s+\\S+\\s+-\\n`));
    expect(listed.stdout).not.toContain(password);
    expect(listed.stdout).not.toContain(json.password);

    expect((await ok(cli, ['app-password', 'revoke', 'ann@contoso.com', id])).stdout).toBe(`revoked app password ${id} of ann@contoso.com\n`);
    expect(JSON.parse((await ok(cli, ['--json', 'app-password', 'list', 'ann@contoso.com'])).stdout)).toEqual({ items: [{ id: json.id, name: 'Printer', created_at: expect.any(String), last_used_at: null }] });
    expect(JSON.parse((await ok(cli, ['--json', 'app-password', 'revoke', 'ann@contoso.com', json.id])).stdout)).toEqual({ revoked: json.id, user: 'ann@contoso.com' });
  });

  it('refuses an unknown id, a missing --name and an unknown user', async () => {
    expectRefused(await cli.run(['app-password', 'revoke', 'ann@contoso.com', 'no-such-id']), 'user ann@contoso.com has no app password no-such-id');
    expectRefused(await cli.run(['app-password', 'create', 'ann@contoso.com']), '--name is required: say what the app password is for');
    expectRefused(await cli.run(['app-password', 'list', 'ghost@contoso.com']), 'user ghost@contoso.com does not exist');
  });

  it('revokes the remembered devices of a user from now on', async () => {
    const before = Date.now();
    const revoked = await ok(cli, ['remembered-devices', 'revoke', 'ann@contoso.com']);
    const at = /tokens issued until (\S+) are no longer honoured\n$/.exec(revoked.stdout)![1]!;
    expect(revoked.stdout).toBe(`remembered devices of ann@contoso.com revoked: tokens issued until ${at} are no longer honoured\n`);
    expect(Date.parse(at)).toBeGreaterThanOrEqual(before);

    const json = JSON.parse((await ok(cli, ['--json', 'remembered-devices', 'revoke', 'ann@contoso.com'])).stdout) as { revoked_at: string };
    expect(Date.parse(json.revoked_at)).toBeGreaterThanOrEqual(Date.parse(at));
    const runtime = await openRuntime({ stdout: { write: () => true }, stderr: { write: () => true }, stdin: process.stdin, env: { COUNTERSIGN_DATA_DIR: cli.dir, COUNTERSIGN_SECURITY_MASTER_KEY: TEST_MASTER_KEY, COUNTERSIGN_LOG_LEVEL: 'warn' } }, {});
    try {
      const row = await runtime.storage.db.selectFrom('users').select('remembered_devices_revoked_at').where('username', '=', 'ann@contoso.com').executeTakeFirstOrThrow();
      expect(Number(row.remembered_devices_revoked_at)).toBe(Date.parse(json.revoked_at));
    } finally {
      await runtime.close();
    }

    expectRefused(await cli.run(['remembered-devices', 'revoke', 'ghost@contoso.com']), 'user ghost@contoso.com does not exist');
  });
});
