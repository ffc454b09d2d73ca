import type { Config } from '../../config/schema.js';
import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import type { Db, UnitOfWork } from '../../storage/database.js';
import { logKeysRepository } from '../../storage/repositories/log-keys.js';
import { RETAINED_TABLES, retentionRepository } from '../../storage/repositories/retention.js';
import { signinRollupsRepository } from '../../storage/repositories/rollups.js';
import { writeAudit } from '../audit/audit.js';
import { DAY_MS } from './personal-log.js';

type RetentionConfig = Config['retention'];
type Category = keyof Omit<RetentionConfig, 'batchSize' | 'intervalMinutes'>;

export interface RetentionReport {
  started_at: string;
  finished_at: string;
  /** The moment before which each category was purged. */
  cutoffs: Record<Category, string>;
  /** Rows deleted per table (log_keys: keys destroyed). */
  deleted: Record<string, number>;
  batches: number;
}

export interface RetentionDeps {
  db: Db;
  /** Runs a unit of work (Storage.transact): every write goes through one. */
  transact: UnitOfWork;
  clock: Clock;
  config: RetentionConfig;
}

/**
 * The retention purge (SPEC.md §5). Each batch deletes at most `batchSize`
 * rows, oldest first through the table's time index, in a transaction of its
 * own (not a unit of the authentications' group commit, whose callers would
 * wait for it), and after each batch the purge pauses as long as the batch
 * took: on SQLite, with one writer, an authentication waits for at most one
 * batch and the purge takes at most half the writer's time
 * (bench/retention.ts measures it).
 */
export class Retention {
  private running: Promise<RetentionReport> | null = null;
  private stopping = false;

  constructor(private readonly deps: RetentionDeps) {}

  /** Purges everything past its retention; a second call while one runs shares the first. */
  run(actor: Actor): Promise<RetentionReport> {
    this.running ??= this.purge(actor).finally(() => (this.running = null));
    return this.running;
  }

  /**
   * Purges now and then every `intervalMs`; `onDone` hears each report.
   * Returns a function that stops it: a running purge ends after its
   * current batch (the rest waits for the next run), and the function
   * resolves once it has.
   */
  start(intervalMs: number, actor: Actor, onDone: (report: RetentionReport) => void, onError: (error: unknown) => void): () => Promise<void> {
    const tick = () => void this.run(actor).then(onDone, onError);
    const timer = setInterval(tick, intervalMs);
    timer.unref();
    tick();
    return async () => {
      clearInterval(timer);
      this.stopping = true;
      await this.running?.catch(() => undefined);
    };
  }

  private async purge(actor: Actor): Promise<RetentionReport> {
    const { config, clock } = this.deps;
    const started = clock.now();
    const cutoff = (category: Category) => started - config[category] * DAY_MS;
    const deleted: Record<string, number> = {};
    let batches = 0;
    for (const { category, table } of RETAINED_TABLES) {
      if (this.stopping) break;
      const before = cutoff(category);
      let total = 0;
      for (;;) {
        const begun = performance.now();
        const n = await this.deps.transact((trx) => retentionRepository.purgeBatch(trx, table, before, config.batchSize));
        batches += 1;
        total += n;
        if (n < config.batchSize || this.stopping) break;
        // The authentications that queued meanwhile go first, for as long as the batch held them.
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, performance.now() - begun)));
      }
      deleted[table] = total;
    }
    // Daily counts of users' repeated failures name users: they go with the sign-ins.
    const signinDay = Math.floor(cutoff('signins') / DAY_MS);
    deleted.signin_rollup_failures = await this.deps.transact((trx) => signinRollupsRepository.deleteFailuresBefore(trx, signinDay));
    // Service-log keys of past days: their lines become unreadable in every copy of the log.
    const logDay = Math.floor(cutoff('serviceLog') / DAY_MS);
    deleted.log_keys = await this.deps.transact((trx) => logKeysRepository.deleteBefore(trx, logDay));
    batches += 2;
    const report: RetentionReport = {
      started_at: new Date(started).toISOString(),
      finished_at: new Date(clock.now()).toISOString(),
      cutoffs: Object.fromEntries(
        (['attempts', 'signins', 'activations', 'blocks', 'bypasses', 'changes', 'telephony', 'mail', 'selfService', 'challenges', 'serviceLog', 'audit'] as const).map((category) => [category, new Date(cutoff(category)).toISOString()]),
      ) as Record<Category, string>,
      deleted,
      batches,
    };
    if (Object.values(deleted).some((n) => n > 0)) {
      await writeAudit(this.deps.db, clock, actor, { action: 'retention.purge', targetType: 'retention', targetId: null, details: { deleted, cutoffs: report.cutoffs } });
    }
    return report;
  }
}

