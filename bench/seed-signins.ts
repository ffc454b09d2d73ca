// Fills a Countersign database with realistic users, sign-ins and attempt
// records, for the sign-in log benchmarks and for trying the log API at scale:
//
//   npx tsx bench/seed-signins.ts --data-dir ./data            (SQLite)
//   npx tsx bench/seed-signins.ts --database-url postgres://…  (PostgreSQL)
//
// SEED_USERS (default 100000) and SEED_EVENTS (default 1000000) set the sizes;
// the events spread over the 90 days before now, with result codes in the
// proportions below. The same SEED gives the same data.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pino from 'pino';
import { loadConfig } from '../src/config/load.js';
import { buildRuntime, type Runtime } from '../src/main.js';
import { ipKey } from '../src/shared/ip-key.js';
import type { Executor } from '../src/storage/database.js';
import { BenchFailure, envInt, progress } from './lib.js';

const DAY = 86_400_000;

/** One kind of sign-in and how often it happens, out of 1000. */
interface Kind {
  weight: number;
  method: string | null;
  code: string | null;
  status: 'success' | 'failure';
  detail: string;
  mfaRequired: boolean;
  policy: string;
  /** No attempt record (a user name nobody has). */
  noAttempt?: boolean;
}

const KINDS: Kind[] = [
  { weight: 380, method: 'oath', code: 'SUCCESS_OATH_CODE_VERIFIED', status: 'success', detail: 'successfully completed', mfaRequired: true, policy: 'per-user MFA' },
  { weight: 250, method: 'app', code: 'SUCCESS_PHONE_APP_AUTHENTICATED', status: 'success', detail: 'successfully completed', mfaRequired: true, policy: 'per-user MFA' },
  { weight: 90, method: 'sms', code: 'SUCCESS_SMS_SENT', status: 'success', detail: 'successfully completed', mfaRequired: true, policy: 'per-user MFA' },
  { weight: 40, method: 'voice', code: 'SUCCESS_NO_PIN', status: 'success', detail: 'successfully completed', mfaRequired: true, policy: 'per-user MFA' },
  { weight: 60, method: null, code: 'SUCCESS_USED_CACHE', status: 'success', detail: 'satisfied by strong authentication', mfaRequired: true, policy: 'cache' },
  { weight: 50, method: 'oath', code: 'FAILED_OATH_CODE_INCORRECT', status: 'failure', detail: 'user entered incorrect code', mfaRequired: true, policy: 'per-user MFA' },
  { weight: 30, method: 'app', code: 'FAILED_PHONE_APP_DENIED', status: 'failure', detail: 'user declined the authentication', mfaRequired: true, policy: 'per-user MFA' },
  { weight: 30, method: 'app', code: 'FAILED_PHONE_APP_NO_RESPONSE', status: 'failure', detail: 'user did not respond to mobile app notification', mfaRequired: true, policy: 'per-user MFA' },
  { weight: 15, method: 'voice', code: 'SUCCESS_NO_PIN_BUT_TIMEOUT', status: 'failure', detail: 'phone call went to voicemail', mfaRequired: true, policy: 'per-user MFA' },
  { weight: 10, method: 'sms', code: 'FAILED_SMS_OTP_INCORRECT', status: 'failure', detail: 'user entered incorrect code', mfaRequired: true, policy: 'per-user MFA' },
  { weight: 10, method: null, code: 'SUCCESS_USER_BLOCKED', status: 'failure', detail: 'user is blocked', mfaRequired: true, policy: 'user_blocked' },
  { weight: 15, method: null, code: null, status: 'failure', detail: 'user not found', mfaRequired: false, policy: 'user_lookup', noAttempt: true },
  { weight: 20, method: null, code: null, status: 'success', detail: 'skipped due to location', mfaRequired: false, policy: 'MFA outside the office' },
];
const APPLICATIONS = ['Corporate VPN', 'Payroll', 'Intranet', 'Mail gateway', 'Source control'];

/** A small, fast, seedable generator (mulberry32): the same seed gives the same database. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SeedOptions {
  users: number;
  events: number;
  seed?: number;
  /** The newest event's time (default now). */
  now?: number;
  onProgress?: (done: number) => void;
}

const userName = (index: number) => `user${String(index).padStart(6, '0')}@contoso.com`;

/**
 * Writes `users` users (a tenth with a phone) and `events` sign-ins, each
 * with its attempt record except for unknown user names, oldest first, in
 * batches of 1000 rows per statement.
 */
export async function seedSignins(runtime: Runtime, options: SeedOptions): Promise<void> {
  const db = runtime.storage.db;
  const next = random(options.seed ?? 42);
  const now = options.now ?? Date.now();
  const cumulative: number[] = [];
  KINDS.reduce((sum, kind) => (cumulative.push(sum + kind.weight), sum + kind.weight), 0);
  const total = cumulative[cumulative.length - 1]!;
  const ids: string[] = [];
  for (let start = 0; start < options.users; start += 1000) {
    const rows = [];
    for (let index = start; index < Math.min(options.users, start + 1000); index += 1) {
      const id = `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
      ids.push(id);
      rows.push({
        id,
        username: userName(index),
        username_key: userName(index),
        first_name: `First${index}`,
        last_name: `Last${index}`,
        email: userName(index),
        language: 'en',
        account_enabled: 1,
        mfa_state: index % 10 === 0 ? 'Enforced' : 'Enabled',
        pin_hash: null,
        pin_change_required: 0,
        phone_country_code: index % 10 === 0 ? '1' : null,
        phone_number: index % 10 === 0 ? `202555${String(index % 10000).padStart(4, '0')}` : null,
        phone_extension: null,
        backup_country_code: null,
        backup_phone_number: null,
        backup_extension: null,
        created_at: now - 120 * DAY,
        updated_at: now - 120 * DAY,
        default_method: null,
        block_id: null,
        bypass_id: null,
      });
    }
    await db.insertInto('users').values(rows).execute();
  }

  const start = now - 90 * DAY;
  const step = (90 * DAY) / options.events;
  // Ten batches of a thousand per transaction: one commit per 10,000 events.
  let pending: { attempts: (Record<string, unknown> & { _signin: number })[]; signins: Record<string, unknown>[] }[] = [];
  const flush = async () => {
    const batches = pending;
    pending = [];
    await db.transaction().execute(async (trx) => {
      for (const batch of batches) await insertBatch(trx, batch.attempts, batch.signins);
    });
  };
  for (let first = 0; first < options.events; first += 1000) {
    const count = Math.min(1000, options.events - first);
    const attempts: (Record<string, unknown> & { _signin: number })[] = [];
    const signins: Record<string, unknown>[] = [];
    for (let offset = 0; offset < count; offset += 1) {
      const pick = next() * total;
      const kind = KINDS[cumulative.findIndex((bound) => pick < bound)]!;
      const userIndex = Math.floor(next() * options.users);
      const at = Math.floor(start + (first + offset) * step);
      const ip = `198.51.${Math.floor(next() * 4) + 100}.${Math.floor(next() * 254) + 1}`;
      const application = APPLICATIONS[Math.floor(next() * APPLICATIONS.length)]!;
      const entryPoint = next() < 0.9 ? 'http_api' : 'cli';
      const username = kind.noAttempt ? `unknown${Math.floor(next() * 1e6)}@contoso.com` : userName(userIndex);
      signins.push({
        at,
        user_id: kind.noAttempt ? null : ids[userIndex]!,
        username,
        application_id: `app-${application}`,
        application,
        ip,
        ip_key: ipKey(ip),
        auth_type: 'vpn',
        entry_point: entryPoint,
        status: kind.status,
        mfa_required: kind.mfaRequired ? 1 : 0,
        policy: kind.policy,
        method: kind.method,
        result_code: kind.code,
        detail: kind.detail,
        attempt_id: null as number | null,
        counted_failure: kind.status === 'failure' && kind.code !== 'FAILED_PHONE_APP_NO_RESPONSE' ? 1 : 0,
        steps: kind.code ? JSON.stringify([{ method: kind.method ?? 'engine', result_code: kind.code, succeeded: kind.status === 'success', detail: kind.detail, at: new Date(at).toISOString() }]) : '[]',
        trace: '[]',
        push_fatigue: null,
        client_type: 'modern',
        device_id: null,
      });
      if (!kind.noAttempt && kind.code) {
        attempts.push({
          at,
          user_id: ids[userIndex]!,
          username,
          first_name: `First${userIndex}`,
          last_name: `Last${userIndex}`,
          email: username,
          user_group: null,
          method: kind.method,
          auth_type: 'vpn',
          application,
          authenticated: kind.status === 'success' ? 1 : 0,
          result: kind.code,
          caller_ip: ip,
          entry_point: entryPoint,
          number_matching: kind.method === 'app' ? 1 : null,
          _signin: signins.length - 1,
        });
      }
    }
    pending.push({ attempts, signins });
    if (pending.length === 10 || first + count >= options.events) await flush();
    options.onProgress?.(first + count);
  }
}

/** Attempts first (their ids go into the sign-ins), then the sign-ins. */
async function insertBatch(trx: Executor, attempts: (Record<string, unknown> & { _signin: number })[], signins: Record<string, unknown>[]): Promise<void> {
  if (attempts.length > 0) {
    const inserted = await trx
      .insertInto('auth_attempts')
      .values(attempts.map(({ _signin: _ignored, ...row }) => row) as never)
      .returning('id')
      .execute();
    inserted.forEach((row, index) => (signins[attempts[index]!._signin]!.attempt_id = Number(row.id)));
  }
  await trx.insertInto('signins').values(signins as never).execute();
}

/**
 * After a bulk load, PostgreSQL's planner statistics are as the autovacuum
 * daemon would leave them a little later: the benchmark measures a database
 * in service, not one whose statistics predate its rows. SQLite keeps none
 * unless asked, and a server does not ask, so neither does this.
 */
export async function analyzeAfterLoad(runtime: Runtime): Promise<void> {
  if (runtime.storage.dialect === 'postgres') await sql`analyze`.execute(runtime.storage.db);
}

/** The command line: fill the database a data dir or URL names. */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const value = (flag: string) => {
    const index = args.indexOf(flag);
    return index === -1 ? undefined : args[index + 1];
  };
  const dataDir = value('--data-dir');
  const url = value('--database-url') ?? '';
  if (!dataDir && !url) throw new BenchFailure('give --data-dir <dir> (SQLite) or --database-url <postgres://…>');
  const config = loadConfig({ overrides: { dataDir: dataDir ?? './data', database: { url }, log: { level: 'warn' }, ...(dataDir ? {} : { security: { masterKey: randomBytes(32).toString('base64') } }) } });
  const runtime = await buildRuntime(config, { log: pino({ level: 'warn' }) });
  try {
    const users = envInt('SEED_USERS', 100_000);
    const events = envInt('SEED_EVENTS', 1_000_000);
    const began = Date.now();
    await seedSignins(runtime, { users, events, seed: envInt('SEED', 42), onProgress: (done) => done % 100_000 === 0 && progress(`${done} events`) });
    await analyzeAfterLoad(runtime);
    process.stdout.write(`seeded ${users} users and ${events} sign-ins in ${((Date.now() - began) / 1000).toFixed(1)} s\n`);
  } finally {
    await runtime.close();
  }
}

if (process.argv[1]?.endsWith('seed-signins.ts')) {
  main().catch((error: unknown) => {
    process.exitCode = 1;
    process.stderr.write(`seed-signins failed: ${error instanceof BenchFailure ? error.message : String(error)}\n`);
  });
}
