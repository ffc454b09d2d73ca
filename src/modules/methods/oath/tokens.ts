import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import { parse, type CsvError } from 'csv-parse';
import QRCode from 'qrcode';
import type { Config } from '../../../config/schema.js';
import type { Actor } from '../../../shared/actor.js';
import type { Clock } from '../../../shared/clock.js';
import { decodeCursor, encodeCursor } from '../../../shared/cursor.js';
import { appError, assert } from '../../../shared/errors.js';
import { newId } from '../../../shared/ids.js';
import type { Keyring } from '../../../shared/keyring.js';
import type { Db, Executor } from '../../../storage/database.js';
import { isUniqueViolation } from '../../../storage/errors.js';
import { oathTokensRepository as tokens, type NewOathTokenRow, type OathTokenRowUpdate } from '../../../storage/repositories/oath-tokens.js';
import { usersRepository } from '../../../storage/repositories/users.js';
import type { OathTokenRow, UserRow } from '../../../storage/schema.js';
import { writeAudit } from '../../audit/audit.js';
import type { Page } from '../../directory/directory.js';
import { usernameKey } from '../../directory/user-input.js';
import { base32Decode, base32Encode } from './base32.js';
import { hotp, matchCounter, timeStep, type OathAlgorithm, type OathParameters } from './otp.js';
import { openOathSecret, sealOathSecret } from './secret.js';

export const OATH_TYPES = ['totp', 'hotp'] as const;
export const OATH_ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'] as const;
export const OATH_DIGITS = [6, 8] as const;
export const PERIOD_LIMITS = { min: 10, max: 300 } as const;
/** Hardware token serials: what a path segment and a CSV cell carry without escaping. */
export const SERIAL_PATTERN = '^[A-Za-z0-9._-]{1,64}$';
/** The columns a hardware import file may have; serial, secret and type are required. */
export const HARDWARE_COLUMNS = ['serial', 'secret', 'secret_format', 'type', 'digits', 'period', 'algorithm'] as const;

export type OathType = (typeof OATH_TYPES)[number];
export type OathDigits = (typeof OATH_DIGITS)[number];
type Column = (typeof HARDWARE_COLUMNS)[number];

/**
 * RFC 4226 §4 R6 and RFC 6238 §5.1: a seed of at least 128 bits, best the
 * length of the HMAC output. Software seeds are made at that length.
 */
const SEED_BYTES: Record<OathAlgorithm, number> = { SHA1: 20, SHA256: 32, SHA512: 64 };
const MIN_SECRET_BYTES = 16;
const MAX_SECRET_BYTES = 128;
const SERIAL = new RegExp(SERIAL_PATTERN);
const CONTROL = /[\u0000-\u001f\u007f]/;
const BATCH = 500;

/** A token as the API and CLI show it: never the secret. */
export interface OathTokenView {
  id: string;
  serial: string | null;
  kind: 'software' | 'hardware';
  type: OathType;
  algorithm: OathAlgorithm;
  digits: OathDigits;
  period: number;
  status: 'pending' | 'active';
  name: string | null;
  /** Username of the holder; null for an unassigned hardware token. */
  user: string | null;
  created_at: string;
  last_used_at: string | null;
}

export interface EnrollOptions {
  type?: OathType;
  algorithm?: OathAlgorithm;
  digits?: number;
  period?: number;
  name?: string;
}

/** The answer to an enrolment: the secret and URI are shown this once and never again. */
export interface EnrolledToken {
  token: OathTokenView;
  /** Base32, unpadded, for typing into an app. */
  secret: string;
  /** otpauth:// Key Uri, for a QR code. */
  uri: string;
}

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

interface Settings {
  type: OathType;
  algorithm: OathAlgorithm;
  digits: OathDigits;
  period: number;
}

interface PendingRow {
  line: number;
  row: NewOathTokenRow & { serial: string };
}

type FieldError = { field: string; code: 'validation_failed' | 'invalid_oath_secret'; message: string };

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toOathTokenView(row: OathTokenRow | NewOathTokenRow, username: string | null): OathTokenView {
  return {
    id: row.id,
    serial: row.serial ?? null,
    kind: row.kind as OathTokenView['kind'],
    type: row.type as OathType,
    algorithm: row.algorithm as OathAlgorithm,
    digits: row.digits as OathDigits,
    period: row.period,
    status: row.status as OathTokenView['status'],
    name: row.name ?? null,
    user: username,
    created_at: iso(row.created_at)!,
    last_used_at: iso(row.last_used_at ?? null),
  };
}

/**
 * The Key Uri Format of Google Authenticator, which every authenticator app
 * reads: otpauth://TYPE/ISSUER:ACCOUNT?secret=...&issuer=..., label parts and
 * issuer percent-encoded (a colon inside either would split the label).
 */
export function otpauthUri(issuer: string, account: string, settings: Settings, secret: string): string {
  const parameters = [`secret=${secret}`, `issuer=${encodeURIComponent(issuer)}`, `algorithm=${settings.algorithm}`, `digits=${settings.digits}`];
  parameters.push(settings.type === 'totp' ? `period=${settings.period}` : 'counter=0');
  return `otpauth://${settings.type}/${encodeURIComponent(issuer)}:${encodeURIComponent(account)}?${parameters.join('&')}`;
}

const isFieldError = (value: object): value is FieldError => 'field' in value;

/** Checks type, algorithm, digits and period (defaults TOTP, SHA1, 6, 30); the first wrong one is named. */
function checkSettings(input: { type?: string; algorithm?: string; digits?: number; period?: number }): Settings | FieldError {
  const fail = (field: string, message: string): FieldError => ({ field, code: 'validation_failed', message: `${field}: ${message}` });
  const { type = 'totp', algorithm = 'SHA1', digits = 6, period = 30 } = input;
  if (!(OATH_TYPES as readonly string[]).includes(type)) return fail('type', `must be ${OATH_TYPES.join(' or ')}, got "${type}"`);
  if (!(OATH_ALGORITHMS as readonly string[]).includes(algorithm)) return fail('algorithm', `must be ${OATH_ALGORITHMS.join(', ')}, got "${algorithm}"`);
  if (!(OATH_DIGITS as readonly number[]).includes(digits)) return fail('digits', `must be 6 or 8, got ${digits}`);
  if (!Number.isInteger(period) || period < PERIOD_LIMITS.min || period > PERIOD_LIMITS.max) {
    return fail('period', `must be a whole number of seconds from ${PERIOD_LIMITS.min} to ${PERIOD_LIMITS.max}, got ${period}`);
  }
  // HOTP has no period; 30 is stored so every row reads the same.
  return { type: type as OathType, algorithm: algorithm as OathAlgorithm, digits: digits as OathDigits, period: type === 'hotp' ? 30 : period };
}

function cleanName(name: string | undefined): string | null {
  const trimmed = name?.trim();
  if (!trimmed) return null;
  assert(trimmed.length <= 64 && !CONTROL.test(trimmed), 'validation_failed', 'name: must be 1 to 64 printable characters', { field: 'name' });
  return trimmed;
}

/** A code as typed (spaces ignored): digits, as many as the token shows. */
function cleanCode(code: string, digits: number, field: string): string {
  const entered = code.replace(/\s+/g, '');
  assert(/^[0-9]{6,8}$/.test(entered), 'validation_failed', `${field}: must be 6 or 8 digits`, { field });
  assert(entered.length === digits, 'invalid_oath_code', `${field}: this token shows ${digits}-digit codes`, { field });
  return entered;
}

const sameCode = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * The counter c in [from, to] with code(c) = first and code(c + 1) = second,
 * or null. Every candidate is computed, so the time taken does not tell where a match was.
 */
function matchPair(params: OathParameters, first: string, second: string, from: number, to: number): number | null {
  let found: number | null = null;
  const start = Math.max(0, from);
  let current = hotp(params, start);
  for (let counter = start; counter <= to; counter += 1) {
    const next = hotp(params, counter + 1);
    const hit = sameCode(current, first) && sameCode(next, second);
    if (hit && found === null) found = counter;
    current = next;
  }
  return found;
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

/**
 * OATH tokens of users: software tokens enrolled for an authenticator app and
 * hardware tokens imported from a vendor's seed file, then assigned. Secrets
 * are sealed with the token id as context and leave the server only once, at
 * enrolment. Every change is audited in its own transaction.
 */
export class OathTokens {
  constructor(private readonly deps: { db: Db; keyring: Keyring; clock: Clock; config: Config['oath'] }) {}

  async enrollSoftware(username: string, options: EnrollOptions, actor: Actor): Promise<EnrolledToken> {
    const settings = checkSettings(options);
    if (isFieldError(settings)) throw appError(settings.code, settings.message, { field: settings.field });
    const name = cleanName(options.name);
    const secret = randomBytes(SEED_BYTES[settings.algorithm]);
    const id = newId();
    const { row, user } = await this.deps.db.transaction().execute(async (trx) => {
      const user = await this.findUser(trx, username);
      const row: NewOathTokenRow = {
        ...settings,
        id,
        user_id: user.id,
        serial: null,
        kind: 'software',
        secret_sealed: sealOathSecret(this.deps.keyring, id, secret),
        status: 'pending',
        name,
        last_used: null,
        created_at: this.deps.clock.now(),
        last_used_at: null,
      };
      await tokens.insert(trx, row);
      await this.audit(trx, actor, 'enroll', id, { user_id: user.id, type: row.type, algorithm: row.algorithm, digits: row.digits, period: row.period });
      return { row, user };
    });
    const encoded = base32Encode(secret);
    return { token: toOathTokenView(row, user.username), secret: encoded, uri: otpauthUri(this.deps.config.issuer, user.username, settings, encoded) };
  }

  /**
   * Activates a pending token with its first code. The matched step (TOTP) or
   * counter (HOTP) is recorded as used, so the activation code cannot be
   * replayed at a sign-in afterwards.
   */
  async activate(username: string, tokenId: string, code: string, actor: Actor): Promise<OathTokenView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const { user, token } = await this.findUserToken(trx, username, tokenId);
      assert(token.status === 'pending', 'conflict', `token ${token.id} is already active`);
      const entered = cleanCode(code, token.digits, 'code');
      const params = this.paramsOf(token);
      const now = this.deps.clock.now();
      let patch: OathTokenRowUpdate;
      if (token.type === 'hotp') {
        const counter = Number(token.counter);
        const used = matchCounter(params, entered, counter, counter + this.deps.config.hotpLookAhead);
        assert(used !== null, 'invalid_oath_code', 'code: not a current code of this token', { field: 'code' });
        patch = { status: 'active', last_used: used, counter: used + 1, last_used_at: now };
      } else {
        const step = timeStep(now, token.period);
        const window = this.deps.config.totpWindow;
        const used = matchCounter(params, entered, step - window, step + window);
        assert(used !== null, 'invalid_oath_code', 'code: not a current code of this token (is the device clock right?)', { field: 'code' });
        patch = { status: 'active', last_used: used, drift: used - step, last_used_at: now };
      }
      assert(await tokens.update(trx, token.id, patch, { status: 'pending' }), 'conflict', `token ${token.id} changed meanwhile; try again`);
      await this.audit(trx, actor, 'activate', token.id, { user_id: user.id });
      return toOathTokenView({ ...token, ...patch } as OathTokenRow, user.username);
    });
  }

  /**
   * Resynchronises an active token from two consecutive codes. HOTP: finds c in
   * [counter, counter + hotpResyncLookAhead] with code1 = HOTP(c) and code2 =
   * HOTP(c + 1) (RFC 4226 §7.4) and expects c + 2 next. TOTP: finds the pair
   * within ±hotpResyncLookAhead steps and stores the device's clock drift.
   * Codes already used (at or before last_used) are never accepted.
   */
  async resync(username: string, tokenId: string, code1: string, code2: string, actor: Actor): Promise<OathTokenView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const { user, token } = await this.findUserToken(trx, username, tokenId);
      assert(token.status === 'active', 'conflict', `token ${token.id} is pending: activate it first`);
      const first = cleanCode(code1, token.digits, 'code1');
      const second = cleanCode(code2, token.digits, 'code2');
      const lookAhead = this.deps.config.hotpResyncLookAhead;
      const lastUsed = token.last_used === null ? null : Number(token.last_used);
      const now = this.deps.clock.now();
      const centre = token.type === 'hotp' ? Number(token.counter) : timeStep(now, token.period);
      const from = Math.max(token.type === 'hotp' ? centre : centre - lookAhead, lastUsed === null ? 0 : lastUsed + 1);
      const found = matchPair(this.paramsOf(token), first, second, from, centre + lookAhead);
      assert(found !== null, 'invalid_oath_code', 'code1, code2: not two consecutive codes of this token', { field: 'code1' });
      const patch: OathTokenRowUpdate =
        token.type === 'hotp' ? { counter: found + 2, last_used: found + 1, last_used_at: now } : { drift: found + 1 - centre, last_used: found + 1, last_used_at: now };
      const unchanged = await tokens.update(trx, token.id, patch, { lastUsed, counter: Number(token.counter) });
      assert(unchanged, 'conflict', `token ${token.id} was used meanwhile; try again`);
      await this.audit(trx, actor, 'resync', token.id, { user_id: user.id, ...(token.type === 'hotp' ? { counter: found + 2 } : { drift: patch.drift }) });
      return toOathTokenView({ ...token, ...patch } as OathTokenRow, user.username);
    });
  }

  async listForUser(username: string): Promise<OathTokenView[]> {
    const user = await this.findUser(this.deps.db, username);
    return (await tokens.listForUser(this.deps.db, user.id)).map((row) => toOathTokenView(row, user.username));
  }

  /** Hardware tokens by serial; with `unassigned`, only those no user holds. */
  async listHardware(options: { unassigned?: boolean; cursor?: string; limit?: number }): Promise<Page<OathTokenView>> {
    const limit = options.limit ?? 100;
    assert(Number.isInteger(limit) && limit >= 1 && limit <= 1000, 'validation_failed', 'limit: must be 1 to 1000', { field: 'limit' });
    const rows = await tokens.listHardware(this.deps.db, {
      unassignedOnly: options.unassigned ?? false,
      afterSerial: options.cursor === undefined ? undefined : decodeCursor<string>(options.cursor, 'string'),
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    return {
      items: page.map((row) => toOathTokenView(row, row.username)),
      next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.serial!) : null,
    };
  }

  listUnassigned(options: { cursor?: string; limit?: number }): Promise<Page<OathTokenView>> {
    return this.listHardware({ ...options, unassigned: true });
  }

  /** Gives an unassigned hardware token to a user. Assigning it to its holder again changes nothing. */
  async assign(serial: string, username: string, actor: Actor): Promise<OathTokenView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const token = await this.findBySerial(trx, serial);
      const user = await this.findUser(trx, username);
      if (token.user_id === user.id) return toOathTokenView(token, user.username);
      assert(token.user_id === null, 'conflict', `token ${token.serial} is assigned to another user: unassign it first`);
      assert(await tokens.update(trx, token.id, { user_id: user.id }, { userId: null }), 'conflict', `token ${token.serial} was assigned meanwhile`);
      await this.audit(trx, actor, 'assign', token.id, { user_id: user.id, serial: token.serial });
      return toOathTokenView({ ...token, user_id: user.id }, user.username);
    });
  }

  /** Takes a hardware token back from its user; it keeps its counter and replay state. */
  async unassign(serial: string, actor: Actor): Promise<OathTokenView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const token = await this.findBySerial(trx, serial);
      if (token.user_id === null) return toOathTokenView(token, null);
      await tokens.update(trx, token.id, { user_id: null });
      await this.audit(trx, actor, 'unassign', token.id, { user_id: token.user_id, serial: token.serial });
      return toOathTokenView({ ...token, user_id: null }, null);
    });
  }

  /** Deletes a token; with a username, only one that user holds (another user's token id is "not found"). */
  async delete(username: string | undefined, tokenId: string, actor: Actor): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const token = username === undefined ? await this.findToken(trx, tokenId) : (await this.findUserToken(trx, username, tokenId)).token;
      await tokens.delete(trx, token.id);
      await this.audit(trx, actor, 'delete', token.id, { user_id: token.user_id, kind: token.kind, serial: token.serial });
    });
  }

  /** A PNG of the QR code of an otpauth URI. */
  qrPng(uri: string): Promise<Buffer> {
    return QRCode.toBuffer(uri, { type: 'png', errorCorrectionLevel: 'M', margin: 2, scale: 6 });
  }

  /**
   * The QR code of an otpauth URI drawn with half blocks. With `ansi` (for a
   * terminal) colour codes make it black on white whatever the terminal's
   * colours; without, it is plain text for a file or a pipe.
   */
  qrTerminal(uri: string, ansi = true): Promise<string> {
    if (ansi) return QRCode.toString(uri, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
    return QRCode.toString(uri, { type: 'utf8', errorCorrectionLevel: 'M', margin: 2 });
  }

  /**
   * Imports hardware tokens from a CSV seed file with a header row (columns
   * in HARDWARE_COLUMNS, any order). Bad rows are reported with their line and
   * field; good rows land active and unassigned, in batches. A serial already
   * known, or repeated in the file, is refused.
   */
  async importHardware(input: string | Buffer | NodeJS.ReadableStream, actor: Actor): Promise<HardwareImportReport> {
    const report: HardwareImportReport = { rows: 0, imported: 0, failed: 0, errors: [] };
    const fail = (error: HardwareImportError) => {
      report.failed += 1;
      if (report.errors.length < 10000) report.errors.push(error);
    };
    const source = typeof input === 'string' || Buffer.isBuffer(input) ? Readable.from([input]) : input;
    const parser = source.pipe(
      parse({
        bom: true,
        skip_empty_lines: true,
        info: true,
        skip_records_with_error: true,
        on_skip: (error: CsvError | undefined) => {
          report.rows += 1;
          fail({ line: Number(error?.lines ?? 0), serial: null, field: null, code: 'invalid_csv', message: error?.message ?? 'unreadable row' });
          return undefined;
        },
      }),
    );
    let header: Column[] | null = null;
    let batch: PendingRow[] = [];
    const seen = new Set<string>();
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!header) {
        header = this.readHeader(record);
        continue;
      }
      report.rows += 1;
      const pending = this.prepareRow(header, record, info.lines, seen, fail);
      if (pending) batch.push(pending);
      if (batch.length >= BATCH) {
        await this.flush(batch, actor, report, fail);
        batch = [];
      }
    }
    if (!header) throw appError('invalid_csv', `the file is empty: expected a header row (${HARDWARE_COLUMNS.join(',')})`);
    await this.flush(batch, actor, report, fail);
    report.errors.sort((a, b) => a.line - b.line);
    return report;
  }

  private readHeader(record: string[]): Column[] {
    const names = record.map((name) => name.trim().toLowerCase());
    const unknown = names.filter((name) => !(HARDWARE_COLUMNS as readonly string[]).includes(name));
    if (unknown.length > 0) throw appError('invalid_csv', `header: unknown column ${unknown.map((name) => `"${name}"`).join(', ')}; allowed: ${HARDWARE_COLUMNS.join(', ')}`);
    for (const required of ['serial', 'secret', 'type']) {
      if (!names.includes(required)) throw appError('invalid_csv', `header: a ${required} column is required`);
    }
    if (new Set(names).size !== names.length) throw appError('invalid_csv', 'header: a column appears twice');
    return names as Column[];
  }

  private prepareRow(header: Column[], record: string[], line: number, seen: Set<string>, fail: (error: HardwareImportError) => void): PendingRow | null {
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
      secret_sealed: sealOathSecret(this.deps.keyring, id, secret),
      status: 'active',
      name: null,
      last_used: null,
      created_at: this.deps.clock.now(),
      last_used_at: null,
    };
    return { line, row };
  }

  /** Writes a batch in one transaction; serials that exist are reported, and on a race the rows are retried one by one. */
  private async flush(batch: PendingRow[], actor: Actor, report: HardwareImportReport, fail: (error: HardwareImportError) => void): Promise<void> {
    if (batch.length === 0) return;
    const existing = await tokens.existingSerials(this.deps.db, batch.map((pending) => pending.row.serial));
    const taken = (pending: PendingRow) =>
      fail({ line: pending.line, serial: pending.row.serial, field: 'serial', code: 'oath_serial_taken', message: `serial: ${pending.row.serial} already exists` });
    const fresh = batch.filter((pending) => !existing.has(pending.row.serial));
    batch.filter((pending) => existing.has(pending.row.serial)).forEach(taken);
    try {
      report.imported += await this.write(fresh, actor);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // Another writer imported one of these serials meanwhile: retry row by row so only that row fails.
      for (const pending of fresh) {
        try {
          report.imported += await this.write([pending], actor);
        } catch (rowError) {
          if (!isUniqueViolation(rowError)) throw rowError;
          taken(pending);
        }
      }
    }
  }

  private async write(rows: PendingRow[], actor: Actor): Promise<number> {
    if (rows.length === 0) return 0;
    await this.deps.db.transaction().execute(async (trx) => {
      await tokens.insertMany(trx, rows.map((pending) => pending.row));
      await this.audit(trx, actor, 'import', null, { imported: rows.length, first_line: rows[0]!.line, last_line: rows[rows.length - 1]!.line });
    });
    return rows.length;
  }

  private paramsOf(token: OathTokenRow): OathParameters {
    return { secret: openOathSecret(this.deps.keyring, token), algorithm: token.algorithm as OathAlgorithm, digits: token.digits as OathDigits };
  }

  private async findUser(db: Executor, username: string): Promise<UserRow> {
    const row = await usersRepository.findByKey(db, usernameKey(username));
    if (!row) throw appError('user_not_found', `user ${username} does not exist`);
    return row;
  }

  private async findToken(db: Executor, tokenId: string): Promise<OathTokenRow> {
    const token = await tokens.findById(db, tokenId);
    if (!token) throw appError('oath_token_not_found', `OATH token ${tokenId} does not exist`);
    return token;
  }

  /** The user and one of their tokens; a token of another user is "not found" like a missing one. */
  private async findUserToken(db: Executor, username: string, tokenId: string): Promise<{ user: UserRow; token: OathTokenRow }> {
    const user = await this.findUser(db, username);
    const token = await tokens.findById(db, tokenId);
    if (!token || token.user_id !== user.id) throw appError('oath_token_not_found', `user ${user.username} has no OATH token ${tokenId}`);
    return { user, token };
  }

  private async findBySerial(db: Executor, serial: string): Promise<OathTokenRow> {
    const token = await tokens.findBySerial(db, serial.trim());
    if (!token) throw appError('oath_token_not_found', `no hardware token with serial ${serial}`);
    return token;
  }

  private audit(db: Executor, actor: Actor, action: string, tokenId: string | null, details: Record<string, unknown>): Promise<void> {
    return writeAudit(db, this.deps.clock, actor, { action: `oath_token.${action}`, targetType: 'oath_token', targetId: tokenId, details });
  }
}
