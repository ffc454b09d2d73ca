import { sql } from 'kysely';
import type { BulkReader } from '../../storage/bulk.js';
import { positionOf, SIGNIN_EXPORT_COLUMNS, SIGNIN_FORMATTER, type ExportFormat } from './signin-export-format.js';
import { filtered, type ResolvedFilters } from './signin-log.js';

export { SIGNIN_EXPORT_COLUMNS, type ExportFormat };

/**
 * Rows per query. On SQLite a query costs little and larger batches cost more
 * in garbage collection than they save; on PostgreSQL each query is a round
 * trip to the server, and larger batches pay.
 */
const BATCH = { sqlite: 1000, postgres: 4000 } as const;

/** One query's worth of a time slice: the rows the filters select within [from, to) after `after` (time, id). */
interface SliceJob {
  filters: ResolvedFilters;
  batch: number;
  /** SQLite: read a slice through the time index even when an IP range is given (a slice is short; the IP range may be long). */
  scanIpRange: boolean;
  from: number;
  to: number;
  after: [number, number] | null;
  format: ExportFormat;
}

/** A batch read: its lines (text read here, UTF-8 bytes from a worker thread), and where the slice goes on, or null at its end. */
interface SliceBatch {
  text: string | Uint8Array;
  next: [number, number] | null;
}

/**
 * What a CSV batch selects, in the order formatRow reads it: the cells that
 * need CSV quoting one by one, and the runs of cells the server itself writes
 * from fixed sets (entry point, status, MFA required; method, result code,
 * detail, push fatigue, client type), joined with commas by the database (null
 * as an empty cell). Those never hold a comma, quote, line break or formula
 * start; one string per run instead of one per cell is most of what reading a
 * row costs.
 */
const CSV_COLUMNS = [
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

/** The query of one batch: oldest first, from one lower bound on time (the slice's start, or the last row read), so the index range starts where the batch does. */
function sliceQuery(reader: BulkReader, job: SliceJob): { sql: string; parameters: readonly unknown[] } {
  const from = Math.max(job.from, job.filters.from ?? job.from, job.after ? job.after[0] : -Infinity);
  const to = Math.min(job.to, job.filters.to ?? job.to);
  let query = filtered(reader.db, { ...job.filters, from, to }, { scanIpRange: job.scanIpRange });
  if (job.after) {
    const [at, id] = job.after;
    query = query.where((eb) => eb.or([eb('at', '>', at), eb('id', '>', id)]));
  }
  const batch = query.orderBy('at').orderBy('id').limit(job.batch);
  const compiled = job.format === 'csv' ? batch.select(CSV_COLUMNS).compile() : batch.select([...SIGNIN_EXPORT_COLUMNS]).compile();
  return { sql: compiled.sql, parameters: compiled.parameters };
}

/** Slices a period so that each holds a few thousand sign-ins of a 90-day log of millions: about 500 slices, none shorter than a minute. */
function slicesOf(from: number, to: number): [number, number][] {
  const width = Math.max(60_000, Math.ceil((to - from) / 500));
  const slices: [number, number][] = [];
  for (let start = from; start < to; start += width) slices.push([start, Math.min(to, start + width)]);
  return slices;
}

/**
 * The sign-in download (SPEC.md §3 log, §4 downloads): the rows the filters
 * select, oldest first, as CSV or JSON Lines. The period is cut into time
 * slices that the bulk reader reads and formats, several at a time (in worker
 * threads: storage/bulk.ts); the slices are written in order, and only a few
 * are held at a time, so memory stays flat whatever the size.
 */
export class SigninExporter {
  constructor(private readonly deps: { reader: BulkReader }) {}

  async *lines(filters: ResolvedFilters, format: ExportFormat): AsyncIterable<string | Uint8Array> {
    const { reader } = this.deps;
    // The first and last sign-in, each one step into the time index (min and max in one query would scan it whole on SQLite).
    const edge = (order: 'asc' | 'desc') => reader.db.selectFrom('signins').select('at').orderBy('at', order).limit(1).executeTakeFirst();
    const [first, last] = [await edge('asc'), await edge('desc')];
    if (!first || !last) return;
    const from = Math.max(filters.from ?? -Infinity, Number(first.at));
    const to = Math.min(filters.to ?? Infinity, Number(last.at) + 1);
    if (from >= to) return;
    const batch = BATCH[reader.dialect];
    const read = async (job: SliceJob): Promise<SliceBatch> => {
      const { text, count, last: lastRow } = await reader.formatted(sliceQuery(reader, job), SIGNIN_FORMATTER, job.format);
      return { text, next: count === batch && lastRow ? positionOf(lastRow) : null };
    };
    const scanIpRange = reader.dialect === 'sqlite';
    yield* ordered(slicesOf(from, to), (slice, after) => read({ filters, batch, scanIpRange, from: slice[0], to: slice[1], after, format }), reader.readAhead);
  }
}

/**
 * Reads slices with up to `ahead` of them in flight, and yields their text
 * in slice order. A slice of more than one batch is read batch after batch;
 * at most two batches of a slice wait to be written.
 */
async function* ordered(slices: [number, number][], read: (slice: [number, number], after: [number, number] | null) => Promise<SliceBatch>, ahead: number): AsyncIterable<string | Uint8Array> {
  interface State {
    texts: (string | Uint8Array)[];
    after: [number, number] | null;
    done: boolean;
    running: boolean;
    error: unknown;
  }
  const states: State[] = slices.map(() => ({ texts: [], after: null, done: false, running: false, error: null }));
  let wake: (() => void) | null = null;
  const notify = () => {
    const resume = wake;
    wake = null;
    resume?.();
  };
  let current = 0;
  const pump = () => {
    for (let index = current; index < Math.min(slices.length, current + ahead); index += 1) {
      const state = states[index]!;
      if (state.done || state.running || state.texts.length >= 2) continue;
      state.running = true;
      read(slices[index]!, state.after).then(
        (batch) => {
          state.running = false;
          if (batch.text.length > 0) state.texts.push(batch.text);
          state.after = batch.next;
          state.done = batch.next === null;
          pump();
          notify();
        },
        (error: unknown) => {
          state.running = false;
          state.error = error ?? new Error('export failed');
          notify();
        },
      );
    }
  };
  pump();
  while (current < slices.length) {
    const state = states[current]!;
    if (state.error) throw state.error;
    const text = state.texts.shift();
    if (text !== undefined) {
      pump();
      yield text;
    } else if (state.done) {
      current += 1;
      pump();
    } else {
      await new Promise<void>((resolve) => (wake = resolve));
    }
  }
}
