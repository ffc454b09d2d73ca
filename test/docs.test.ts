import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RESULT_CODE_NAMES } from '../src/modules/auth/result-codes.js';
import { ERRORS } from '../src/shared/errors.js';

const doc = (name: string) => readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8');

describe('documentation stays complete', () => {
  it('lists every result code in docs/authentication.md (npm run docs:codes)', () => {
    const text = doc('authentication.md');
    for (const code of RESULT_CODE_NAMES) expect(text, code).toContain(`| \`${code}\` |`);
  });

  it('lists every error code of the API in docs/api.md', () => {
    const text = doc('api.md');
    for (const code of Object.keys(ERRORS)) expect(text, code).toContain(`\`${code}\``);
  });
});
