import type pg from 'pg';

/** The channel migration 0013 announces catalog changes on; the payload is the changed table's schema. */
export const CATALOG_CHANNEL = 'countersign_catalog';

export interface SharedReadsOptions {
  /** A new client on the node's database and schema (not from the pool: it holds a connection for as long as it listens). */
  connect: () => pg.Client;
  /** How long to wait after losing the listening connection before trying again. */
  retryMs?: number;
}

/**
 * The conditional access catalog (enabled policies and named locations) in
 * memory on a PostgreSQL node, which otherwise reads it on every
 * authentication: two more round trips each.
 *
 * Other nodes, the CLI and plain SQL change the catalog too; a trigger
 * (migration 0013) announces each change at its commit with NOTIFY, and this
 * node listens on a connection of its own:
 *
 * - a notification for this node's schema empties the memory;
 * - a change this process makes empties it as soon as the statement has run
 *   (`invalidate`, from the store's plugin), so its own next read sees it;
 * - until the listening connection is up, and whenever it is lost, nothing is
 *   kept: every read goes to the database, and the connection is tried again
 *   after `retryMs`.
 *
 * Another node's change therefore shows here within the time a notification
 * takes to arrive (milliseconds), not at once as on a single SQLite node.
 */
export class SharedReads {
  private readonly entries = new Map<string, unknown>();
  private version = 0;
  private client: pg.Client | null = null;
  private schema: string | null = null;
  private state: 'idle' | 'connecting' | 'listening' | 'waiting' | 'closed' = 'idle';
  private readonly retryMs: number;

  constructor(private readonly options: SharedReadsOptions) {
    this.retryMs = options.retryMs ?? 5_000;
  }

  /** The kept value of `key`, or what `load` reads (kept only while listening, and unless a change came in meanwhile). */
  async get<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (this.state === 'idle') void this.listen();
    if (this.state !== 'listening') return load();
    if (this.entries.has(key)) return this.entries.get(key) as T;
    const version = this.version;
    const value = await load();
    if (value !== undefined && this.state === 'listening' && version === this.version) this.entries.set(key, value);
    return value;
  }

  /** True when a value of `key` is kept. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  invalidate(): void {
    this.version += 1;
    this.entries.clear();
  }

  /** True while changes by others are being heard, and so values are kept. */
  get listening(): boolean {
    return this.state === 'listening';
  }

  async close(): Promise<void> {
    this.state = 'closed';
    this.invalidate();
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    this.state = 'connecting';
    const client = this.options.connect();
    this.client = client;
    client.on('notification', (message) => {
      if (message.channel === CATALOG_CHANNEL && message.payload === this.schema) this.invalidate();
    });
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      const { rows } = await client.query<{ schema: string }>('select current_schema() as schema');
      this.schema = rows[0]!.schema;
      await client.query(`listen ${CATALOG_CHANNEL}`);
      // close() may have run while connecting.
      if (this.client !== client) return;
      this.invalidate();
      this.state = 'listening';
    } catch {
      this.lost(client);
    }
  }

  /** The listening connection failed or ended: keep nothing, and try again later (unless closed). */
  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = null;
    this.invalidate();
    void client.end().catch(() => undefined);
    if (this.state === 'closed') return;
    this.state = 'waiting';
    setTimeout(() => {
      if (this.state === 'waiting') this.state = 'idle';
    }, this.retryMs).unref();
  }
}
