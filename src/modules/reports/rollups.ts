import { sql } from 'kysely';
import type { Clock } from '../../shared/clock.js';
import type { Db, Executor, UnitOfWork } from '../../storage/database.js';
import { isUniqueViolation } from '../../storage/errors.js';

export const DAY = 86_400_000;
/** A day is rolled up once it ended this long ago: a node whose clock is a little behind may still write a sign-in dated that day. */
const SETTLE_MS = 3_600_000;
/** A user with this many failed sign-ins within one UTC day has repeated failures. */
export const REPEATED_FAILURES = 3;

/** Sign-ins of one day counted by the columns reports break them down by. */
export interface SigninGroup {
  day: number;
  method: string | null;
  entry_point: string;
  status: string;
  mfa_required: boolean;
  detail: string | null;
  signins: number;
}

/** A user's failed sign-ins on a day on which they reached REPEATED_FAILURES. */
export interface DayFailures {
  day: number;
  username: string;
  failures: number;
}

/** UTC calendar day number (days since the epoch) of a time, as both dialects compute it. */
const dayOf = sql<number>`at / ${sql.lit(DAY)}`;

/** The sign-ins of [from, to), grouped: one scan of the time index. */
async function groupsOf(db: Executor, from: number, to: number): Promise<SigninGroup[]> {
  const rows = await db
    .selectFrom('signins')
    .where('at', '>=', from)
    .where('at', '<', to)
    .select((eb) => [dayOf.as('day'), 'method', 'entry_point', 'status', 'mfa_required', 'detail', eb.fn.countAll<number>().as('signins')])
    .groupBy([dayOf, 'method', 'entry_point', 'status', 'mfa_required', 'detail'])
    .execute();
  return rows.map((row) => ({ ...row, day: Math.floor(Number(row.day)), mfa_required: Boolean(row.mfa_required), signins: Number(row.signins) }));
}

/** Users with repeated failures within a day of [from, to). */
async function failuresOf(db: Executor, from: number, to: number): Promise<DayFailures[]> {
  const rows = await db
    .selectFrom('signins')
    .where('at', '>=', from)
    .where('at', '<', to)
    .where('status', '=', 'failure')
    .select((eb) => [dayOf.as('day'), 'username', eb.fn.countAll<number>().as('failures')])
    .groupBy([dayOf, 'username'])
    .having((eb) => eb.fn.countAll(), '>=', REPEATED_FAILURES)
    .execute();
  return rows.map((row) => ({ day: Math.floor(Number(row.day)), username: row.username, failures: Number(row.failures) }));
}

/**
 * Daily roll-ups of the sign-in log for the reports of SPEC.md §4: for each
 * whole past UTC day, its sign-ins counted by method, entry point, status,
 * MFA requirement and detail (a few hundred rows), and the users who failed
 * repeatedly that day. Sign-ins are never changed once written, so a day's
 * roll-up stays true; a report over any period reads the roll-ups of its
 * whole days and groups the sign-ins of the partial days at its ends and of
 * today directly. Days missing a roll-up are rolled up when a report needs
 * them, and by the server in the background (`rollUp`).
 */
export class SigninRollups {
  constructor(private readonly deps: { db: Db; transact: UnitOfWork; clock: Clock }) {}

  /** The last day whose roll-up can be made now (exclusive end). */
  private settledUntil(): number {
    return Math.floor((this.deps.clock.now() - SETTLE_MS) / DAY);
  }

  /** The grouped sign-ins and repeated failures of [from, to), from roll-ups where they exist or can be made. */
  async read(from: number, to: number): Promise<{ groups: SigninGroup[]; failures: DayFailures[] }> {
    const first = Math.ceil(from / DAY);
    const end = Math.min(Math.floor(to / DAY), this.settledUntil());
    if (end <= first) return { groups: await groupsOf(this.deps.db, from, to), failures: await failuresOf(this.deps.db, from, to) };
    await this.ensure(first, end);
    const db = this.deps.db;
    const rolled = await db.selectFrom('signin_rollups').selectAll().where('day', '>=', first).where('day', '<', end).execute();
    const rolledFailures = await db.selectFrom('signin_rollup_failures').selectAll().where('day', '>=', first).where('day', '<', end).execute();
    const groups: SigninGroup[] = rolled.map((row) => ({ ...row, day: Number(row.day), mfa_required: Boolean(row.mfa_required), signins: Number(row.signins) }));
    const failures: DayFailures[] = rolledFailures.map((row) => ({ day: Number(row.day), username: row.username, failures: Number(row.failures) }));
    // The partial days at either end, read directly.
    for (const [start, stop] of [
      [from, first * DAY],
      [end * DAY, to],
    ] as const) {
      if (start >= stop) continue;
      groups.push(...(await groupsOf(db, start, stop)));
      failures.push(...(await failuresOf(db, start, stop)));
    }
    return { groups, failures };
  }

  /** Rolls up every settled day from the oldest sign-in on that has no roll-up yet; returns how many days it rolled up. */
  async rollUp(): Promise<number> {
    const oldest = await this.deps.db.selectFrom('signins').select('at').orderBy('at').limit(1).executeTakeFirst();
    if (!oldest) return 0;
    return this.ensure(Math.floor(Number(oldest.at) / DAY), this.settledUntil());
  }

  /** Runs `rollUp` every `intervalMs` (the server's background work); returns a function that stops it. */
  start(intervalMs: number, onError: (error: unknown) => void): () => void {
    const run = () => void this.rollUp().catch(onError);
    const timer = setInterval(run, intervalMs);
    timer.unref();
    setImmediate(run);
    return () => clearInterval(timer);
  }

  /** Makes the roll-ups of the days [first, end) that are missing. */
  private async ensure(first: number, end: number): Promise<number> {
    const done = new Set(
      (await this.deps.db.selectFrom('signin_rollup_days').select('day').where('day', '>=', first).where('day', '<', end).execute()).map((row) => Number(row.day)),
    );
    let made = 0;
    for (let day = first; day < end; day += 1) {
      if (done.has(day)) continue;
      if (await this.rollUpDay(day)) made += 1;
    }
    return made;
  }

  /** One day's roll-up, in one transaction; false when another node made it meanwhile. */
  private async rollUpDay(day: number): Promise<boolean> {
    try {
      await this.deps.transact(async (trx) => {
        const groups = await groupsOf(trx, day * DAY, (day + 1) * DAY);
        const failures = await failuresOf(trx, day * DAY, (day + 1) * DAY);
        for (let index = 0; index < groups.length; index += 500) {
          await trx.insertInto('signin_rollups').values(groups.slice(index, index + 500).map((group) => ({ ...group, mfa_required: group.mfa_required ? 1 : 0 }))).execute();
        }
        for (let index = 0; index < failures.length; index += 500) await trx.insertInto('signin_rollup_failures').values(failures.slice(index, index + 500)).execute();
        // Last, so that two nodes rolling up the same day cannot both commit.
        await trx.insertInto('signin_rollup_days').values({ day, rolled_at: this.deps.clock.now() }).execute();
      });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }
}
