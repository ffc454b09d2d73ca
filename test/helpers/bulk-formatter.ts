import type { BulkFormatter } from '../../src/storage/bulk.js';

/** Rows as lines of cells joined by `separator`: a formatter the bulk reads' worker threads load by its location. */
export function joinCells(rows: unknown[][], separator: string): string {
  return rows.map((row) => `${row.join(separator)}\n`).join('');
}

export const JOIN_CELLS: BulkFormatter<string> = { module: import.meta.url, name: 'joinCells', format: joinCells };
