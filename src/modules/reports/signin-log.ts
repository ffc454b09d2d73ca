import { decodeCursor, encodeCursor } from '../../shared/cursor.js';
import { appError, assert } from '../../shared/errors.js';
import { cidrRange } from '../../shared/ip-key.js';
import { sql } from 'kysely';
import type { Db, DialectName } from '../../storage/database.js';
import type { AuthAttemptRow, SigninRow } from '../../storage/schema.js';
import type { SigninStep, TraceEntry } from '../auth/records.js';
import { RESULT_CODE_NAMES } from '../auth/result-codes.js';
import type { Page } from '../directory/directory.js';
import { usernameKey } from '../directory/user-input.js';

/** What the sign-in log can be filtered by (SPEC.md §3). Every filter is optional; given ones all apply. */
export interface SigninFilters {
  /** ISO 8601 date-times: from (inclusive) and to (exclusive). */
  from?: string;
  to?: string;
  /** A user name: the user's sign-ins, or, for a name no user has, the sign-ins that tried it. */
  user?: string;
  application?: string;
  status?: 'success' | 'failure';
  mfa_required?: boolean;
  result_code?: string;
  method?: string;
  /** An IP address or a CIDR block (IPv4 or IPv6). */
  ip?: string;
  entry_point?: string;
  policy?: string;
  push_fatigue?: string;
  client_type?: string;
}

/** One sign-in as the list shows it. */
export interface SigninSummary {
  id: number;
  at: string;
  username: string;
  application: string;
  ip: string | null;
  auth_type: string;
  entry_point: string;
  status: 'success' | 'failure';
  mfa_required: boolean;
  policy: string | null;
  method: string | null;
  result_code: string | null;
  detail: string | null;
  push_fatigue: string | null;
  client_type: string | null;
  device_id: string | null;
}

/** One sign-in whole: basic info, the authentication details, the conditional-access trace, and its attempt record. */
export interface SigninDetail extends SigninSummary {
  authentication_details: SigninStep[];
  conditional_access: TraceEntry[];
  attempt: Record<string, unknown> | null;
}

const iso = (millis: number) => new Date(Number(millis)).toISOString();

const toSummary = (row: SigninRow): SigninSummary => ({
  id: Number(row.id),
  at: iso(row.at),
  username: row.username,
  application: row.application,
  ip: row.ip,
  auth_type: row.auth_type,
  entry_point: row.entry_point,
  status: row.status as SigninSummary['status'],
  mfa_required: Boolean(row.mfa_required),
  policy: row.policy,
  method: row.method,
  result_code: row.result_code,
  detail: row.detail,
  push_fatigue: row.push_fatigue,
  client_type: row.client_type,
  device_id: row.device_id,
});

function instant(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const millis = Date.parse(value);
  assert(/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(value) && Number.isFinite(millis), 'validation_failed', `${field}: an ISO 8601 date or date-time`, { field });
  return millis;
}

/** The cursor of a page: the time and id of its last sign-in. */
function parseCursor(cursor: string): { at: number; id: number } {
  const key = decodeCursor<string>(cursor, 'string');
  const match = /^(\d+):(\d+)$/.exec(key);
  if (!match) throw appError('invalid_cursor', 'cursor is not one this server returned');
  return { at: Number(match[1]), id: Number(match[2]) };
}

/**
 * The sign-in log (SPEC.md §3), read-only: filtered lists in time order with
 * key-set paging on (time, id), so a page boundary stays put while new
 * sign-ins arrive, and one sign-in in full.
 */
export class SigninLog {
  constructor(private readonly deps: { db: Db; dialect?: DialectName }) {}

  async list(filters: SigninFilters, options: { cursor?: string; limit?: number; order?: 'desc' | 'asc' } = {}): Promise<Page<SigninSummary>> {
    const limit = options.limit ?? 50;
    assert(Number.isInteger(limit) && limit >= 1 && limit <= 1000, 'validation_failed', 'limit: must be a whole number from 1 to 1000', { field: 'limit' });
    const order = options.order ?? 'desc';
    const resolved = await this.resolve(filters);
    let query = filtered(this.deps.db, resolved, { scanIpRange: await this.denseIpRange(resolved) }).selectAll();
    if (options.cursor !== undefined) {
      const after = parseCursor(options.cursor);
      // The bound on `at` alone comes first, so the time index gives the range; the OR only sorts out ties.
      query =
        order === 'desc'
          ? query.where('at', '<=', after.at).where((eb) => eb.or([eb('at', '<', after.at), eb('id', '<', after.id)]))
          : query.where('at', '>=', after.at).where((eb) => eb.or([eb('at', '>', after.at), eb('id', '>', after.id)]));
    }
    const rows = await query.orderBy('at', order).orderBy('id', order).limit(limit + 1).execute();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(toSummary), next_cursor: rows.length > limit && last ? encodeCursor(`${Number(last.at)}:${Number(last.id)}`) : null };
  }

  async get(id: number): Promise<SigninDetail> {
    const row = await this.deps.db.selectFrom('signins').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw appError('not_found', `sign-in ${id} does not exist`);
    const attempt = row.attempt_id === null ? undefined : await this.deps.db.selectFrom('auth_attempts').selectAll().where('id', '=', Number(row.attempt_id)).executeTakeFirst();
    return toSigninDetail(row, attempt ?? null);
  }

  /**
   * Whether an IP range matches so many sign-ins that the page is found
   * sooner by walking the time index and filtering. The IP index gives a
   * range's sign-ins in address order, and all of them must be sorted by time
   * for one page: fast for a few, slow for a busy /16. PostgreSQL's planner
   * knows from its statistics; SQLite's does not, so it is asked here.
   */
  private async denseIpRange(filters: ResolvedFilters): Promise<boolean> {
    const range = filters.ipRange;
    if (this.deps.dialect !== 'sqlite' || !range || range.from === range.to) return false;
    const probe = await this.deps.db
      .selectFrom((eb) => eb.selectFrom('signins').select('id').where('ip_key', '>=', range.from).where('ip_key', '<=', range.to).limit(DENSE_IP_RANGE).as('probe'))
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(probe.n) >= DENSE_IP_RANGE;
  }

  /** Checks the filters, naming the first that is wrong, and looks the user up: what `filtered` needs. */
  async resolve(filters: SigninFilters): Promise<ResolvedFilters> {
    if (filters.result_code !== undefined) {
      assert((RESULT_CODE_NAMES as string[]).includes(filters.result_code), 'validation_failed', `result_code: ${filters.result_code} is not a result code of SPEC.md §2`, { field: 'result_code' });
    }
    const range = filters.ip === undefined ? undefined : cidrRange(filters.ip);
    assert(range !== null, 'validation_failed', 'ip: an IP address or a CIDR block (198.51.100.0/24, 2001:db8::/32)', { field: 'ip' });
    const { from: fromText, to: toText, user, ip: _ip, ...exact } = filters;
    const resolved: ResolvedFilters = { ...exact };
    const from = instant(fromText, 'from');
    const to = instant(toText, 'to');
    if (from !== undefined) resolved.from = from;
    if (to !== undefined) resolved.to = to;
    if (range) resolved.ipRange = range;
    if (user !== undefined) {
      const row = await this.deps.db.selectFrom('users').select('id').where('username_key', '=', usernameKey(user)).executeTakeFirst();
      resolved.user = row ? { id: row.id } : { username: user };
    }
    return resolved;
  }
}

/** Filters checked, with times as milliseconds, the IP as a key range and the user as an id: plain data (a download's workers get it). */
export interface ResolvedFilters extends Omit<SigninFilters, 'from' | 'to' | 'user' | 'ip'> {
  from?: number;
  to?: number;
  /** A known user by id; a name no user has by that name. */
  user?: { id: string } | { username: string };
  ipRange?: { from: string; to: string };
}

/** Past this many sign-ins in an IP range, a page reads the time index rather than the IP index (SQLite). */
const DENSE_IP_RANGE = 5000;

/**
 * The sign-ins the filters select: every given filter applies. `scanIpRange`
 * (SQLite only) keeps the planner off the IP index: the unary plus makes the
 * IP condition a filter on the rows the time index gives.
 */
export function filtered(db: Db, filters: ResolvedFilters, options: { scanIpRange?: boolean } = {}) {
  let query = db.selectFrom('signins');
  const { from, to, user, ipRange } = filters;
  if (from !== undefined) query = query.where('at', '>=', from);
  if (to !== undefined) query = query.where('at', '<', to);
  if (user) query = 'id' in user ? query.where('user_id', '=', user.id) : query.where('user_id', 'is', null).where('username', '=', user.username);
  if (filters.application !== undefined) query = query.where('application', '=', filters.application);
  if (filters.status !== undefined) query = query.where('status', '=', filters.status);
  if (filters.mfa_required !== undefined) query = query.where('mfa_required', '=', filters.mfa_required ? 1 : 0);
  if (filters.result_code !== undefined) query = query.where('result_code', '=', filters.result_code);
  if (filters.method !== undefined) query = query.where('method', '=', filters.method);
  if (ipRange) {
    const key = options.scanIpRange ? sql<string>`+ip_key` : sql.ref<string>('ip_key');
    query = query.where(key, '>=', ipRange.from).where(key, '<=', ipRange.to);
  }
  if (filters.entry_point !== undefined) query = query.where('entry_point', '=', filters.entry_point);
  if (filters.policy !== undefined) query = query.where('policy', '=', filters.policy);
  if (filters.push_fatigue !== undefined) query = query.where('push_fatigue', '=', filters.push_fatigue);
  if (filters.client_type !== undefined) query = query.where('client_type', '=', filters.client_type);
  return query;
}

/** A sign-in whole, with its attempt record (the detail endpoint, the privacy export). */
export function toSigninDetail(row: SigninRow, attempt: AuthAttemptRow | null): SigninDetail {
  return {
    ...toSummary(row),
    authentication_details: JSON.parse(row.steps) as SigninStep[],
    conditional_access: JSON.parse(row.trace) as TraceEntry[],
    attempt: attempt ? toAttemptView(attempt) : null,
  };
}

/** The attempt record as JSON: times as ISO, booleans as booleans (SQLite stores 1/0). */
export function toAttemptView(attempt: AuthAttemptRow): Record<string, unknown> {
  const row = attempt as unknown as Record<string, unknown>;
  const booleans = new Set(['authenticated', 'primary_authenticated', 'backup_authenticated', 'number_matching']);
  return Object.fromEntries(
    Object.entries(row).map(([key, value]) => {
      if (key === 'at') return [key, iso(Number(value))];
      if (key === 'id') return [key, Number(value)];
      if (booleans.has(key)) return [key, value === null ? null : Boolean(value)];
      return [key, value];
    }),
  );
}
