import { csvCell, isoMillis } from '../../shared/csv-write.js';

export type ExportFormat = 'csv' | 'jsonl';

/** The sign-in download's columns: the sign-in list's fields, in this order. */
export const SIGNIN_EXPORT_COLUMNS = [
  'id', 'at', 'username', 'application', 'ip', 'auth_type', 'entry_point', 'status', 'mfa_required',
  'policy', 'method', 'result_code', 'detail', 'push_fatigue', 'client_type', 'device_id',
] as const;

const AT = 1;
const MFA_REQUIRED = 8;

/** A row (column values in SIGNIN_EXPORT_COLUMNS order) as one CSV line (CRLF) or JSON Lines line: times in ISO 8601, booleans as true/false. */
export function formatRow(row: unknown[], format: ExportFormat): string {
  const at = isoMillis(Number(row[AT]));
  const mfa = Boolean(row[MFA_REQUIRED]);
  if (format === 'jsonl') {
    const record: Record<string, unknown> = {};
    SIGNIN_EXPORT_COLUMNS.forEach((column, index) => (record[column] = row[index] ?? null));
    record.id = Number(row[0]);
    record.at = at;
    record.mfa_required = mfa;
    return `${JSON.stringify(record)}\n`;
  }
  let line = `${Number(row[0])},${at}`;
  for (let index = 2; index < SIGNIN_EXPORT_COLUMNS.length; index += 1) line += `,${index === MFA_REQUIRED ? String(mfa) : csvCell(row[index] as string | null)}`;
  return `${line}\r\n`;
}

/** Rows as text, and the (time, id) key of the last one. */
export function formatRows(rows: unknown[][], format: ExportFormat): { text: string; last: [number, number] | null } {
  let text = '';
  for (const row of rows) text += formatRow(row, format);
  const last = rows[rows.length - 1];
  return { text, last: last ? [Number(last[AT]), Number(last[0])] : null };
}
