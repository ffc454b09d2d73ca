// How the sign-in download's rows become text. Worker threads of the bulk
// reads (storage/bulk.ts) load this module by itself, so it imports little.
import { csvCell, isoMillis } from '../../shared/csv-write.js';
import type { BulkFormatter } from '../../storage/bulk.js';
import { SIGNIN_EXPORT_COLUMNS } from '../../storage/signin-export-columns.js';

export { SIGNIN_EXPORT_COLUMNS };

export type ExportFormat = 'csv' | 'jsonl';

const AT = 1;
const MFA_REQUIRED = 8;

/**
 * A row as one CSV line (CRLF; values in the order of CSV_SELECTION in
 * storage/repositories/signin-export.ts) or JSON Lines line (values in SIGNIN_EXPORT_COLUMNS
 * order): times in ISO 8601, booleans as true/false.
 */
export function formatRow(row: unknown[], format: ExportFormat): string {
  const at = isoMillis(Number(row[AT]));
  if (format === 'csv') {
    const cell = (index: number) => csvCell(row[index] as string | null);
    return `${Number(row[0])},${at},${cell(2)},${cell(3)},${cell(4)},${cell(5)},${row[6] as string},${cell(7)},${row[8] as string},${cell(9)}\r\n`;
  }
  const record: Record<string, unknown> = {};
  SIGNIN_EXPORT_COLUMNS.forEach((column, index) => (record[column] = row[index] ?? null));
  record.id = Number(row[0]);
  record.at = at;
  record.mfa_required = Boolean(row[MFA_REQUIRED]);
  return `${JSON.stringify(record)}\n`;
}

/** Rows as text. */
export function formatRows(rows: unknown[][], format: ExportFormat): string {
  let text = '';
  for (const row of rows) text += formatRow(row, format);
  return text;
}

/** A row's place in the download's order: its (time, id) key. */
export const positionOf = (row: unknown[]): [number, number] => [Number(row[AT]), Number(row[0])];

/** `formatRows`, where a worker thread finds it: this module's own location. */
export const SIGNIN_FORMATTER: BulkFormatter<ExportFormat> = { module: import.meta.url, name: 'formatRows', format: formatRows };
