import type { Executor } from '../database.js';

/** Which earlier successes a cache hit may come from. */
export interface MfaSuccessQuery {
  userId: string;
  /** Sign-ins after this time only. */
  since: number;
  /**
   * Result codes that do not count (the cache's own hits, so that a cache
   * cannot extend itself). SQL's `not in` is false for a null code too: a
   * sign-in satisfied without a result code (a remembered device, a claim)
   * never counts.
   */
  exceptCodes: readonly [string, ...string[]];
  /** Only sign-ins of this application with this auth type. */
  sameApplication?: { applicationId: string; authType: string };
  /** Only sign-ins from this client IP; null: only sign-ins that had none. */
  sameIp?: { ip: string | null };
}

/** The successful sign-ins that completed MFA, as the cache rule looks for them. */
export const signinSuccessesRepository = {
  /** The time of the user's latest successful sign-in with MFA that the query allows, or null. */
  async latestWithMfa(db: Executor, query: MfaSuccessQuery): Promise<number | null> {
    let builder = db
      .selectFrom('signins')
      .select('at')
      .where('user_id', '=', query.userId)
      .where('at', '>', query.since)
      .where('status', '=', 'success')
      .where('mfa_required', '=', 1)
      .where('result_code', 'not in', [...query.exceptCodes]);
    if (query.sameApplication) builder = builder.where('application_id', '=', query.sameApplication.applicationId).where('auth_type', '=', query.sameApplication.authType);
    if (query.sameIp) builder = query.sameIp.ip === null ? builder.where('ip', 'is', null) : builder.where('ip', '=', query.sameIp.ip);
    const hit = await builder.orderBy('at', 'desc').limit(1).executeTakeFirst();
    return hit ? Number(hit.at) : null;
  },
};
