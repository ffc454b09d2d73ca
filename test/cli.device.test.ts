import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliSandbox, type CliResult } from './helpers/cli.js';

describe('countersign device', () => {
  let cli: ReturnType<typeof cliSandbox>;
  beforeEach(() => {
    cli = cliSandbox();
  });
  afterEach(() => cli.dispose());

  it('makes activation codes with their QR code and records them; refuses what it cannot do', async () => {
    expect((await cli.run(['user', 'add', 'bob@contoso.com'])).code).toBe(0);
    const made: CliResult = await cli.run(['device', 'activation', 'bob@contoso.com', '--url', 'https://mfa.example.com', '--no-oath']);
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/code\s+[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}\n/);
    expect(made.stdout).toContain('uri          countersign://activate?url=https%3A%2F%2Fmfa.example.com&code=');
    expect(made.stdout).toMatch(/OATH secret\s+no\n/);
    expect(made.stdout).toContain('█'); // the QR code
    const json = JSON.parse((await cli.run(['--json', 'device', 'activation', 'bob@contoso.com'])).stdout) as { url: string; oath: boolean };
    expect(json).toMatchObject({ url: 'http://127.0.0.1:8080', oath: true });
    const records = await cli.run(['device', 'activations', 'bob@contoso.com']);
    expect(records.stdout.split('\n').filter((line) => line.includes('issued'))).toHaveLength(2);
    expect((await cli.run(['device', 'list', 'bob@contoso.com'])).stdout).toBe('ID  NAME  TYPE  STATUS  MISSED  LAST SEEN\n');

    expect(await cli.run(['device', 'activation', 'ghost@contoso.com'])).toMatchObject({ code: 1, stderr: 'countersign: error: user ghost@contoso.com does not exist\n' });
    expect((await cli.run(['device', 'activation', 'bob@contoso.com', '--url', 'mfa.example.com'])).stderr).toContain('--url: must be an http:// or https:// URL');
    expect((await cli.run(['device', 'block', 'bob@contoso.com', 'some-id'])).stderr).toContain('--reason is required');
    expect((await cli.run(['device', 'block', 'bob@contoso.com', 'some-id', '--reason', 'lost'])).stderr).toBe('countersign: error: user bob@contoso.com has no device some-id\n');
  });
});
