import type { Insertable, Selectable, Updateable } from 'kysely';
import type { Executor } from '../database.js';
import { prepared } from '../prepared.js';
import type { AppActivationCodesTable, AppActivationRow, AppActivationsTable, AppDeviceRow, AppDevicesTable, AppNoncesTable } from '../schema.js';

export type AppActivationCodeRow = Selectable<AppActivationCodesTable>;

// Prepared: every authentication asks which methods the user has, the app among them.
const devicesOfUser = prepared<{ userId: string }, AppDeviceRow>((db, param) =>
  db.selectFrom('app_devices').selectAll().where('user_id', '=', param('userId')).orderBy('created_at').orderBy('id'),
);

/** Activated authenticator apps (SPEC.md §1 mobile app). */
export const appDevicesRepository = {
  async insert(db: Executor, row: Insertable<AppDevicesTable>): Promise<void> {
    await db.insertInto('app_devices').values(row).execute();
  },

  findById(db: Executor, id: string): Promise<AppDeviceRow | undefined> {
    return db.selectFrom('app_devices').selectAll().where('id', '=', id).executeTakeFirst();
  },

  /** The device `id` when it belongs to `userId`. */
  findOfUser(db: Executor, userId: string, id: string): Promise<AppDeviceRow | undefined> {
    return db.selectFrom('app_devices').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  },

  /** A user's devices, oldest first, blocked ones included. */
  async listForUser(db: Executor, userId: string): Promise<AppDeviceRow[]> {
    return (await devicesOfUser(db, { userId })).rows;
  },

  async hasActive(db: Executor, userId: string): Promise<boolean> {
    return Boolean(await db.selectFrom('app_devices').select('id').where('user_id', '=', userId).where('status', '=', 'active').executeTakeFirst());
  },

  async update(db: Executor, id: string, patch: Updateable<AppDevicesTable>): Promise<void> {
    await db.updateTable('app_devices').set(patch).where('id', '=', id).execute();
  },

  async delete(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('app_devices').where('id', '=', id).execute();
  },

  async deleteOfUser(db: Executor, userId: string): Promise<number> {
    return Number((await db.deleteFrom('app_devices').where('user_id', '=', userId).executeTakeFirst()).numDeletedRows);
  },

  /** A push to these devices went unanswered: each has missed one more. */
  async addMissedPush(db: Executor, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await db
      .updateTable('app_devices')
      .set((eb) => ({ missed_pushes: eb('missed_pushes', '+', 1) }))
      .where('id', 'in', ids)
      .execute();
  },

  /** Blocks those of `ids` still active that have missed `limit` pushes or more. */
  async blockAfterMissedPushes(db: Executor, ids: string[], limit: number, reason: string): Promise<void> {
    if (ids.length === 0) return;
    await db.updateTable('app_devices').set({ status: 'blocked', blocked_reason: reason }).where('id', 'in', ids).where('status', '=', 'active').where('missed_pushes', '>=', limit).execute();
  },
};

/** One-time activation codes, found by their keyed hash. */
export const appActivationCodesRepository = {
  async insert(db: Executor, row: Insertable<AppActivationCodesTable>): Promise<void> {
    await db.insertInto('app_activation_codes').values(row).execute();
  },

  findByHash(db: Executor, codeHash: string): Promise<AppActivationCodeRow | undefined> {
    return db.selectFrom('app_activation_codes').selectAll().where('code_hash', '=', codeHash).executeTakeFirst();
  },

  /** Marks the code used; false when it was used already, so of two racing activations only one gets true. */
  async claim(db: Executor, codeHash: string, at: number): Promise<boolean> {
    const result = await db.updateTable('app_activation_codes').set({ used_at: at }).where('code_hash', '=', codeHash).where('used_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  async deleteOfUser(db: Executor, userId: string): Promise<number> {
    return Number((await db.deleteFrom('app_activation_codes').where('user_id', '=', userId).executeTakeFirst()).numDeletedRows);
  },
};

/** Activation records (SPEC.md §5 activations). */
export const appActivationsRepository = {
  async insert(db: Executor, row: Insertable<AppActivationsTable>): Promise<void> {
    await db.insertInto('app_activations').values(row).execute();
  },

  listForUser(db: Executor, userId: string, order: 'oldest' | 'newest'): Promise<AppActivationRow[]> {
    return db.selectFrom('app_activations').selectAll().where('user_id', '=', userId).orderBy('id', order === 'newest' ? 'desc' : 'asc').execute();
  },

  async deleteOfUser(db: Executor, userId: string): Promise<number> {
    return Number((await db.deleteFrom('app_activations').where('user_id', '=', userId).executeTakeFirst()).numDeletedRows);
  },
};

/** Nonces of signed device requests. */
export const appNoncesRepository = {
  async deleteExpired(db: Executor, now: number): Promise<void> {
    await db.deleteFrom('app_nonces').where('expires_at', '<', now).execute();
  },

  /**
   * Adds the nonce unless the device used it already. The key decides: of
   * simultaneous requests with one nonce, on any node, only the insert that
   * added the row gets true.
   */
  async insertIfNew(db: Executor, row: Insertable<AppNoncesTable>): Promise<boolean> {
    const inserted = await db
      .insertInto('app_nonces')
      .values(row)
      .onConflict((conflict) => conflict.columns(['device_id', 'nonce']).doNothing())
      .executeTakeFirst();
    return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1;
  },

  async deleteOfDevices(db: Executor, deviceIds: string[]): Promise<void> {
    if (deviceIds.length === 0) return;
    await db.deleteFrom('app_nonces').where('device_id', 'in', deviceIds).execute();
  },
};

/** What the push-fatigue defence counts. */
export interface RecentPushes {
  /** The result codes of the user's ended sign-ins with the app that sent a push. */
  ended: (string | null)[];
  /** How many of the user's app challenges are still open. */
  open: number;
}

export const appPushesRepository = {
  /**
   * The user's pushes since `since`: sign-ins of the app method that sent one
   * (no push-fatigue step, or only number matching forced) and the app
   * challenges still pending.
   */
  async recent(db: Executor, userId: string, since: number): Promise<RecentPushes> {
    const ended = await db
      .selectFrom('signins')
      .select('result_code')
      .where('user_id', '=', userId)
      .where('at', '>=', since)
      .where('method', '=', 'app')
      .where((eb) => eb.or([eb('push_fatigue', 'is', null), eb('push_fatigue', '=', 'number_matching_required')]))
      .execute();
    const open = await db.selectFrom('challenges').select('id').where('user_id', '=', userId).where('status', '=', 'pending').where('method', '=', 'app').execute();
    return { ended: ended.map((row) => row.result_code), open: open.length };
  },
};
