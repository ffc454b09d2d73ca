import { randomBytes, randomInt } from 'node:crypto';
import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import { appError, assert } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import type { Keyring } from '../../shared/keyring.js';
import type { Db, Executor, UnitOfWork } from '../../storage/database.js';
import { isUniqueViolation } from '../../storage/errors.js';
import { applicationsRepository } from '../../storage/repositories/applications.js';
import type { ApplicationRow } from '../../storage/schema.js';
import { writeAudit } from '../audit/audit.js';

export interface ApplicationView {
  id: string;
  name: string;
  integration_key: string;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}

/** The application an Auth API request authenticated as. Its name is the one every record carries. */
export interface AuthenticatedApplication {
  id: string;
  name: string;
}

const toView = (row: ApplicationRow): ApplicationView => ({
  id: row.id,
  name: row.name,
  integration_key: row.integration_key,
  enabled: Boolean(row.enabled),
  created_at: new Date(row.created_at).toISOString(),
  updated_at: new Date(row.updated_at).toISOString(),
});

const CONTROL = /[\u0000-\u001f\u007f]/;
const INTEGRATION_KEY = /^CI[0-9A-Z]{18}$/;
/** Applications looked up by integration key are kept this long, so the Auth API does not read them on every request. */
const CACHE_MS = 5_000;

function cleanName(name: string): string {
  const trimmed = name.trim();
  assert(trimmed.length >= 1 && trimmed.length <= 100 && !CONTROL.test(trimmed), 'validation_failed', 'name: must be 1 to 100 printable characters', { field: 'name' });
  return trimmed;
}

/** Integration keys: "CI" and 18 upper-case base-32 characters, public like a user name. */
const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** `CI` and 18 characters, each drawn uniformly from A-Z and 0-9 (93 bits). */
export const newIntegrationKey = (): string => 'CI' + Array.from({ length: 18 }, () => KEY_ALPHABET[randomInt(KEY_ALPHABET.length)]).join('');

/**
 * Applications that call the Auth API. Each has a public integration key and
 * a secret shown once and stored as a keyed hash; the application name is the
 * one every attempt record and sign-in carries.
 */
export class Applications {
  private readonly cache = new Map<string, { row: ApplicationRow; until: number }>();

  constructor(private readonly deps: { db: Db; transact: UnitOfWork; keyring: Keyring; clock: Clock }) {}

  async list(): Promise<ApplicationView[]> {
    return (await applicationsRepository.list(this.deps.db)).map(toView);
  }

  async get(name: string): Promise<ApplicationView> {
    return toView(await this.find(this.deps.db, name));
  }

  async create(input: { name: string }, actor: Actor): Promise<{ application: ApplicationView; secret: string }> {
    const name = cleanName(input.name);
    const now = this.deps.clock.now();
    const secret = randomBytes(30).toString('base64url');
    const row = {
      id: newId(),
      name,
      name_key: name.toLowerCase(),
      integration_key: newIntegrationKey(),
      secret_hash: this.deps.keyring.keyedHash('api-key', secret),
      enabled: 1,
      created_at: now,
      updated_at: now,
    };
    await this.deps.transact(async (trx) => {
      assert(!(await applicationsRepository.findByKey(trx, row.name_key)), 'application_name_taken', `name: application ${name} already exists`, { field: 'name' });
      try {
        await applicationsRepository.insert(trx, row);
      } catch (error) {
        if (isUniqueViolation(error)) throw appError('application_name_taken', `name: application ${name} already exists`, { field: 'name' }, error);
        throw error;
      }
      await writeAudit(trx, this.deps.clock, actor, { action: 'application.create', targetType: 'application', targetId: row.id, details: { name } });
    });
    return { application: toView(row), secret };
  }

  /** Changes name or enabled state; `rotateSecret` issues a new secret and invalidates the old one at once. */
  async update(current: string, input: { name?: string; enabled?: boolean; rotateSecret?: boolean }, actor: Actor): Promise<{ application: ApplicationView; secret: string | null }> {
    const now = this.deps.clock.now();
    const secret = input.rotateSecret ? randomBytes(30).toString('base64url') : null;
    const row = await this.deps.transact(async (trx) => {
      const existing = await this.find(trx, current);
      const patch: Partial<Omit<ApplicationRow, 'enabled'>> & { enabled?: number } = { updated_at: now };
      if (input.name !== undefined) {
        patch.name = cleanName(input.name);
        patch.name_key = patch.name.toLowerCase();
        if (patch.name_key !== existing.name_key) {
          assert(!(await applicationsRepository.findByKey(trx, patch.name_key)), 'application_name_taken', `name: application ${patch.name} already exists`, { field: 'name' });
        }
      }
      if (input.enabled !== undefined) patch.enabled = input.enabled ? 1 : 0;
      if (secret) patch.secret_hash = this.deps.keyring.keyedHash('api-key', secret);
      await applicationsRepository.update(trx, existing.id, patch);
      const fields = Object.keys(input).filter((key) => input[key as keyof typeof input] !== undefined);
      await writeAudit(trx, this.deps.clock, actor, { action: 'application.update', targetType: 'application', targetId: existing.id, details: { fields } });
      return { ...existing, ...patch };
    });
    this.cache.delete(row.integration_key);
    return { application: toView(row), secret };
  }

  async delete(name: string, actor: Actor): Promise<void> {
    const row = await this.deps.transact(async (trx) => {
      const existing = await this.find(trx, name);
      await applicationsRepository.delete(trx, existing.id);
      await writeAudit(trx, this.deps.clock, actor, { action: 'application.delete', targetType: 'application', targetId: existing.id, details: { name: existing.name } });
      return existing;
    });
    this.cache.delete(row.integration_key);
  }

  /**
   * The application whose integration key and secret these are, or null. An
   * unknown key, a wrong secret and a disabled application get the same answer.
   * Rows are cached for a few seconds: a change made on this node takes effect
   * at once, one made on another node within CACHE_MS.
   */
  async authenticate(integrationKey: string, secret: string): Promise<AuthenticatedApplication | null> {
    if (!INTEGRATION_KEY.test(integrationKey) || secret.length > 200) return null;
    const now = this.deps.clock.now();
    let entry = this.cache.get(integrationKey);
    if (!entry || entry.until < now) {
      const row = await applicationsRepository.findByIntegrationKey(this.deps.db, integrationKey);
      if (!row) return null;
      entry = { row, until: now + CACHE_MS };
      this.cache.set(integrationKey, entry);
    }
    const { row } = entry;
    if (!row.enabled || !this.deps.keyring.verifyKeyedHash('api-key', secret, row.secret_hash)) return null;
    return { id: row.id, name: row.name };
  }

  private async find(db: Executor, name: string): Promise<ApplicationRow> {
    const row = await applicationsRepository.findByKey(db, name.trim().toLowerCase());
    if (!row) throw appError('application_not_found', `application ${name} does not exist`);
    return row;
  }
}
