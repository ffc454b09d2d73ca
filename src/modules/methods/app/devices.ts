import { randomBytes, randomInt } from 'node:crypto';
import { assertMayManageMethods } from '../../admin-access/targets.js';
import type { Config } from '../../../config/schema.js';
import type { Actor } from '../../../shared/actor.js';
import type { Clock } from '../../../shared/clock.js';
import { appError, assert } from '../../../shared/errors.js';
import { newId } from '../../../shared/ids.js';
import type { Keyring } from '../../../shared/keyring.js';
import type { Db, Executor, UnitOfWork } from '../../../storage/database.js';
import { appActivationCodesRepository, appActivationsRepository, appDevicesRepository, appNoncesRepository } from '../../../storage/repositories/app-devices.js';
import { oathTokensRepository } from '../../../storage/repositories/oath-tokens.js';
import { changesRepository } from '../../../storage/repositories/records.js';
import { usersRepository } from '../../../storage/repositories/users.js';
import type { AppActivationRow, AppDeviceRow, UserRow } from '../../../storage/schema.js';
import { writeAudit } from '../../audit/audit.js';
import type { Directory } from '../../directory/directory.js';
import { changeRecord } from '../../directory/user-records.js';
import { base32Encode } from '../oath/base32.js';
import { sealOathSecret } from '../oath/secret.js';
import { otpauthUri } from '../oath/token-view.js';
import { MAX_CLOCK_SKEW_MS, NONCE_PATTERN, publicKeyOf, verifyParts, type SignedParts } from './protocol.js';

/** An activation code as the administrator hands it to the user: shown once. */
export interface ActivationView {
  username: string;
  /** 16 characters of base32 in groups of four, typed or scanned into the app. */
  code: string;
  /** The server URL the app talks to. */
  url: string;
  /** Both in one URI, for a QR code: countersign://activate?url=…&code=… */
  uri: string;
  oath: boolean;
  expires_at: string;
}

/** A device as administrators see it (never its key). */
export interface DeviceView {
  id: string;
  username: string;
  name: string;
  type: string;
  app_version: string | null;
  os_version: string | null;
  status: 'active' | 'blocked';
  blocked_reason: string | null;
  missed_pushes: number;
  oath_token: boolean;
  push_token: boolean;
  created_at: string;
  last_seen_at: string | null;
}

/** What a device learns when it activates. */
export interface ActivatedDevice {
  device_id: string;
  account: string;
  issuer: string;
  /** The OATH secret for offline codes (when provisioned): shown to the device this once. */
  oath: { secret: string; algorithm: 'SHA1'; digits: 6; period: 30; uri: string } | null;
  /** The server's clock (ms since the epoch), so a device with a wrong clock can still sign fresh requests. */
  server_time: number;
}

/** What an app sends to activate (POST /app/v1/activate). */
export interface ActivationRequest {
  code: string;
  public_key: unknown;
  device_name: string;
  device_type: string;
  app_version?: string;
  os_version?: string;
  push_token?: string;
}

const iso = (millis: number | null): string | null => (millis === null ? null : new Date(Number(millis)).toISOString());

export const toDeviceView = (row: AppDeviceRow, username: string): DeviceView => ({
  id: row.id,
  username,
  name: row.name,
  type: row.type,
  app_version: row.app_version,
  os_version: row.os_version,
  status: row.status as DeviceView['status'],
  blocked_reason: row.blocked_reason,
  missed_pushes: Number(row.missed_pushes),
  oath_token: row.oath_token_id !== null,
  push_token: row.device_token !== null,
  created_at: iso(row.created_at)!,
  last_seen_at: iso(row.last_seen_at),
});

export const toActivationRecord = (row: AppActivationRow) => ({
  id: Number(row.id),
  at: iso(row.at)!,
  username: row.username,
  account_name: row.account_name,
  get_activation_code_result: row.get_activation_code_result,
  activation_success: row.activation_success === null ? null : Boolean(row.activation_success),
  activation_error: row.activation_error,
  activation_status_result: row.activation_status_result,
  device_name: row.device_name,
  device_type: row.device_type,
  app_version: row.app_version,
  oath_token_enabled: Boolean(row.oath_token_enabled),
});

const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
/** 16 characters of an unambiguous alphabet (no 0/O, 1/I): 80 bits. */
function newActivationCode(): string {
  const chars = Array.from({ length: 16 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]!);
  return chars.join('').replace(/(.{4})(?!$)/g, '$1-');
}
/** The code as typed: case, spaces and dashes do not matter. */
const normalizeCode = (code: string): string => code.toUpperCase().replace(/[\s-]/g, '');

const TEXT = /^[^\u0000-\u001f\u007f]{1,64}$/;
const cleanText = (value: unknown, field: string, required: boolean): string | null => {
  if (value === undefined || value === null || value === '') {
    assert(!required, 'validation_failed', `${field}: required`, { field });
    return null;
  }
  assert(typeof value === 'string' && TEXT.test(value.trim()), 'validation_failed', `${field}: 1 to 64 printable characters`, { field });
  return (value as string).trim();
};

/**
 * Authenticator app devices (SPEC.md §1 mobile app, §5 activations):
 * activation codes, activation, the signed requests devices make, and the
 * administration of a user's devices. Every step of an activation writes an
 * activation record; a new push token writes a change record.
 */
export class AppDevices {
  constructor(private readonly deps: { db: Db; transact: UnitOfWork; keyring: Keyring; clock: Clock; config: Config['app']; oathIssuer: string; directory: Directory }) {}

  /** A one-time activation code for the user's next device. `url` is used when app.publicUrl is not set. */
  async createActivation(username: string, options: { url: string; oath?: boolean }, actor: Actor): Promise<ActivationView> {
    const code = newActivationCode();
    const oath = options.oath ?? this.deps.config.provisionOath;
    const url = (this.deps.config.publicUrl || options.url).replace(/\/+$/, '');
    const now = this.deps.clock.now();
    const expiresAt = now + this.deps.config.activationMinutes * 60_000;
    await this.deps.transact(async (trx) => {
      const user = await this.deps.directory.lock(trx, username);
      await appActivationCodesRepository.insert(trx, { code_hash: this.hashCode(code), user_id: user.id, oath_enabled: oath ? 1 : 0, created_at: now, expires_at: expiresAt, used_at: null });
      await this.record(trx, user, { get_activation_code_result: 'issued', oath_token_enabled: oath ? 1 : 0 });
      await writeAudit(trx, this.deps.clock, actor, { action: 'device.activation_code', targetType: 'user', targetId: user.id, details: { oath, expires_at: expiresAt } });
    });
    const uri = `countersign://activate?url=${encodeURIComponent(url)}&code=${encodeURIComponent(code)}`;
    return { username, code, url, uri, oath, expires_at: new Date(expiresAt).toISOString() };
  }

  /**
   * A device activates with its code and public key. The code is used once
   * and only before it expires; a refused activation of a known code is
   * recorded with its error, so the user's records show the failed tries.
   */
  async activate(request: ActivationRequest): Promise<ActivatedDevice> {
    assert(typeof request.code === 'string' && request.code.length <= 64, 'validation_failed', 'code: required', { field: 'code' });
    const name = cleanText(request.device_name, 'device_name', true)!;
    const type = cleanText(request.device_type, 'device_type', true)!;
    const appVersion = cleanText(request.app_version, 'app_version', false);
    const osVersion = cleanText(request.os_version, 'os_version', false);
    const pushToken = request.push_token === undefined ? null : cleanPushToken(request.push_token);
    const now = this.deps.clock.now();
    const failure = await this.deps.transact(async (trx) => {
      const codeRow = await appActivationCodesRepository.findByHash(trx, this.hashCode(normalizeCode(request.code)));
      if (!codeRow) return 'the activation code does not exist';
      const user = await this.deps.directory.lockById(trx, codeRow.user_id);
      const device = { device_name: name, device_type: type, app_version: appVersion, oath_token_enabled: codeRow.oath_enabled };
      const refuse = async (error: string) => {
        await this.record(trx, user, { ...device, activation_success: 0, activation_error: error, activation_status_result: 'failed' });
        return error;
      };
      if (codeRow.used_at !== null) return refuse('the activation code was already used');
      if (codeRow.expires_at <= now) return refuse('the activation code has expired');
      if (!publicKeyOf(request.public_key)) return refuse('invalid public key');
      return null;
    });
    if (failure === 'invalid public key') throw appError('invalid_device_key', 'public_key: must be an EC P-256 public key as a JWK (kty, crv, x, y)', { field: 'public_key' });
    if (failure) throw appError('invalid_activation_code', `code: ${failure}`, { field: 'code' });

    const id = newId();
    return this.deps.transact(async (trx) => {
      const hash = this.hashCode(normalizeCode(request.code));
      const codeRow = (await appActivationCodesRepository.findByHash(trx, hash))!;
      // Used once: the claim only succeeds for the first of two racing activations.
      const claimed = await appActivationCodesRepository.claim(trx, hash, now);
      assert(claimed, 'invalid_activation_code', 'code: the activation code was already used', { field: 'code' });
      const user = await this.deps.directory.lockById(trx, codeRow.user_id);
      let oath: ActivatedDevice['oath'] = null;
      let oathTokenId: string | null = null;
      if (codeRow.oath_enabled) {
        oathTokenId = newId();
        const secret = randomBytes(20);
        await oathTokensRepository.insert(trx, {
          id: oathTokenId,
          user_id: user.id,
          serial: null,
          kind: 'software',
          type: 'totp',
          algorithm: 'SHA1',
          digits: 6,
          period: 30,
          secret_sealed: sealOathSecret(this.deps.keyring, oathTokenId, secret),
          // The device proved itself with the activation code: the token is usable at once.
          status: 'active',
          name: `${name} (authenticator app)`,
          last_used: null,
          created_at: now,
          last_used_at: null,
        });
        const encoded = base32Encode(secret);
        const settings = { type: 'totp' as const, algorithm: 'SHA1' as const, digits: 6 as const, period: 30 };
        oath = { secret: encoded, algorithm: 'SHA1', digits: 6, period: 30, uri: otpauthUri(this.deps.oathIssuer, user.username, settings, encoded) };
      }
      await appDevicesRepository.insert(trx, {
        id,
        user_id: user.id,
        name,
        type,
        app_version: appVersion,
        os_version: osVersion,
        public_key: JSON.stringify(request.public_key),
        device_token: pushToken,
        oath_token_id: oathTokenId,
        status: 'active',
        blocked_reason: null,
        missed_pushes: 0,
        created_at: now,
        last_seen_at: now,
      });
      await this.record(trx, user, {
        device_name: name,
        device_type: type,
        app_version: appVersion,
        oath_token_enabled: codeRow.oath_enabled,
        activation_success: 1,
        activation_status_result: 'active',
      });
      if (pushToken) await this.recordTokenChange(trx, user, null, pushToken);
      return { device_id: id, account: user.username, issuer: this.deps.oathIssuer, oath, server_time: this.deps.clock.now() };
    });
  }

  /**
   * The device that signed a request, when the signature, the timestamp (at
   * most five minutes off) and the nonce (never seen) are all right and the
   * device is active. Anything else is `unauthenticated`, and the same for
   * every reason, so a caller learns nothing about which devices exist.
   */
  async authenticate(deviceId: string | undefined, parts: SignedParts, signature: string | undefined): Promise<AppDeviceRow> {
    const checked = await this.check(deviceId, parts, signature);
    if ('refused' in checked) throw appError('unauthenticated', 'the request is not signed by an active device, or is too old, or was seen before');
    return checked.device;
  }

  /**
   * `authenticate` without the throw: the device, or why the request is
   * refused. `signature` and `replay` are requests that claim a real device
   * and cannot be its own; `clock` is a device whose clock is off.
   */
  async check(
    deviceId: string | undefined,
    parts: SignedParts,
    signature: string | undefined,
  ): Promise<{ device: AppDeviceRow } | { refused: 'malformed' | 'clock' | 'unknown' | 'blocked' | 'signature' | 'replay' }> {
    if (!deviceId || !signature || deviceId.length > 64 || !NONCE_PATTERN.test(parts.nonce) || !/^\d{1,16}$/.test(parts.timestamp)) return { refused: 'malformed' };
    const now = this.deps.clock.now();
    if (Math.abs(Number(parts.timestamp) - now) > MAX_CLOCK_SKEW_MS) return { refused: 'clock' };
    const device = await appDevicesRepository.findById(this.deps.db, deviceId);
    const key = device ? publicKeyOf(JSON.parse(device.public_key)) : null;
    if (!device || !key) return { refused: 'unknown' };
    if (device.status !== 'active') return { refused: 'blocked' };
    if (!verifyParts(key, parts, signature)) return { refused: 'signature' };
    const fresh = await this.deps.transact(async (trx) => {
      await appNoncesRepository.deleteExpired(trx, now);
      // The nonce's key decides: of simultaneous requests with one nonce, on any node, only the insert that added the row passes.
      if (!(await appNoncesRepository.insertIfNew(trx, { device_id: device.id, nonce: parts.nonce, expires_at: now + 2 * MAX_CLOCK_SKEW_MS }))) return false;
      await appDevicesRepository.update(trx, device.id, { last_seen_at: now });
      return true;
    });
    if (!fresh) return { refused: 'replay' };
    return { device };
  }

  /** A device tells its new push token (FCM, APNs): a change record keeps the old and new token. */
  async setPushToken(device: AppDeviceRow, token: string): Promise<void> {
    const clean = cleanPushToken(token);
    await this.deps.transact(async (trx) => {
      const user = await this.deps.directory.lockById(trx, device.user_id);
      const current = await appDevicesRepository.findById(trx, device.id);
      if (!current) throw new Error(`device ${device.id} is gone`);
      if (current.device_token === clean) return;
      await appDevicesRepository.update(trx, device.id, { device_token: clean });
      await this.recordTokenChange(trx, user, current.device_token, clean);
    });
  }

  /** A device as its own app sees it (the same view as administrators). */
  async view(device: AppDeviceRow): Promise<DeviceView> {
    const user = await usersRepository.findById(this.deps.db, device.user_id);
    if (!user) throw new Error(`the user of device ${device.id} is gone`);
    return toDeviceView(device, user.username);
  }

  async list(username: string): Promise<DeviceView[]> {
    const user = await this.deps.directory.find(this.deps.db, username);
    const rows = await appDevicesRepository.listForUser(this.deps.db, user.id);
    return rows.map((row) => toDeviceView(row, user.username));
  }

  async activations(username: string) {
    const user = await this.deps.directory.find(this.deps.db, username);
    const rows = await appActivationsRepository.listForUser(this.deps.db, user.id, 'newest');
    return rows.map(toActivationRecord);
  }

  async rename(username: string, deviceId: string, name: string, actor: Actor): Promise<DeviceView> {
    const clean = cleanText(name, 'name', true)!;
    return this.change(username, deviceId, actor, 'device.rename', { name: clean });
  }

  async block(username: string, deviceId: string, reason: string, actor: Actor): Promise<DeviceView> {
    // As long as a user block's reason may be.
    const clean = reason.trim();
    assert(clean.length >= 1 && clean.length <= 500, 'validation_failed', 'reason: 1 to 500 characters', { field: 'reason' });
    return this.change(username, deviceId, actor, 'device.block', { status: 'blocked', blocked_reason: clean });
  }

  async unblock(username: string, deviceId: string, actor: Actor): Promise<DeviceView> {
    return this.change(username, deviceId, actor, 'device.unblock', { status: 'active', blocked_reason: null, missed_pushes: 0 });
  }

  /** Deletes a device and the OATH token it was given. */
  async delete(username: string, deviceId: string, actor: Actor): Promise<void> {
    await this.deps.transact(async (trx) => {
      const { user, device } = await this.findDevice(trx, username, deviceId);
      assertMayManageMethods(actor, user);
      await appDevicesRepository.delete(trx, device.id);
      if (device.oath_token_id) await oathTokensRepository.delete(trx, device.oath_token_id);
      if (device.device_token) await this.recordTokenChange(trx, user, device.device_token, null);
      await writeAudit(trx, this.deps.clock, actor, { action: 'device.delete', targetType: 'user', targetId: user.id, details: { device_id: device.id } });
    });
  }

  private async change(username: string, deviceId: string, actor: Actor, action: string, patch: Partial<Pick<AppDeviceRow, 'name' | 'status' | 'blocked_reason' | 'missed_pushes'>>): Promise<DeviceView> {
    return this.deps.transact(async (trx) => {
      const { user, device } = await this.findDevice(trx, username, deviceId);
      await appDevicesRepository.update(trx, device.id, patch);
      await writeAudit(trx, this.deps.clock, actor, { action, targetType: 'user', targetId: user.id, details: { device_id: device.id, ...patch } });
      return toDeviceView({ ...device, ...patch }, user.username);
    });
  }

  private async findDevice(db: Executor, username: string, deviceId: string): Promise<{ user: UserRow; device: AppDeviceRow }> {
    const user = await this.deps.directory.find(db, username);
    const device = await appDevicesRepository.findOfUser(db, user.id, deviceId);
    if (!device) throw appError('device_not_found', `user ${username} has no device ${deviceId}`);
    return { user, device };
  }

  private hashCode(code: string): string {
    return this.deps.keyring.keyedHash('activation', normalizeCode(code));
  }

  private async record(
    db: Executor,
    user: UserRow,
    fields: Partial<Omit<AppActivationRow, 'id' | 'at' | 'user_id' | 'username' | 'account_name'>> & { oath_token_enabled: number | boolean },
  ): Promise<void> {
    await appActivationsRepository.insert(db, {
      at: this.deps.clock.now(),
      user_id: user.id,
      username: user.username,
      account_name: `${this.deps.oathIssuer}: ${user.username}`,
      get_activation_code_result: fields.get_activation_code_result ?? null,
      activation_success: fields.activation_success === undefined || fields.activation_success === null ? null : Number(fields.activation_success),
      activation_error: fields.activation_error ?? null,
      activation_status_result: fields.activation_status_result ?? null,
      device_name: fields.device_name ?? null,
      device_type: fields.device_type ?? null,
      app_version: fields.app_version ?? null,
      oath_token_enabled: Number(fields.oath_token_enabled),
    });
  }

  private async recordTokenChange(db: Executor, user: UserRow, oldToken: string | null, newToken: string | null): Promise<void> {
    const actor = { type: 'system' as const, id: 'authenticator-app', role: null, requestId: null, entryPoint: 'app' };
    const record = changeRecord(user, 'update', ['device_token'], actor, this.deps.clock.now());
    await changesRepository.insertMany(db, [{ ...record, old_device_token: oldToken, new_device_token: newToken }]);
  }
}

function cleanPushToken(token: unknown): string {
  assert(typeof token === 'string' && /^[\x21-\x7e]{1,512}$/.test(token), 'validation_failed', 'push_token: 1 to 512 printable characters without spaces', { field: 'push_token' });
  return token as string;
}

/** A 2-digit number for number matching, 10 to 99. */
export const matchingNumber = (): string => String(randomInt(10, 100));
