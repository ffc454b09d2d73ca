import type { AuthInput } from '../../src/modules/auth/engine.js';
import { AuthenticatorClient } from '../../src/authenticator/client.js';
import type { RuntimeOptions } from '../../src/main.js';
import type { Role } from '../../src/modules/admin-access/roles.js';
import { buildHttpApp } from '../../src/protocols/http/app.js';
import type { DialectName } from '../../src/storage/database.js';
import { createTestRuntime, testActor } from './runtime.js';

/**
 * A listening Countersign server on 127.0.0.1 for authenticator app tests,
 * with an application, a user, and helpers to activate devices: the devices
 * sign with the server's fake clock, so their timestamps are fresh.
 */
export async function startAppServer(dialect: DialectName, overrides: Record<string, unknown> = {}, options: Pick<RuntimeOptions, 'pushNotifier' | 'log' | 'longPollIntervalMs'> = {}) {
  const t = await createTestRuntime(dialect, overrides, options);
  const app = await buildHttpApp(t.runtime);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = app.listeningOrigin;
  const { application: view } = await t.runtime.applications.create({ name: 'Corporate VPN' }, testActor);
  const application = { id: view.id, name: view.name };
  const keys = new Map<Role, string>();
  const admin = async (role: Role = 'global_administrator'): Promise<Record<string, string>> => {
    if (!keys.has(role)) keys.set(role, (await t.runtime.adminKeys.create({ name: `test ${role}`, role }, testActor)).secret);
    return { authorization: `Bearer ${keys.get(role)!}`, 'content-type': 'application/json' };
  };
  const request = (username = 'bob@contoso.com'): AuthInput => ({ username, application, ip: '198.51.100.9', authType: 'vpn', entryPoint: 'http_api', factor: 'app' });

  /** An activation code from the admin API. */
  async function activationCode(username = 'bob@contoso.com', body: object = {}): Promise<{ code: string; uri: string; url: string; qr_png: string }> {
    const response = await fetch(`${url}/admin/v1/users/${username}/app/activation`, { method: 'POST', headers: await admin(), body: JSON.stringify(body) });
    if (response.status !== 201) throw new Error(`activation refused: ${response.status} ${await response.text()}`);
    return (await response.json()) as { code: string; uri: string; url: string; qr_png: string };
  }

  /** A new activated device of the user. */
  async function device(username = 'bob@contoso.com', name = 'Bob phone', extra: { pushToken?: string; oath?: boolean } = {}): Promise<AuthenticatorClient> {
    // Without an OATH secret unless asked: a denied push would otherwise offer the OATH fallback.
    const { code } = await activationCode(username, { oath: extra.oath ?? false });
    return AuthenticatorClient.activate(url, code, { name, type: 'android', appVersion: '1.4.0', osVersion: 'Android 15', pushToken: extra.pushToken }, { now: () => t.clock.now() });
  }

  return {
    t,
    app,
    url,
    application,
    admin,
    request,
    activationCode,
    device,
    async close() {
      await app.close();
      await t.dispose();
    },
  };
}
