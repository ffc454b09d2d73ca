import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where `serve` says where it listens: `<dataDir>/server.json`. */
const fileOf = (dataDir: string) => join(dataDir, 'server.json');

interface ServerFile {
  url: string;
  pid: number;
  started_at: string;
}

/** Written by `serve` once it listens, so one-shot commands on the same data folder find the running server (`serve --port` included). */
export function writeServerFile(dataDir: string, url: string): void {
  const content: ServerFile = { url, pid: process.pid, started_at: new Date().toISOString() };
  writeFileSync(fileOf(dataDir), `${JSON.stringify(content)}\n`, { mode: 0o600 });
}

/** Removed at a clean stop; a file left by a server that died is ignored (its process is gone). */
export function removeServerFile(dataDir: string): void {
  try {
    const content = JSON.parse(readFileSync(fileOf(dataDir), 'utf8')) as ServerFile;
    if (content.pid === process.pid) rmSync(fileOf(dataDir), { force: true });
  } catch {
    // nothing to remove
  }
}

/** The URL of the server running on this data folder, or null when none is. */
export function runningServerUrl(dataDir: string): string | null {
  try {
    const content = JSON.parse(readFileSync(fileOf(dataDir), 'utf8')) as ServerFile;
    if (typeof content.url !== 'string' || typeof content.pid !== 'number') return null;
    process.kill(content.pid, 0);
    return content.url;
  } catch {
    return null;
  }
}
