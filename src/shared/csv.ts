import { Readable } from 'node:stream';
import { parse, type CsvError } from 'csv-parse';

export type CsvRecord = { record: string[]; info: { lines: number } };

/**
 * The records of a CSV input (UTF-8, optional byte-order mark, empty lines
 * skipped) with the line each ends on. A row that does not parse goes to
 * `onSkip` and is left out, so one bad row never stops an import.
 */
export function csvRecords(input: string | Buffer | NodeJS.ReadableStream, onSkip: (error: CsvError | undefined) => void): AsyncIterable<CsvRecord> {
  const source = typeof input === 'string' || Buffer.isBuffer(input) ? Readable.from([input]) : input;
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
