/** A cell value as exports write it: null is an empty cell. */
export type CsvValue = string | number | boolean | null | undefined;

/** Cells a spreadsheet would run as a formula start with one of these; they are written after a `'` so they stay text. */
const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell per RFC 4180: quoted when it holds a comma, quote or line break, quotes doubled. */
export function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV line with its CRLF ending (what spreadsheet tools and Import-Csv expect). */
export function csvLine(values: CsvValue[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

/** The UTF-8 byte order mark: lets spreadsheet tools that guess the encoding read UTF-8 right. */
export const UTF8_BOM = '\uFEFF';
