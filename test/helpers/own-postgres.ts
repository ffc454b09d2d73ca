import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The binaries of the newest PostgreSQL installed from Debian's packages, or null. */
function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((name) => existsSync(join(root, name, 'bin', 'pg_ctl')));
  versions.sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}

/** Whether this machine can run a PostgreSQL of a test's own: the binaries, and a `postgres` user to run them as (root may not). */
export function ownPostgresAvailable(): boolean {
  if (!postgresBin()) return false;
  try {
    execFileSync('id', ['postgres'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface OwnPostgres {
  url: string;
  /** Stops the server (`fast`: ends connections; `immediate`: as a crash would). */
  stop(mode?: 'fast' | 'immediate'): void;
  start(): void;
  /** Stops every process of the server with SIGSTOP: it takes connections but never answers. */
  freeze(): void;
  thaw(): void;
  /** Ends every other connection, as an administrator's pg_terminate_backend does. */
  terminateBackends(): Promise<number>;
  dispose(): void;
}

/**
 * A PostgreSQL server of the test's own, in a temporary folder on a free
 * port of 127.0.0.1, run as the `postgres` user: a test may stop, freeze and
 * break it without touching the shared one.
 */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql');
  const dir = mkdtempSync(join(tmpdir(), 'countersign-pg-'));
  const data = join(dir, 'data');
  const { uid, gid } = { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  const asPostgres = (command: string, args: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', join(bin, command), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
  const start = () => asPostgres('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start']);
  start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  /** The postmaster and its children. */
  const pids = (): number[] => {
    const main = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    let children: number[] = [];
    try {
      children = execFileSync('pgrep', ['-P', String(main)]).toString().trim().split('\n').filter(Boolean).map(Number);
    } catch {
      // no children
    }
    return [main, ...children];
  };
  const signal = (name: NodeJS.Signals) => pids().forEach((pid) => process.kill(pid, name));
  return {
    url,
    stop: (mode = 'fast') => asPostgres('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']),
    start,
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    async terminateBackends() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query<{ n: string }>("select count(pg_terminate_backend(pid)) as n from pg_stat_activity where pid <> pg_backend_pid() and backend_type = 'client backend'");
      await client.end();
      return Number(rows[0]?.n ?? 0);
    },
    dispose() {
      try {
        signal('SIGCONT');
        asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
