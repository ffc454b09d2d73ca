import { csvRecords } from '../../../shared/csv.js';
import type { Actor } from '../../../shared/actor.js';
import type { Clock } from '../../../shared/clock.js';
import { appError } from '../../../shared/errors.js';
import { newId } from '../../../shared/ids.js';
import type { Keyring } from '../../../shared/keyring.js';
import type { Db, UnitOfWork } from '../../../storage/database.js';
import { isUniqueViolation } from '../../../storage/errors.js';
import { oathTokensRepository as tokens, type NewOathTokenRow } from '../../../storage/repositories/oath-tokens.js';
import { writeAudit } from '../../audit/audit.js';
import { base32Decode } from './base32.js';
import { sealOathSecret } from './secret.js';
import { checkSettings, isFieldError, type FieldError } from './token-view.js';

/** Hardware token serials: what a path segment and a CSV cell carry without escaping. */
export const SERIAL_PATTERN = '^[A-Za-z0-9._-]{1,64}$';
/** The columns a hardware import file may have; serial, secret and type are required. */
export const HARDWARE_COLUMNS = ['serial', 'secret', 'secret_format', 'type', 'digits', 'period', 'algorithm'] as const;

type Column = (typeof HARDWARE_COLUMNS)[number];

const MIN_SECRET_BYTES = 16;
const MAX_SECRET_BYTES = 128;
const SERIAL = new RegExp(SERIAL_PATTERN);
const BATCH = 500;

export interface HardwareImportError {
  /** Line of the file the row starts on (the header is line 1). */
  line: number;
  serial: string | null;
  field: string | null;
  code: string;
  message: string;
}

export interface HardwareImportReport {
  rows: number;
  imported: number;
  failed: number;
  errors: HardwareImportError[];
}

/** What an import needs from the service that runs it. */
export interface HardwareImportDeps {
  db: Db;
  /** Runs a unit of work (Storage.transact): every write goes through one. */
  transact: UnitOfWork;
  keyring: Keyring;
  clock: Clock;
}

interface PendingRow {
  line: number;
  row: NewOathTokenRow & { serial: string };
}

type Fail = (error: HardwareImportError) => void;

/**
 * Imports hardware tokens from a CSV seed file with a header row (columns
 * in HARDWARE_COLUMNS, any order). Bad rows are reported with their line and
 * field; good rows land active and unassigned, in batches. A serial already
 * known, or repeated in the file, is refused.
 */
export async function importHardwareTokens(
  deps: HardwareImportDeps,
  input: string | Buffer | NodeJS.ReadableStream,
  actor: Actor,
): Promise<HardwareImportReport> {
  const report: HardwareImportReport = { rows: 0, imported: 0, failed: 0, errors: [] };
  const fail: Fail = (error) => {
    report.failed += 1;
    if (report.errors.length < 10000) report.errors.push(error);
  };
  const parser = csvRecords(input, (error) => {
    report.rows += 1;
    fail({ line: Number(error?.lines ?? 0), serial: null, field: null, code: 'invalid_csv', message: error?.message ?? 'unreadable row' });
  });
  let header: Column[] | null = null;
  let batch: PendingRow[] = [];
  const seen = new Set<string>();
  for await (const { record, info } of parser) {
    if (!header) {
      header = readHeader(record);
      continue;
    }
    report.rows += 1;
    const pending = prepareRow(deps, header, record, info.lines, seen, fail);
    if (pending) batch.push(pending);
    if (batch.length >= BATCH) {
      await flush(deps, batch, actor, report, fail);
      batch = [];
    }
  }
  if (!header) throw appError('invalid_csv', `the file is empty: expected a header row (${HARDWARE_COLUMNS.join(',')})`);
  await flush(deps, batch, actor, report, fail);
  report.errors.sort((a, b) => a.line - b.line);
  return report;
}

function readHeader(record: string[]): Column[] {
  const names = record.map((name) => name.trim().toLowerCase());
  const unknown = names.filter((name) => !(HARDWARE_COLUMNS as readonly string[]).includes(name));
  if (unknown.length > 0) throw appError('invalid_csv', `header: unknown column ${unknown.map((name) => `"${name}"`).join(', ')}; allowed: ${HARDWARE_COLUMNS.join(', ')}`);
  for (const required of ['serial', 'secret', 'type']) {
    if (!names.includes(required)) throw appError('invalid_csv', `header: a ${required} column is required`);
  }
  if (new Set(names).size !== names.length) throw appError('invalid_csv', 'header: a column appears twice');
  return names as Column[];
}

/** Checks one data row; a good one comes back sealed and ready to insert, a bad one is reported and gives null. */
function prepareRow(deps: HardwareImportDeps, header: Column[], record: string[], line: number, seen: Set<string>, fail: Fail): PendingRow | null {
  const cells: Partial<Record<Column, string>> = {};
  header.forEach((column, index) => (cells[column] = record[index] ?? ''));
  const serial = cells.serial?.trim() ?? '';
  const reject = (error: { field: string; code: string; message: string }) => {
    fail({ line, serial: serial || null, ...error });
    return null;
  };
  if (!SERIAL.test(serial)) return reject({ field: 'serial', code: 'validation_failed', message: 'serial: required, 1 to 64 of A-Z a-z 0-9 . _ -' });
  const type = cells.type?.trim().toLowerCase() ?? '';
  if (type === '') return reject({ field: 'type', code: 'validation_failed', message: 'type: required (totp or hotp)' });
  const digits = numberCell(cells, 'digits');
  const period = numberCell(cells, 'period');
  for (const cell of [digits, period]) if (typeof cell === 'object') return reject(cell);
  const settings = checkSettings({ type, algorithm: cells.algorithm?.trim().toUpperCase() || undefined, digits: digits as number | undefined, period: period as number | undefined });
  if (isFieldError(settings)) return reject(settings);
  const secret = readSecret(cells.secret ?? '', cells.secret_format ?? '');
  if (isFieldError(secret)) return reject(secret);
  if (seen.has(serial)) return reject({ field: 'serial', code: 'oath_serial_taken', message: `serial: ${serial} appears earlier in the file` });
  seen.add(serial);
  const id = newId();
  const row = {
    ...settings,
    id,
    user_id: null,
    serial,
    kind: 'hardware',
    secret_sealed: sealOathSecret(deps.keyring, id, secret),
    status: 'active',
    name: null,
    last_used: null,
    created_at: deps.clock.now(),
    last_used_at: null,
  };
  return { line, row };
}

/** Hex when it holds only hex digits and a character base32 lacks (0, 1, 8, 9); base32 when it is base32. */
function readSecret(text: string, format: string): Buffer | FieldError {
  const fail = (message: string): FieldError => ({ field: 'secret', code: 'invalid_oath_secret', message: `secret: ${message}` });
  const clean = text.replace(/[\s-]/g, '');
  if (clean === '') return fail('required');
  const isHex = /^(?:[0-9a-fA-F]{2})+$/.test(clean);
  const isBase32 = base32Decode(clean) !== null;
  let chosen = format.trim().toLowerCase();
  if (chosen === '') {
    if (isHex && isBase32) return fail('could be hex or base32: add a secret_format column (hex or base32)');
    chosen = isHex ? 'hex' : 'base32';
  }
  if (chosen !== 'hex' && chosen !== 'base32') return { field: 'secret_format', code: 'validation_failed', message: `secret_format: must be hex or base32, got "${format}"` };
  if (chosen === 'hex' && !isHex) return fail('not hex (an even number of 0-9, a-f)');
  if (chosen === 'base32' && !isBase32) return fail('not base32 (A-Z, 2-7)');
  const value = chosen === 'hex' ? Buffer.from(clean, 'hex') : base32Decode(clean)!;
  if (value.length < MIN_SECRET_BYTES || value.length > MAX_SECRET_BYTES) return fail(`must be ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes (RFC 4226 §4: at least 128 bits), got ${value.length}`);
  return value;
}

/** A whole-number cell: undefined when empty, an error naming the column when not a number. */
function numberCell(cells: Partial<Record<Column, string>>, column: 'digits' | 'period'): number | undefined | FieldError {
  const text = cells[column]?.trim() ?? '';
  if (text === '') return undefined;
  return /^[0-9]{1,9}$/.test(text) ? Number(text) : { field: column, code: 'validation_failed', message: `${column}: must be a whole number, got "${text}"` };
}

/** Writes a batch in one transaction; serials that exist are reported, and on a race the rows are retried one by one. */
async function flush(deps: HardwareImportDeps, batch: PendingRow[], actor: Actor, report: HardwareImportReport, fail: Fail): Promise<void> {
  if (batch.length === 0) return;
  const existing = await tokens.existingSerials(deps.db, batch.map((pending) => pending.row.serial));
  const taken = (pending: PendingRow) =>
    fail({ line: pending.line, serial: pending.row.serial, field: 'serial', code: 'oath_serial_taken', message: `serial: ${pending.row.serial} already exists` });
  const fresh = batch.filter((pending) => !existing.has(pending.row.serial));
  batch.filter((pending) => existing.has(pending.row.serial)).forEach(taken);
  try {
    report.imported += await write(deps, fresh, actor);
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // Another writer imported one of these serials meanwhile: retry row by row so only that row fails.
    for (const pending of fresh) {
      try {
        report.imported += await write(deps, [pending], actor);
      } catch (rowError) {
        if (!isUniqueViolation(rowError)) throw rowError;
        taken(pending);
      }
    }
  }
}

/** Inserts rows and audits them as one import, in one transaction; answers how many were written. */
async function write(deps: HardwareImportDeps, rows: PendingRow[], actor: Actor): Promise<number> {
  if (rows.length === 0) return 0;
  await deps.transact(async (trx) => {
    await tokens.insertMany(trx, rows.map((pending) => pending.row));
    const details = { imported: rows.length, first_line: rows[0]!.line, last_line: rows[rows.length - 1]!.line };
    await writeAudit(trx, deps.clock, actor, { action: 'oath_token.import', targetType: 'oath_token', targetId: null, details });
  });
  return rows.length;
}
