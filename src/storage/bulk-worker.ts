// A worker thread of the bulk reads (bulk.ts), run by the thread pool: reads
// the queries it is given through a connection of its own and formats the
// rows with the formatter each task names. It loads no query builder (the SQL
// is built on the caller's thread), so that it stays small.
import { Buffer } from 'node:buffer';
import Tinypool, { kTransferable, kValue } from 'tinypool';
import type { BulkFormatter, BulkTask, FormattedBatch } from './bulk.js';
import { openRawReader, type StoreLocation } from './raw-reader.js';

const reader = openRawReader(Tinypool.workerData as StoreLocation);
const formatters = new Map<string, Promise<BulkFormatter<unknown>['format']>>();

function formatterOf(task: BulkTask): Promise<BulkFormatter<unknown>['format']> {
  const key = `${task.module}#${task.name}`;
  let format = formatters.get(key);
  if (!format) {
    format = import(task.module).then((module: Record<string, unknown>) => {
      const found = module[task.name];
      if (typeof found !== 'function') throw new Error(`${task.module} exports no formatter ${task.name}`);
      return found as BulkFormatter<unknown>['format'];
    });
    formatters.set(key, format);
  }
  return format;
}

export default async function read(task: BulkTask): Promise<unknown> {
  const format = await formatterOf(task);
  const rows = await reader.rows(task.sql, task.parameters);
  // Encoded here and handed over without a copy: the thread that writes the download only passes bytes on.
  const bytes = Buffer.from(format(rows, task.options));
  const batch: FormattedBatch = { text: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), count: rows.length, last: rows[rows.length - 1] ?? null };
  // A short text shares Node's pooled buffer with others: that one is copied, not moved.
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return Tinypool.move({ [kTransferable]: whole ? [bytes.buffer] : [], [kValue]: batch });
}
