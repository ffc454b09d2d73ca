/** A cell value as exports write it: null is an empty cell. */
export type CsvValue = string | number | boolean | null | undefined;

/** Cells a spreadsheet would run as a formula start with one of these; they are written after a `'` so they stay text. */
const FORMULA_START = /^[=+\-@\t\r]/;
/** A text that needs neither quotes nor the formula guard: most cells, tested once. */
const NEEDS_CARE = /[",\r\n]|^[=+\-@\t\r]/;

/** One cell per RFC 4180: quoted when it holds a comma, quote or line break, quotes doubled. */
export function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') return String(value);
  if (!NEEDS_CARE.test(value)) return value;
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const DAY_MS = 86_400_000;
let cachedDay = Number.NaN;
let cachedDate = '';
const two = (value: number) => (value < 10 ? `0${value}` : String(value));

/**
 * Epoch milliseconds as ISO 8601 in UTC (`2026-11-01T12:00:00.000Z`), the
 * same text as `Date.toISOString` for years 1970 to 9999. Exports write one
 * per row, in time order: the date part is kept from the previous call.
 */
export function isoMillis(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (day !== cachedDay) {
    cachedDay = day;
    cachedDate = new Date(day * DAY_MS).toISOString().slice(0, 11);
  }
  let rest = ms - day * DAY_MS;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = rest - seconds * 1000;
  return `${cachedDate}${two(hours)}:${two(minutes)}:${two(seconds)}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}

/** One CSV line with its CRLF ending (what spreadsheet tools and Import-Csv expect). */
export function csvLine(values: CsvValue[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

/** The UTF-8 byte order mark: lets spreadsheet tools that guess the encoding read UTF-8 right. */
export const UTF8_BOM = '\uFEFF';
