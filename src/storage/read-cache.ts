import { CompiledQuery, type KyselyPlugin, type OperationNode, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';
import type { Executor } from './database.js';
import type { SharedReads } from './shared-reads.js';

/** The tables whose rows the authentication path keeps in memory: a user, the user's groups and OATH tokens, the conditional access policies and named locations. */
const CACHED_TABLES = new Set(['users', 'user_groups', 'groups', 'oath_tokens', 'access_policies', 'access_policy_users', 'named_locations']);

/** Names of the tables a query node mentions anywhere (target, joins, subqueries). */
function tablesOf(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) {
    for (const item of node) tablesOf(item, found);
  } else if (node !== null && typeof node === 'object') {
    const candidate = node as { kind?: string; table?: { identifier?: { name?: string } } };
    if (candidate.kind === 'TableNode' && candidate.table?.identifier?.name) found.add(candidate.table.identifier.name);
    for (const value of Object.values(node)) if (value !== null && typeof value === 'object') tablesOf(value, found);
  }
  return found;
}

/** The tables of the conditional access catalog, which PostgreSQL nodes keep in memory too (storage/shared-reads.ts). */
export const CATALOG_TABLES: ReadonlySet<string> = new Set(['access_policies', 'named_locations']);

/** What a memory of rows covers: the tables whose change must empty it, and how to empty it. */
export interface Invalidation {
  tables: ReadonlySet<string>;
  invalidate: () => void;
}

/** The tables a query may change: those it names when it writes, every table when it is SQL the builder did not make, null when it reads. */
function changedTables(node: RootOperationNode): ReadonlySet<string> | 'all' | null {
  if (node.kind === 'SelectQueryNode') return null;
  if (node.kind === 'RawNode') return 'all';
  return tablesOf(node as OperationNode);
}

/**
 * A Kysely plugin that empties each memory after every query that may have
 * changed one of its tables. Queries run from compiled SQL (`prepared`) do
 * not pass through it: the one such write to a kept table, the OATH replay
 * update, updates the kept row itself.
 */
export function invalidatingPlugin(invalidations: Invalidation[]): KyselyPlugin {
  const pending = new WeakMap<object, Invalidation[]>();
  return {
    transformQuery: (args: PluginTransformQueryArgs): RootOperationNode => {
      const changed = changedTables(args.node);
      if (changed === null) return args.node;
      const hit = invalidations.filter(({ tables }) => changed === 'all' || [...tables].some((table) => changed.has(table)));
      if (hit.length > 0) pending.set(args.queryId, hit);
      return args.node;
    },
    transformResult: async (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => {
      pending.get(args.queryId)?.forEach(({ invalidate }) => invalidate());
      return args.result;
    },
  };
}

/**
 * Rows the authentication path reads on every request (the user by name, the
 * user's groups and active OATH tokens), kept in memory on a single-node
 * SQLite deployment, where every change to them goes through this process or
 * shows in `PRAGMA data_version`:
 *
 * - a query of this process that writes a cached table (or is raw SQL) empties
 *   the cache once it has run (`plugin`);
 * - a commit by another process (the CLI) is seen at the start of the next
 *   group-commit batch, which empties the cache (`checkDataVersion`);
 * - a rolled-back unit or batch empties it, since it may have read or changed
 *   rows that were never committed (`invalidate`).
 *
 * Emptying on any change is coarse, but administrative changes are rare next
 * to authentications. The OATH replay check never trusts a cached row: it is
 * a conditional update of the database. PostgreSQL deployments share the
 * database between nodes and do not use this cache.
 */
export class ReadCache {
  private readonly entries = new Map<string, unknown>();
  private version = 0;
  private dataVersion: number | null = null;
  private hits = 0;
  private misses = 0;

  constructor(private readonly capacity: number) {}

  /** The cached value of `key`, or what `load` reads (kept unless the cache was emptied meanwhile or it is undefined). */
  async get<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (this.entries.has(key)) {
      this.hits += 1;
      const value = this.entries.get(key) as T;
      // Map keeps insertion order: delete and set moves the entry to the most recently used end.
      this.entries.delete(key);
      this.entries.set(key, value);
      return value;
    }
    this.misses += 1;
    const version = this.version;
    const value = await load();
    // A miss (an unknown user name) is not kept: guessed names must not fill the cache.
    if (value !== undefined && version === this.version && this.capacity > 0) {
      if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, value);
    }
    return value;
  }

  invalidate(): void {
    this.version += 1;
    this.entries.clear();
  }

  /** Entries held, and reads answered from memory (hits) or from the database (misses) so far. */
  stats(): { entries: number; hits: number; misses: number } {
    return { entries: this.entries.size, hits: this.hits, misses: this.misses };
  }

  /** Empties the cache when another connection committed since the last check. Run at the start of each write batch. */
  async checkDataVersion(db: Executor): Promise<void> {
    const { rows } = await db.executeQuery(DATA_VERSION);
    const current = Number(rows[0]?.data_version);
    if (this.dataVersion !== null && current !== this.dataVersion) this.invalidate();
    this.dataVersion = current;
  }

  /** What empties the cache: a change to any table it keeps rows of. */
  invalidation(): Invalidation {
    return { tables: CACHED_TABLES, invalidate: () => this.invalidate() };
  }
}

/**
 * Where the store has no read cache (PostgreSQL, shared between nodes), the
 * same rows are still read once per unit of work instead of once per reader:
 * the user's tokens, say, which both choosing the method and verifying the
 * code look at. Each transaction gets a memo of its own that ends with it.
 * A write of this process to a cached table empties every memo (the
 * generation moves on), as it empties the read cache on SQLite.
 */
export class UnitReads {
  private readonly memos = new WeakMap<object, { generation: number; values: Map<string, unknown> }>();
  private generation = 0;

  async get<T>(trx: object, key: string, load: () => Promise<T>): Promise<T> {
    let memo = this.memos.get(trx);
    if (!memo || memo.generation !== this.generation) {
      memo = { generation: this.generation, values: new Map() };
      this.memos.set(trx, memo);
    }
    if (memo.values.has(key)) return memo.values.get(key) as T;
    const generation = this.generation;
    const value = await load();
    if (value !== undefined && generation === this.generation) memo.values.set(key, value);
    return value;
  }

  invalidation(): Invalidation {
    return { tables: CACHED_TABLES, invalidate: () => (this.generation += 1) };
  }
}

const DATA_VERSION = CompiledQuery.raw('pragma data_version') as CompiledQuery<{ data_version: number }>;

const CACHES = new WeakMap<object, ReadCache>();
const UNIT_READS = new WeakMap<object, UnitReads>();
const SHARED_READS = new WeakMap<object, SharedReads>();

/** Makes `cache` the read cache of a database and of every transaction on it. */
export function attachReadCache(db: Executor, cache: ReadCache): void {
  CACHES.set(db.getExecutor().adapter, cache);
}

/** Makes `reads` the per-unit memo of a database without a read cache, and `catalog` its memory of the conditional access catalog. */
export function attachUnitReads(db: Executor, reads: UnitReads, catalog: SharedReads): void {
  UNIT_READS.set(db.getExecutor().adapter, reads);
  SHARED_READS.set(db.getExecutor().adapter, catalog);
}

/** The read cache of the database `db` belongs to; null when it has none (PostgreSQL). */
export function readCacheOf(db: Executor): ReadCache | null {
  return CACHES.get(db.getExecutor().adapter) ?? null;
}

/**
 * Reads through the read cache of the database `db` belongs to; where it has
 * none (PostgreSQL), through the memo of the transaction `db` is, or straight
 * from the database outside one. Only for reads inside a `Storage.transact`
 * unit: that is where a change by another process has been checked for.
 */
export function readThrough<T>(db: Executor, key: string, load: () => Promise<T>): Promise<T> {
  const adapter = db.getExecutor().adapter;
  const cache = CACHES.get(adapter);
  if (cache) return cache.get(key, load);
  const unitReads = db.isTransaction ? UNIT_READS.get(adapter) : undefined;
  return unitReads ? unitReads.get(db, key, load) : load();
}

/** The memory of the conditional access catalog of the database `db` belongs to (PostgreSQL), or null. */
export function sharedReadsOf(db: Executor): SharedReads | null {
  return SHARED_READS.get(db.getExecutor().adapter) ?? null;
}

/**
 * Reads the conditional access catalog (rows of `CATALOG_TABLES` only)
 * through the read cache on SQLite, through the node's memory of it on
 * PostgreSQL (kept while changes by other nodes are being heard:
 * storage/shared-reads.ts), else as `readThrough` does.
 */
export function readCatalog<T>(db: Executor, key: string, load: () => Promise<T>): Promise<T> {
  const shared = SHARED_READS.get(db.getExecutor().adapter);
  return shared ? shared.get(key, () => readThrough(db, key, load)) : readThrough(db, key, load);
}
