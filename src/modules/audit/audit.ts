import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import { decodeCursor, encodeCursor } from '../../shared/cursor.js';
import type { Executor } from '../../storage/database.js';
import { auditRepository } from '../../storage/repositories/records.js';
import type { AuditRow } from '../../storage/schema.js';

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string | null;
  details?: Record<string, unknown>;
}

/**
 * Writes an audit record. Call it with the transaction that makes the change
 * so the record and the change land together or not at all. Records name
 * users by id, never by username, so personal data stays in one place.
 */
export async function writeAudit(db: Executor, clock: Clock, actor: Actor, entry: AuditEntry): Promise<void> {
  await auditRepository.insert(db, {
    at: clock.now(),
    actor_type: actor.type,
    actor_id: actor.id,
    actor_role: actor.role,
    entry_point: actor.entryPoint,
    request_id: actor.requestId,
    action: entry.action,
    target_type: entry.targetType,
    target_id: entry.targetId,
    details: JSON.stringify(entry.details ?? {}),
  });
}

export interface AuditView {
  id: number;
  at: string;
  actor: { type: string; id: string; role: string | null };
  entry_point: string;
  request_id: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  details: Record<string, unknown>;
}

export const toAuditView = (row: AuditRow): AuditView => ({
  id: Number(row.id),
  at: new Date(row.at).toISOString(),
  actor: { type: row.actor_type, id: row.actor_id, role: row.actor_role },
  entry_point: row.entry_point,
  request_id: row.request_id,
  action: row.action,
  target_type: row.target_type,
  target_id: row.target_id,
  details: JSON.parse(row.details) as Record<string, unknown>,
});

export interface AuditListOptions {
  cursor?: string;
  limit?: number;
  action?: string;
  targetId?: string;
}

/** The audit log, newest first, in pages. */
export async function listAudit(db: Executor, options: AuditListOptions): Promise<{ items: AuditView[]; next_cursor: string | null }> {
  const limit = options.limit ?? 100;
  const rows = await auditRepository.list(db, {
    afterId: options.cursor === undefined ? undefined : decodeCursor<number>(options.cursor, 'number'),
    action: options.action,
    targetId: options.targetId,
    limit: limit + 1,
  });
  const page = rows.slice(0, limit);
  return { items: page.map(toAuditView), next_cursor: rows.length > limit ? encodeCursor(Number(page[page.length - 1]!.id)) : null };
}
