import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { buildRuntime, type Runtime, type RuntimeOptions } from '../../src/main.js';
import type { Role } from '../../src/modules/admin-access/roles.js';
import { buildHttpApp } from '../../src/protocols/http/app.js';
import type { Actor } from '../../src/shared/actor.js';
import { FakeClock } from '../../src/shared/clock.js';
import type { DialectName } from '../../src/storage/database.js';
import { createTestStorage } from './storage.js';

/** A fixed master key: tests never write key files unless they test that. */
export const TEST_MASTER_KEY = Buffer.alloc(32, 7).toString('base64');

export const testActor: Actor = { type: 'cli', id: 'tester', role: null, requestId: null, entryPoint: 'cli' };

export interface TestRuntime {
  runtime: Runtime;
  clock: FakeClock;
  /** Service-log lines written so far, parsed. */
  logLines: () => Record<string, unknown>[];
  dispose(): Promise<void>;
}

/** `log`: a service log of the test's own (a real file, syslog) instead of the captured one; `logLines` is then empty. */
export async function createTestRuntime(dialect: DialectName, overrides: Record<string, unknown> = {}, options: Pick<RuntimeOptions, 'gateway' | 'pushNotifier' | 'log' | 'longPollIntervalMs'> = {}): Promise<TestRuntime> {
  const test = await createTestStorage(dialect, { migrated: true });
  const config: Config = loadConfig({ overrides: { security: { masterKey: TEST_MASTER_KEY }, ...overrides } });
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const log = options.log ?? pino({ level: 'info' }, sink);
  const clock = new FakeClock(Date.UTC(2026, 10, 1, 12, 0, 0));
  // The store is a copy of the migrated template: nothing to migrate.
  const runtime = await buildRuntime(config, { ...options, clock, log, storage: test.storage, migrate: false });
  return {
    runtime,
    clock,
    logLines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    dispose: () => test.dispose(),
  };
}

export async function createTestApp(dialect: DialectName, overrides: Record<string, unknown> = {}, options: Pick<RuntimeOptions, 'longPollIntervalMs'> = {}) {
  const test = await createTestRuntime(dialect, overrides, options);
  const app = await buildHttpApp(test.runtime);
  await app.ready();
  const keys = new Map<Role, string>();
  /** Bearer header for an admin key with the role (created on first use). */
  const as = async (role: Role): Promise<Record<string, string>> => {
    if (!keys.has(role)) keys.set(role, (await test.runtime.adminKeys.create({ name: `test ${role}`, role }, testActor)).secret);
    return { authorization: `Bearer ${keys.get(role)!}` };
  };
  return {
    ...test,
    app,
    as,
    dispose: async () => {
      await app.close();
      await test.dispose();
    },
  };
}
