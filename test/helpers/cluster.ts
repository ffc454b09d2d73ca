import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { buildRuntime, type Runtime, type RuntimeOptions } from '../../src/main.js';
import { FakeClock } from '../../src/shared/clock.js';
import { openStorage, type DialectName, type Storage } from '../../src/storage/database.js';
import { TEST_MASTER_KEY } from './runtime.js';
import { createTestStorage, DIALECTS } from './storage.js';

/**
 * Where a burst runs: SQLite with its one node, PostgreSQL with one node, and
 * PostgreSQL with two runtimes on one database (two nodes of a cluster, each
 * with its own connection pool, catalog listener and memory).
 */
export interface BurstSetup {
  dialect: DialectName;
  nodes: number;
  /** For test names: "sqlite", "postgres", "postgres × 2 nodes". */
  name: string;
}

export const BURST_SETUPS: BurstSetup[] = DIALECTS.flatMap((dialect): BurstSetup[] =>
  dialect === 'sqlite' ? [{ dialect, nodes: 1, name: 'sqlite' }] : [{ dialect, nodes: 1, name: 'postgres' }, { dialect, nodes: 2, name: 'postgres × 2 nodes' }],
);

export interface TestCluster {
  /** The nodes, each a runtime of its own on the same database. */
  nodes: Runtime[];
  /** The first node: where a test sets things up. */
  runtime: Runtime;
  /** One clock for every node. */
  clock: FakeClock;
  /** The node that serves the i-th request of a burst (round robin). */
  node(i: number): Runtime;
  dispose(): Promise<void>;
}

const quietLog = () =>
  pino(
    { level: 'info' },
    new Writable({
      write(_chunk, _encoding, done) {
        done();
      },
    }),
  );

/** Builds `setup.nodes` runtimes on one fresh database, sharing a clock and the master key. */
export async function createTestCluster(setup: BurstSetup, overrides: Record<string, unknown> = {}, options: Pick<RuntimeOptions, 'gateway' | 'pushNotifier'> = {}): Promise<TestCluster> {
  const test = await createTestStorage(setup.dialect, { migrated: true });
  const config = loadConfig({ overrides: { security: { masterKey: TEST_MASTER_KEY }, ...overrides } });
  const clock = new FakeClock(Date.UTC(2026, 10, 1, 12, 0, 0));
  const storages: Storage[] = [test.storage];
  for (let i = 1; i < setup.nodes; i++) storages.push(openStorage({ url: test.location, dataDir: config.dataDir, poolSize: 4 }));
  const nodes: Runtime[] = [];
  for (const storage of storages) nodes.push(await buildRuntime(config, { ...options, clock, log: quietLog(), storage, migrate: false }));
  return {
    nodes,
    runtime: nodes[0]!,
    clock,
    node: (i) => nodes[i % nodes.length]!,
    dispose: async () => {
      for (const storage of storages.slice(1)) await storage.close();
      await test.dispose();
    },
  };
}

/** Starts `n` calls at the same instant and waits for all; each result is its value or its error. */
export async function burst<T>(n: number, call: (i: number) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  return Promise.allSettled(Array.from({ length: n }, (_, i) => call(i)));
}

/** The values of the calls that succeeded. */
export const fulfilled = <T>(results: PromiseSettledResult<T>[]): T[] => results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
