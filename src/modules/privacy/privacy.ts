import { randomBytes } from 'node:crypto';
import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import { appError } from '../../shared/errors.js';
import { orderedId } from '../../shared/ids.js';
import type { Keyring } from '../../shared/keyring.js';
import type { Db, Executor, UnitOfWork } from '../../storage/database.js';
import type { AuditRow } from '../../storage/schema.js';
import { groupsRepository } from '../../storage/repositories/groups.js';
import { privacyRepository, type FreedBytes } from '../../storage/repositories/privacy-requests.js';
import { auditRepository } from '../../storage/repositories/records.js';
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
import { findSubject, type Subject } from './subject.js';

/** The version of the export document; docs/privacy.md describes each version. */
export const PRIVACY_EXPORT_SCHEMA = 'urn:countersign:privacy-export:1';

export interface PrivacyDeps {
  db: Db;
  /** Runs a unit of work (Storage.transact): every write goes through one. */
  transact: UnitOfWork;
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
  storage?: FreedBytes;
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
    const signinRows = await privacyRepository.signins(db, subject);
    const attemptIds = signinRows.map((row) => row.attempt_id).filter((id): id is number => id !== null);
    const attempts = await privacyRepository.attempts(db, attemptIds);
    const attemptById = new Map(attempts.map((row) => [Number(row.id), row]));
    const unknownSenders = await privacyRepository.fromUnknownSenders(db, subject.phones);
    const serviceLog = await this.logLines(subject);
    const mails = await privacyRepository.mails(db, subject);
    const ssprEvents = await privacyRepository.passwordResetSteps(db, subject);
    const ssprSessions = await privacyRepository.passwordResets(db, ids);
    const document = {
      schema: PRIVACY_EXPORT_SCHEMA,
      exported_at: iso(this.deps.clock.now()),
      subject: { username: subject.username, user_ids: ids, usernames: subject.usernames },
      profile: subject.user ? { ...toUserView(subject.user, await groupsRepository.namesOfUser(db, subject.user.id)), remembered_devices_revoked_at: iso(subject.user.remembered_devices_revoked_at) } : null,
      methods: {
        ...methods,
        app_passwords: (await privacyRepository.appPasswords(db, ids)).map((row) => ({ id: row.id, name: row.name, created_at: iso(row.created_at), last_used_at: iso(row.last_used_at), password: 'stored as a keyed hash; never exported' })),
        conditional_access_policies: await privacyRepository.accessPolicies(db, ids),
      },
      records: {
        attempts: attempts.sort((a, b) => Number(a.id) - Number(b.id)).map(toAttemptView),
        activations,
        blocks: (await privacyRepository.blocks(db, ids)).map(toBlockView),
        bypasses: (await privacyRepository.bypasses(db, ids)).map(toBypassView),
        changes: (await privacyRepository.changes(db, ids)).map(toChangeRecordView),
        signins: signinRows.map((row) => {
          const { attempt: _attempt, ...signin } = toSigninDetail(row, null);
          return { ...signin, attempt_id: row.attempt_id === null || !attemptById.has(Number(row.attempt_id)) ? null : Number(row.attempt_id) };
        }),
        password_resets: ssprSessions.map((row) => ({ ...row, methods_passed: JSON.parse(row.methods_passed) as unknown, created_at: iso(row.created_at), expires_at: iso(row.expires_at) })),
        password_reset_steps: ssprEvents.map((row) => ({ id: Number(row.id), at: iso(row.at), step: row.step, method: row.method, succeeded: Boolean(row.succeeded), detail: row.detail, ip: row.ip })),
        audit: (await privacyRepository.audit(db, ids)).map(toAuditView),
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
    const storage = await privacyRepository.overwriteFreedBytes(this.deps.db);
    return { id: receiptId, erased_at: iso(now)!, erased_by: `${actor.type}:${actor.id}`, username_hash: usernameHash, salt, users, counts, storage };
  }

  /** The service-log lines about the user a name belongs to (or belonged to), opened (`countersign logs search`). */
  async *searchLog(username: string, files: readonly string[] = this.deps.logFiles): AsyncGenerator<LogLineView> {
    const subject = await findSubject(this.deps.db, username);
    yield* searchLogFiles([...files], new Set(subject.userIds), this.deps.personalLog.opener(this.deps.db));
  }

  /** Deletion receipts, newest first; with a name, each says whether it was that name's erasure. */
  async receipts(username?: string): Promise<(ErasureReceipt & { matches?: boolean })[]> {
    const rows = await auditRepository.list(this.deps.db, { action: 'privacy.delete', limit: 1000 });
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
    if (subject.userIds.length > 0 || (await privacyRepository.hasSignins(db, subject))) return subject;
    throw appError('user_not_found', `nothing is held about ${subject.username}`);
  }

  private async logLines(subject: Subject): Promise<LogLineView[]> {
    const lines: LogLineView[] = [];
    for await (const line of searchLogFiles([...this.deps.logFiles], new Set(subject.userIds), this.deps.personalLog.opener(this.deps.db))) lines.push(line);
    return lines;
  }
}

/** Every row about the subject: the methods' data, then the records; returns how many rows each category lost. */
async function eraseSubject(db: Executor, subject: Subject, methods: readonly VerificationMethod[], pseudonym: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const add = (key: string, n: number | bigint) => (counts[key] = (counts[key] ?? 0) + Number(n));
  for (const id of subject.userIds) {
    for (const method of methods) for (const [key, n] of Object.entries(await method.deleteUserData(db, id))) add(key, n);
  }
  for (const [key, n] of Object.entries(await privacyRepository.erase(db, subject, pseudonym))) add(key, n);
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
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
