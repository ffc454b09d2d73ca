import { CompiledQuery, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { Executor } from './database.js';

// Immediate: the batch takes the write lock at once, so no other process commits between its data_version check and its commit.
const BEGIN = CompiledQuery.raw('begin immediate');
const COMMIT = CompiledQuery.raw('commit');
const ROLLBACK = CompiledQuery.raw('rollback');
const SAVEPOINT = CompiledQuery.raw('savepoint unit');
const RELEASE = CompiledQuery.raw('release unit');
const ROLLBACK_TO = CompiledQuery.raw('rollback to unit');

export interface BatchHooks {
  /** Runs first in each batch's transaction, before any unit. */
  begin?: (connection: Executor) => Promise<void>;
  /** A unit or a whole batch was rolled back. */
  rolledBack?: () => void;
}

interface Unit {
  work: (trx: Executor) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for SQLite. Every commit appends the pages a transaction
 * touched to the WAL, and an authentication touches a dozen (its records and
 * their indexes), so one commit per authentication caps throughput long
 * before the CPU does. Units of work that arrive while a batch is running
 * wait for the next batch; a batch runs its units one after another in one
 * transaction, each inside its own savepoint, and commits once.
 *
 * - A unit that throws is rolled back to its savepoint alone; the others commit.
 * - Every unit's caller is answered only after the batch has committed, so
 *   nothing is reported that could still be lost.
 * - A unit must use only the executor it is given: the batch holds the
 *   connection, and a query on the database itself would wait for it forever.
 */
export class GroupCommit {
  private queue: Unit[] = [];
  private running = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly hooks: BatchHooks = {},
    private readonly maxBatch = 256,
  ) {}

  run<T>(work: (trx: Executor) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.running) {
        this.running = true;
        // Start on the next turn of the event loop, so that every request read in this turn joins the batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.runBatch(this.queue.splice(0, this.maxBatch));
    } finally {
      this.running = false;
    }
  }

  private async runBatch(batch: Unit[]): Promise<void> {
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      // One connection for the whole batch; savepoints are plain statements, so a unit costs two short statements.
      await this.db.connection().execute(async (connection) => {
        await connection.executeQuery(BEGIN);
        try {
          await this.hooks.begin?.(connection);
          for (const unit of batch) {
            await connection.executeQuery(SAVEPOINT);
            try {
              const value = await unit.work(connection);
              await connection.executeQuery(RELEASE);
              outcomes.push({ ok: true, value });
            } catch (error) {
              await connection.executeQuery(ROLLBACK_TO);
              await connection.executeQuery(RELEASE);
              this.hooks.rolledBack?.();
              outcomes.push({ ok: false, value: error });
            }
          }
          await connection.executeQuery(COMMIT);
        } catch (error) {
          await connection.executeQuery(ROLLBACK).catch(() => undefined);
          throw error;
        }
      });
    } catch (error) {
      // The batch could not commit: nothing of it is durable, so every unit fails.
      this.hooks.rolledBack?.();
      batch.forEach((unit) => unit.reject(error));
      return;
    }
    batch.forEach((unit, index) => (outcomes[index]!.ok ? unit.resolve(outcomes[index]!.value) : unit.reject(outcomes[index]!.value)));
  }
}
