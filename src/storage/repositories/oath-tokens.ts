import type { Insertable, Updateable } from 'kysely';
import type { Executor } from '../database.js';
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
};
