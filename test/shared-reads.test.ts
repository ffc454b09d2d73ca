import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withDefaultUser } from '../src/storage/database.js';
import type { Unit } from '../src/storage/database.js';
import { cachedRead, sharedReadsOf } from '../src/storage/read-cache.js';
import { SharedReads } from '../src/storage/shared-reads.js';
import { authFixture } from './helpers/auth.js';
import { createTestRuntime, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

/** Waits until `check` holds, up to two seconds (a notification crosses a connection). */
async function eventually(check: () => boolean | Promise<boolean>): Promise<void> {
  const until = Date.now() + 2_000;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met within 2 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Another node, the CLI or psql: a connection of its own to the runtime's database. */
async function otherConnection(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: withDefaultUser(url) });
  await client.connect();
  return client;
}

describe.each(DIALECTS.filter((dialect) => dialect === 'postgres'))('the conditional access catalog in memory on %s', (dialect) => {
  let t: TestRuntime;
  /** The runtime's database (its tables are in the schema public). */
  let schema: string;
  const opened: { end(): Promise<void> }[] = [];
  beforeEach(async () => {
    t = await createTestRuntime(dialect);
    schema = t.runtime.storage.options.url;
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((closable) => closable.end()));
    await t.dispose();
  });

  /** A SharedReads of the test's own on the runtime's schema, counting its loads. */
  function sharedReads(retryMs = 100) {
    const clients: pg.Client[] = [];
    const reads = new SharedReads({
      connect: () => {
        const client = new pg.Client({ connectionString: withDefaultUser(schema) });
        clients.push(client);
        return client;
      },
      retryMs,
    });
    opened.push({ end: () => reads.close() });
    let loads = 0;
    const read = () => reads.get('catalog', async () => ((loads += 1), 'rows'));
    return { reads, clients, read, loads: () => loads };
  }

  it('keeps the catalog while it listens, and drops it when another connection changes a policy or a location', async () => {
    const { reads, read, loads } = sharedReads();
    await read(); // not listening yet: read from the database, not kept
    await eventually(() => reads.listening);
    await read();
    await read();
    expect(loads()).toBe(2);
    const other = await otherConnection(schema);
    opened.push(other);
    await other.query('update access_policies set state = state'); // a statement that changes no row is announced too
    await eventually(async () => (await read(), loads() === 3));
    await read();
    expect(loads()).toBe(3);
    await other.query("insert into named_locations (id, name, name_key, ranges, trusted, created_at, updated_at) values ('loc1', 'Office', 'office', '[]', 1, 0, 0)");
    await eventually(async () => (await read(), loads() === 4));
  });

  it('ignores changes announced for another schema', async () => {
    const { reads, read, loads } = sharedReads();
    await read();
    await eventually(() => reads.listening);
    await read();
    let invalidations = 0;
    const invalidate = reads.invalidate.bind(reads);
    reads.invalidate = () => ((invalidations += 1), invalidate());
    const other = await otherConnection(schema);
    opened.push(other);
    await other.query(`select pg_notify('countersign_catalog', 'some_other_schema')`);
    // Notifications of one connection arrive in order: once this one is handled, the other schema's was too.
    await other.query(`select pg_notify('countersign_catalog', current_schema())`);
    await eventually(() => invalidations > 0);
    expect(invalidations).toBe(1);
    expect(loads()).toBe(2);
  });

  it('keeps nothing while its connection is lost, and listens again after a while', async () => {
    const { reads, clients, read, loads } = sharedReads(100);
    await read();
    await eventually(() => reads.listening);
    const other = await otherConnection(schema);
    opened.push(other);
    const { rows } = await clients[0]!.query<{ pid: number }>('select pg_backend_pid() as pid');
    await other.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
    await eventually(() => !reads.listening);
    const before = loads();
    await read();
    await read();
    expect(loads()).toBe(before + 2);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await read(); // starts listening again
    await eventually(() => reads.listening);
    expect(clients).toHaveLength(2);
  });

  it('forgets what a unit of work read of its own catalog change when the unit rolls back', async () => {
    const { storage } = t.runtime;
    const count = cachedRead({ name: 'named locations counted', tables: ['named_locations'], shared: true, key: (_: void) => '', load: async (db) => (await db.selectFrom('named_locations').select('id').execute()).length });
    const locationCount = (trx: Unit) => count(trx);
    await storage.transact(locationCount); // starts listening
    await eventually(() => sharedReadsOf(storage.db)!.listening);
    await expect(
      storage.transact(async (trx) => {
        await trx.insertInto('named_locations').values({ id: 'loc1', name: 'Office', name_key: 'office', ranges: '[]', trusted: 1, created_at: 0, updated_at: 0 }).execute();
        expect(await locationCount(trx)).toBe(1); // its own change, not committed
        throw new Error('unit failed');
      }),
    ).rejects.toThrow('unit failed');
    expect(await storage.transact(locationCount)).toBe(0);
  });

  it('lets a policy disabled through another node stop blocking sign-ins here', async () => {
    const { token, request } = await authFixture(t.runtime);
    await t.runtime.policies.create({ name: 'Everyone blocked', users: { include: ['all'] }, grant: 'block' }, testActor);
    // The first sign-in starts the listening connection; once it listens, the catalog is read once and kept.
    expect(await t.runtime.engine.preauth(request())).toMatchObject({ result: 'deny' });
    await eventually(() => sharedReadsOf(t.runtime.storage.db)!.listening);
    for (let i = 0; i < 2; i += 1) expect(await t.runtime.engine.preauth(request())).toMatchObject({ result: 'deny' });
    const other = await otherConnection(schema);
    opened.push(other);
    await other.query("update access_policies set state = 'disabled'");
    await eventually(async () => (await t.runtime.engine.preauth(request())).result === 'auth');
    expect((await t.runtime.engine.auth(request({ passcode: token.code(t.clock.now()) }))).result_code).toBe('SUCCESS_OATH_CODE_VERIFIED');
  });
});
