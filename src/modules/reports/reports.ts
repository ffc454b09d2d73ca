import { sql, type ExpressionBuilder } from 'kysely';
import type { Clock } from '../../shared/clock.js';
import { decodeCursor, encodeCursor } from '../../shared/cursor.js';
import { csvLine, UTF8_BOM } from '../../shared/csv-write.js';
import { assert } from '../../shared/errors.js';
import type { Db } from '../../storage/database.js';
import type { Database } from '../../storage/schema.js';
import type { MethodName } from '../methods/contract.js';

/** A user as the registration reports show them. */
export interface RegistrationRow {
  username: string;
  mfa_state: string;
  methods: MethodName[];
}

export interface InsightsReport {
  from: string;
  to: string;
  signins: number;
  mfa_required: number;
  mfa_completed: number;
  mfa_failed: number;
  by_method: { method: string; signins: number; succeeded: number; failed: number }[];
  top_denied_details: { detail: string; signins: number }[];
  users_with_repeated_failures: { username: string; failures: number }[];
  daily: { day: string; signins: number; mfa_required: number; succeeded: number; failed: number }[];
}

export interface EntryPointUsage {
  entry_point: string;
  signins: number;
  succeeded: number;
  failed: number;
}

export interface NodeStatus {
  id: string;
  host: string;
  version: string;
  started_at: string;
  last_seen_at: string;
  database_reachable: boolean;
  status: 'up' | 'down' | 'stopped';
}

const DAY = 86_400_000;
/** 1 for a sign-in that succeeded (or failed), 0 otherwise: summed per group. */
const SUCCEEDED = sql<number>`case when status = 'success' then 1 else 0 end`;
const FAILED = sql<number>`case when status = 'failure' then 1 else 0 end`;
/** Users whose failures in the period reach this count are listed as repeated failures. */
const REPEATED_FAILURES = 3;

type Users = ExpressionBuilder<Database, 'users'>;
const hasOath = (eb: Users) => eb.exists(eb.selectFrom('oath_tokens').select('oath_tokens.id').whereRef('oath_tokens.user_id', '=', 'users.id').where('oath_tokens.status', '=', 'active'));
const hasApp = (eb: Users) => eb.exists(eb.selectFrom('app_devices').select('app_devices.id').whereRef('app_devices.user_id', '=', 'users.id').where('app_devices.status', '=', 'active'));
/** Registered for MFA: a phone (calls, texts), an active OATH token or an active authenticator app. Security questions are a fallback only. */
const registered = (eb: Users) => eb.or([eb('users.phone_number', 'is not', null), hasOath(eb), hasApp(eb)]);

function period(from: string | undefined, to: string | undefined, now: number): { from: number; to: number } {
  const parse = (value: string | undefined, field: string, fallback: number) => {
    if (value === undefined) return fallback;
    const millis = Date.parse(value);
    assert(/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(value) && Number.isFinite(millis), 'validation_failed', `${field}: an ISO 8601 date or date-time`, { field });
    return millis;
  };
  const end = parse(to, 'to', now);
  const start = parse(from, 'from', end - 30 * DAY);
  assert(start < end, 'validation_failed', 'from: must be before to', { field: 'from' });
  assert(end - start <= 400 * DAY, 'validation_failed', 'the period may be at most 400 days', { field: 'from' });
  return { from: start, to: end };
}

/**
 * The reports of SPEC.md §4 that are computed rather than listed: who is
 * registered for MFA, the per-user export, MFA insights for a period, usage
 * by entry point, and the status of every server node. Block and bypass
 * history are the Blocks and Bypasses histories.
 */
export class Reports {
  constructor(private readonly deps: { db: Db; clock: Clock; heartbeatSeconds: number }) {}

  /** Users registered for MFA (`registered: true`) or not, enabled accounts only, by user name, with their count. */
  async registration(registeredUsers: boolean, options: { cursor?: string; limit?: number } = {}): Promise<{ count: number; items: RegistrationRow[]; next_cursor: string | null }> {
    const limit = options.limit ?? 100;
    assert(Number.isInteger(limit) && limit >= 1 && limit <= 1000, 'validation_failed', 'limit: must be a whole number from 1 to 1000', { field: 'limit' });
    const base = this.deps.db
      .selectFrom('users')
      .where('users.account_enabled', '=', 1)
      .where((eb) => (registeredUsers ? registered(eb) : eb.not(registered(eb))));
    const { count } = await base.select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
    let page = this.withMethods(base);
    if (options.cursor !== undefined) page = page.where('users.username_key', '>', decodeCursor<string>(options.cursor, 'string'));
    const rows = await page.orderBy('users.username_key').limit(limit + 1).execute();
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { count: Number(count), items: items.map(toRegistration), next_cursor: rows.length > limit && last ? encodeCursor(last.username_key) : null };
  }

  /** Every user as UserPrincipalName, MFA Status, MFA Methods: CSV streamed in batches, as the well-known export has it. */
  async *perUserCsv(bom = false): AsyncIterable<string> {
    yield `${bom ? UTF8_BOM : ''}${csvLine(['UserPrincipalName', 'MFA Status', 'MFA Methods'])}`;
    let after: string | null = null;
    for (;;) {
      let query = this.withMethods(this.deps.db.selectFrom('users'));
      if (after !== null) query = query.where('users.username_key', '>', after);
      const rows = await query.orderBy('users.username_key').limit(1000).execute();
      if (rows.length === 0) return;
      yield rows.map((row) => csvLine([row.username, row.mfa_state, toRegistration(row).methods.join(', ')])).join('');
      after = rows[rows.length - 1]!.username_key;
    }
  }

  /** MFA insights for [from, to) (default: the last 30 days). */
  async insights(fromText?: string, toText?: string): Promise<InsightsReport> {
    const { from, to } = period(fromText, toText, this.deps.clock.now());
    const db = this.deps.db;
    const inPeriod = db.selectFrom('signins').where('at', '>=', from).where('at', '<', to);
    const required = sql<number>`case when ${sql.ref('mfa_required')} then 1 else 0 end`;
    const completed = sql<number>`case when ${sql.ref('mfa_required')} and status = 'success' then 1 else 0 end`;
    const failedMfa = sql<number>`case when ${sql.ref('mfa_required')} and status = 'failure' then 1 else 0 end`;
    const totals = await inPeriod
      .select((eb) => [eb.fn.countAll<number>().as('signins'), eb.fn.sum<number>(required).as('mfa_required'), eb.fn.sum<number>(completed).as('completed'), eb.fn.sum<number>(failedMfa).as('failed')])
      .executeTakeFirstOrThrow();
    const byMethod = await inPeriod
      .where('method', 'is not', null)
      .select((eb) => [
        'method',
        eb.fn.countAll<number>().as('signins'),
        eb.fn.sum<number>(SUCCEEDED).as('succeeded'),
        eb.fn.sum<number>(FAILED).as('failed'),
      ])
      .groupBy('method')
      .orderBy('method')
      .execute();
    const denied = await inPeriod
      .where('status', '=', 'failure')
      .where('detail', 'is not', null)
      .select((eb) => ['detail', eb.fn.countAll<number>().as('signins')])
      .groupBy('detail')
      .orderBy('signins', 'desc')
      .orderBy('detail')
      .limit(10)
      .execute();
    const repeated = await inPeriod
      .where('status', '=', 'failure')
      .select((eb) => ['username', eb.fn.countAll<number>().as('failures')])
      .groupBy('username')
      .having((eb) => eb.fn.countAll(), '>=', REPEATED_FAILURES)
      .orderBy('failures', 'desc')
      .orderBy('username')
      .limit(100)
      .execute();
    // UTC calendar days: whole days since the epoch (literals, so both dialects divide integers and PostgreSQL sees one expression).
    const day = sql<number>`at / ${sql.lit(DAY)}`;
    const daily = await inPeriod
      .select((eb) => [
        day.as('day'),
        eb.fn.countAll<number>().as('signins'),
        eb.fn.sum<number>(required).as('mfa_required'),
        eb.fn.sum<number>(SUCCEEDED).as('succeeded'),
        eb.fn.sum<number>(FAILED).as('failed'),
      ])
      .groupBy(day)
      .orderBy(day)
      .execute();
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      signins: Number(totals.signins),
      mfa_required: Number(totals.mfa_required ?? 0),
      mfa_completed: Number(totals.completed ?? 0),
      mfa_failed: Number(totals.failed ?? 0),
      by_method: byMethod.map((row) => ({ method: row.method!, signins: Number(row.signins), succeeded: Number(row.succeeded), failed: Number(row.failed) })),
      top_denied_details: denied.map((row) => ({ detail: row.detail!, signins: Number(row.signins) })),
      users_with_repeated_failures: repeated.map((row) => ({ username: row.username, failures: Number(row.failures) })),
      daily: daily.map((row) => ({
        day: new Date(Math.floor(Number(row.day)) * DAY).toISOString().slice(0, 10),
        signins: Number(row.signins),
        mfa_required: Number(row.mfa_required),
        succeeded: Number(row.succeeded),
        failed: Number(row.failed),
      })),
    };
  }

  /** Sign-ins by entry point (HTTP API, CLI, and later RADIUS and the portal) for [from, to). */
  async usageByEntryPoint(fromText?: string, toText?: string): Promise<{ from: string; to: string; entry_points: EntryPointUsage[] }> {
    const { from, to } = period(fromText, toText, this.deps.clock.now());
    const rows = await this.deps.db
      .selectFrom('signins')
      .where('at', '>=', from)
      .where('at', '<', to)
      .select((eb) => [
        'entry_point',
        eb.fn.countAll<number>().as('signins'),
        eb.fn.sum<number>(SUCCEEDED).as('succeeded'),
        eb.fn.sum<number>(FAILED).as('failed'),
      ])
      .groupBy('entry_point')
      .orderBy('entry_point')
      .execute();
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      entry_points: rows.map((row) => ({ entry_point: row.entry_point, signins: Number(row.signins), succeeded: Number(row.succeeded), failed: Number(row.failed) })),
    };
  }

  /** Every node that has run: up while its heartbeats arrive, down when three have been missed, stopped when it shut down cleanly. */
  async serverStatus(): Promise<NodeStatus[]> {
    const now = this.deps.clock.now();
    const rows = await this.deps.db.selectFrom('server_nodes').selectAll().orderBy('started_at', 'desc').orderBy('id').execute();
    return rows.map((row) => ({
      id: row.id,
      host: row.host,
      version: row.version,
      started_at: new Date(Number(row.started_at)).toISOString(),
      last_seen_at: new Date(Number(row.last_seen_at)).toISOString(),
      database_reachable: Boolean(row.database_reachable),
      status: row.stopped_at !== null ? 'stopped' : now - Number(row.last_seen_at) > 3 * this.deps.heartbeatSeconds * 1000 ? 'down' : 'up',
    }));
  }

  private withMethods<QB extends ReturnType<Db['selectFrom']>>(query: QB) {
    return (query as unknown as ReturnType<typeof this.deps.db.selectFrom<'users'>>).select((eb) => [
      'users.username',
      'users.username_key',
      'users.mfa_state',
      eb('users.phone_number', 'is not', null).as('has_phone'),
      hasOath(eb).as('has_oath'),
      hasApp(eb).as('has_app'),
    ]);
  }
}

function toRegistration(row: { username: string; mfa_state: string; has_phone: unknown; has_oath: unknown; has_app: unknown }): RegistrationRow {
  const methods: MethodName[] = [];
  if (truthy(row.has_app)) methods.push('app');
  if (truthy(row.has_oath)) methods.push('oath');
  if (truthy(row.has_phone)) methods.push('sms', 'voice');
  return { username: row.username, mfa_state: row.mfa_state, methods };
}

const truthy = (value: unknown): boolean => value === true || value === 1 || value === '1' || value === 't';
