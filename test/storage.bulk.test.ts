import { afterEach, describe, expect, it } from 'vitest';
import { openStorage, type Storage } from '../src/storage/database.js';
import { JOIN_CELLS } from './helpers/bulk-formatter.js';
import { createTestStorage, DIALECTS, type TestStorage } from './helpers/storage.js';

const QUERY = { sql: "select 1, 'a' union all select 2, 'b' union all select 3, 'c'", parameters: [] };

/**
 * The bulk reads (storage/bulk.ts) read and format in worker threads what
 * they would read and format here, whatever else the storage was opened with.
 */
describe.each(DIALECTS)('bulk reads on %s', (dialect) => {
  let test: TestStorage;
  let server: Storage | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await test.dispose();
  });

  it('give the same text from worker threads as from this thread, for a store opened as the server opens it', async () => {
    test = await createTestStorage(dialect, { migrated: true });
    // The server's options hold a listener: a function, which no thread can be given (a download used to fail on it).
    server = openStorage({ ...test.storage.options, onConnectionError: () => undefined });
    const threaded = server.bulk.withThreads(2);
    const here = server.bulk.withThreads(0);
    try {
      expect([threaded.readAhead, here.readAhead]).toEqual([4, 1]);
      const fromThreads = await threaded.formatted(QUERY, JOIN_CELLS, ';');
      const fromHere = await here.formatted(QUERY, JOIN_CELLS, ';');
      expect(fromThreads.text).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(fromThreads.text as Uint8Array).toString('utf8')).toBe('1;a\n2;b\n3;c\n');
      expect(fromHere).toEqual({ text: '1;a\n2;b\n3;c\n', count: 3, last: [3, 'c'] });
      expect({ ...fromThreads, text: null }).toEqual({ text: null, count: 3, last: [3, 'c'] });
    } finally {
      await threaded.close();
    }
    // A view's close ends its threads only: the connection is the storage's.
    expect((await server.bulk.formatted(QUERY, JOIN_CELLS, ',')).count).toBe(3);
  });

  it('refuse a formatter that its module does not export, naming it', async () => {
    test = await createTestStorage(dialect, { migrated: true });
    const threaded = test.storage.bulk.withThreads(2);
    try {
      await expect(threaded.formatted(QUERY, { ...JOIN_CELLS, name: 'nothing' }, ',')).rejects.toThrow(/exports no formatter nothing/);
    } finally {
      await threaded.close();
    }
  });
});
