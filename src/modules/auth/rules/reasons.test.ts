import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { because, REASON_CODES, reasonText, traceEntry } from './reasons.js';

describe('reason codes', () => {
  it('render the texts the trace showed before it had codes, so old and new sign-ins read alike', () => {
    expect(reasonText(because('locked_out', { until: '2026-11-01T12:15:00.000Z' }))).toBe('locked out until 2026-11-01T12:15:00.000Z');
    expect(reasonText(because('locked_out', { until: null }))).toBe('locked out until an administrator unblocks');
    expect(reasonText(because('ip_over_failure_limit', { ip: '192.0.2.9', failures: 100, window_seconds: 900 }))).toBe('100 failures from 192.0.2.9 in 900 s');
    expect(reasonText(because('user_over_failure_limit', { recent: 5, window_seconds: 900, today: 5, until: '2026-11-01T12:15:00.000Z' }))).toBe(
      '5 failures in 900 s, 5 in 24 h: locked out until 2026-11-01T12:15:00.000Z',
    );
    expect(reasonText(because('cache_hit', { kind: 'ip', succeeded_at: '2026-11-01T12:00:00.000Z' }))).toBe('ip cache: succeeded at 2026-11-01T12:00:00.000Z');
    expect(reasonText(because('account_disabled'))).toBe('the account is disabled');
  });

  it('go into the trace as code, details (only when there are any) and text; conditional access words are stored once, as the text', () => {
    expect(traceEntry('bypass', 'allow', because('bypass_used', { bypass: 7 }))).toEqual({ rule: 'bypass', outcome: 'allow', code: 'bypass_used', details: { bypass: 7 }, reason: 'one-time bypass 7 used' });
    expect(traceEntry('bypass', 'continue', because('no_bypass'))).toEqual({ rule: 'bypass', outcome: 'continue', code: 'no_bypass', reason: 'no bypass' });
    const verdict = because('policy_not_applied', { failed: ['location'], text: 'not applied: location Office (trusted) is excluded' });
    expect(traceEntry('conditional_access', 'continue', verdict, { policy: 'MFA outside', applied: false })).toEqual({
      rule: 'conditional_access',
      policy: 'MFA outside',
      applied: false,
      outcome: 'continue',
      code: 'policy_not_applied',
      details: { failed: ['location'] },
      reason: 'not applied: location Office (trusted) is excluded',
    });
  });

  it('are all listed in docs/authentication.md', () => {
    const doc = readFileSync(new URL('../../../../docs/authentication.md', import.meta.url), 'utf8');
    for (const code of REASON_CODES) expect(doc, code).toContain(`\`${code}\``);
  });
});
