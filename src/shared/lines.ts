import { createInterface } from 'node:readline';

/**
 * Reads standard input one line at a time. One reader serves the whole
 * command, so successive prompts read successive lines; it is opened at the
 * first prompt, so a run that never asks leaves stdin alone.
 */
export function lineReader(input: NodeJS.ReadableStream) {
  let reader: ReturnType<typeof createInterface> | null = null;
  let lines: AsyncIterator<string> | null = null;
  return {
    async next(): Promise<string | null> {
      if (!reader || !lines) {
        reader = createInterface({ input, terminal: false, crlfDelay: Infinity });
        lines = reader[Symbol.asyncIterator]();
      }
      const line = await lines.next();
      return line.done ? null : line.value;
    },
    close: () => reader?.close(),
  };
}

