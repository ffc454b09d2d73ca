import type { BulkReader } from '../../storage/bulk.js';
import { signinExportRepository } from '../../storage/repositories/signin-export.js';
import { positionOf, SIGNIN_EXPORT_COLUMNS, SIGNIN_FORMATTER, type ExportFormat } from './signin-export-format.js';
import type { ResolvedFilters } from './signin-log.js';

export { SIGNIN_EXPORT_COLUMNS, type ExportFormat };

/** A batch read: its lines (text read here, UTF-8 bytes from a worker thread), and where the slice goes on, or null at its end. */
interface SliceBatch {
  text: string | Uint8Array;
  next: [number, number] | null;
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
    const span = await signinExportRepository.span(reader.db);
    if (!span) return;
    const from = Math.max(filters.from ?? -Infinity, span.first);
    const to = Math.min(filters.to ?? Infinity, span.last + 1);
    if (from >= to) return;
    const batch = signinExportRepository.batchRows(reader.db);
    const read = async (slice: [number, number], after: [number, number] | null): Promise<SliceBatch> => {
      const query = signinExportRepository.batchQuery(reader.db, { filters, from: slice[0], to: slice[1], after, format });
      const { text, count, last: lastRow } = await reader.formatted(query, SIGNIN_FORMATTER, format);
      return { text, next: count === batch && lastRow ? positionOf(lastRow) : null };
    };
    yield* ordered(slicesOf(from, to), read, reader.readAhead);
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
