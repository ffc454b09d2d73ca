import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { buildRuntime } from '../src/main.js';
import { openStorage, type Storage } from '../src/storage/database.js';
import { addToken } from './helpers/auth.js';
import { cliSandbox } from './helpers/cli.js';
import { createTestRuntime, TEST_MASTER_KEY, testActor, type TestRuntime } from './helpers/runtime.js';
import { DIALECTS } from './helpers/storage.js';

const OTHER_KEY = Buffer.alloc(32, 9).toString('base64');
const REFUSAL = /the master key does not open this database's secrets: every node that shares a database needs the same master key/;

/** Nodes that share a database must share its master key (docs/configuration.md). */
describe.each(DIALECTS)('the master key check on %s', (dialect) => {
  let t: TestRuntime;
  let second: Storage | null = null;
  afterEach(async () => {
    await second?.close();
    second = null;
    await t.dispose();
  });

  /** Another node on the same database: a storage of its own, and a runtime built with `key`. */
  async function nodeWith(key: string) {
    second = dialect === 'postgres' ? openStorage({ url: t.runtime.storage.options.url, dataDir: t.runtime.config.dataDir, poolSize: 2 }) : t.runtime.storage;
    return buildRuntime(loadConfig({ overrides: { security: { masterKey: key } } }), { storage: second, clock: t.clock, log: t.runtime.log });
  }

  it('refuses to start a node whose master key is not the one the database was set up with', async () => {
    t = await createTestRuntime(dialect);
    await expect(nodeWith(OTHER_KEY)).rejects.toThrow(REFUSAL);
    await expect(nodeWith(TEST_MASTER_KEY)).resolves.toBeDefined();
    if (dialect === 'sqlite') second = null;
  });

  it("checks a database from before the check against its OATH seeds, then writes the check", async () => {
    t = await createTestRuntime(dialect);
    const user = await t.runtime.directory.create({ username: 'alice@contoso.com' }, testActor);
    await addToken(t.runtime, user.id);
    await t.runtime.storage.db.deleteFrom('settings').where('key', '=', 'master_key_check').execute();
    await expect(nodeWith(OTHER_KEY)).rejects.toThrow(REFUSAL);
    expect(await t.runtime.storage.db.selectFrom('settings').select('key').where('key', '=', 'master_key_check').execute()).toEqual([]);
    await expect(nodeWith(TEST_MASTER_KEY)).resolves.toBeDefined();
    expect(await t.runtime.storage.db.selectFrom('settings').select('key').where('key', '=', 'master_key_check').execute()).toEqual([{ key: 'master_key_check' }]);
    if (dialect === 'sqlite') second = null;
  });
});

describe('the master key check from the command line', () => {
  it('stops every command with a message that says which key is wrong', async () => {
    const cli = cliSandbox();
    expect((await cli.run(['migrate'])).code).toBe(0);
    // The first command that opens the runtime writes the check with the folder's key.
    expect((await cli.run(['user', 'list'])).code).toBe(0);
    const other = cliSandbox({ COUNTERSIGN_DATA_DIR: cli.dir, COUNTERSIGN_SECURITY_MASTER_KEY: OTHER_KEY });
    const result = await other.run(['user', 'list']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(REFUSAL);
    expect(result.stderr).not.toMatch(/at .*\.ts:\d+/);
    cli.dispose();
  });
});
