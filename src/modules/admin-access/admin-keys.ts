import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import { appError, assert } from '../../shared/errors.js';
import { shortId } from '../../shared/ids.js';
import type { Keyring } from '../../shared/keyring.js';
import { randomBytes } from 'node:crypto';
import type { Db, UnitOfWork } from '../../storage/database.js';
import { adminKeysRepository } from '../../storage/repositories/admin-keys.js';
import { settingsRepository } from '../../storage/repositories/records.js';
import type { AdminKeyRow } from '../../storage/schema.js';
import { writeAudit } from '../audit/audit.js';
import { parseRole, type Role } from './roles.js';

/** Keys look like `csk_<id>_<secret>`: the id finds the row, the secret is checked against its keyed hash. */
const KEY_FORMAT = /^csk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const BOOTSTRAP_SETTING = 'bootstrap_admin_key_issued';
/** last_used_at is written at most this often per key, so reads stay reads. */
const TOUCH_INTERVAL_MS = 60_000;

export interface AdminKeyView {
  id: string;
  name: string;
  role: Role;
  created_at: string;
  created_by: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface AuthenticatedKey {
  id: string;
  name: string;
  role: Role;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const toAdminKeyView = (row: AdminKeyRow): AdminKeyView => ({
  id: row.id,
  name: row.name,
  role: row.role as Role,
  created_at: iso(row.created_at)!,
  created_by: row.created_by,
  last_used_at: iso(row.last_used_at),
  revoked_at: iso(row.revoked_at),
});

/** Admin API keys: shown once at creation, stored as a keyed hash, revocable. */
export class AdminKeys {
  private readonly lastTouched = new Map<string, number>();

  constructor(private readonly deps: { db: Db; transact: UnitOfWork; keyring: Keyring; clock: Clock }) {}

  async create(input: { name: string; role: string }, actor: Actor): Promise<{ key: AdminKeyView; secret: string }> {
    const name = input.name.trim();
    assert(name.length >= 1 && name.length <= 100, 'validation_failed', 'name: must be 1 to 100 characters', { field: 'name' });
    const role = parseRole(input.role);
    assert(role, 'validation_failed', `role: must be one of global_administrator, privileged_authentication_administrator, authentication_administrator, reports_reader`, {
      field: 'role',
    });
    return this.deps.transact(async (trx) => {
      const issued = await this.issue(trx, name, role, actor);
      await writeAudit(trx, this.deps.clock, actor, { action: 'admin_key.create', targetType: 'admin_key', targetId: issued.key.id, details: { name, role } });
      return issued;
    });
  }

  /**
   * On the very first start only, issues a Global Administrator key. Returns
   * its secret, or null when a first key was issued before (even if revoked since).
   */
  async bootstrap(actor: Actor): Promise<string | null> {
    return this.deps.transact(async (trx) => {
      if (!(await settingsRepository.insertIfAbsent(trx, BOOTSTRAP_SETTING, new Date(this.deps.clock.now()).toISOString()))) return null;
      const { key, secret } = await this.issue(trx, 'initial global administrator', 'global_administrator', actor);
      await writeAudit(trx, this.deps.clock, actor, { action: 'admin_key.create', targetType: 'admin_key', targetId: key.id, details: { role: key.role, bootstrap: true } });
      return secret;
    });
  }

  async list(includeRevoked: boolean): Promise<AdminKeyView[]> {
    return (await adminKeysRepository.list(this.deps.db, includeRevoked)).map(toAdminKeyView);
  }

  async revoke(id: string, actor: Actor): Promise<AdminKeyView> {
    return this.deps.transact(async (trx) => {
      const row = await adminKeysRepository.findById(trx, id);
      if (!row) throw appError('admin_key_not_found', `admin key ${id} does not exist`);
      if (row.revoked_at !== null) return toAdminKeyView(row);
      const now = this.deps.clock.now();
      await adminKeysRepository.revoke(trx, id, now);
      await writeAudit(trx, this.deps.clock, actor, { action: 'admin_key.revoke', targetType: 'admin_key', targetId: id });
      return toAdminKeyView({ ...row, revoked_at: now });
    });
  }

  /** The key a bearer token belongs to, or null when it is unknown, wrong or revoked (no difference is shown). */
  async authenticate(token: string): Promise<AuthenticatedKey | null> {
    const match = KEY_FORMAT.exec(token);
    if (!match) return null;
    const row = await adminKeysRepository.findById(this.deps.db, match[1]!);
    if (!row || row.revoked_at !== null) return null;
    if (!this.deps.keyring.verifyKeyedHash('api-key', match[2]!, row.key_hash)) return null;
    const now = this.deps.clock.now();
    if (now - (this.lastTouched.get(row.id) ?? 0) >= TOUCH_INTERVAL_MS) {
      this.lastTouched.set(row.id, now);
      await adminKeysRepository.touch(this.deps.db, row.id, now);
    }
    return { id: row.id, name: row.name, role: row.role as Role };
  }

  private async issue(db: Db | Parameters<typeof adminKeysRepository.insert>[0], name: string, role: Role, actor: Actor) {
    const id = shortId(8);
    const secretPart = randomBytes(32).toString('base64url');
    const row: AdminKeyRow = {
      id,
      name,
      role,
      key_hash: this.deps.keyring.keyedHash('api-key', secretPart),
      created_at: this.deps.clock.now(),
      created_by: `${actor.type}:${actor.id}`,
      last_used_at: null,
      revoked_at: null,
    };
    await adminKeysRepository.insert(db, row);
    return { key: toAdminKeyView(row), secret: `csk_${id}_${secretPart}` };
  }
}
