import { CompiledQuery, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';
import type { Executor, Unit } from './database.js';
import type { Database } from './schema.js';
import type { SharedReads } from './shared-reads.js';
import { writtenTables, type Written } from './written-tables.js';

export type TableName = keyof Database & string;
/** Tables a write changed, or `'all'` (SQL the builder did not make). */
export type Changed = Exclude<Written, null>;

/** How a read the authentication path repeats is kept in memory: declared once, beside the queries it runs. */
export interface CachedReadDeclaration<Arg, Value> {
  /** What it reads; names it in stack traces. */
  name: string;
  /**
   * Every table whose change may change the value: the tables it reads, and
   * the tables whose deletes reach those by a foreign key's `on delete
   * cascade` or `set null` (deleting a user removes the user's group
   * memberships in a statement that names only `users`). A write to any of
   * them, by this process, drops what is kept of this read.
   * test/read-cache.no-stale-reads.test.ts checks the list against the schema.
   */
  tables: readonly TableName[];
  /** The memory's key for an argument: two arguments with one key must read the same rows. */
  key: (arg: Arg) => string;
  load: (db: Executor, arg: Arg) => Promise<Value>;
  /**
   * Kept on each PostgreSQL node as well, between change notifications
   * (storage/shared-reads.ts): only for reads of tables whose every change
   * migration 0013 announces.
   */
  shared?: boolean;
}

/**
 * A declared read: call it with an executor and its argument. Through the
 * read cache on SQLite, through the node's memory of the shared reads and the
 * unit's memo on PostgreSQL (see below). Meant for reads inside a
 * `Storage.transact` unit: that is where a change by another process has been
 * checked for.
 */
export interface CachedRead<Arg, Value> {
  (db: Unit, arg: Arg): Promise<Value>;
  readonly tables: ReadonlySet<TableName>;
  readonly shared: boolean;
  /** The memories' key of its value for `arg`. */
  keyOf(arg: Arg): string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the registry holds reads of every argument and value type
type AnyRead = CachedRead<any, unknown>;

const DECLARED: AnyRead[] = [];
/** The tables of every declared read, growing as reads are declared: what a write must touch to concern a memory. */
const DECLARED_TABLES = new Set<string>();
const SHARED_TABLES = new Set<string>();

/** The tables of the shared reads (the conditional access catalog), which PostgreSQL nodes keep in memory too. */
export const CATALOG_TABLES: ReadonlySet<string> = SHARED_TABLES;

/** Every read declared so far (each module declares its own when loaded). */
export const declaredReads = (): readonly AnyRead[] => DECLARED;

const touches = (tables: ReadonlySet<string>, changed: Changed): boolean => changed === 'all' || [...changed].some((table) => tables.has(table));

/** The declared reads a change may have made stale. */
const readsChangedBy = (changed: Changed): AnyRead[] => DECLARED.filter((read) => touches(read.tables, changed));

/** Declares a read kept in memory (see `CachedReadDeclaration`); declare each at a module's top level, once. */
export function cachedRead<Arg, Value>(declaration: CachedReadDeclaration<Arg, Value>): CachedRead<Arg, Value> {
  // The prefix keeps the keys of different reads apart in the memories.
  const prefix = `${DECLARED.length}\u0000`;
  const keyOf = (arg: Arg): string => prefix + declaration.key(arg);
  const read = ((db: Unit, arg: Arg) => readThrough(read, db, keyOf(arg), () => declaration.load(db, arg))) as CachedRead<Arg, Value>;
  Object.defineProperties(read, {
    name: { value: declaration.name },
    tables: { value: new Set(declaration.tables) },
    shared: { value: declaration.shared ?? false },
    keyOf: { value: keyOf },
  });
  DECLARED.push(read);
  for (const table of declaration.tables) {
    DECLARED_TABLES.add(table);
    if (read.shared) SHARED_TABLES.add(table);
  }
  return read;
}

/** What a memory of rows covers: the tables whose change concerns it, and how it forgets what such a change made stale. */
export interface Invalidation {
  tables: ReadonlySet<string>;
  invalidate: (changed: Changed) => void;
}

/**
 * A Kysely plugin that, after every statement built with Kysely that writes
 * one of a memory's tables (or is raw SQL), lets the memory drop what the
 * change concerns. Prepared queries (`storage/prepared.ts`) run compiled SQL
 * that does not pass here; they call `afterPreparedWrite` instead, with the
 * tables their query node writes.
 */
export function invalidatingPlugin(invalidations: Invalidation[]): KyselyPlugin {
  const pending = new WeakMap<object, { hit: Invalidation[]; changed: Changed }>();
  return {
    transformQuery: (args: PluginTransformQueryArgs): RootOperationNode => {
      const changed = writtenTables(args.node);
      if (changed === null) return args.node;
      const hit = invalidations.filter(({ tables }) => touches(tables, changed));
      if (hit.length > 0) pending.set(args.queryId, { hit, changed });
      return args.node;
    },
    transformResult: async (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => {
      const write = pending.get(args.queryId);
      write?.hit.forEach(({ invalidate }) => invalidate(write.changed));
      return args.result;
    },
  };
}

/**
 * The declared reads (the user by name, the user's groups and active OATH
 * tokens, the conditional access catalog and the policies naming the user),
 * kept in memory on a single-node SQLite deployment, where every change to
 * their tables goes through this process or shows in `PRAGMA data_version`:
 *
 * - a write of this process to a table a read declares drops what is kept of
 *   that read, once the statement has run: a Kysely statement through the
 *   plugin, a prepared one through `afterPreparedWrite`; raw SQL drops all;
 * - a commit by another process (the CLI) is seen at the start of the next
 *   group-commit batch, which empties the cache (`checkDataVersion`);
 * - a rolled-back unit or batch empties it, since it may have read or changed
 *   rows that were never committed (`invalidate`).
 *
 * A read is dropped whole, not key by key: a statement's node names its
 * tables, not the rows it changes. The OATH replay check never trusts a kept
 * row: it is a conditional update of the database. PostgreSQL deployments
 * share the database between nodes and do not use this cache.
 */
export class ReadCache {
  private readonly entries = new Map<string, { read: AnyRead; value: unknown }>();
  /** The keys each read holds, so that a change drops one read without scanning the others. */
  private readonly keysOf = new Map<AnyRead, Set<string>>();
  private version = 0;
  private dataVersion: number | null = null;
  private hits = 0;
  private misses = 0;

  constructor(private readonly capacity: number) {}

  /** The kept value of `read` at `key`, or what `load` reads (kept unless something was dropped meanwhile, or it is undefined). */
  async get<T>(read: AnyRead, key: string, load: () => Promise<T>): Promise<T> {
    const entry = this.entries.get(key);
    if (entry) {
      this.hits += 1;
      // Map keeps insertion order: delete and set moves the entry to the most recently used end.
      this.entries.delete(key);
      this.entries.set(key, entry);
      return entry.value as T;
    }
    this.misses += 1;
    const version = this.version;
    const value = await load();
    // A miss (an unknown user name) is not kept: guessed names must not fill the cache.
    if (value !== undefined && version === this.version && this.capacity > 0) {
      if (this.entries.size >= this.capacity) this.forget(this.entries.keys().next().value!);
      this.entries.set(key, { read, value });
      let keys = this.keysOf.get(read);
      if (!keys) this.keysOf.set(read, (keys = new Set()));
      keys.add(key);
    }
    return value;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  private forget(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.keysOf.get(entry.read)?.delete(key);
  }

  /** Drops what a write to `changed` may have made stale. */
  drop(changed: Changed): void {
    const reads = readsChangedBy(changed);
    if (reads.length === 0) return;
    this.version += 1;
    for (const read of reads) {
      for (const key of this.keysOf.get(read) ?? []) this.entries.delete(key);
      this.keysOf.delete(read);
    }
  }

  /** Empties the cache. */
  invalidate(): void {
    this.version += 1;
    this.entries.clear();
    this.keysOf.clear();
  }

  /** Entries held (of `read` only, when given), and reads answered from memory (hits) or from the database (misses) so far. */
  stats(read?: AnyRead): { entries: number; hits: number; misses: number } {
    const entries = read ? (this.keysOf.get(read)?.size ?? 0) : this.entries.size;
    return { entries, hits: this.hits, misses: this.misses };
  }

  /** Empties the cache when another connection committed since the last check. Run at the start of each write batch. */
  async checkDataVersion(db: Executor): Promise<void> {
    const { rows } = await db.executeQuery(DATA_VERSION);
    const current = Number(rows[0]?.data_version);
    if (this.dataVersion !== null && current !== this.dataVersion) this.invalidate();
    this.dataVersion = current;
  }

  /** What concerns the cache: a write to a table some declared read depends on. */
  invalidation(): Invalidation {
    return { tables: DECLARED_TABLES, invalidate: (changed) => this.drop(changed) };
  }
}

/**
 * Where the store has no read cache (PostgreSQL, shared between nodes), the
 * declared reads are still read once per unit of work instead of once per
 * reader: the user's tokens, say, which both choosing the method and
 * verifying the code look at. Each transaction gets a memo of its own that
 * ends with it.
 *
 * A prepared write drops what it concerns from its own unit's memo. A Kysely
 * write goes through the plugin, which does not learn the transaction, and
 * so drops the read from every unit's memo (its generation moves on). Either
 * way a unit sees its own changes. Another unit's change cannot show to a
 * unit before it commits, and the rows of a user's unit are the user's, whose
 * lock that unit holds (`usersRepository.lockByKey`).
 */
export class UnitReads {
  private readonly memos = new WeakMap<object, Map<string, { read: AnyRead; generation: number; value: unknown }>>();
  private readonly generations = new Map<AnyRead, number>();

  async get<T>(trx: object, read: AnyRead, key: string, load: () => Promise<T>): Promise<T> {
    let memo = this.memos.get(trx);
    if (!memo) this.memos.set(trx, (memo = new Map()));
    const generation = this.generations.get(read) ?? 0;
    const entry = memo.get(key);
    if (entry && entry.generation === generation) return entry.value as T;
    const value = await load();
    if (value !== undefined && generation === (this.generations.get(read) ?? 0)) memo.set(key, { read, generation, value });
    return value;
  }

  has(trx: object, read: AnyRead, key: string): boolean {
    const entry = this.memos.get(trx)?.get(key);
    return entry !== undefined && entry.generation === (this.generations.get(read) ?? 0);
  }

  /** Drops the reads `changed` concerns from every unit's memo. */
  drop(changed: Changed): void {
    for (const read of readsChangedBy(changed)) this.generations.set(read, (this.generations.get(read) ?? 0) + 1);
  }

  /** Drops the reads `changed` concerns from the memo of the unit `trx` only. */
  dropIn(trx: object, changed: Changed): void {
    const memo = this.memos.get(trx);
    if (!memo) return;
    for (const [key, entry] of memo) if (touches(entry.read.tables, changed)) memo.delete(key);
  }

  invalidation(): Invalidation {
    return { tables: DECLARED_TABLES, invalidate: (changed) => this.drop(changed) };
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

/** Makes `reads` the per-unit memo of a database without a read cache, and `catalog` its memory of the shared reads. */
export function attachUnitReads(db: Executor, reads: UnitReads, catalog: SharedReads): void {
  UNIT_READS.set(db.getExecutor().adapter, reads);
  SHARED_READS.set(db.getExecutor().adapter, catalog);
}

/** The read cache of the database `db` belongs to; null when it has none (PostgreSQL). */
export function readCacheOf(db: Executor): ReadCache | null {
  return CACHES.get(db.getExecutor().adapter) ?? null;
}

/** The memory of the shared reads of the database `db` belongs to (PostgreSQL), or null. */
export function sharedReadsOf(db: Executor): SharedReads | null {
  return SHARED_READS.get(db.getExecutor().adapter) ?? null;
}

/**
 * A shared read goes through the node's memory (PostgreSQL, kept while
 * changes by other nodes are being heard: storage/shared-reads.ts), and
 * from there, like every other read, through the read cache (SQLite), else
 * the memo of the transaction `db` is, or straight to the database outside
 * one.
 */
function readThrough<T>(read: AnyRead, db: Executor, key: string, load: () => Promise<T>): Promise<T> {
  const adapter = db.getExecutor().adapter;
  const local = (): Promise<T> => {
    const cache = CACHES.get(adapter);
    if (cache) return cache.get(read, key, load);
    const unitReads = db.isTransaction ? UNIT_READS.get(adapter) : undefined;
    return unitReads ? unitReads.get(db, read, key, load) : load();
  };
  const shared = read.shared ? SHARED_READS.get(adapter) : undefined;
  return shared ? shared.get(key, local) : local();
}

/** Whether a memory would answer `read` of `arg` on `db` without the database (for tests and diagnostics). */
export function isKept<Arg>(read: CachedRead<Arg, unknown>, db: Executor, arg: Arg): boolean {
  const adapter = db.getExecutor().adapter;
  const key = read.keyOf(arg);
  if (read.shared && SHARED_READS.get(adapter)?.has(key)) return true;
  const cache = CACHES.get(adapter);
  if (cache) return cache.has(key);
  return db.isTransaction && (UNIT_READS.get(adapter)?.has(db, read, key) ?? false);
}

/**
 * What a prepared write (compiled SQL, which the plugin does not see) does
 * to the memories of `db`'s database once it has run, as the plugin does
 * for a Kysely write: `changed` comes from its query node.
 */
export function afterPreparedWrite(db: Executor, changed: Changed): void {
  if (!touches(DECLARED_TABLES, changed)) return;
  const adapter = db.getExecutor().adapter;
  CACHES.get(adapter)?.drop(changed);
  const unitReads = UNIT_READS.get(adapter);
  if (db.isTransaction) unitReads?.dropIn(db, changed);
  else unitReads?.drop(changed);
  if (touches(SHARED_TABLES, changed)) SHARED_READS.get(adapter)?.invalidate();
}
