import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../database.js';
import type { Migration } from '../migrator.js';

const CHALLENGE_COLUMNS = 'id, user_id, application_id, method, stage, status, result_code, primary_code, ip, auth_type, entry_point, state, created_at, expires_at, completed_at, signin_id';

/**
 * SQLite cannot change a column's NOT NULL: the table is built again under a
 * new name, filled, and swapped in. Challenges are short-lived state, so the
 * copy is small.
 */
async function rebuildChallenges(db: Kysely<unknown>, resultCodeNullable: boolean): Promise<void> {
  await db.schema
    .createTable('challenges_next')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('user_id', 'text', (col) => col.notNull())
    .addColumn('application_id', 'text', (col) => col.notNull())
    .addColumn('method', 'text', (col) => col.notNull())
    .addColumn('stage', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('result_code', 'text', (col) => (resultCodeNullable ? col : col.notNull()))
    .addColumn('primary_code', 'text')
    .addColumn('ip', 'text')
    .addColumn('auth_type', 'text', (col) => col.notNull())
    .addColumn('entry_point', 'text', (col) => col.notNull())
    .addColumn('state', 'text', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('expires_at', 'bigint', (col) => col.notNull())
    .addColumn('completed_at', 'bigint')
    .addColumn('signin_id', 'bigint')
    .execute();
  const source = resultCodeNullable ? sql.raw(CHALLENGE_COLUMNS) : sql.raw(CHALLENGE_COLUMNS.replace('result_code', "coalesce(result_code, 'FAILED_AUTH_RESULT_TIMEOUT')"));
  await sql`insert into challenges_next (${sql.raw(CHALLENGE_COLUMNS)}) select ${source} from challenges`.execute(db);
  await db.schema.dropTable('challenges').execute();
  await db.schema.alterTable('challenges_next').renameTo('challenges').execute();
  await db.schema.createIndex('challenges_user_status').on('challenges').columns(['user_id', 'status']).execute();
  await db.schema.createIndex('challenges_status_expiry').on('challenges').columns(['status', 'expires_at']).execute();
}

async function setResultCodeNullable(db: Kysely<unknown>, dialect: DialectName, nullable: boolean): Promise<void> {
  if (dialect === 'sqlite') return rebuildChallenges(db, nullable);
  if (nullable) await sql`alter table challenges alter column result_code drop not null`.execute(db);
  else {
    await sql`update challenges set result_code = 'FAILED_AUTH_RESULT_TIMEOUT' where result_code is null`.execute(db);
    await sql`alter table challenges alter column result_code set not null`.execute(db);
  }
}

/**
 * Voice calls (SPEC.md §1): the user's call mode, and the link from a call in
 * the telephony log to the challenge it serves, so the carrier's webhooks
 * (answered, keys pressed, hung up) reach the right authentication. A
 * challenge waiting for a call to be answered has no result code yet (SPEC.md
 * §2 has none for "call in progress"), so the column becomes nullable.
 */
export const voice: Migration = {
  name: '0005-voice',
  async up(db, dialect) {
    // SPEC.md §1 call mode: standard (answer and press #) or pin (the PIN, then #).
    await db.schema.alterTable('users').addColumn('call_mode', 'text', (col) => col.notNull().defaultTo('standard')).execute();
    await db.schema.alterTable('telephony_log').addColumn('challenge_id', 'text').execute();
    await setResultCodeNullable(db, dialect, true);
  },
  async down(db, dialect) {
    await setResultCodeNullable(db, dialect, false);
    await db.schema.alterTable('telephony_log').dropColumn('challenge_id').execute();
    await db.schema.alterTable('users').dropColumn('call_mode').execute();
  },
};
