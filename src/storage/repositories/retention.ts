import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import type { Executor } from '../database.js';
import type { Database } from '../schema.js';

/** The retention categories whose rows live in a table of their own (retention.* in the configuration). */
export type RetentionCategory = 'attempts' | 'signins' | 'activations' | 'blocks' | 'bypasses' | 'changes' | 'telephony' | 'mail' | 'selfService' | 'challenges' | 'audit';

/** One purge of one table: which rows are past their time, found through a time index. */
interface Purge<Table extends keyof Database> {
  category: RetentionCategory;
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
 * What the retention purge deletes, table by table, in this order (SPEC.md
 * §5; docs/privacy.md). Open blocks are kept whatever their age: an
 * administrator's block lasts until it is lifted.
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

/** A table the purge walks, and the category whose retention applies to it. */
export interface RetainedTable {
  category: RetentionCategory;
  table: keyof Database;
}

/** The tables the purge walks, in the order it walks them. */
export const RETAINED_TABLES: readonly RetainedTable[] = PURGES.map(({ category, table }) => ({ category, table }));

export const retentionRepository = {
  /**
   * Deletes at most `limit` rows of `table` that are past `cutoff`, oldest
   * first through the table's time index; returns how many it deleted.
   */
  async purgeBatch(db: Executor, table: keyof Database, cutoff: number, limit: number): Promise<number> {
    const spec = PURGES.find((candidate) => candidate.table === table);
    if (!spec) throw new Error(`retention: ${table} is not a table the purge walks`);
    const keys = db
      .selectFrom(spec.table)
      .select(spec.key as never)
      .where((eb) => spec.past(eb, cutoff))
      .orderBy(spec.time as never)
      .limit(limit);
    const result = await db.deleteFrom(spec.table).where(spec.key as never, 'in', keys).executeTakeFirst();
    return Number(result.numDeletedRows);
  },
};
