import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliSandbox } from './helpers/cli.js';

describe('countersign report', () => {
  let cli: ReturnType<typeof cliSandbox>;
  beforeEach(() => {
    cli = cliSandbox();
  });
  afterEach(() => cli.dispose());

  it('prints the registration reports and the MFA status export as a table, CSV or JSON', async () => {
    expect((await cli.run(['user', 'add', 'ann@contoso.com', '--phone', '202 555 0101'])).code).toBe(0);
    expect((await cli.run(['user', 'add', 'cy@contoso.com', '--mfa-state', 'Enforced'])).code).toBe(0);
    expect((await cli.run(['report', 'registered'])).stdout).toBe('USERNAME         MFA STATE  METHODS\nann@contoso.com  Enabled    sms, voice\n1 users\n');
    expect((await cli.run(['report', 'unregistered', '--format', 'csv'])).stdout).toBe('username,mfa state,methods\r\ncy@contoso.com,Enforced,\r\n');
    expect(JSON.parse((await cli.run(['report', 'unregistered', '--format', 'json'])).stdout)).toMatchObject({ count: 1, items: [{ username: 'cy@contoso.com' }] });
    expect((await cli.run(['report', 'mfa-status'])).stdout).toBe('UserPrincipalName,MFA Status,MFA Methods\r\nann@contoso.com,Enabled,"sms, voice"\r\ncy@contoso.com,Enforced,\r\n');
    expect((await cli.run(['report', 'registered', '--format', 'xml'])).stderr).toContain("argument 'xml' is invalid");
  });

  it('prints insights, entry points and servers, and refuses a bad period', async () => {
    expect((await cli.run(['user', 'add', 'ann@contoso.com', '--phone', '202 555 0101'])).code).toBe(0);
    await cli.run(['auth', 'ghost@contoso.com']);
    const insights = await cli.run(['report', 'insights']);
    expect(insights.stdout).toMatch(/sign-ins 1, MFA required 0, completed 0, failed 0\n/);
    expect(insights.stdout).toMatch(/user not found\s+1\n/);
    expect((await cli.run(['report', 'entry-points', '--format', 'csv'])).stdout).toBe('entry point,sign-ins,succeeded,failed\r\ncli,1,0,1\r\n');
    expect((await cli.run(['report', 'servers'])).stdout).toBe('ID  HOST  VERSION  STATUS  STARTED  LAST SEEN\n');
    expect((await cli.run(['report', 'insights', '--from', 'last week'])).stderr).toBe('countersign: error: from: an ISO 8601 date or date-time\n');
  });
});
