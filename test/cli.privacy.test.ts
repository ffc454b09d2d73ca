import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliSandbox, type CliResult } from './helpers/cli.js';

type Sandbox = ReturnType<typeof cliSandbox>;

async function ok(cli: Sandbox, args: string[]): Promise<CliResult> {
  const result = await cli.run(args);
  expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result;
}

describe('countersign gdpr, logs and retention', () => {
  let cli: Sandbox;
  let logFile: string;
  beforeEach(() => {
    cli = cliSandbox((dir) => ({ COUNTERSIGN_LOG_LEVEL: 'info', COUNTERSIGN_LOG_FILE: join(dir, 'service.log') }));
    logFile = join(cli.dir, 'service.log');
  });
  afterEach(() => cli.dispose());

  it('exports a user, finds its service-log lines, erases it with a receipt, and then finds nothing readable', async () => {
    await ok(cli, ['user', 'add', 'carol@contoso.com', '--first-name', 'Carol', '--email', 'carol@mail.example', '--phone', '2025550142']);
    await ok(cli, ['user', 'update', 'carol@contoso.com', '--last-name', 'Quist']);

    const exported = JSON.parse((await ok(cli, ['gdpr', 'export', 'CAROL@contoso.com'])).stdout) as Record<string, Record<string, unknown>>;
    expect(exported.schema).toBe('urn:countersign:privacy-export:1');
    expect(exported.profile).toMatchObject({ username: 'carol@contoso.com', first_name: 'Carol', last_name: 'Quist', email: 'carol@mail.example' });
    expect((exported.records!.changes as unknown[]).length).toBe(2);
    const file = join(cli.dir, 'carol.json');
    expect((await ok(cli, ['gdpr', 'export', 'carol@contoso.com', '--output', file])).stdout).toBe(`exported carol@contoso.com to ${file}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const lines = (await ok(cli, ['logs', 'search', 'carol@contoso.com'])).stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/ user\.create user added username=carol@contoso\.com$/);
    expect(lines[1]).toMatch(/ user\.update user changed username=carol@contoso\.com$/);
    // The file itself never holds the name.
    expect(readFileSync(logFile, 'utf8')).not.toContain('carol');

    expect(await cli.run(['gdpr', 'delete', 'carol@contoso.com'])).toMatchObject({ code: 1, stderr: 'countersign: error: erasing carol@contoso.com cannot be undone: add --yes to confirm\n' });
    const receipt = JSON.parse((await ok(cli, ['--json', 'gdpr', 'delete', 'carol@contoso.com', '--yes'])).stdout) as { id: string; counts: Record<string, number>; storage: { wal_truncated: boolean } };
    expect(receipt.counts).toMatchObject({ users: 1, user_changes: 2, log_keys: 1 });
    expect(receipt.storage.wal_truncated).toBe(true);
    const receipts = await ok(cli, ['gdpr', 'receipts', '--username', 'Carol@Contoso.com']);
    expect(receipts.stdout).toMatch(new RegExp(`^${receipt.id}\\s+\\S+\\s+cli:\\S+\\s+1\\s+yes$`, 'm'));
    expect((await ok(cli, ['gdpr', 'receipts', '--username', 'dave@contoso.com'])).stdout).toMatch(/\s+no\n$/);

    // Gone: nothing to export, and the lines' key is destroyed (the lines no longer name a known user).
    expect(await cli.run(['gdpr', 'export', 'carol@contoso.com'])).toMatchObject({ code: 1, stderr: 'countersign: error: nothing is held about carol@contoso.com\n' });
    expect(await cli.run(['logs', 'search', 'carol@contoso.com'])).toMatchObject({ code: 0, stdout: '', stderr: 'no service-log lines about carol@contoso.com\n' });
  });

  it('runs the retention purge and reports what it deleted', async () => {
    const report = JSON.parse((await ok(cli, ['--json', 'retention', 'run'])).stdout) as { deleted: Record<string, number>; cutoffs: Record<string, string> };
    expect(Object.values(report.deleted).every((n) => n === 0)).toBe(true);
    expect(Object.keys(report.cutoffs)).toEqual(['attempts', 'signins', 'activations', 'blocks', 'bypasses', 'changes', 'telephony', 'mail', 'selfService', 'challenges', 'serviceLog', 'audit']);
    expect((await ok(cli, ['retention', 'run'])).stdout).toMatch(/^TABLE\s+DELETED\n/);
  });
});
