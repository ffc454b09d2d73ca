import { randomBytes, timingSafeEqual } from 'node:crypto';
import { assertMayManageMethodsOf } from '../../admin-access/targets.js';
import QRCode from 'qrcode';
import type { Config } from '../../../config/schema.js';
import type { Actor } from '../../../shared/actor.js';
import type { Clock } from '../../../shared/clock.js';
import { decodeCursor, encodeCursor } from '../../../shared/cursor.js';
import { appError, assert } from '../../../shared/errors.js';
import { newId } from '../../../shared/ids.js';
import type { Keyring } from '../../../shared/keyring.js';
import type { Db, Executor, UnitOfWork } from '../../../storage/database.js';
import { oathTokensRepository as tokens, type NewOathTokenRow, type OathTokenRowUpdate } from '../../../storage/repositories/oath-tokens.js';
import { usersRepository } from '../../../storage/repositories/users.js';
import type { OathTokenRow, UserRow } from '../../../storage/schema.js';
import { writeAudit } from '../../audit/audit.js';
import type { Page } from '../../directory/directory.js';
import { usernameKey } from '../../directory/user-input.js';
import { base32Encode } from './base32.js';
import { importHardwareTokens, type HardwareImportReport } from './hardware-import.js';
import { hotp, matchCounter, timeStep, type OathAlgorithm, type OathParameters } from './otp.js';
import { openOathSecret, sealOathSecret } from './secret.js';
import { checkSettings, cleanCode, cleanName, isFieldError, otpauthUri, toOathTokenView, type OathDigits, type OathTokenView, type OathType } from './token-view.js';

/**
 * RFC 4226 §4 R6 and RFC 6238 §5.1: a seed of at least 128 bits, best the
 * length of the HMAC output. Software seeds are made at that length.
 */
const SEED_BYTES: Record<OathAlgorithm, number> = { SHA1: 20, SHA256: 32, SHA512: 64 };

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

/**
 * OATH tokens of users: software tokens enrolled for an authenticator app and
 * hardware tokens imported from a vendor's seed file, then assigned. Secrets
 * are sealed with the token id as context and leave the server only once, at
 * enrolment. Every change is audited in its own transaction.
 */
export class OathTokens {
  constructor(private readonly deps: { db: Db; transact: UnitOfWork; keyring: Keyring; clock: Clock; config: Config['oath'] }) {}

  async enrollSoftware(username: string, options: EnrollOptions, actor: Actor): Promise<EnrolledToken> {
    const settings = checkSettings(options);
    if (isFieldError(settings)) throw appError(settings.code, settings.message, { field: settings.field });
    const name = cleanName(options.name);
    const secret = randomBytes(SEED_BYTES[settings.algorithm]);
    const id = newId();
    const { row, user } = await this.deps.transact(async (trx) => {
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
    return this.deps.transact(async (trx) => {
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
        // Within the server's own window: the device's clock is right, and no drift is recorded.
        patch = { status: 'active', last_used: used, drift: 0, last_used_at: now };
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
    return this.deps.transact(async (trx) => {
      const { user, token } = await this.findUserToken(trx, username, tokenId);
      assert(token.status === 'active', 'conflict', `token ${token.id} is pending: activate it first`);
      const first = cleanCode(code1, token.digits, 'code1');
      const second = cleanCode(code2, token.digits, 'code2');
      // TOTP: a device further off than oath.maxDriftSteps is not taught; its clock needs setting.
      const lookAhead = token.type === 'hotp' ? this.deps.config.hotpResyncLookAhead : this.deps.config.maxDriftSteps;
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
    return this.deps.transact(async (trx) => {
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
    return this.deps.transact(async (trx) => {
      const token = await this.findBySerial(trx, serial);
      if (token.user_id === null) return toOathTokenView(token, null);
      await assertMayManageMethodsOf(trx, actor, token.user_id);
      await tokens.update(trx, token.id, { user_id: null });
      await this.audit(trx, actor, 'unassign', token.id, { user_id: token.user_id, serial: token.serial });
      return toOathTokenView({ ...token, user_id: null }, null);
    });
  }

  /** Deletes a token; with a username, only one that user holds (another user's token id is "not found"). */
  async delete(username: string | undefined, tokenId: string, actor: Actor): Promise<void> {
    await this.deps.transact(async (trx) => {
      const token = username === undefined ? await this.findToken(trx, tokenId) : (await this.findUserToken(trx, username, tokenId)).token;
      await assertMayManageMethodsOf(trx, actor, token.user_id);
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
   * Imports hardware tokens from a CSV seed file: see importHardwareTokens.
   * Bad rows are reported with their line and field; good rows land active
   * and unassigned.
   */
  importHardware(input: string | Buffer | NodeJS.ReadableStream, actor: Actor): Promise<HardwareImportReport> {
    return importHardwareTokens(this.deps, input, actor);
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
