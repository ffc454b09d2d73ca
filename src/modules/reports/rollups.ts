import type { Clock } from '../../shared/clock.js';
import type { Db, Executor, UnitOfWork } from '../../storage/database.js';
import { isUniqueViolation } from '../../storage/errors.js';
import { signinRollupsRepository, type DayFailures, type SigninGroup } from '../../storage/repositories/rollups.js';

export const DAY = 86_400_000;
/** A day is rolled up once it ended this long ago: a node whose clock is a little behind may still write a sign-in dated that day. */
const SETTLE_MS = 3_600_000;
/** A user with this many failed sign-ins within one UTC day has repeated failures. */
export const REPEATED_FAILURES = 3;

const groupsOf = (db: Executor, from: number, to: number) => signinRollupsRepository.groupSignins(db, from, to);
const failuresOf = (db: Executor, from: number, to: number) => signinRollupsRepository.repeatedFailures(db, from, to, REPEATED_FAILURES);

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
    const { groups, failures } = await signinRollupsRepository.read(db, first, end);
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
    const oldest = await signinRollupsRepository.oldestSigninAt(this.deps.db);
    if (oldest === undefined) return 0;
    return this.ensure(Math.floor(oldest / DAY), this.settledUntil());
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
    const done = await signinRollupsRepository.rolledDays(this.deps.db, first, end);
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
        // Two nodes rolling up the same day cannot both commit: the second fails on the day's row.
        await signinRollupsRepository.insertDay(trx, day, this.deps.clock.now(), groups, failures);
      });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }
}
