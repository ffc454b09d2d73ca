import { setImmediate as nextTurn } from 'node:timers/promises';
import { csvRecords } from '../../shared/csv.js';
import type { Logger } from 'pino';
import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import { appError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import type { Keyring } from '../../shared/keyring.js';
import type { Db, UnitOfWork } from '../../storage/database.js';
import { isUniqueViolation } from '../../storage/errors.js';
import { groupsRepository } from '../../storage/repositories/groups.js';
import { changesRepository } from '../../storage/repositories/records.js';
import { usersRepository } from '../../storage/repositories/users.js';
import type { NewUserRow } from '../../storage/schema.js';
import { writeAudit } from '../audit/audit.js';
import type { UserChangeLog } from '../privacy/personal-log.js';
import { cleanUserFields, groupKey, type CleanUserFields, type InputRules, type MfaState, type UserFields } from './user-input.js';
import { changeRecord, givenFields, newUserRow } from './user-records.js';

/** The columns an import file may have, in the order `countersign user import --template` prints them. */
export const IMPORT_COLUMNS = [
  'username',
  'first_name',
  'last_name',
  'email',
  'language',
  'account_enabled',
  'mfa_state',
  'pin',
  'pin_change_required',
  'oath_mode',
  'sms_mode',
  'sms_direction',
  'call_mode',
  'app_mode',
  'phone_country_code',
  'phone_number',
  'phone_extension',
  'backup_country_code',
  'backup_phone_number',
  'backup_extension',
  'groups',
] as const;
type Column = (typeof IMPORT_COLUMNS)[number];

export interface ImportRowError {
  /** Line of the file the row starts on (the header is line 1). */
  line: number;
  username: string | null;
  field: string | null;
  code: string;
  message: string;
}

export interface ImportReport {
  rows: number;
  created: number;
  failed: number;
  groups_created: string[];
  errors: ImportRowError[];
}

export interface ImportOptions {
  /** Create groups named in the file that do not exist yet (otherwise such rows fail). */
  createGroups?: boolean;
  /** Called after each batch with the number of data rows read so far. */
  onProgress?: (rowsRead: number) => void;
}

interface PendingRow {
  line: number;
  row: NewUserRow;
  fields: string[];
  groups: string[];
}

/**
 * Rows written per unit of work. On SQLite a unit holds the only writer, and
 * every authentication waits for it: a small batch keeps that wait to a few
 * milliseconds, at little cost to the import's rate.
 */
const BATCH = 250;
/** Rows validated between two turns of the event loop: validation is CPU work that would otherwise keep every request waiting. */
const ROWS_PER_TURN = 100;

function parseBoolean(text: string, field: string): { value?: boolean; error?: string } {
  const value = text.trim().toLowerCase();
  if (value === '') return {};
  if (['true', 'yes', '1', 'y'].includes(value)) return { value: true };
  if (['false', 'no', '0', 'n'].includes(value)) return { value: false };
  return { error: `${field} must be true or false` };
}

/** Turns one CSV record into the same UserFields the API takes: import and API share every rule. */
function fieldsOf(record: Partial<Record<Column, string>>): { fields: UserFields; error?: { field: string; message: string } } {
  const text = (column: Column) => record[column]?.trim() || undefined;
  const fields: UserFields = {
    username: record.username?.trim() ?? '',
    first_name: text('first_name'),
    last_name: text('last_name'),
    email: text('email'),
    language: text('language'),
    mfa_state: text('mfa_state') as MfaState | undefined,
    pin: text('pin'),
    oath_mode: text('oath_mode') as UserFields['oath_mode'],
    sms_mode: text('sms_mode') as UserFields['sms_mode'],
    sms_direction: text('sms_direction') as UserFields['sms_direction'],
    call_mode: text('call_mode') as UserFields['call_mode'],
    app_mode: text('app_mode') as UserFields['app_mode'],
    groups: text('groups')?.split(';').map((name) => name.trim()).filter(Boolean),
  };
  if (text('phone_number')) fields.phone = { country_code: text('phone_country_code'), number: text('phone_number')!, extension: text('phone_extension') };
  if (text('backup_phone_number')) {
    fields.backup_phone = { country_code: text('backup_country_code'), number: text('backup_phone_number')!, extension: text('backup_extension') };
  }
  for (const column of ['account_enabled', 'pin_change_required'] as const) {
    const parsed = parseBoolean(record[column] ?? '', column);
    if (parsed.error) return { fields, error: { field: column, message: parsed.error } };
    if (parsed.value !== undefined) fields[column] = parsed.value;
  }
  return { fields };
}

/**
 * Bulk import of users from CSV with a header row. Each row is validated by
 * the same rules as the API; bad rows are reported with their line and field,
 * good rows land in batches. A row is written whole (user, groups, change
 * record) or not at all.
 */
export class CsvImport {
  constructor(private readonly deps: { db: Db; transact: UnitOfWork; keyring: Keyring; clock: Clock; log: Logger; rules: InputRules; changeLog: UserChangeLog }) {}

  async run(input: string | Buffer | NodeJS.ReadableStream, actor: Actor, options: ImportOptions = {}): Promise<ImportReport> {
    const report: ImportReport = { rows: 0, created: 0, failed: 0, groups_created: [], errors: [] };
    const fail = (error: ImportRowError) => {
      report.failed += 1;
      if (report.errors.length < 10000) report.errors.push(error);
    };
    const records = csvRecords(input, (error) => {
      report.rows += 1;
      fail({ line: Number(error?.lines ?? 0), username: null, field: null, code: 'invalid_csv', message: error?.message ?? 'unreadable row' });
    });
    let header: Column[] | null = null;
    let batch: PendingRow[] = [];
    let reported = 0;
    const seen = new Set<string>();
    for await (const { record, info } of records) {
      if (!header) {
        header = this.readHeader(record);
        continue;
      }
      report.rows += 1;
      const pending = this.prepare(header, record, info.lines, seen, fail);
      if (pending) batch.push(pending);
      // Rows of a file read into memory arrive without a pause: let the server answer other requests between them.
      if (report.rows % ROWS_PER_TURN === 0) await nextTurn();
      if (batch.length >= BATCH) {
        await this.flush(batch, actor, options, report, fail);
        batch = [];
        reported = report.rows;
        options.onProgress?.(reported);
      }
    }
    if (!header) throw appError('invalid_csv', 'the file is empty: expected a header row starting with username');
    await this.flush(batch, actor, options, report, fail);
    if (report.rows !== reported) options.onProgress?.(report.rows);
    this.deps.log.info({ event: 'user.import', rows: report.rows, created: report.created, failed: report.failed, actor: `${actor.type}:${actor.id}` }, 'user import finished');
    return report;
  }

  private readHeader(record: string[]): Column[] {
    const names = record.map((name) => name.trim().toLowerCase());
    const unknown = names.filter((name) => !(IMPORT_COLUMNS as readonly string[]).includes(name));
    if (unknown.length > 0) throw appError('invalid_csv', `header: unknown column ${unknown.map((name) => `"${name}"`).join(', ')}; allowed: ${IMPORT_COLUMNS.join(', ')}`);
    if (!names.includes('username')) throw appError('invalid_csv', 'header: a username column is required');
    if (new Set(names).size !== names.length) throw appError('invalid_csv', 'header: a column appears twice');
    return names as Column[];
  }

  private prepare(header: Column[], record: string[], line: number, seen: Set<string>, fail: (error: ImportRowError) => void): PendingRow | null {
    const values: Partial<Record<Column, string>> = {};
    header.forEach((column, index) => (values[column] = record[index] ?? ''));
    const username = values.username?.trim() || null;
    const { fields, error } = fieldsOf(values);
    if (error) {
      fail({ line, username, field: error.field, code: 'validation_failed', message: `${error.field}: ${error.message}` });
      return null;
    }
    const { value, errors } = cleanUserFields(fields, this.deps.rules);
    const first = errors[0];
    if (first) {
      fail({ line, username, field: first.field, code: first.code, message: `${first.field}: ${first.message}` });
      return null;
    }
    const row = newUserRow(newId(), value as CleanUserFields & { username: string }, this.deps.keyring, this.deps.clock.now());
    if (seen.has(row.username_key)) {
      fail({ line, username, field: 'username', code: 'username_taken', message: `username: ${row.username} appears earlier in the file` });
      return null;
    }
    seen.add(row.username_key);
    return { line, row, fields: givenFields(value), groups: value.groups ?? [] };
  }

  /** Writes a batch in one transaction; rows that conflict are reported and the rest retried. */
  private async flush(batch: PendingRow[], actor: Actor, options: ImportOptions, report: ImportReport, fail: (error: ImportRowError) => void): Promise<void> {
    if (batch.length === 0) return;
    const existing = await usersRepository.existingKeys(this.deps.db, batch.map((pending) => pending.row.username_key));
    const fresh = batch.filter((pending) => {
      if (!existing.has(pending.row.username_key)) return true;
      fail({ line: pending.line, username: pending.row.username, field: 'username', code: 'username_taken', message: `username: ${pending.row.username} already exists` });
      return false;
    });
    try {
      await this.write(fresh, actor, options, report, fail);
    } catch (error) {
      if (!isUniqueViolation(error) || fresh.length === 1) throw error;
      // Another writer created one of these usernames meanwhile: retry row by row so only that row fails.
      for (const pending of fresh) {
        try {
          await this.write([pending], actor, options, report, fail);
        } catch (rowError) {
          if (!isUniqueViolation(rowError)) throw rowError;
          fail({ line: pending.line, username: pending.row.username, field: 'username', code: 'username_taken', message: `username: ${pending.row.username} already exists` });
        }
      }
    }
  }

  private async write(rows: PendingRow[], actor: Actor, options: ImportOptions, report: ImportReport, fail: (error: ImportRowError) => void): Promise<void> {
    const now = this.deps.clock.now();
    const outcome = await this.deps.transact(async (trx) => {
      const names = [...new Map(rows.flatMap((pending) => pending.groups).map((name) => [groupKey(name), name])).values()];
      const groupIds = new Map((await groupsRepository.findByKeys(trx, names.map(groupKey))).map((group) => [group.name_key, group.id]));
      const groupsCreated: string[] = [];
      if (options.createGroups) {
        for (const name of names.filter((candidate) => !groupIds.has(groupKey(candidate)))) {
          const group = { id: newId(), name, name_key: groupKey(name), description: null, created_at: now, updated_at: now };
          await groupsRepository.insert(trx, group);
          await writeAudit(trx, this.deps.clock, actor, { action: 'group.create', targetType: 'group', targetId: group.id, details: { name, via: 'user.import' } });
          groupIds.set(group.name_key, group.id);
          groupsCreated.push(name);
        }
      }
      // Rejections are reported only once the transaction commits, so a retried batch does not report twice.
      const rejected: ImportRowError[] = [];
      const written = rows.filter((pending) => {
        const missing = pending.groups.filter((name) => !groupIds.has(groupKey(name)));
        if (missing.length === 0) return true;
        rejected.push({ line: pending.line, username: pending.row.username, field: 'groups', code: 'unknown_group', message: `groups: no such group "${missing[0]}"` });
        return false;
      });
      await usersRepository.insertMany(trx, written.map((pending) => pending.row));
      await groupsRepository.addMembers(trx, written.flatMap((pending) => pending.groups.map((name) => ({ user_id: pending.row.id, group_id: groupIds.get(groupKey(name))! }))));
      await changesRepository.insertMany(trx, written.map((pending) => changeRecord(pending.row, 'create', pending.fields, actor, now)));
      const logLines = await this.deps.changeLog.prepareCreated(
        trx,
        written.map((pending) => ({ user: pending.row, details: { fields: pending.fields, actor: `${actor.type}:${actor.id}`, via: 'user.import' } })),
        'user.create',
        'user added',
      );
      if (written.length > 0) {
        await writeAudit(trx, this.deps.clock, actor, {
          action: 'user.import',
          targetType: 'user',
          targetId: null,
          details: { created: written.length, first_line: written[0]!.line, last_line: written[written.length - 1]!.line },
        });
      }
      return { created: written.length, groupsCreated, rejected, logLines };
    });
    outcome.logLines();
    report.created += outcome.created;
    report.groups_created.push(...outcome.groupsCreated);
    outcome.rejected.forEach(fail);
  }
}
