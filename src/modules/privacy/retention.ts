import { type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Config } from '../../config/schema.js';
import type { Actor } from '../../shared/actor.js';
import type { Clock } from '../../shared/clock.js';
import type { Db, UnitOfWork } from '../../storage/database.js';
import type { Database } from '../../storage/schema.js';
import { writeAudit } from '../audit/audit.js';
import { DAY_MS } from './personal-log.js';

type RetentionConfig = Config['retention'];
type Category = keyof Omit<RetentionConfig, 'batchSize' | 'intervalMinutes'>;

/** One purge of one table: which rows are past their time, found through a time index. */
interface Purge<Table extends keyof Database> {
  category: Category;
  table: Table;
  /** The key a batch deletes by. */
  key: keyof Database[Table] & string;
  /** The indexed time column the batch walks, oldest first. */
  time: keyof Database[Table] & string;
  /** Rows that are past `cutoff`: usually the time alone; blocks and bypasses only once they ended. */
  past(eb: ExpressionBuilder<Database, Table>, cutoff: number): Expression<SqlBool>;
}

const purge = <Table extends keyof Database>(spec: Purge<Table>) => spec as unknown as Purge<keyof Database>;

/**
 * What the retention purge deletes, category by category (SPEC.md §5: 90 days
 * unless configured; docs/privacy.md). Open blocks are kept whatever their
 * age: an administrator's block lasts until it is lifted.
 */
const PURGES = [
  purge({ category: 'attempts', table: 'auth_attempts', key: 'id', time: 'at', past: (eb, cutoff) => eb('at', '<', cutoff) }),
  purge({ category: 'signins', table: 'signins', key: 'id', time: 'at', past: (eb, cutoff) => eb('at', '<', cutoff) }),
  purge({ category: 'activations', table: 'app_activations', key: 'id', time: 'at', past: (eb, cutoff) => eb('at', '<', cutoff) }),
  purge({
    category: 'blocks',
    table: 'blocks',
    key: 'id',
    time: 'blocked_at',
    past: (eb, cutoff) => eb.and([eb('blocked_at', '<', cutoff), eb('completed_at', 'is not', null), eb('completed_at', '<', cutoff)]),
  }),
  purge({
    category: 'bypasses',
    table: 'bypasses',
    key: 'id',
    time: 'bypassed_at',
    past: (eb, cutoff) => eb.and([eb('bypassed_at', '<', cutoff), eb.or([eb('completed_at', '<', cutoff), eb.and([eb('completed_at', 'is', null), eb('expires_at', '<', cutoff)])])]),
  }),
  purge({ category: 'changes', table: 'user_changes', key: 'id', time: 'changed_at', past: (eb, cutoff) => eb('changed_at', '<', cutoff) }),
  purge({ category: 'telephony', table: 'telephony_log', key: 'id', time: 'created_at', past: (eb, cutoff) => eb('created_at', '<', cutoff) }),
  purge({ category: 'mail', table: 'mail_log', key: 'id', time: 'created_at', past: (eb, cutoff) => eb('created_at', '<', cutoff) }),
  purge({ category: 'selfService', table: 'sspr_events', key: 'id', time: 'at', past: (eb, cutoff) => eb('at', '<', cutoff) }),
  purge({ category: 'selfService', table: 'sspr_sessions', key: 'id', time: 'created_at', past: (eb, cutoff) => eb('created_at', '<', cutoff) }),
  // A challenge lasts minutes; one this old has ended or will only ever time out.
  purge({ category: 'challenges', table: 'challenges', key: 'id', time: 'created_at', past: (eb, cutoff) => eb('created_at', '<', cutoff) }),
  purge({ category: 'audit', table: 'audit_log', key: 'id', time: 'at', past: (eb, cutoff) => eb('at', '<', cutoff) }),
];

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
    for (const spec of PURGES) {
      if (this.stopping) break;
      const before = cutoff(spec.category);
      let total = 0;
      for (;;) {
        const begun = performance.now();
        const n = await this.deps.transact(async (trx) => {
          const keys = trx
            .selectFrom(spec.table)
            .select(spec.key as never)
            .where((eb) => spec.past(eb, before))
            .orderBy(spec.time as never)
            .limit(config.batchSize);
          const result = await trx.deleteFrom(spec.table).where(spec.key as never, 'in', keys).executeTakeFirst();
          return Number(result.numDeletedRows);
        });
        batches += 1;
        total += n;
        if (n < config.batchSize || this.stopping) break;
        // The authentications that queued meanwhile go first, for as long as the batch held them.
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, performance.now() - begun)));
      }
      deleted[spec.table] = total;
    }
    // Daily counts of users' repeated failures name users: they go with the sign-ins.
    const signinDay = Math.floor(cutoff('signins') / DAY_MS);
    deleted.signin_rollup_failures = await this.deps.transact(async (trx) => Number((await trx.deleteFrom('signin_rollup_failures').where('day', '<', signinDay).executeTakeFirst()).numDeletedRows));
    // Service-log keys of past days: their lines become unreadable in every copy of the log.
    const logDay = Math.floor(cutoff('serviceLog') / DAY_MS);
    deleted.log_keys = await this.deps.transact(async (trx) => Number((await trx.deleteFrom('log_keys').where('day', '<', logDay).executeTakeFirst()).numDeletedRows));
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

