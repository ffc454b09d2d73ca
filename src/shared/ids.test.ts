import { describe, expect, it } from 'vitest';
import { orderedId } from './ids.js';

describe('orderedId', () => {
  it('sorts in the order the ids were made, also within one millisecond', () => {
    const ids = Array.from({ length: 2000 }, () => orderedId());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(ids[0]).toMatch(/^[0-9a-f]{34}$/);
  });
});
