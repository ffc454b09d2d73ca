import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp } from './helpers/runtime.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('shutdown drain', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp('sqlite');
  });
  afterEach(() => t.dispose());

  it('waits for running handlers before reporting the server idle', async () => {
    const auth = await t.as('global_administrator');
    expect(await t.app.drain(10)).toBe(true);
    const original = t.runtime.directory.create.bind(t.runtime.directory);
    let release!: () => void;
    let entered!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (entered = resolve));
    t.runtime.directory.create = async (...args) => {
      entered();
      await gate;
      return original(...args);
    };
    const request = t.app.inject({ method: 'POST', url: '/admin/v1/users', headers: auth, payload: { username: 'slow' } });
    // The handler is running (not merely sent: on a busy machine a fixed wait may end before it starts).
    await reached;
    expect(await t.app.drain(20)).toBe(false);
    const drained = t.app.drain(5000);
    release();
    expect(await drained).toBe(true);
    expect((await request).statusCode).toBe(201);
  });
});
