import { csvLine, UTF8_BOM, type CsvValue } from '../../shared/csv-write.js';
import { assert } from '../../shared/errors.js';
import type { Db } from '../../storage/database.js';
import { attemptLogRepository, type AttemptSelection } from '../../storage/repositories/signin-log.js';
import { usersRepository } from '../../storage/repositories/users.js';
import { RESULT_CODE_NAMES } from '../auth/result-codes.js';
import { usernameKey } from '../directory/user-input.js';
import { SIGNIN_EXPORT_COLUMNS, type ExportFormat, type SigninExporter } from './signin-export.js';
import type { SigninFilters, SigninLog } from './signin-log.js';

export type { ExportFormat };

/** Rows read per query: an export holds one batch in memory, whatever its size. */
const BATCH = 1000;


/** The SPEC.md §5 attempt record's columns, in the order of the downloaded activity report. */
const ATTEMPT_COLUMNS = [
  'id', 'at', 'username', 'first_name', 'last_name', 'email', 'user_group', 'method', 'call_mode', 'sms_direction', 'sms_mode', 'app_mode', 'oath_mode',
  'auth_type', 'application',
  'primary_country_code', 'primary_phone_number', 'primary_extension', 'primary_authenticated', 'primary_result',
  'backup_country_code', 'backup_phone_number', 'backup_extension', 'backup_authenticated', 'backup_result',
  'authenticated', 'result', 'caller_ip', 'device', 'device_token', 'device_type', 'app_version', 'os_version', 'number_matching', 'entry_point',
] as const;
type AttemptColumn = (typeof ATTEMPT_COLUMNS)[number];
const BOOLEAN_COLUMNS = new Set<string>(['primary_authenticated', 'backup_authenticated', 'authenticated', 'number_matching']);

/** What the activity report can be filtered by. */
export interface AttemptFilters {
  from?: string;
  to?: string;
  user?: string;
  application?: string;
  result?: string;
  method?: string;
}

function instant(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const millis = Date.parse(value);
  assert(/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(value) && Number.isFinite(millis), 'validation_failed', `${field}: an ISO 8601 date or date-time`, { field });
  return millis;
}

/** Rows as text: a header row (and optional BOM) then one line per row for CSV; one JSON object per line for JSON Lines. */
async function* lines<Row extends Record<string, unknown>>(rows: AsyncIterable<Row>, columns: readonly string[], format: ExportFormat, bom: boolean): AsyncIterable<string> {
  if (format === 'csv') yield `${bom ? UTF8_BOM : ''}${csvLine([...columns])}`;
  let chunk = '';
  for await (const row of rows) {
    chunk += format === 'csv' ? csvLine(columns.map((column) => row[column] as CsvValue)) : `${JSON.stringify(Object.fromEntries(columns.map((column) => [column, row[column] ?? null])))}\n`;
    // Written in chunks of about 64 kB: fewer, larger writes.
    if (chunk.length >= 65_536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/**
 * Downloads of the sign-in log and of the attempt records (the SPEC.md §4
 * "downloaded activity report"): CSV with a header row (optionally a UTF-8
 * BOM) or JSON Lines, oldest first, read in batches of a thousand rows on the
 * (time, id) key, so memory stays flat whatever the size.
 */
export class Exports {
  constructor(private readonly deps: { db: Db; signinLog: SigninLog; exporter: SigninExporter }) {}

  /** Filters are checked before the first byte is sent: a bad one is an error answer, not a broken download. */
  async signins(filters: SigninFilters, format: ExportFormat, bom = false): Promise<AsyncIterable<string | Uint8Array>> {
    const resolved = await this.deps.signinLog.resolve(filters);
    const exporter = this.deps.exporter;
    async function* text(): AsyncIterable<string | Uint8Array> {
      if (format === 'csv') yield `${bom ? UTF8_BOM : ''}${csvLine([...SIGNIN_EXPORT_COLUMNS])}`;
      yield* exporter.lines(resolved, format);
    }
    return text();
  }

  async attempts(filters: AttemptFilters, format: ExportFormat, bom = false): Promise<AsyncIterable<string>> {
    const from = instant(filters.from, 'from');
    const to = instant(filters.to, 'to');
    if (filters.result !== undefined) {
      assert((RESULT_CODE_NAMES as string[]).includes(filters.result), 'validation_failed', `result: ${filters.result} is not a result code of SPEC.md §2`, { field: 'result' });
    }
    const db = this.deps.db;
    const selection: AttemptSelection = { from, to, application: filters.application, result: filters.result, method: filters.method };
    if (filters.user !== undefined) {
      // A name no user has still selects the attempts that tried it.
      const known = await usersRepository.findByKey(db, usernameKey(filters.user));
      selection.user = known ? { id: known.id } : { username: filters.user };
    }
    const batch = (after: { at: number; id: number } | null) => attemptLogRepository.batch(db, ATTEMPT_COLUMNS, selection, after, BATCH);
    async function* rows(): AsyncIterable<Record<string, unknown>> {
      let after: { at: number; id: number } | null = null;
      for (;;) {
        const found = await batch(after);
        for (const row of found) yield view(row as Record<AttemptColumn, unknown>);
        if (found.length < BATCH) return;
        const last = found[found.length - 1]!;
        after = { at: Number(last.at), id: Number(last.id) };
      }
    }
    return lines(rows(), ATTEMPT_COLUMNS, format, bom);
  }
}

/** An attempt row as exported: time in ISO 8601, booleans as true/false (SQLite stores 1/0). */
function view(row: Record<AttemptColumn, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const column of ATTEMPT_COLUMNS) {
    const value = row[column];
    if (column === 'at') out[column] = new Date(Number(value)).toISOString();
    else if (column === 'id') out[column] = Number(value);
    else if (BOOLEAN_COLUMNS.has(column)) out[column] = value === null || value === undefined ? null : Boolean(value);
    else out[column] = value ?? null;
  }
  return out;
}
