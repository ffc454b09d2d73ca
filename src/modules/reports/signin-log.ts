import { decodeCursor, encodeCursor } from '../../shared/cursor.js';
import { appError, assert } from '../../shared/errors.js';
import { cidrRange } from '../../shared/ip-key.js';
import type { Db } from '../../storage/database.js';
import { signinLogRepository, type ResolvedSigninFilters } from '../../storage/repositories/signin-log.js';
import { usersRepository } from '../../storage/repositories/users.js';
import type { AuthAttemptRow, SigninRow } from '../../storage/schema.js';
import type { SigninStep, TraceEntry } from '../auth/records.js';
import { RESULT_CODE_NAMES } from '../auth/result-codes.js';
import type { Page } from '../directory/directory.js';
import { usernameKey } from '../directory/user-input.js';

// The sign-in download (signin-export.ts) builds its batches on the same selection.
export { filtered } from '../../storage/repositories/signin-log.js';

/** Filters checked, with times as milliseconds, the IP as a key range and the user as an id: plain data (a download's workers get it). */
export type ResolvedFilters = ResolvedSigninFilters;

/** What the sign-in log can be filtered by (SPEC.md §3). Every filter is optional; given ones all apply. */
export interface SigninFilters extends Omit<ResolvedFilters, 'from' | 'to' | 'user' | 'ipRange'> {
  /** ISO 8601 date-times: from (inclusive) and to (exclusive). */
  from?: string;
  to?: string;
  /** A user name: the user's sign-ins, or, for a name no user has, the sign-ins that tried it. */
  user?: string;
  /** An IP address or a CIDR block (IPv4 or IPv6). */
  ip?: string;
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
  constructor(private readonly deps: { db: Db }) {}

  async list(filters: SigninFilters, options: { cursor?: string; limit?: number; order?: 'desc' | 'asc' } = {}): Promise<Page<SigninSummary>> {
    const limit = options.limit ?? 50;
    assert(Number.isInteger(limit) && limit >= 1 && limit <= 1000, 'validation_failed', 'limit: must be a whole number from 1 to 1000', { field: 'limit' });
    const order = options.order ?? 'desc';
    const resolved = await this.resolve(filters);
    const after = options.cursor === undefined ? undefined : parseCursor(options.cursor);
    const rows = await signinLogRepository.page(this.deps.db, resolved, { after, order, limit: limit + 1 });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map(toSummary), next_cursor: rows.length > limit && last ? encodeCursor(`${Number(last.at)}:${Number(last.id)}`) : null };
  }

  async get(id: number): Promise<SigninDetail> {
    const row = await signinLogRepository.findById(this.deps.db, id);
    if (!row) throw appError('not_found', `sign-in ${id} does not exist`);
    const attempt = row.attempt_id === null ? undefined : await signinLogRepository.findAttempt(this.deps.db, Number(row.attempt_id));
    return toSigninDetail(row, attempt ?? null);
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
      const row = await usersRepository.findByKey(this.deps.db, usernameKey(user));
      resolved.user = row ? { id: row.id } : { username: user };
    }
    return resolved;
  }
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
