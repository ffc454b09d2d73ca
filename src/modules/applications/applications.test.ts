import { describe, expect, it } from 'vitest';
import { newIntegrationKey } from './applications.js';

describe('integration keys', () => {
  it('are CI and 18 random characters, none of them padding', () => {
    const keys = Array.from({ length: 2000 }, () => newIntegrationKey());
    for (const key of keys) expect(key).toMatch(/^CI[A-Z0-9]{18}$/);
    // Every position takes many values (an old key generator padded the end with X).
    for (let position = 2; position < 20; position += 1) expect(new Set(keys.map((key) => key[position])).size, `position ${position}`).toBeGreaterThan(30);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
