import { Readable } from 'node:stream';
import { parse, type CsvError } from 'csv-parse';

export type CsvRecord = { record: string[]; info: { lines: number } };

/** Bytes (or characters) the parser is given at a time. */
const SLICE = 64 * 1024;

/**
 * A file held in memory, in slices. Handed over whole, the parser would read
 * every row of it in one go before the first is used: for 100 000 rows,
 * seconds with nothing else served and every row held in memory at once. In
 * slices, it reads one slice when the rows before it have been used. (The
 * parser keeps the bytes of a character split between two slices.)
 */
function* slices(input: string | Buffer): Generator<string | Buffer> {
  for (let start = 0; start < input.length; start += SLICE) yield input.slice(start, start + SLICE);
}

/**
 * The records of a CSV input (UTF-8, optional byte-order mark, empty lines
 * skipped) with the line each ends on. A row that does not parse goes to
 * `onSkip` and is left out, so one bad row never stops an import.
 */
export function csvRecords(input: string | Buffer | NodeJS.ReadableStream, onSkip: (error: CsvError | undefined) => void): AsyncIterable<CsvRecord> {
  const source = typeof input === 'string' || Buffer.isBuffer(input) ? Readable.from(slices(input)) : input;
  return source.pipe(
    parse({
      bom: true,
      skip_empty_lines: true,
      info: true,
      skip_records_with_error: true,
      on_skip: (error: CsvError | undefined) => {
        onSkip(error);
        return undefined;
      },
    }),
  ) as AsyncIterable<CsvRecord>;
}
