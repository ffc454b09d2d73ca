import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { OpenedFields } from './personal-log.js';

/** One service-log line about a user, with its personal fields opened when the key still exists. */
export interface LogLineView {
  file: string;
  /** 1-based line number in the file. */
  line: number;
  time: string | null;
  event: string | null;
  message: string | null;
  user_id: string;
  /** Every other field of the line, as written. */
  fields: Record<string, unknown>;
  /** The opened personal fields; null when the key was destroyed (erased, or past retention). */
  personal: OpenedFields;
}

type Opener = (userId: string, sealed: string) => Promise<OpenedFields>;

const OWN_FIELDS = new Set(['time', 'event', 'msg', 'user_id', 'personal', 'level', 'service', 'pid', 'hostname']);

/**
 * Reads JSON-lines service-log files and yields the lines about the given
 * users (by user id; the names are sealed), in file order. Lines that are not
 * JSON (a file cut short, another program's output) are skipped; a missing
 * file yields nothing (it may have been rotated away).
 */
export async function* searchLogFiles(files: string[], userIds: ReadonlySet<string>, open: Opener): AsyncGenerator<LogLineView> {
  if (userIds.size === 0) return;
  for (const file of files) {
    if (!existsSync(file)) continue;
    const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
    let number = 0;
    for await (const text of lines) {
      number += 1;
      // Cheap test first: most lines are about someone else or nobody.
      if (!text.includes('"user_id"')) continue;
      const line = parse(text);
      if (!line || typeof line.user_id !== 'string' || !userIds.has(line.user_id)) continue;
      const fields = Object.fromEntries(Object.entries(line).filter(([key]) => !OWN_FIELDS.has(key)));
      yield {
        file,
        line: number,
        time: typeof line.time === 'string' ? line.time : typeof line.time === 'number' ? new Date(line.time).toISOString() : null,
        event: typeof line.event === 'string' ? line.event : null,
        message: typeof line.msg === 'string' ? line.msg : null,
        user_id: line.user_id,
        fields,
        personal: typeof line.personal === 'string' ? await open(line.user_id, line.personal) : null,
      };
    }
  }
}

function parse(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
