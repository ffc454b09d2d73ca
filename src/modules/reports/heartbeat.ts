import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock.js';
import type { Db } from '../../storage/database.js';
import { serverNodesRepository } from '../../storage/repositories/server-nodes.js';

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
    await serverNodesRepository.deleteSilentSince(this.deps.db, now - this.deps.retentionHours * 3_600_000);
    if (await serverNodesRepository.beat(this.deps.db, this.nodeId, now)) return;
    await serverNodesRepository.insert(this.deps.db, {
      id: this.nodeId,
      host: this.deps.host ?? hostname(),
      version: this.deps.version,
      started_at: this.startedAt,
      last_seen_at: now,
      database_reachable: 1,
      stopped_at: null,
      heartbeat_seconds: this.deps.seconds,
    });
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
      await serverNodesRepository.markStopped(this.deps.db, this.nodeId, this.deps.clock.now());
    };
  }
}
