import { createServer } from 'node:net';
import type { DialectName } from '../../src/storage/database.js';
import { buildHttpApp } from '../../src/protocols/http/app.js';
import { startFakeTwilio, TWILIO_SID, TWILIO_TOKEN } from './fake-twilio.js';
import { createTestRuntime } from './runtime.js';

/** A port nothing listens on right now, for a server whose public URL must be configured before it starts. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * A Countersign server on 127.0.0.1 using Twilio as its gateway, and the fake
 * Twilio it talks to: the server's public URL is its own listening address, so
 * the fake's webhooks reach it over real HTTP.
 */
export async function startTwilioServer(dialect: DialectName, overrides: Record<string, unknown> = {}) {
  const twilio = await startFakeTwilio();
  const port = await freePort();
  const { telephony, ...rest } = overrides as { telephony?: { twilio?: Record<string, unknown> } };
  const t = await createTestRuntime(dialect, {
    ...rest,
    telephony: {
      gateway: 'twilio',
      twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN, from: '+15005550006', apiBaseUrl: twilio.url, publicUrl: `http://127.0.0.1:${port}/`, ...telephony?.twilio },
    },
  });
  const app = await buildHttpApp(t.runtime);
  await app.listen({ host: '127.0.0.1', port });
  return {
    twilio,
    t,
    app,
    async close() {
      await app.close();
      await t.dispose();
      await twilio.close();
    },
  };
}
