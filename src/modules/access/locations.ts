import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import { appError, assert } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { cidrRange, ipKey } from '../../shared/ip-key.js';
import type { Db, Executor, UnitOfWork } from '../../storage/database.js';
import { isUniqueViolation } from '../../storage/errors.js';
import { accessPoliciesRepository } from '../../storage/repositories/access-policies.js';
import { namedLocationsRepository as locations, type NamedLocationRow } from '../../storage/repositories/named-locations.js';
import { writeAudit } from '../audit/audit.js';
import { cleanName, nameKey } from '../../shared/names.js';

export type { NamedLocationRow };

export interface NamedLocationView {
  id: string;
  name: string;
  ranges: string[];
  trusted: boolean;
  created_at: string;
  updated_at: string;
}

export interface NamedLocationFields {
  name?: unknown;
  ranges?: unknown;
  trusted?: unknown;
}

/** A location whose ranges are ready to match: each CIDR as its first and last IP key. */
export interface CompiledLocation {
  id: string;
  name: string;
  trusted: boolean;
  ranges: { from: string; to: string }[];
}

const MAX_RANGES = 2000;

export const toLocationView = (row: NamedLocationRow): NamedLocationView => ({
  id: row.id,
  name: row.name,
  ranges: JSON.parse(row.ranges) as string[],
  trusted: Boolean(row.trusted),
  created_at: new Date(row.created_at).toISOString(),
  updated_at: new Date(row.updated_at).toISOString(),
});

/** Checks a list of CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`, or one address), naming the first bad one. */
function cleanRanges(value: unknown): string[] {
  assert(Array.isArray(value) && value.length >= 1 && value.length <= MAX_RANGES, 'validation_failed', `ranges: must be a list of 1 to ${MAX_RANGES} IP ranges in CIDR form`, { field: 'ranges' });
  return (value as unknown[]).map((range, index) => {
    assert(typeof range === 'string' && cidrRange(range.trim()) !== null, 'validation_failed', `ranges[${index}]: ${JSON.stringify(range)} is not an IP address or CIDR block`, { field: 'ranges' });
    return (range as string).trim();
  });
}

function cleanTrusted(value: unknown): boolean {
  assert(typeof value === 'boolean', 'validation_failed', 'trusted: must be true or false', { field: 'trusted' });
  return value as boolean;
}

export function compileLocation(row: NamedLocationRow): CompiledLocation {
  return { id: row.id, name: row.name, trusted: Boolean(row.trusted), ranges: (JSON.parse(row.ranges) as string[]).map((range) => cidrRange(range)!) };
}

/** Whether an IP falls in a location; an unknown IP is in none. */
export function inLocation(location: CompiledLocation, ip: string | null): boolean {
  const key = ipKey(ip);
  if (key === null) return false;
  return location.ranges.some((range) => key >= range.from && key <= range.to);
}

/**
 * Named locations (SPEC.md §3 conditional access): sets of IP ranges, marked
 * trusted or not, that policies include or exclude by name. A location a
 * policy names cannot be deleted.
 */
export class NamedLocations {
  constructor(private readonly deps: { db: Db; transact: UnitOfWork; clock: Clock }) {}

  async list(): Promise<NamedLocationView[]> {
    return (await locations.list(this.deps.db)).map(toLocationView);
  }

  async get(name: string): Promise<NamedLocationView> {
    return toLocationView(await this.find(this.deps.db, name));
  }

  async create(fields: NamedLocationFields, actor: Actor): Promise<NamedLocationView> {
    const now = this.deps.clock.now();
    const name = cleanName(fields.name);
    const row: NamedLocationRow = {
      id: newId(),
      name,
      name_key: nameKey(name),
      ranges: JSON.stringify(cleanRanges(fields.ranges)),
      trusted: fields.trusted === undefined ? 0 : Number(cleanTrusted(fields.trusted)),
      created_at: now,
      updated_at: now,
    };
    await this.deps.transact(async (trx) => {
      await this.guardUnique(() => locations.insert(trx, row), name);
      await writeAudit(trx, this.deps.clock, actor, { action: 'named_location.create', targetType: 'named_location', targetId: row.id, details: { name, ranges: JSON.parse(row.ranges), trusted: Boolean(row.trusted) } });
    });
    return toLocationView(row);
  }

  async update(current: string, fields: NamedLocationFields, actor: Actor): Promise<NamedLocationView> {
    const now = this.deps.clock.now();
    return this.deps.transact(async (trx) => {
      const location = await this.find(trx, current);
      const patch: Partial<NamedLocationRow> = { updated_at: now };
      if (fields.name !== undefined) {
        patch.name = cleanName(fields.name);
        patch.name_key = nameKey(patch.name);
      }
      if (fields.ranges !== undefined) patch.ranges = JSON.stringify(cleanRanges(fields.ranges));
      if (fields.trusted !== undefined) patch.trusted = Number(cleanTrusted(fields.trusted));
      await this.guardUnique(() => locations.update(trx, location.id, patch), patch.name ?? location.name);
      await writeAudit(trx, this.deps.clock, actor, { action: 'named_location.update', targetType: 'named_location', targetId: location.id, details: { fields: Object.keys(fields) } });
      return toLocationView({ ...location, ...patch });
    });
  }

  async delete(name: string, actor: Actor): Promise<void> {
    await this.deps.transact(async (trx) => {
      const location = await this.find(trx, name);
      const policies = await accessPoliciesRepository.list(trx);
      const users = policies.filter((policy) => policy.conditions.includes(`"${location.id}"`)).map((policy) => policy.name);
      assert(users.length === 0, 'named_location_in_use', `named location ${location.name} is used by ${users.length === 1 ? 'policy' : 'policies'} ${users.join(', ')}`);
      await locations.delete(trx, location.id);
      await writeAudit(trx, this.deps.clock, actor, { action: 'named_location.delete', targetType: 'named_location', targetId: location.id, details: { name: location.name } });
    });
  }

  async find(db: Executor, name: string): Promise<NamedLocationRow> {
    const row = await locations.findByKey(db, nameKey(name));
    if (!row) throw appError('named_location_not_found', `named location ${name} does not exist`);
    return row;
  }

  private async guardUnique(write: () => Promise<unknown>, name: string): Promise<void> {
    try {
      await write();
    } catch (error) {
      if (isUniqueViolation(error)) throw appError('named_location_name_taken', `name: named location ${name} already exists`, { field: 'name' }, error);
      throw error;
    }
  }
}
