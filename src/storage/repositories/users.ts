import { sql } from 'kysely';
import { isPostgres, type Executor, type Unit } from '../database.js';
import { prepared } from '../prepared.js';
import { cachedRead } from '../read-cache.js';
import { LIKE_ESCAPE, likeEscape } from '../dialect.js';
import type { NewUserRow, UserRow, UserRowUpdate } from '../schema.js';

export interface UserListQuery {
  /** Case-insensitive substring of username, first name, last name or e-mail. */
  search?: string;
  /** Only members of this group. */
  groupId?: string;
  /** Return users whose username_key sorts after this one. */
  afterKey?: string;
  limit: number;
}

const byKey = prepared<{ usernameKey: string }, UserRow>((db, param) => db.selectFrom('users').selectAll().where('username_key', '=', param('usernameKey')));

/*
 * The user row, locked for the rest of the unit of work (PostgreSQL). Every
 * unit that reads and changes what belongs to one user (an authentication, an
 * answer to its challenge, an administrator's change) takes this lock first,
 * so such units run one after another for that user on every node: a bypass
 * is used once, failures are counted before the next guess is checked, a
 * challenge's state is the one the previous answer left. NO KEY UPDATE leaves
 * foreign-key checks (inserts of the user's records) unblocked. On SQLite the
 * unit already holds the database's write lock, and a plain read does.
 */
const lockedByKey = prepared<{ usernameKey: string }, UserRow>((db, param) =>
  db.selectFrom('users').selectAll().where('username_key', '=', param('usernameKey')).forNoKeyUpdate(),
);
/**
 * The user by name key, the first read of every authentication: through the
 * read cache on SQLite, where the unit holds the write lock already; locked
 * for the rest of the unit on PostgreSQL (`lockedByKey`), read once per unit.
 */
const userByKey = cachedRead({
  name: 'user by name',
  tables: ['users'],
  key: (usernameKey: string) => usernameKey,
  load: async (db, usernameKey: string) => (await (isPostgres(db) ? lockedByKey : byKey)(db, { usernameKey })).rows[0],
});
const lockedById = prepared<{ id: string }, UserRow>((db, param) => db.selectFrom('users').selectAll().where('id', '=', param('id')).forNoKeyUpdate());
/** Rows that belong to one user and are found by their own id: a challenge, a password reset session. */
type OwnedTable = 'challenges' | 'sspr_sessions';
const ownerOf = (table: OwnedTable, locked: boolean) =>
  prepared<{ id: string }, UserRow>((db, param) => {
    const query = db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', (eb) => eb.selectFrom(table).select(`${table}.user_id`).where(`${table}.id`, '=', param('id')));
    return locked ? query.forNoKeyUpdate() : query;
  });
const OWNERS = {
  challenges: { locked: ownerOf('challenges', true), plain: ownerOf('challenges', false) },
  sspr_sessions: { locked: ownerOf('sspr_sessions', true), plain: ownerOf('sspr_sessions', false) },
};

export const usersRepository = {
  async insert(db: Executor, row: NewUserRow): Promise<void> {
    await db.insertInto('users').values(row).execute();
  },

  async insertMany(db: Executor, rows: NewUserRow[]): Promise<void> {
    // Bounded chunks keep each statement under the bind-parameter limit of both dialects.
    for (let start = 0; start < rows.length; start += 500) {
      await db.insertInto('users').values(rows.slice(start, start + 500)).execute();
    }
  },

  /** Prepared: every authentication starts with it. */
  async findByKey(db: Executor, usernameKey: string): Promise<UserRow | undefined> {
    return (await byKey(db, { usernameKey })).rows[0];
  },

  /** The user named by `usernameKey`, locked for the rest of the unit (see `userByKey`). */
  lockByKey(unit: Unit, usernameKey: string): Promise<UserRow | undefined> {
    return userByKey(unit, usernameKey);
  },

  /** The user with `id`, locked for the rest of the unit. */
  async lockById(unit: Unit, id: string): Promise<UserRow | undefined> {
    if (!isPostgres(unit)) return usersRepository.findById(unit, id);
    return (await lockedById(unit, { id })).rows[0];
  },

  /**
   * The user a challenge or a password reset session belongs to, locked for
   * the rest of the unit: read the row itself after this, so it is as the
   * user's last unit left it.
   */
  async lockOwner(unit: Unit, table: OwnedTable, id: string): Promise<UserRow | undefined> {
    return (await OWNERS[table][isPostgres(unit) ? 'locked' : 'plain'](unit, { id })).rows[0];
  },

  /**
   * The users whose primary phone is `e164` and who have a pending challenge
   * (a reply to a text message answers one), locked in id order so that two
   * units locking several users cannot wait for each other.
   */
  lockWaitingOnPhone(unit: Unit, e164: string): Promise<UserRow[]> {
    const query = unit
      .selectFrom('users')
      .selectAll()
      .where('id', 'in', (eb) => eb.selectFrom('challenges').select('challenges.user_id').where('challenges.status', '=', 'pending'))
      .where(sql<string>`'+' || phone_country_code || phone_number`, '=', e164)
      .orderBy('id');
    return (isPostgres(unit) ? query.forNoKeyUpdate() : query).execute();
  },

  findById(db: Executor, id: string): Promise<UserRow | undefined> {
    return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  },

  /** The keys among `keys` that already exist. */
  async existingKeys(db: Executor, keys: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let start = 0; start < keys.length; start += 500) {
      const rows = await db.selectFrom('users').select('username_key').where('username_key', 'in', keys.slice(start, start + 500)).execute();
      for (const row of rows) found.add(row.username_key);
    }
    return found;
  },

  async update(db: Executor, id: string, patch: UserRowUpdate): Promise<void> {
    await db.updateTable('users').set(patch).where('id', '=', id).execute();
  },

  async delete(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('users').where('id', '=', id).execute();
  },

  list(db: Executor, query: UserListQuery): Promise<UserRow[]> {
    let builder = db.selectFrom('users').selectAll('users');
    if (query.search) {
      const pattern = `%${likeEscape(query.search.toLowerCase())}%`;
      builder = builder.where((eb) =>
        eb.or(
          (['username_key', 'first_name', 'last_name', 'email'] as const).map(
            (column) => sql<boolean>`lower(${sql.ref(`users.${column}`)}) like ${pattern} ${LIKE_ESCAPE}`,
          ),
        ),
      );
    }
    if (query.groupId) {
      const groupId = query.groupId;
      builder = builder.where((eb) =>
        eb.exists(
          eb.selectFrom('user_groups').select('user_groups.user_id').whereRef('user_groups.user_id', '=', 'users.id').where('user_groups.group_id', '=', groupId),
        ),
      );
    }
    if (query.afterKey !== undefined) builder = builder.where('users.username_key', '>', query.afterKey);
    return builder.orderBy('users.username_key').limit(query.limit).execute();
  },

  async count(db: Executor): Promise<number> {
    const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  },
};
