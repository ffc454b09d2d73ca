import type { Insertable, Updateable } from 'kysely';
import type { Executor } from '../database.js';
import { prepared } from '../prepared.js';
import { cachedRead } from '../read-cache.js';
import type { OathTokenRow, OathTokensTable } from '../schema.js';

export type NewOathTokenRow = Insertable<OathTokensTable>;
export type OathTokenRowUpdate = Updateable<OathTokensTable>;

/** A token with the username of the user holding it (null for an unassigned hardware token). */
export type OathTokenWithUser = OathTokenRow & { username: string | null };

/** What a guarded update expects the row to still hold; the update changes nothing otherwise. */
export interface OathTokenExpectation {
  status?: string;
  /** The user the token is assigned to; null for "unassigned". */
  userId?: string | null;
  counter?: number;
  lastUsed?: number | null;
}

export interface HardwareListQuery {
  unassignedOnly: boolean;
  /** Return tokens whose serial sorts after this one. */
  afterSerial?: string;
  limit: number;
}

// The queries of a verification are prepared: they run on every authentication with a code.
const activeOfUser = prepared<{ userId: string }, OathTokenRow>((db, param) =>
  db.selectFrom('oath_tokens').selectAll().where('user_id', '=', param('userId')).where('status', '=', 'active').orderBy('created_at'),
);

/**
 * A user's active tokens, kept in memory (storage/read-cache.ts): choosing
 * the method and verifying the code read them, in the preauth and the auth
 * of one sign-in. The replay check never trusts these rows: it is a
 * conditional update (`useStep`), whose write drops them. Users, because
 * deleting a user unassigns its tokens (`on delete set null`).
 */
export const activeTokensOf = cachedRead({
  name: 'active OATH tokens of a user',
  tables: ['oath_tokens', 'users'],
  key: (userId: string) => userId,
  load: async (db, userId: string) => (await activeOfUser(db, { userId })).rows,
});

/** A used code: the token, its time step or counter, when, and what follows it. */
export type UsedStep = {
  id: string;
  step: number;
  at: number;
  /** HOTP: the next expected counter; TOTP: the device's clock drift in steps. */
  next: number;
};

/** Marks a step used unless it, or a later one, was used already (the replay check). */
const useStepOf = (type: 'totp' | 'hotp') =>
  prepared<UsedStep, never>((db, param) =>
    db
      .updateTable('oath_tokens')
      .set({ last_used: param('step'), last_used_at: param('at'), ...(type === 'hotp' ? { counter: param('next') } : { drift: param('next') }) })
      .where('id', '=', param('id'))
      .where((eb) => eb.or([eb('last_used', 'is', null), eb('last_used', '<', param('step'))])),
  );
const USE_STEP = { totp: useStepOf('totp'), hotp: useStepOf('hotp') };

export const oathTokensRepository = {
  async insert(db: Executor, row: NewOathTokenRow): Promise<void> {
    await db.insertInto('oath_tokens').values(row).execute();
  },

  async insertMany(db: Executor, rows: NewOathTokenRow[]): Promise<void> {
    // Bounded chunks keep each statement under the bind-parameter limit of both dialects.
    for (let start = 0; start < rows.length; start += 200) {
      await db.insertInto('oath_tokens').values(rows.slice(start, start + 200)).execute();
    }
  },

  findById(db: Executor, id: string): Promise<OathTokenRow | undefined> {
    return db.selectFrom('oath_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  },

  findBySerial(db: Executor, serial: string): Promise<OathTokenRow | undefined> {
    return db.selectFrom('oath_tokens').selectAll().where('serial', '=', serial).executeTakeFirst();
  },

  /** The serials among `serials` that already exist. */
  async existingSerials(db: Executor, serials: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let start = 0; start < serials.length; start += 500) {
      const rows = await db.selectFrom('oath_tokens').select('serial').where('serial', 'in', serials.slice(start, start + 500)).execute();
      for (const row of rows) if (row.serial !== null) found.add(row.serial);
    }
    return found;
  },

  /** A user's tokens, oldest first. */
  listForUser(db: Executor, userId: string): Promise<OathTokenRow[]> {
    return db.selectFrom('oath_tokens').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
  },

  /** Hardware tokens by serial, with the username of their holder. */
  listHardware(db: Executor, query: HardwareListQuery): Promise<OathTokenWithUser[]> {
    let builder = db
      .selectFrom('oath_tokens')
      .leftJoin('users', 'users.id', 'oath_tokens.user_id')
      .selectAll('oath_tokens')
      .select('users.username')
      .where('oath_tokens.kind', '=', 'hardware');
    if (query.unassignedOnly) builder = builder.where('oath_tokens.user_id', 'is', null);
    if (query.afterSerial !== undefined) builder = builder.where('oath_tokens.serial', '>', query.afterSerial);
    return builder.orderBy('oath_tokens.serial').limit(query.limit).execute();
  },

  /**
   * Updates a token, only while it still holds what `expected` says: of two
   * concurrent changes to the same token only one lands. True when it did.
   */
  async update(db: Executor, id: string, patch: OathTokenRowUpdate, expected: OathTokenExpectation = {}): Promise<boolean> {
    let builder = db.updateTable('oath_tokens').set(patch).where('id', '=', id);
    if (expected.status !== undefined) builder = builder.where('status', '=', expected.status);
    if (expected.userId !== undefined) builder = builder.where('user_id', expected.userId === null ? 'is' : '=', expected.userId);
    if (expected.counter !== undefined) builder = builder.where('counter', '=', expected.counter);
    if (expected.lastUsed !== undefined) builder = builder.where('last_used', expected.lastUsed === null ? 'is' : '=', expected.lastUsed);
    const result = await builder.executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },

  async delete(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('oath_tokens').where('id', '=', id).execute();
  },

  /**
   * Marks `used.step` used on the token unless it, or a later one, was used
   * already: one conditional update, so of two concurrent requests with the
   * same code only one changes the row. True when this one did.
   */
  async useStep(db: Executor, type: 'totp' | 'hotp', used: UsedStep): Promise<boolean> {
    return Number((await USE_STEP[type](db, used)).numAffectedRows) === 1;
  },

  /** The last step or counter used on the token, read from the database. */
  async lastUsedOf(db: Executor, id: string): Promise<number | null> {
    const row = await db.selectFrom('oath_tokens').select('last_used').where('id', '=', id).executeTakeFirst();
    return row === undefined || row.last_used === null ? null : Number(row.last_used);
  },

  /** A user's erasure: software tokens belong to the user and go; hardware tokens belong to the organisation and are unassigned. */
  async deleteOrUnassignOfUser(db: Executor, userId: string): Promise<{ deleted: number; unassigned: number }> {
    const deleted = await db.deleteFrom('oath_tokens').where('user_id', '=', userId).where('kind', '=', 'software').executeTakeFirst();
    const unassigned = await db.updateTable('oath_tokens').set({ user_id: null, name: null, last_used_at: null }).where('user_id', '=', userId).executeTakeFirst();
    return { deleted: Number(deleted.numDeletedRows), unassigned: Number(unassigned.numUpdatedRows) };
  },
};
