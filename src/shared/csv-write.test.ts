import { describe, expect, it } from 'vitest';
import { csvCell, csvLine, isoMillis } from './csv-write.js';

describe('CSV writing', () => {
  it('quotes what needs quoting and keeps formulas as text', () => {
    expect(csvLine(['plain', 42, true, null, undefined])).toBe('plain,42,true,,\r\n');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvCell('+1 555')).toBe("'+1 555");
    expect(csvCell('@sum')).toBe("'@sum");
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell('Zoë')).toBe('Zoë');
    expect(csvCell('-')).toBe("'-");
    expect(csvCell('a"b')).toBe('"a""b"');
  });

  it('writes epoch milliseconds exactly as toISOString does', () => {
    for (const ms of [0, 1, 999, 86_399_999, 86_400_000, 1_793_534_400_123, 1_787_670_062_452, 951_782_400_000, 253_402_300_799_999, Date.UTC(2024, 1, 29, 23, 59, 59, 5)]) {
      expect(isoMillis(ms)).toBe(new Date(ms).toISOString());
    }
    for (let ms = 1_700_000_000_000; ms < 1_700_000_000_000 + 5 * 86_400_000; ms += 7_777_777) expect(isoMillis(ms)).toBe(new Date(ms).toISOString());
  });
});
