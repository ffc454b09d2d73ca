import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DENIED_DETAILS, SATISFIED_DETAILS } from './mfa-details.js';
import { RESULT_CODES, RESULT_CODE_NAMES, detailOf } from './result-codes.js';

/** The codes and short texts as SPEC.md §2 lists them, read from the spec itself, beside the repository (as in CI and development). */
function specTable(): [string, string][] {
  const spec = readFileSync(new URL('../../../../shared/SPEC.md', import.meta.url), 'utf8');
  const section = spec.slice(spec.indexOf('## 2.'), spec.indexOf('## 3.'));
  return [...section.matchAll(/^\| ([A-Z_]+) \| ([^|]+) \|/gm)].map((match) => [match[1]!, match[2]!.trim()]);
}

describe('result-code registry', () => {
  it('holds the 45 codes of SPEC.md §2, each once', () => {
    expect(RESULT_CODE_NAMES).toHaveLength(45);
    expect(new Set(RESULT_CODE_NAMES).size).toBe(45);
    for (const code of RESULT_CODE_NAMES) expect(code).toMatch(/^(SUCCESS|FAILED)_[A-Z_]+$|^CONFIG_ISSUE$/);
  });

  it('matches the spec table code for code and short text', () => {
    // Without the spec beside the repository this fails: a check that cannot run must not pass.
    const table = specTable();
    expect(table).toHaveLength(45);
    expect(RESULT_CODE_NAMES).toEqual(table.map(([code]) => code));
    for (const [code, shortText] of table) expect(RESULT_CODES[code as keyof typeof RESULT_CODES].shortText).toBe(shortText);
  });

  it('maps every code to exactly one §3 detail of the right kind', () => {
    for (const code of RESULT_CODE_NAMES) {
      const entry = RESULT_CODES[code];
      const allowed: readonly string[] = entry.outcome === 'denied' || entry.outcome === 'pending' ? DENIED_DETAILS : SATISFIED_DETAILS;
      expect(allowed, code).toContain(entry.detail);
    }
  });

  it('shows a verify code that ended denied as a wrong PIN, and the rest as their own detail', () => {
    expect(detailOf('SUCCESS_WITH_PIN', true)).toBe('successfully completed');
    expect(detailOf('SUCCESS_WITH_PIN', false)).toBe('user entered incorrect PIN');
    expect(detailOf('FAILED_OATH_CODE_DUPLICATE', false)).toBe('verification code already used once');
    expect(detailOf('SUCCESS_USER_BLOCKED', false)).toBe('user is blocked');
  });

  it('says SUCCESS_USER_BLOCKED is a denial despite its name', () => {
    expect(RESULT_CODES.SUCCESS_USER_BLOCKED.outcome).toBe('denied');
  });
});
