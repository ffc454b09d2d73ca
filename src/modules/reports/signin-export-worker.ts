// A worker thread of the sign-in download (signin-export.ts): runs the
// queries it is sent through a connection of its own and formats the rows.
// It loads no query builder, so that it stays small.
import { parentPort, workerData } from 'node:worker_threads';
import { openRawReader, type StoreLocation } from '../../storage/raw-reader.js';
import { formatRows, type ExportFormat } from './signin-export-format.js';

export interface WorkerJob {
  sql: string;
  parameters: unknown[];
  format: ExportFormat;
}

const reader = openRawReader(workerData as StoreLocation);
parentPort!.on('message', (job: WorkerJob) => {
  reader.rows(job.sql, job.parameters).then(
    (rows) => {
      const { text, last } = formatRows(rows, job.format);
      // Encoded here and handed over without a copy: the thread that writes the download only passes bytes on.
      const bytes = Buffer.from(text);
      const data = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
      parentPort!.postMessage({ bytes: data, count: rows.length, last }, whole ? [bytes.buffer] : []);
    },
    (error: unknown) => parentPort!.postMessage({ error: error instanceof Error ? error.message : String(error) }),
  );
});
