import { sql } from 'kysely';
import { isPostgres, type Executor } from '../database.js';
import { SIGNIN_EXPORT_COLUMNS } from '../signin-export-columns.js';
import { filtered, type ResolvedSigninFilters } from './signin-log.js';

/**
 * What a CSV batch selects, in the order the formatter reads it: the cells
 * that need CSV quoting one by one, and the runs of cells the server itself
 * writes from fixed sets (entry point, status, MFA required; method, result
 * code, detail, push fatigue, client type), joined with commas by the
 * database (null as an empty cell). Those never hold a comma, quote, line
 * break or formula start; one string per run instead of one per cell is most
 * of what reading a row costs.
 */
const CSV_SELECTION = [
  'id',
  'at',
  'username',
  'application',
  'ip',
  'auth_type',
  sql<string>`entry_point || ',' || status || ',' || (case when mfa_required then 'true' else 'false' end)`.as('words1'),
  'policy',
  sql<string>`coalesce(method, '') || ',' || coalesce(result_code, '') || ',' || coalesce(detail, '') || ',' || coalesce(push_fatigue, '') || ',' || coalesce(client_type, '')`.as('words2'),
  'device_id',
] as const;

/** One query's worth of a download: the rows the filters select within [from, to) after `after` (time, id). */
export interface ExportBatch {
  filters: ResolvedSigninFilters;
  from: number;
  to: number;
  after: [number, number] | null;
  format: 'csv' | 'jsonl';
}

/**
 * Rows per query. On SQLite a query costs little and larger batches cost more
 * in garbage collection than they save; on PostgreSQL each query is a round
 * trip to the server, and larger batches pay.
 */
const batchRows = (db: Executor): number => (isPostgres(db) ? 4000 : 1000);

export const signinExportRepository = {
  /** The times of the first and last sign-in, each one step into the time index (min and max in one query would scan it whole on SQLite); null when there is none. */
  async span(db: Executor): Promise<{ first: number; last: number } | null> {
    const edge = (order: 'asc' | 'desc') => db.selectFrom('signins').select('at').orderBy('at', order).limit(1).executeTakeFirst();
    const [first, last] = [await edge('asc'), await edge('desc')];
    return first && last ? { first: Number(first.at), last: Number(last.at) } : null;
  },

  /** How many rows a batch holds at most: a batch that holds fewer ends its slice. */
  batchRows,

  /**
   * The SQL of one batch, for the bulk reader: oldest first, from one lower
   * bound on time (the slice's start, or the last row read), so the index
   * range starts where the batch does. On SQLite a slice is read through the
   * time index even when an IP range is given (a slice is short; the range
   * may be long).
   */
  batchQuery(db: Executor, job: ExportBatch): { sql: string; parameters: readonly unknown[] } {
    const from = Math.max(job.from, job.filters.from ?? job.from, job.after ? job.after[0] : -Infinity);
    const to = Math.min(job.to, job.filters.to ?? job.to);
    let query = filtered(db, { ...job.filters, from, to }, { scanIpRange: !isPostgres(db) });
    if (job.after) {
      const [at, id] = job.after;
      query = query.where((eb) => eb.or([eb('at', '>', at), eb('id', '>', id)]));
    }
    const batch = query.orderBy('at').orderBy('id').limit(batchRows(db));
    const compiled = job.format === 'csv' ? batch.select(CSV_SELECTION).compile() : batch.select([...SIGNIN_EXPORT_COLUMNS]).compile();
    return { sql: compiled.sql, parameters: compiled.parameters };
  },
};
