import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock.js';
import type { Db } from '../../storage/database.js';

/**
 * A running server's heartbeat (SPEC.md §4 server status): the node's row in
 * `server_nodes`, written at start, every `cluster.heartbeatSeconds` (kept in
 * the row, so other nodes judge it by its own interval), and marked stopped
 * at a clean shutdown. Each beat also forgets nodes silent for longer than
 * `cluster.nodeRetentionHours`.
 */
export class Heartbeat {
  readonly nodeId = randomUUID();
  private readonly startedAt: number;

  constructor(private readonly deps: { db: Db; clock: Clock; log: Logger; version: string; host?: string; seconds: number; retentionHours: number }) {
    this.startedAt = deps.clock.now();
  }

  /** Writes one heartbeat: the database answered, so it is reachable from this node. */
  async beat(): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.db.deleteFrom('server_nodes').where('last_seen_at', '<', now - this.deps.retentionHours * 3_600_000).execute();
    const updated = await this.deps.db.updateTable('server_nodes').set({ last_seen_at: now, database_reachable: 1 }).where('id', '=', this.nodeId).executeTakeFirst();
    if (Number(updated.numUpdatedRows) > 0) return;
    await this.deps.db
      .insertInto('server_nodes')
      .values({
        id: this.nodeId,
        host: this.deps.host ?? hostname(),
        version: this.deps.version,
        started_at: this.startedAt,
        last_seen_at: now,
        database_reachable: 1,
        stopped_at: null,
        heartbeat_seconds: this.deps.seconds,
      })
      .execute();
  }

  /** Beats now and then every `cluster.heartbeatSeconds`; returns a function that stops and records a clean stop. */
  async start(): Promise<() => Promise<void>> {
    await this.beat();
    const timer = setInterval(() => {
      this.beat().catch((error: unknown) => this.deps.log.warn({ err: error, event: 'heartbeat.failed' }, 'heartbeat not written'));
    }, this.deps.seconds * 1000);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await this.deps.db.updateTable('server_nodes').set({ stopped_at: this.deps.clock.now() }).where('id', '=', this.nodeId).execute();
    };
  }
}
