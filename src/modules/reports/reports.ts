import type { Clock } from '../../shared/clock.js';
import { decodeCursor, encodeCursor } from '../../shared/cursor.js';
import { csvLine, UTF8_BOM } from '../../shared/csv-write.js';
import { assert } from '../../shared/errors.js';
import type { Db, UnitOfWork } from '../../storage/database.js';
import { registrationRepository, type RegistrationRecord } from '../../storage/repositories/registration.js';
import { serverNodesRepository, type ServerNodeRow } from '../../storage/repositories/server-nodes.js';
import type { MethodName } from '../methods/contract.js';
import { DAY, SigninRollups } from './rollups.js';

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
  /** The node's own heartbeat interval: it is down after missing three. */
  heartbeat_seconds: number;
  status: 'up' | 'down' | 'stopped';
}

interface Counts {
  signins: number;
  succeeded: number;
  failed: number;
}

/** Adds a group's sign-ins to a breakdown's counts. */
function add<K>(map: Map<K, Counts>, key: K, signins: number, success: boolean): void {
  let counts = map.get(key);
  if (!counts) {
    counts = { signins: 0, succeeded: 0, failed: 0 };
    map.set(key, counts);
  }
  counts.signins += signins;
  if (success) counts.succeeded += signins;
  else counts.failed += signins;
}

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
  private readonly rollups: SigninRollups;

  constructor(private readonly deps: { db: Db; transact: UnitOfWork; clock: Clock; heartbeatSeconds: number; nodeRetentionHours: number }) {
    this.rollups = new SigninRollups(deps);
  }

  /** Rolls up the sign-ins of every settled past day that has no roll-up yet (the server does it in the background). */
  rollUp(): Promise<number> {
    return this.rollups.rollUp();
  }

  /** Runs `rollUp` every `intervalMs`; returns a function that stops it. */
  startRollups(intervalMs: number, onError: (error: unknown) => void): () => void {
    return this.rollups.start(intervalMs, onError);
  }

  /** Users registered for MFA (`registered: true`) or not, enabled accounts only, by user name, with their count. */
  async registration(registeredUsers: boolean, options: { cursor?: string; limit?: number } = {}): Promise<{ count: number; items: RegistrationRow[]; next_cursor: string | null }> {
    const limit = options.limit ?? 100;
    assert(Number.isInteger(limit) && limit >= 1 && limit <= 1000, 'validation_failed', 'limit: must be a whole number from 1 to 1000', { field: 'limit' });
    const scope = { registered: registeredUsers };
    const count = await registrationRepository.count(this.deps.db, scope);
    const after = options.cursor === undefined ? undefined : decodeCursor<string>(options.cursor, 'string');
    const rows = await registrationRepository.page(this.deps.db, scope, after, limit + 1);
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { count, items: items.map(toRegistration), next_cursor: rows.length > limit && last ? encodeCursor(last.username_key) : null };
  }

  /** Every user as UserPrincipalName, MFA Status, MFA Methods: CSV streamed in batches, as the well-known export has it. */
  async *perUserCsv(bom = false): AsyncIterable<string> {
    yield `${bom ? UTF8_BOM : ''}${csvLine(['UserPrincipalName', 'MFA Status', 'MFA Methods'])}`;
    let after: string | undefined;
    for (;;) {
      const rows = await registrationRepository.page(this.deps.db, 'all', after, 1000);
      if (rows.length === 0) return;
      yield rows.map((row) => csvLine([row.username, row.mfa_state, toRegistration(row).methods.join(', ')])).join('');
      after = rows[rows.length - 1]!.username_key;
    }
  }

  /** MFA insights for [from, to) (default: the last 30 days), from the daily roll-ups and the partial days at the ends. */
  async insights(fromText?: string, toText?: string): Promise<InsightsReport> {
    const { from, to } = period(fromText, toText, this.deps.clock.now());
    const { groups, failures } = await this.rollups.read(from, to);
    const totals = { signins: 0, mfa_required: 0, mfa_completed: 0, mfa_failed: 0 };
    const byMethod = new Map<string, Counts>();
    const denied = new Map<string, number>();
    const daily = new Map<number, Counts>();
    const dailyRequired = new Map<number, number>();
    for (const group of groups) {
      const { signins } = group;
      const success = group.status === 'success';
      totals.signins += signins;
      if (group.mfa_required) {
        totals.mfa_required += signins;
        if (success) totals.mfa_completed += signins;
        else totals.mfa_failed += signins;
      }
      if (group.method !== null) add(byMethod, group.method, signins, success);
      if (!success && group.detail !== null) denied.set(group.detail, (denied.get(group.detail) ?? 0) + signins);
      add(daily, group.day, signins, success);
      if (group.mfa_required) dailyRequired.set(group.day, (dailyRequired.get(group.day) ?? 0) + signins);
    }
    const repeated = new Map<string, number>();
    for (const row of failures) repeated.set(row.username, (repeated.get(row.username) ?? 0) + row.failures);
    const most = <K>(map: Map<K, number>, key: (entry: [K, number]) => string) => [...map].sort((a, b) => b[1] - a[1] || key(a).localeCompare(key(b)));
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      ...totals,
      by_method: [...byMethod].sort(([a], [b]) => a.localeCompare(b)).map(([method, counts]) => ({ method, ...counts })),
      top_denied_details: most(denied, ([detail]) => detail)
        .slice(0, 10)
        .map(([detail, signins]) => ({ detail, signins })),
      users_with_repeated_failures: most(repeated, ([username]) => username)
        .slice(0, 100)
        .map(([username, count]) => ({ username, failures: count })),
      daily: [...daily]
        .sort(([a], [b]) => a - b)
        .map(([day, counts]) => ({ day: new Date(day * DAY).toISOString().slice(0, 10), signins: counts.signins, mfa_required: dailyRequired.get(day) ?? 0, succeeded: counts.succeeded, failed: counts.failed })),
    };
  }

  /** Sign-ins by entry point (HTTP API, CLI, and later RADIUS and the portal) for [from, to). */
  async usageByEntryPoint(fromText?: string, toText?: string): Promise<{ from: string; to: string; entry_points: EntryPointUsage[] }> {
    const { from, to } = period(fromText, toText, this.deps.clock.now());
    const usage = new Map<string, Counts>();
    for (const group of (await this.rollups.read(from, to)).groups) add(usage, group.entry_point, group.signins, group.status === 'success');
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      entry_points: [...usage].sort(([a], [b]) => a.localeCompare(b)).map(([entry_point, counts]) => ({ entry_point, ...counts })),
    };
  }

  /**
   * Every node seen within `cluster.nodeRetentionHours`: up while its
   * heartbeats arrive, down when it has missed three of its own, stopped when
   * it shut down cleanly.
   */
  async serverStatus(): Promise<NodeStatus[]> {
    const now = this.deps.clock.now();
    const rows = await serverNodesRepository.seenSince(this.deps.db, now - this.deps.nodeRetentionHours * 3_600_000);
    const down = (row: ServerNodeRow) => now - Number(row.last_seen_at) > 3 * (row.heartbeat_seconds ?? this.deps.heartbeatSeconds) * 1000;
    return rows.map((row) => ({
      id: row.id,
      host: row.host,
      version: row.version,
      started_at: new Date(Number(row.started_at)).toISOString(),
      last_seen_at: new Date(Number(row.last_seen_at)).toISOString(),
      database_reachable: Boolean(row.database_reachable),
      heartbeat_seconds: row.heartbeat_seconds ?? this.deps.heartbeatSeconds,
      status: row.stopped_at !== null ? 'stopped' : down(row) ? 'down' : 'up',
    }));
  }
}

function toRegistration(row: RegistrationRecord): RegistrationRow {
  const methods: MethodName[] = [];
  if (row.has_app) methods.push('app');
  if (row.has_oath) methods.push('oath');
  if (row.has_phone) methods.push('sms', 'voice');
  return { username: row.username, mfa_state: row.mfa_state, methods };
}
