import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import { appError } from '../../shared/errors.js';
import { orderedId } from '../../shared/ids.js';
import type { Keyring } from '../../shared/keyring.js';
import type { Db, DialectName, Executor, UnitOfWork } from '../../storage/database.js';
import type { AuditRow } from '../../storage/schema.js';
import { usersRepository } from '../../storage/repositories/users.js';
import { toAuditView, writeAudit } from '../audit/audit.js';
import { toBlockView } from '../auth/blocks.js';
import { toBypassView } from '../auth/bypasses.js';
import { usernameKey } from '../directory/user-input.js';
import { toChangeRecordView, toUserView } from '../directory/user-view.js';
import type { VerificationMethod } from '../methods/contract.js';
import { toAttemptView, toSigninDetail } from '../reports/signin-log.js';
import { searchLogFiles, type LogLineView } from './log-search.js';
import type { PersonalLog } from './personal-log.js';
import { WITHHELD } from '../telephony/telephony.js';
import { findSubject, mailCondition, signinConditions, ssprEventCondition, telephonyCondition, type Subject } from './subject.js';

/** The version of the export document; docs/privacy.md describes each version. */
export const PRIVACY_EXPORT_SCHEMA = 'urn:countersign:privacy-export:1';

export interface PrivacyDeps {
  db: Db;
  /** Runs a unit of work (Storage.transact): every write goes through one. */
  transact: UnitOfWork;
  dialect: DialectName;
  clock: Clock;
  keyring: Keyring;
  personalLog: PersonalLog;
  methods: readonly VerificationMethod[];
  /** The service-log files to search (log.file); empty when the log goes to stdout or syslog only. */
  logFiles: readonly string[];
}

/** What the audit log keeps of a privacy delete: counts, never the name (SPEC.md §6, issue: deletion receipt). */
export interface ErasureReceipt {
  id: string;
  erased_at: string;
  erased_by: string;
  /** HMAC-SHA256 under a key of the server's keyring, over the salt and the lower-case name: `gdpr receipts --username` can tell whether a name was erased; the database alone cannot. */
  username_hash: string;
  salt: string;
  users: number;
  counts: Record<string, number>;
  /** SQLite, in the answer to the request: deleted bytes overwritten (secure_delete) and the write-ahead log checkpointed and truncated. */
  storage?: { secure_delete: boolean; wal_truncated: boolean | null };
}

const iso = (millis: number | null) => (millis === null ? null : new Date(Number(millis)).toISOString());

/**
 * Privacy requests of SPEC.md §6: everything held about a person as one JSON
 * document, and its erasure in one transaction (docs/privacy.md).
 */
export class Privacy {
  constructor(private readonly deps: PrivacyDeps) {}

  /** Everything held about the user a name belongs to (or belonged to), as one document of schema PRIVACY_EXPORT_SCHEMA. */
  async export(username: string, actor: Actor): Promise<Record<string, unknown>> {
    const { db } = this.deps;
    const subject = await this.subjectOrThrow(db, username);
    const ids = subject.userIds;
    const methodData: Record<string, unknown[] | unknown> = {};
    for (const method of this.deps.methods) {
      for (const id of ids) {
        for (const [key, value] of Object.entries(await method.exportUserData(db, id))) {
          methodData[key] = Array.isArray(value) ? [...((methodData[key] as unknown[] | undefined) ?? []), ...value] : value;
        }
      }
    }
    const { app_activations: activations = [], sms_log: smsLog = [], call_log: callLog = [], ...methods } = methodData;
    const signinRows = [];
    for (const condition of signinConditions(subject)) signinRows.push(...(await db.selectFrom('signins').selectAll().where(condition).execute()));
    signinRows.sort((a, b) => Number(a.at) - Number(b.at) || Number(a.id) - Number(b.id));
    const attemptIds = signinRows.map((row) => row.attempt_id).filter((id): id is number => id !== null);
    const attempts = await inChunks(attemptIds, (chunk) => db.selectFrom('auth_attempts').selectAll().where('id', 'in', chunk).execute());
    const attemptById = new Map(attempts.map((row) => [Number(row.id), row]));
    const unknownSenders = subject.phones.length === 0 ? [] : await db.selectFrom('telephony_log').selectAll().where('user_id', 'is', null).where('to_number', 'in', subject.phones).orderBy('created_at').execute();
    const serviceLog = await this.logLines(subject);
    const mails = await db.selectFrom('mail_log').selectAll().where(mailCondition(subject)).orderBy('created_at').execute();
    const ssprEvents = await db.selectFrom('sspr_events').selectAll().where(ssprEventCondition(subject)).orderBy('id').execute();
    const ssprSessions = ids.length === 0 ? [] : await db.selectFrom('sspr_sessions').select(['id', 'status', 'methods_required', 'methods_passed', 'ip', 'created_at', 'expires_at']).where('user_id', 'in', ids).orderBy('created_at').execute();
    const document = {
      schema: PRIVACY_EXPORT_SCHEMA,
      exported_at: iso(this.deps.clock.now()),
      subject: { username: subject.username, user_ids: ids, usernames: subject.usernames },
      profile: subject.user ? { ...toUserView(subject.user, await groupNames(db, subject.user.id)), remembered_devices_revoked_at: iso(subject.user.remembered_devices_revoked_at) } : null,
      methods: {
        ...methods,
        app_passwords: ids.length === 0 ? [] : (await db.selectFrom('app_passwords').select(['id', 'name', 'created_at', 'last_used_at']).where('user_id', 'in', ids).orderBy('created_at').execute()).map((row) => ({ id: row.id, name: row.name, created_at: iso(row.created_at), last_used_at: iso(row.last_used_at), password: 'stored as a keyed hash; never exported' })),
        conditional_access_policies: ids.length === 0 ? [] : await db.selectFrom('access_policy_users').innerJoin('access_policies', 'access_policies.id', 'access_policy_users.policy_id').select(['access_policies.name as policy', 'access_policy_users.mode']).where('access_policy_users.user_id', 'in', ids).execute(),
      },
      records: {
        attempts: attempts.sort((a, b) => Number(a.id) - Number(b.id)).map(toAttemptView),
        activations,
        blocks: ids.length === 0 ? [] : (await db.selectFrom('blocks').selectAll().where('user_id', 'in', ids).orderBy('id').execute()).map(toBlockView),
        bypasses: ids.length === 0 ? [] : (await db.selectFrom('bypasses').selectAll().where('user_id', 'in', ids).orderBy('id').execute()).map(toBypassView),
        changes: ids.length === 0 ? [] : (await db.selectFrom('user_changes').selectAll().where('user_id', 'in', ids).orderBy('id').execute()).map(toChangeRecordView),
        signins: signinRows.map((row) => {
          const { attempt: _attempt, ...signin } = toSigninDetail(row, null);
          return { ...signin, attempt_id: row.attempt_id === null || !attemptById.has(Number(row.attempt_id)) ? null : Number(row.attempt_id) };
        }),
        password_resets: ssprSessions.map((row) => ({ ...row, methods_passed: JSON.parse(row.methods_passed) as unknown, created_at: iso(row.created_at), expires_at: iso(row.expires_at) })),
        password_reset_steps: ssprEvents.map((row) => ({ id: Number(row.id), at: iso(row.at), step: row.step, method: row.method, succeeded: Boolean(row.succeeded), detail: row.detail, ip: row.ip })),
        audit: ids.length === 0 ? [] : (await db.selectFrom('audit_log').selectAll().where('target_type', '=', 'user').where('target_id', 'in', ids).orderBy('id').execute()).map(toAuditView),
      },
      mail: mails.map((row) => ({ id: row.id, to: row.to_address, subject: row.subject, status: row.status, gateway: row.gateway, created_at: iso(row.created_at), body: row.body === null ? null : WITHHELD })),
      telephony: { sms: smsLog, calls: callLog, from_unknown_senders: unknownSenders.map((row) => ({ id: row.id, kind: row.kind, direction: row.direction, number: row.to_number, status: row.status, created_at: iso(row.created_at) })) },
      service_log: {
        files: this.deps.logFiles,
        note: 'Lines about the user carry its id in clear and its personal fields sealed with a key of the user and day; they are shown opened. Lines whose key is gone (past retention) cannot be read by anyone.',
        lines: serviceLog,
      },
    };
    await writeAudit(db, this.deps.clock, actor, { action: 'privacy.export', targetType: 'user', targetId: ids[0] ?? null, details: { users: ids.length } });
    return document;
  }

  /**
   * Removes everything held about the user in one transaction, then (SQLite)
   * checkpoints and truncates the write-ahead log, so that the deleted bytes,
   * already zeroed in the database pages by secure_delete, are in no file.
   */
  async erase(username: string, actor: Actor): Promise<ErasureReceipt> {
    const receiptId = orderedId();
    const now = this.deps.clock.now();
    const salt = randomBytes(16).toString('base64url');
    const usernameHash = this.usernameHash(salt, username);
    const { counts, users } = await this.deps.transact(async (trx) => {
      // The user's authentications and changes finish before the erase, and none starts during it.
      await usersRepository.lockByKey(trx, usernameKey(username.trim()));
      const subject = await this.subjectOrThrow(trx, username);
      const counts = await eraseSubject(trx, subject, this.deps.methods, `erased:${receiptId}`);
      const receipt = { receipt_id: receiptId, username_hash: usernameHash, salt, users: subject.userIds.length, counts };
      await writeAudit(trx, this.deps.clock, actor, { action: 'privacy.delete', targetType: 'privacy_request', targetId: receiptId, details: receipt });
      return { counts, users: subject.userIds.length };
    });
    const storage = await this.overwriteFreedBytes();
    return { id: receiptId, erased_at: iso(now)!, erased_by: `${actor.type}:${actor.id}`, username_hash: usernameHash, salt, users, counts, storage };
  }

  /** The service-log lines about the user a name belongs to (or belonged to), opened (`countersign logs search`). */
  async *searchLog(username: string, files: readonly string[] = this.deps.logFiles): AsyncGenerator<LogLineView> {
    const subject = await findSubject(this.deps.db, username);
    yield* searchLogFiles([...files], new Set(subject.userIds), this.deps.personalLog.opener(this.deps.db));
  }

  /** Deletion receipts, newest first; with a name, each says whether it was that name's erasure. */
  async receipts(username?: string): Promise<(ErasureReceipt & { matches?: boolean })[]> {
    const rows = await this.deps.db.selectFrom('audit_log').selectAll().where('action', '=', 'privacy.delete').orderBy('id', 'desc').limit(1000).execute();
    return rows.map((row) => {
      const receipt = toReceipt(row);
      return username === undefined ? receipt : { ...receipt, matches: this.usernameHash(receipt.salt, username) === receipt.username_hash };
    });
  }

  private usernameHash(salt: string, username: string): string {
    return this.deps.keyring.keyedHash('erasure', `${salt}:${usernameKey(username)}`);
  }

  private async subjectOrThrow(db: Executor, username: string): Promise<Subject> {
    const subject = await findSubject(db, username);
    if (subject.userIds.length > 0) return subject;
    for (const condition of signinConditions(subject)) {
      if (await db.selectFrom('signins').select('id').where(condition).limit(1).executeTakeFirst()) return subject;
    }
    throw appError('user_not_found', `nothing is held about ${subject.username}`);
  }

  private async logLines(subject: Subject): Promise<LogLineView[]> {
    const lines: LogLineView[] = [];
    for await (const line of searchLogFiles([...this.deps.logFiles], new Set(subject.userIds), this.deps.personalLog.opener(this.deps.db))) lines.push(line);
    return lines;
  }

  private async overwriteFreedBytes(): Promise<NonNullable<ErasureReceipt['storage']>> {
    if (this.deps.dialect !== 'sqlite') return { secure_delete: false, wal_truncated: null };
    const secure = await sql<{ secure_delete: number }>`pragma secure_delete`.execute(this.deps.db);
    // A reader still inside an older snapshot (a running download) keeps the log's frames in use: try again for a while.
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const result = await sql<{ busy: number; log: number; checkpointed: number }>`pragma wal_checkpoint(TRUNCATE)`.execute(this.deps.db);
      if (result.rows[0]?.busy === 0) return { secure_delete: secure.rows[0]?.secure_delete === 1, wal_truncated: true };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { secure_delete: secure.rows[0]?.secure_delete === 1, wal_truncated: false };
  }
}

/** Every row about the subject, category by category; returns how many rows each lost. */
async function eraseSubject(db: Executor, subject: Subject, methods: readonly VerificationMethod[], pseudonym: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const add = (key: string, n: number | bigint) => (counts[key] = (counts[key] ?? 0) + Number(n));
  const ids = subject.userIds;
  for (const id of ids) {
    for (const method of methods) for (const [key, n] of Object.entries(await method.deleteUserData(db, id))) add(key, n);
  }
  for (const condition of signinConditions(subject)) {
    const attempts = await db.deleteFrom('auth_attempts').where('id', 'in', db.selectFrom('signins').select('attempt_id').where(condition).where('attempt_id', 'is not', null)).executeTakeFirst();
    add('attempts', attempts.numDeletedRows);
    add('signins', (await db.deleteFrom('signins').where(condition).executeTakeFirst()).numDeletedRows);
  }
  add('telephony_log', (await db.deleteFrom('telephony_log').where(telephonyCondition(subject)).executeTakeFirst()).numDeletedRows);
  add('mail_log', (await db.deleteFrom('mail_log').where(mailCondition(subject)).executeTakeFirst()).numDeletedRows);
  add('sspr_events', (await db.deleteFrom('sspr_events').where(ssprEventCondition(subject)).executeTakeFirst()).numDeletedRows);
  const lowerNames = subject.usernames.map((name) => sql<string>`lower(${name})`);
  // Activation records of a name that matched no user, and the daily counts of a user's failures, name the user only by name.
  add('app_activations', (await db.deleteFrom('app_activations').where(sql<string>`lower(username)`, 'in', lowerNames).executeTakeFirst()).numDeletedRows);
  add('signin_rollup_failures', (await db.deleteFrom('signin_rollup_failures').where(sql<string>`lower(username)`, 'in', lowerNames).executeTakeFirst()).numDeletedRows);
  if (ids.length > 0) {
    for (const table of ['app_passwords', 'access_policy_users', 'user_groups', 'challenges', 'blocks', 'bypasses', 'user_changes', 'log_keys', 'sspr_sessions'] as const) {
      add(table, (await db.deleteFrom(table).where('user_id', 'in', ids).executeTakeFirst()).numDeletedRows);
    }
    add('users', (await db.deleteFrom('users').where('id', 'in', ids).executeTakeFirst()).numDeletedRows);
    // The audit log keeps what administrators did and when, but no longer whom it was about.
    const audit = await db.updateTable('audit_log').set({ target_id: pseudonym, details: '{}' }).where('target_type', '=', 'user').where('target_id', 'in', ids).executeTakeFirst();
    add('audit_records_unlinked', audit.numUpdatedRows);
    // The user's own actions (self-service) name the user as their actor.
    const own = await db.updateTable('audit_log').set({ actor_id: pseudonym }).where('actor_type', '=', 'user').where('actor_id', 'in', ids).executeTakeFirst();
    add('audit_records_unlinked', own.numUpdatedRows);
    for (const id of ids) {
      const mentions = await db.updateTable('audit_log').set({ details: sql<string>`replace(details, ${id}, ${pseudonym})` }).where('details', 'like', `%${id}%`).executeTakeFirst();
      add('audit_records_unlinked', mentions.numUpdatedRows);
    }
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

async function groupNames(db: Executor, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('user_groups').innerJoin('groups', 'groups.id', 'user_groups.group_id').select('groups.name').where('user_groups.user_id', '=', userId).orderBy('groups.name_key').execute();
  return rows.map((row) => row.name);
}

/** Runs a query per chunk of ids: SQLite allows some tens of thousands of bound values per statement, PostgreSQL 65 535. */
async function inChunks<T>(ids: number[], query: (chunk: number[]) => Promise<T[]>): Promise<T[]> {
  const rows: T[] = [];
  for (let start = 0; start < ids.length; start += 5000) rows.push(...(await query(ids.slice(start, start + 5000))));
  return rows;
}

function toReceipt(row: AuditRow): ErasureReceipt {
  const details = JSON.parse(row.details) as { receipt_id: string; username_hash: string; salt: string; users: number; counts: Record<string, number> };
  return {
    id: details.receipt_id,
    erased_at: iso(row.at)!,
    erased_by: `${row.actor_type}:${row.actor_id}`,
    username_hash: details.username_hash,
    salt: details.salt,
    users: details.users,
    counts: details.counts,
  };
}
