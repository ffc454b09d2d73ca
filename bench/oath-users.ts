// Users with one active TOTP token each, for the benchmarks that authenticate.
import { randomBytes } from 'node:crypto';
import type { Insertable } from 'kysely';
import type { Runtime } from '../src/main.js';
import { base32Encode } from '../src/modules/methods/oath/base32.js';
import { sealOathSecret } from '../src/modules/methods/oath/secret.js';
import { newId } from '../src/shared/ids.js';
import type { OathTokensTable, UsersTable } from '../src/storage/schema.js';
import type { AuthSourceData } from './auth-source.js';

const BATCH = 500;

/** Users with one active TOTP token each, written straight to the tables (enrolment is not what is measured). */
export async function seedUsers(runtime: Runtime, count: number): Promise<AuthSourceData['users']> {
  const users: AuthSourceData['users'] = [];
  const now = runtime.clock.now();
  for (let start = 0; start < count; start += BATCH) {
    const userRows: Insertable<UsersTable>[] = [];
    const tokenRows: Insertable<OathTokensTable>[] = [];
    for (let i = start; i < Math.min(count, start + BATCH); i += 1) {
      const id = newId();
      const username = `user${String(i).padStart(7, '0')}@bench.example`;
      const secret = randomBytes(20);
      userRows.push({ id, username, username_key: username, first_name: `First${i}`, last_name: `Last${i}`, email: username, language: 'en', account_enabled: 1, mfa_state: 'Enabled', pin_hash: null, pin_change_required: 0, created_at: now, updated_at: now });
      const tokenId = newId();
      tokenRows.push({ id: tokenId, user_id: id, serial: null, kind: 'software', type: 'totp', algorithm: 'SHA1', digits: 6, period: 30, secret_sealed: sealOathSecret(runtime.keyring, tokenId, secret), status: 'active', name: 'bench', last_used: null, created_at: now, last_used_at: null });
      users.push({ username, secret: base32Encode(secret) });
    }
    await runtime.storage.db.transaction().execute(async (trx) => {
      await trx.insertInto('users').values(userRows).execute();
      await trx.insertInto('oath_tokens').values(tokenRows).execute();
    });
  }
  return users;
}
