// Request source for bench/auth-oath.ts, run inside the load client: each request
// is an Auth API `auth` call for the next user, with that user's TOTP code for
// the current time step, so every code is valid and fresh.
import type autocannon from 'autocannon';
import { base32Decode } from '../src/modules/methods/oath/base32.js';
import { hotp, timeStep, type OathParameters } from '../src/modules/methods/oath/otp.js';

export interface AuthSourceData {
  authorization: string;
  users: { username: string; secret: string }[];
  ip: string;
}

/**
 * A user may use one code per time step, and one more for the next step
 * (the server accepts ±1 step): users are taken in turn, each with the
 * earliest step it has not used yet, never earlier than the current one.
 */
export function createRequestSource(data: AuthSourceData): (request: autocannon.Request) => autocannon.Request {
  const users = data.users.map((user) => ({
    username: user.username,
    params: { secret: base32Decode(user.secret)!, algorithm: 'SHA1', digits: 6 } satisfies OathParameters,
    nextStep: 0,
  }));
  let index = 0;
  return (request) => {
    const now = timeStep(Date.now(), 30);
    let user = users[index % users.length]!;
    for (let tries = 0; tries < users.length && user.nextStep > now + 1; tries += 1) user = users[++index % users.length]!;
    index += 1;
    const step = Math.max(now, user.nextStep);
    user.nextStep = step + 1;
    const body = JSON.stringify({ username: user.username, passcode: hotp(user.params, step), ip: data.ip, auth_type: 'bench' });
    return { ...request, method: 'POST', path: '/auth/v1/auth', body, headers: { ...request.headers, authorization: data.authorization, 'content-type': 'application/json' } };
  };
}
