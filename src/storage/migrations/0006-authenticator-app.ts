import { withAutoIncrementId } from '../dialect.js';
import type { Migration } from '../migrator.js';

/**
 * The authenticator app (SPEC.md §1, §5): activated devices with their public
 * keys, one-time activation codes (kept as keyed hashes), the activation
 * records, the nonces of signed device requests (replay refusal), the
 * user's app mode, and the push-fatigue flag of sign-ins.
 */
export const authenticatorApp: Migration = {
  name: '0006-authenticator-app',
  async up(db, dialect) {
    // SPEC.md §1 app mode: standard (approve / deny / report fraud) or pin (the PIN entered in the app).
    await db.schema.alterTable('users').addColumn('app_mode', 'text', (col) => col.notNull().defaultTo('standard')).execute();
    await db.schema
      .createTable('app_devices')
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('type', 'text', (col) => col.notNull())
      .addColumn('app_version', 'text')
      .addColumn('os_version', 'text')
      // The device's ECDSA P-256 public key as a JWK: every request and answer of the device is signed with its private key.
      .addColumn('public_key', 'text', (col) => col.notNull())
      // The push service's token for the device (FCM, APNs...), when it has one.
      .addColumn('device_token', 'text')
      .addColumn('oath_token_id', 'text')
      .addColumn('status', 'text', (col) => col.notNull()) // active | blocked
      .addColumn('blocked_reason', 'text')
      .addColumn('missed_pushes', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('last_seen_at', 'bigint')
      .execute();
    await db.schema.createIndex('app_devices_user').on('app_devices').column('user_id').execute();
    await db.schema
      .createTable('app_activation_codes')
      .addColumn('code_hash', 'text', (col) => col.primaryKey())
      .addColumn('user_id', 'text', (col) => col.notNull().references('users.id').onDelete('cascade'))
      .addColumn('oath_enabled', 'integer', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('expires_at', 'bigint', (col) => col.notNull())
      .addColumn('used_at', 'bigint')
      .execute();
    await db.schema.createIndex('app_activation_codes_user').on('app_activation_codes').column('user_id').execute();
    // SPEC.md §5: authenticator app activations.
    await withAutoIncrementId(db.schema.createTable('app_activations'), dialect)
      .addColumn('at', 'bigint', (col) => col.notNull())
      .addColumn('user_id', 'text')
      .addColumn('username', 'text', (col) => col.notNull())
      .addColumn('account_name', 'text', (col) => col.notNull())
      .addColumn('get_activation_code_result', 'text')
      .addColumn('activation_success', 'integer')
      .addColumn('activation_error', 'text')
      .addColumn('activation_status_result', 'text')
      .addColumn('device_name', 'text')
      .addColumn('device_type', 'text')
      .addColumn('app_version', 'text')
      .addColumn('oath_token_enabled', 'integer', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('app_activations_user').on('app_activations').columns(['user_id', 'id']).execute();
    await db.schema
      .createTable('app_nonces')
      .addColumn('device_id', 'text', (col) => col.notNull())
      .addColumn('nonce', 'text', (col) => col.notNull())
      .addColumn('expires_at', 'bigint', (col) => col.notNull())
      .addPrimaryKeyConstraint('app_nonces_pk', ['device_id', 'nonce'])
      .execute();
    await db.schema.createIndex('app_nonces_expiry').on('app_nonces').column('expires_at').execute();
    // Push-fatigue defence: what it did to a sign-in (number matching required, codes instead of a push, pushes stopped).
    await db.schema.alterTable('signins').addColumn('push_fatigue', 'text').execute();
  },
  async down(db) {
    await db.schema.alterTable('signins').dropColumn('push_fatigue').execute();
    await db.schema.dropTable('app_nonces').execute();
    await db.schema.dropTable('app_activations').execute();
    await db.schema.dropTable('app_activation_codes').execute();
    await db.schema.dropTable('app_devices').execute();
    await db.schema.alterTable('users').dropColumn('app_mode').execute();
  },
};
