import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { base32Decode } from '../src/modules/methods/oath/base32.js';
import { hotp, totp } from '../src/modules/methods/oath/otp.js';
import { cliSandbox } from './helpers/cli.js';

type Sandbox = ReturnType<typeof cliSandbox>;
const SEED = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

describe('countersign oath', () => {
  let cli: Sandbox;
  beforeEach(async () => {
    cli = cliSandbox();
    expect((await cli.run(['user', 'add', 'kim@contoso.com'])).code).toBe(0);
  });
  afterEach(() => cli.dispose());

  it('asks for the first code right after enrolment and activates the token with it', async () => {
    let typed = false;
    const enrolled = await cli.runInteractive(['oath', 'enroll', 'kim@contoso.com'], (printed) => {
      const secret = /secret\s+([A-Z2-7]{32})\n/.exec(printed)?.[1];
      if (typed || !secret || !printed.includes('Type the code the app shows now')) return null;
      typed = true;
      return totp({ secret: base32Decode(secret)!, algorithm: 'SHA1', digits: 6 }, Date.now(), 30);
    });
    expect(enrolled.code, enrolled.stderr).toBe(0);
    expect(enrolled.stdout).toMatch(/activated token [0-9a-f-]{36} for kim@contoso.com: it can be used to sign in/);
    expect((await cli.run(['oath', 'list', '--user', 'kim@contoso.com'])).stdout).toMatch(/\sactive\s/);
    // --no-activate asks nothing.
    const quiet = await cli.run(['oath', 'enroll', 'kim@contoso.com', '--no-activate']);
    expect(quiet.stderr).not.toContain('Type the code');
  });

  it('enrols a TOTP token, prints URI, secret and a terminal QR code, and activates it', async () => {
    const enrolled = await cli.run(['oath', 'enroll', 'kim@contoso.com', '--name', 'Phone']);
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const secret = /secret\s+([A-Z2-7]{32})\n/.exec(enrolled.stdout)![1]!;
    const id = /token ([0-9a-f-]{36}) for kim@contoso.com \(pending\)/.exec(enrolled.stdout)![1]!;
    expect(enrolled.stdout).toContain(`otpauth://totp/Countersign:kim%40contoso.com?secret=${secret}&issuer=Countersign&algorithm=SHA1&digits=6&period=30`);
    expect(enrolled.stdout).toMatch(/[▀▄█]/);
    expect(enrolled.stdout).toContain(`countersign oath activate kim@contoso.com ${id} <code>`);
    expect(enrolled.stdout).toContain('The token is pending.');

    const wrong = await cli.run(['oath', 'activate', 'kim@contoso.com', id, '000000']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^countersign: error: code: not a current code of this token/);
    const code = totp({ secret: base32Decode(secret)!, algorithm: 'SHA1', digits: 6 }, Date.now(), 30);
    const activated = await cli.run(['oath', 'activate', 'kim@contoso.com', id, code]);
    expect(activated.code, activated.stderr).toBe(0);
    expect(activated.stdout).toMatch(/status\s+active/);
    const listed = await cli.run(['oath', 'list', '--user', 'kim@contoso.com']);
    expect(listed.stdout).toMatch(/^ID\s+SERIAL\s+KIND/);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+-\\s+software\\s+totp\\s+SHA1\\s+6\\s+active\\s+kim@contoso.com\\s+Phone`));
    expect(listed.stdout).not.toContain(secret);
  });

  it('prints JSON without the terminal QR code and writes a private PNG', async () => {
    const png = join(cli.dir, 'qr.png');
    const result = await cli.run(['--json', 'oath', 'enroll', 'kim@contoso.com', '--type', 'hotp', '--digits', '8', '--png', png]);
    expect(result.code, result.stderr).toBe(0);
    const body = JSON.parse(result.stdout) as { token: { id: string; type: string; digits: number }; secret: string; uri: string; png: string };
    expect(body).toMatchObject({ token: { type: 'hotp', digits: 8 }, png });
    expect(body.uri).toMatch(/^otpauth:\/\/hotp\/.*&counter=0$/);
    expect(result.stdout).not.toMatch(/[▀▄█]/);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
    expect(statSync(png).mode & 0o777).toBe(0o600);

    // HOTP: activate, then resynchronise after the device ran ahead.
    const params = { secret: base32Decode(body.secret)!, algorithm: 'SHA1' as const, digits: 8 as const };
    expect((await cli.run(['oath', 'activate', 'kim@contoso.com', body.token.id, hotp(params, 0)])).code).toBe(0);
    const resynced = await cli.run(['--json', 'oath', 'resync', 'kim@contoso.com', body.token.id, hotp(params, 30), hotp(params, 31)]);
    expect(resynced.code, resynced.stderr).toBe(0);
    expect(JSON.parse(resynced.stdout)).toMatchObject({ id: body.token.id, status: 'active' });
    const again = await cli.run(['oath', 'resync', 'kim@contoso.com', body.token.id, hotp(params, 30), hotp(params, 31)]);
    expect(again.stderr).toBe('countersign: error: code1, code2: not two consecutive codes of this token\n');
  });

  it('imports hardware tokens, reports refused rows and exits 3', async () => {
    const file = join(cli.dir, 'tokens.csv');
    writeFileSync(file, `serial,secret,type,digits\nHW-1,${SEED},totp,6\nHW-2,${SEED},hotp,7\nHW-3,${SEED},totp,8\n`);
    const result = await cli.run(['oath', 'import', file]);
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('3 rows: 2 imported, 1 failed');
    expect(result.stdout).toMatch(/3\s+HW-2\s+digits\s+digits: must be 6 or 8, got 7/);
    const fromStdin = await cli.run(['--json', 'oath', 'import', '-'], `serial,secret,type\nHW-4,${SEED},totp\n`);
    expect(fromStdin.code).toBe(0);
    expect(JSON.parse(fromStdin.stdout)).toMatchObject({ rows: 1, imported: 1, failed: 0 });
    expect((await cli.run(['oath', 'import', '--template'])).stdout).toBe('serial,secret,secret_format,type,digits,period,algorithm\n');
    expect((await cli.run(['oath', 'import', join(cli.dir, 'missing.csv')])).stderr).toMatch(/missing.csv: cannot read file \(ENOENT\)/);
    expect((await cli.run(['oath', 'import', '-'], 'serial,secret\n')).stderr).toBe('countersign: error: header: a type column is required\n');
  });

  it('assigns, lists, unassigns and deletes hardware tokens', async () => {
    await cli.run(['oath', 'import', '-'], `serial,secret,type\nHW-1,${SEED},totp\nHW-2,${SEED},totp\n`);
    expect((await cli.run(['oath', 'list', '--unassigned'])).stdout).toMatch(/HW-1.*\n.*HW-2/);
    const assigned = await cli.run(['oath', 'assign', 'HW-1', 'kim@contoso.com']);
    expect(assigned.code, assigned.stderr).toBe(0);
    expect(assigned.stdout).toMatch(/user\s+kim@contoso.com/);
    const unassigned = JSON.parse((await cli.run(['--json', 'oath', 'list', '--unassigned'])).stdout) as { items: { serial: string }[] };
    expect(unassigned.items.map((item) => item.serial)).toEqual(['HW-2']);
    expect((await cli.run(['oath', 'list'])).stdout).toMatch(/HW-1\s+hardware\s+totp\s+SHA1\s+6\s+active\s+kim@contoso.com/);
    expect((await cli.run(['oath', 'assign', 'HW-1', 'nobody'])).stderr).toBe('countersign: error: user nobody does not exist\n');
    expect((await cli.run(['oath', 'unassign', 'HW-1'])).stdout).toMatch(/user\s+-/);
    expect((await cli.run(['oath', 'unassign', 'NOPE'])).stderr).toBe('countersign: error: no hardware token with serial NOPE\n');
    const hw2 = JSON.parse((await cli.run(['--json', 'oath', 'list', '--unassigned'])).stdout) as { items: { id: string; serial: string }[] };
    const id = hw2.items.find((item) => item.serial === 'HW-2')!.id;
    expect((await cli.run(['oath', 'delete', id, '--user', 'kim@contoso.com'])).code).toBe(1);
    expect((await cli.run(['oath', 'delete', id])).stdout).toBe(`deleted ${id}\n`);
    expect((await cli.run(['oath', 'delete', id])).stderr).toBe(`countersign: error: OATH token ${id} does not exist\n`);
  });

  it('refuses bad options with a clear message', async () => {
    expect((await cli.run(['oath', 'enroll', 'kim@contoso.com', '--digits', 'six'])).code).toBe(2);
    expect((await cli.run(['oath', 'enroll', 'kim@contoso.com', '--type', 'motp'])).code).toBe(2);
    expect((await cli.run(['oath', 'enroll', 'kim@contoso.com', '--digits', '7'])).stderr).toBe('countersign: error: digits: must be 6 or 8, got 7\n');
    expect((await cli.run(['oath', 'enroll', 'nobody'])).stderr).toBe('countersign: error: user nobody does not exist\n');
    expect((await cli.run(['oath', 'list', '--user', 'kim@contoso.com', '--unassigned'])).stderr).toBe('countersign: error: --user and --unassigned exclude each other\n');
    expect((await cli.run(['oath', 'activate', 'kim@contoso.com', 'nope', 'abc'])).stderr).toBe('countersign: error: user kim@contoso.com has no OATH token nope\n');
  });
});
