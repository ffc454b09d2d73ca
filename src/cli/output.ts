import type { CliIo } from './io.js';

type Cell = string | number | boolean | null | undefined;

/** Renders rows as an aligned text table with a header. */
export function table(columns: string[], rows: Cell[][]): string {
  const text = rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))));
  const widths = columns.map((column, index) => Math.max(column.length, ...text.map((row) => row[index]!.length)));
  const line = (cells: string[]) => cells.map((cell, index) => cell.padEnd(widths[index]!)).join('  ').trimEnd();
  return [line(columns.map((column) => column.toUpperCase())), ...text.map(line)].join('\n') + '\n';
}

/** Key/value listing for one object. */
export function details(entries: [string, Cell][]): string {
  const width = Math.max(...entries.map(([key]) => key.length));
  return entries.map(([key, value]) => `${key.padEnd(width)}  ${value === null || value === undefined ? '-' : String(value)}`).join('\n') + '\n';
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** A progress bar on stderr, drawn only on a terminal so logs and pipes stay clean. */
export function progressBar(io: CliIo, total: number, label: string): { update(done: number): void; finish(): void } {
  const started = Date.now();
  if (!io.stderr.isTTY) return { update: () => undefined, finish: () => undefined };
  const draw = (done: number) => {
    const share = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(share * 30);
    const rate = Math.round(done / Math.max(0.001, (Date.now() - started) / 1000));
    io.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${done}/${total} rows, ${rate}/s `);
  };
  return { update: draw, finish: () => io.stderr.write('\n') };
}
