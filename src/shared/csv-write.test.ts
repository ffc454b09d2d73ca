import { describe, expect, it } from 'vitest';
import { csvCell, csvLine } from './csv-write.js';

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
  });
});
