import { availableParallelism } from 'node:os';
import { sql } from 'kysely';
import { Worker } from 'node:worker_threads';
import type { BulkReader } from '../../storage/database.js';
import { isPostgresUrl, type StoreLocation } from '../../storage/raw-reader.js';
import { formatRows, SIGNIN_EXPORT_COLUMNS, type ExportFormat } from './signin-export-format.js';
import type { WorkerJob } from './signin-export-worker.js';
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

/** A batch read: its lines (text read here, UTF-8 bytes from a worker), and where the slice goes on, or null at its end. */
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
function sliceQuery(reader: BulkReader, job: SliceJob): WorkerJob {
  const from = Math.max(job.from, job.filters.from ?? job.from, job.after ? job.after[0] : -Infinity);
  const to = Math.min(job.to, job.filters.to ?? job.to);
  let query = filtered(reader.db, { ...job.filters, from, to }, { scanIpRange: job.scanIpRange });
  if (job.after) {
    const [at, id] = job.after;
    query = query.where((eb) => eb.or([eb('at', '>', at), eb('id', '>', id)]));
  }
  const batch = query.orderBy('at').orderBy('id').limit(job.batch);
  const compiled = job.format === 'csv' ? batch.select(CSV_COLUMNS).compile() : batch.select([...SIGNIN_EXPORT_COLUMNS]).compile();
  return { sql: compiled.sql, parameters: [...compiled.parameters], format: job.format };
}

/**
 * A worker holds one batch at a time: a small heap is enough, and keeps the
 * download's memory flat (V8 would otherwise grow each worker's young
 * generation to tens of megabytes).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 12, maxOldGenerationSizeMb: 64 };

/** Worker threads that read slices, each with its own bulk connection; idle ones end after a while. */
class SlicePool {
  private readonly idle: Worker[] = [];
  private readonly waiting: { job: WorkerJob; resolve: (batch: { bytes: Uint8Array; count: number; last: [number, number] | null }) => void; reject: (error: unknown) => void }[] = [];
  private readonly all = new Set<Worker>();
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly location: StoreLocation,
    private readonly size: number,
  ) {}

  run(job: WorkerJob): Promise<{ bytes: Uint8Array; count: number; last: [number, number] | null }> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await Promise.all([...this.all].map((worker) => worker.terminate()));
    this.all.clear();
    this.idle.length = 0;
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      const worker = this.idle.pop() ?? (this.all.size < this.size ? this.spawn() : null);
      if (!worker) return;
      const task = this.waiting.shift()!;
      const done = (message: { bytes?: Uint8Array; count?: number; last?: [number, number] | null; error?: string }) => {
        worker.off('error', failed);
        if (message.bytes) task.resolve({ bytes: message.bytes, count: message.count!, last: message.last ?? null });
        else task.reject(new Error(message.error ?? 'export worker failed'));
        this.idle.push(worker);
        this.dispatch();
        this.scheduleIdleEnd();
      };
      const failed = (error: unknown) => {
        worker.off('message', done);
        this.all.delete(worker);
        task.reject(error);
      };
      worker.once('message', done);
      worker.once('error', failed);
      worker.postMessage(task.job);
    }
  }

  private spawn(): Worker {
    // From the TypeScript sources (tests, benchmarks) the worker registers the same loader first; built, it is plain JavaScript.
    const fromSource = import.meta.url.endsWith('.ts');
    const entry = new URL(`./signin-export-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);
    const worker = fromSource
      ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`, { eval: true, workerData: this.location, resourceLimits: WORKER_LIMITS })
      : new Worker(entry, { workerData: this.location, resourceLimits: WORKER_LIMITS });
    worker.unref();
    worker.on('exit', () => {
      this.all.delete(worker);
      const at = this.idle.indexOf(worker);
      if (at !== -1) this.idle.splice(at, 1);
    });
    this.all.add(worker);
    return worker;
  }

  private scheduleIdleEnd(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.waiting.length === 0 && this.idle.length === this.all.size) void this.close();
    }, 30_000);
    this.idleTimer.unref();
  }
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
 * select, oldest first, as CSV or JSON Lines. Reading and formatting millions
 * of rows is bound by creating their JavaScript strings, so the period is cut
 * into time slices that worker threads read and format in parallel, each
 * through a bulk connection of its own; the slices are written in order, and
 * only a few are held at a time, so memory stays flat whatever the size.
 * Without workers (one core, or a database they cannot open) the slices are
 * read in turn here.
 */
export class SigninExporter {
  private pool: SlicePool | null = null;

  constructor(private readonly deps: { reader: BulkReader; location: StoreLocation | null; threads?: number }) {}

  private get threads(): number {
    return this.deps.threads ?? Math.min(2, availableParallelism());
  }

  async *lines(filters: ResolvedFilters, format: ExportFormat): AsyncIterable<string | Uint8Array> {
    // The first and last sign-in, each one step into the time index (min and max in one query would scan it whole on SQLite).
    const edge = (order: 'asc' | 'desc') => this.deps.reader.db.selectFrom('signins').select('at').orderBy('at', order).limit(1).executeTakeFirst();
    const [first, last] = [await edge('asc'), await edge('desc')];
    if (!first || !last) return;
    const from = Math.max(filters.from ?? -Infinity, Number(first.at));
    const to = Math.min(filters.to ?? Infinity, Number(last.at) + 1);
    if (from >= to) return;
    const { location, reader } = this.deps;
    const parallel = location !== null && this.threads >= 2 && location.url !== 'sqlite::memory:';
    const postgres = location !== null && isPostgresUrl(location.url);
    const batch = postgres ? BATCH.postgres : BATCH.sqlite;
    const read = async (job: SliceJob): Promise<SliceBatch> => {
      const query = sliceQuery(reader, job);
      if (parallel) {
        const { bytes, count, last } = await (this.pool ??= new SlicePool(location, this.threads)).run(query);
        return { text: bytes, next: count === batch ? last : null };
      }
      const rows = await reader.rows(query.sql, query.parameters);
      const { text, last } = formatRows(rows, format);
      return { text, next: rows.length === batch ? last : null };
    };
    yield* ordered(slicesOf(from, to), (slice, after) => read({ filters, batch, scanIpRange: !postgres && location !== null, from: slice[0], to: slice[1], after, format }), parallel ? this.threads * 2 : 1);
  }

  close(): Promise<void> {
    return this.pool?.close() ?? Promise.resolve();
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
