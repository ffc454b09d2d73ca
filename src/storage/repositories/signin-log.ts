import { sql } from 'kysely';
import { isPostgres, type Executor } from '../database.js';
import type { AuthAttemptRow, AuthAttemptsTable, SigninRow } from '../schema.js';

/**
 * The filters of the sign-in log (SPEC.md §3) once checked: times as
 * milliseconds, the IP as a key range, the user as an id. Plain data: a
 * download's worker threads get it.
 */
export interface ResolvedSigninFilters {
  /** From (inclusive) and to (exclusive), epoch milliseconds. */
  from?: number;
  to?: number;
  /** A known user by id; a name no user has by that name. */
  user?: { id: string } | { username: string };
  application?: string;
  status?: 'success' | 'failure';
  mfa_required?: boolean;
  result_code?: string;
  method?: string;
  /** The `ip_key` range of an address or a CIDR block. */
  ipRange?: { from: string; to: string };
  entry_point?: string;
  policy?: string;
  push_fatigue?: string;
  client_type?: string;
}

/** Where a page continues: after the sign-in at `at` with `id`, in the page's order. */
export interface SigninPosition {
  at: number;
  id: number;
}

/** Past this many sign-ins in an IP range, a page reads the time index rather than the IP index (SQLite). */
const DENSE_IP_RANGE = 5000;

/**
 * The sign-ins the filters select: every given filter applies. `scanIpRange`
 * (SQLite only) keeps the planner off the IP index: the unary plus makes the
 * IP condition a filter on the rows the time index gives.
 */
export function filtered(db: Executor, filters: ResolvedSigninFilters, options: { scanIpRange?: boolean } = {}) {
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

/**
 * Whether an IP range matches so many sign-ins that the page is found
 * sooner by walking the time index and filtering. The IP index gives a
 * range's sign-ins in address order, and all of them must be sorted by time
 * for one page: fast for a few, slow for a busy /16. PostgreSQL's planner
 * knows from its statistics; SQLite's does not, so it is asked here.
 */
async function denseIpRange(db: Executor, filters: ResolvedSigninFilters): Promise<boolean> {
  const range = filters.ipRange;
  if (isPostgres(db) || !range || range.from === range.to) return false;
  const probe = await db
    .selectFrom((eb) => eb.selectFrom('signins').select('id').where('ip_key', '>=', range.from).where('ip_key', '<=', range.to).limit(DENSE_IP_RANGE).as('probe'))
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(probe.n) >= DENSE_IP_RANGE;
}

/** Reads of the sign-in log and of the attempt records its events link (the sign-in events are written by modules/auth/records.ts). */
export const signinLogRepository = {
  /**
   * Up to `limit` sign-ins the filters select, in (time, id) order, after
   * `after`: key-set paging, so a page boundary stays put while new sign-ins
   * arrive.
   */
  async page(db: Executor, filters: ResolvedSigninFilters, options: { after?: SigninPosition; order: 'asc' | 'desc'; limit: number }): Promise<SigninRow[]> {
    const { after, order, limit } = options;
    let query = filtered(db, filters, { scanIpRange: await denseIpRange(db, filters) }).selectAll();
    if (after) {
      // The bound on `at` alone comes first, so the time index gives the range; the OR only sorts out ties.
      query =
        order === 'desc'
          ? query.where('at', '<=', after.at).where((eb) => eb.or([eb('at', '<', after.at), eb('id', '<', after.id)]))
          : query.where('at', '>=', after.at).where((eb) => eb.or([eb('at', '>', after.at), eb('id', '>', after.id)]));
    }
    return query.orderBy('at', order).orderBy('id', order).limit(limit).execute();
  },

  findById(db: Executor, id: number): Promise<SigninRow | undefined> {
    return db.selectFrom('signins').selectAll().where('id', '=', id).executeTakeFirst();
  },

  findAttempt(db: Executor, id: number): Promise<AuthAttemptRow | undefined> {
    return db.selectFrom('auth_attempts').selectAll().where('id', '=', id).executeTakeFirst();
  },
};

/** What the download of the attempt records can be filtered by, checked. */
export interface AttemptSelection {
  from?: number;
  to?: number;
  /** A known user by id; a name no user has by that name. */
  user?: { id: string } | { username: string };
  application?: string;
  result?: string;
  method?: string;
}

/** The attempt records (SPEC.md §5) as the downloaded activity report reads them. */
export const attemptLogRepository = {
  /** Up to `limit` attempt records the filters select, oldest first, after `after` on the (time, id) key: only `columns` of each. */
  batch(db: Executor, columns: readonly (keyof AuthAttemptsTable & string)[], filters: AttemptSelection, after: SigninPosition | null, limit: number): Promise<Partial<AuthAttemptRow>[]> {
    let query = db.selectFrom('auth_attempts').select([...columns]);
    if (filters.from !== undefined) query = query.where('at', '>=', filters.from);
    if (filters.to !== undefined) query = query.where('at', '<', filters.to);
    const user = filters.user;
    if (user) query = 'id' in user ? query.where('user_id', '=', user.id) : query.where('username', '=', user.username);
    if (filters.application !== undefined) query = query.where('application', '=', filters.application);
    if (filters.result !== undefined) query = query.where('result', '=', filters.result);
    if (filters.method !== undefined) query = query.where('method', '=', filters.method);
    // `at >=` first: an index range on time; the OR only sorts out ties.
    if (after) query = query.where('at', '>=', after.at).where((eb) => eb.or([eb('at', '>', after.at), eb('id', '>', after.id)]));
    return query.orderBy('at').orderBy('id').limit(limit).execute();
  },
};
