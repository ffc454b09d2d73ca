import { randomBytes } from 'node:crypto';
import type { Runtime } from '../../src/main.js';
import type { AuthenticatedApplication } from '../../src/modules/applications/applications.js';
import type { AuthInput } from '../../src/modules/auth/engine.js';
import { hotp, timeStep, totp, type OathParameters } from '../../src/modules/methods/oath/otp.js';
import { sealOathSecret } from '../../src/modules/methods/oath/secret.js';
import { newId } from '../../src/shared/ids.js';
import { testActor } from './runtime.js';

export interface TestToken {
  id: string;
  params: OathParameters;
  /** The code for the clock's current time (TOTP) or for a counter (HOTP). */
  code(atMs: number, offsetSteps?: number): string;
}

/** Inserts an active OATH token for a user, as enrolment would leave it. */
export async function addToken(runtime: Runtime, userId: string, type: 'totp' | 'hotp' = 'totp', digits: 6 | 8 = 6): Promise<TestToken> {
  const id = newId();
  const secret = randomBytes(20);
  await runtime.storage.db
    .insertInto('oath_tokens')
    .values({
      id,
      user_id: userId,
      serial: null,
      kind: 'software',
      type,
      algorithm: 'SHA1',
      digits,
      period: 30,
      secret_sealed: sealOathSecret(runtime.keyring, id, secret),
      status: 'active',
      name: 'test token',
      last_used: null,
      counter: 0,
      drift: 0,
      created_at: runtime.clock.now(),
      last_used_at: null,
    })
    .execute();
  const params: OathParameters = { secret, algorithm: 'SHA1', digits };
  return {
    id,
    params,
    code: (atMs, offset = 0) => (type === 'totp' ? hotp(params, timeStep(atMs, 30) + offset) : hotp(params, offset)),
  };
}

export { totp };

/** An application and a user with a TOTP token: what most engine tests start from. */
export async function authFixture(runtime: Runtime, username = 'alice@contoso.com', userFields: Record<string, unknown> = {}) {
  const { application: view } = await runtime.applications.create({ name: `VPN ${randomBytes(3).toString('hex')}` }, testActor);
  const application: AuthenticatedApplication = { id: view.id, name: view.name };
  const user = await runtime.directory.create({ username, phone: { number: '2025550123' }, ...userFields }, testActor);
  const token = await addToken(runtime, user.id);
  const request = (extra: Partial<AuthInput> = {}): AuthInput => ({
    username,
    application,
    ip: '198.51.100.7',
    authType: 'vpn',
    entryPoint: 'http_api',
    factor: 'auto',
    ...extra,
  });
  return { application, user, token, request };
}
