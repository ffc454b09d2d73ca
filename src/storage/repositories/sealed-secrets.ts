import type { Executor } from '../database.js';
import type { OathTokenRow } from '../schema.js';

/**
 * Values sealed with the master key, as a node's start-up check finds them
 * (modules/cluster/master-key-check.ts): whichever is at hand, not one of
 * anybody's in particular.
 */
export const sealedSecretsRepository = {
  /** Some OATH token's sealed seed, if there is any token: for a database from before the check, the proof of which key it uses. */
  anyOathSeed(db: Executor): Promise<Pick<OathTokenRow, 'id' | 'secret_sealed'> | undefined> {
    return db.selectFrom('oath_tokens').select(['id', 'secret_sealed']).limit(1).executeTakeFirst();
  },
};
