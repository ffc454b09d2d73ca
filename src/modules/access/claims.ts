import { readFileSync } from 'node:fs';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { usernameKey } from '../directory/user-input.js';

/** Which satisfied detail a trusted issuer's MFA claim gives (SPEC.md §3). */
export type ClaimKind = 'token' | 'external_provider';

export const CLAIM_DETAILS = {
  token: 'satisfied by claim in the token',
  external_provider: 'satisfied by claim provided by external provider',
} as const;

/** One trusted issuer, as the claim issuers file lists it. */
interface Issuer {
  issuer: string;
  audience: string;
  kind: ClaimKind;
  /** `amr` values that mean the user did MFA. */
  mfaValues: string[];
  /** The claim that names the user (compared with the username, case-insensitively). */
  usernameClaim: string;
  /** The token must have been issued within this many seconds. */
  maxAgeSeconds: number;
  keys: ReturnType<typeof createLocalJWKSet>;
}

export type ClaimCheck = { ok: true; kind: ClaimKind; issuer: string } | { ok: false; reason: string };

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const KNOWN_KEYS = new Set(['issuer', 'audience', 'kind', 'mfaValues', 'usernameClaim', 'maxAgeSeconds', 'keys']);

/**
 * The issuers whose signed tokens satisfy MFA: a JWT from one of them,
 * signed with one of its keys, for this server (audience), recent, naming
 * the user and carrying an MFA `amr` value. An issuer of kind `token` gives
 * "satisfied by claim in the token" (the organisation's identity provider
 * did MFA already); `external_provider` gives "satisfied by claim provided
 * by external provider" (another MFA service did it for us).
 */
export class ClaimIssuers {
  private constructor(private readonly issuers: Issuer[]) {}

  static none(): ClaimIssuers {
    return new ClaimIssuers([]);
  }

  /** Reads and checks the file; throws an Error naming the first problem. */
  static fromFile(path: string): ClaimIssuers {
    const fail = (message: string): never => {
      throw new Error(`access.claimIssuersFile ${path}: ${message}`);
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      fail(error instanceof SyntaxError ? 'not valid JSON' : `cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
    const list = (parsed as { issuers?: unknown } | null)?.issuers;
    if (!Array.isArray(list)) fail('must hold an object with an "issuers" list');
    const issuers = (list as unknown[]).map((entry, index) => {
      const at = `issuers[${index}]`;
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail(`${at}: must be an object`);
      const item = entry as Record<string, unknown>;
      const unknown = Object.keys(item).find((key) => !KNOWN_KEYS.has(key));
      if (unknown) fail(`${at}.${unknown}: unknown key (known: ${[...KNOWN_KEYS].join(', ')})`);
      const text = (key: string, fallback?: string): string => {
        const value = item[key] ?? fallback;
        if (typeof value !== 'string' || value.trim() === '') fail(`${at}.${key}: must be a non-empty text`);
        return value as string;
      };
      const kind = text('kind', 'token');
      if (kind !== 'token' && kind !== 'external_provider') fail(`${at}.kind: must be token or external_provider`);
      const mfaValues = item.mfaValues ?? ['mfa'];
      if (!Array.isArray(mfaValues) || mfaValues.length === 0 || !mfaValues.every((value) => typeof value === 'string' && value !== '')) fail(`${at}.mfaValues: must be a non-empty list of amr values`);
      const maxAgeSeconds = item.maxAgeSeconds ?? 3600;
      if (!Number.isInteger(maxAgeSeconds) || (maxAgeSeconds as number) < 1 || (maxAgeSeconds as number) > 86_400) fail(`${at}.maxAgeSeconds: must be a whole number of seconds from 1 to 86400`);
      const jwks = item.keys as JSONWebKeySet | undefined;
      if (!jwks || !Array.isArray(jwks.keys) || jwks.keys.length === 0) fail(`${at}.keys: must be a JSON Web Key Set ({ "keys": [...] }) with at least one public key`);
      if (jwks!.keys.some((key) => typeof key !== 'object' || key === null || 'd' in key || 'k' in key)) fail(`${at}.keys: must hold public keys only (no "d" or "k")`);
      let keys: Issuer['keys'];
      try {
        keys = createLocalJWKSet(jwks!);
      } catch (error) {
        return fail(`${at}.keys: ${(error as Error).message}`);
      }
      return { issuer: text('issuer'), audience: text('audience'), kind: kind as ClaimKind, mfaValues: mfaValues as string[], usernameClaim: text('usernameClaim', 'preferred_username'), maxAgeSeconds: maxAgeSeconds as number, keys };
    });
    const seen = new Set<string>();
    for (const issuer of issuers) {
      if (seen.has(issuer.issuer)) fail(`issuer ${issuer.issuer} is listed twice`);
      seen.add(issuer.issuer);
    }
    return new ClaimIssuers(issuers);
  }

  get size(): number {
    return this.issuers.length;
  }

  /** Checks a token for a user at `now`; says why when it does not satisfy MFA. */
  async check(token: string, username: string, now: number): Promise<ClaimCheck> {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return { ok: false, reason: 'the claim token is not a JWT' };
    }
    const issuer = this.issuers.find((candidate) => candidate.issuer === iss);
    if (!issuer) return { ok: false, reason: `the claim token's issuer ${typeof iss === 'string' ? iss : '(none)'} is not trusted` };
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, issuer.keys, {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: ALGORITHMS,
        currentDate: new Date(now),
        maxTokenAge: issuer.maxAgeSeconds,
        clockTolerance: 30,
        requiredClaims: ['exp', 'iat'],
      }));
    } catch (error) {
      return { ok: false, reason: `the claim token does not verify: ${(error as Error).message}` };
    }
    const named = payload[issuer.usernameClaim];
    if (typeof named !== 'string' || usernameKey(named) !== usernameKey(username)) return { ok: false, reason: `the claim token's ${issuer.usernameClaim} is not this user` };
    const amr = Array.isArray(payload.amr) ? payload.amr : [];
    if (!amr.some((value) => issuer.mfaValues.includes(value as string))) return { ok: false, reason: `the claim token's amr has none of ${issuer.mfaValues.join(', ')}` };
    return { ok: true, kind: issuer.kind, issuer: issuer.issuer };
  }
}
