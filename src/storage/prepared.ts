import { CompiledQuery, type Compilable, type QueryResult } from 'kysely';
import type { Executor } from './database.js';
import { afterPreparedWrite } from './read-cache.js';
import { writtenTables, type Written } from './written-tables.js';

/** What a placeholder stands for until the query runs: a string no caller can send. */
const PLACEHOLDER = '\u0000countersign:param:';

interface Compiled {
  sql: string;
  /** Each bound value of the compiled query: a parameter's name, or a constant the builder put there. */
  slots: ({ param: string } | { value: unknown })[];
  /** The tables it writes, known from its query node (null for a read): the read cache must hear of them as of a Kysely write. */
  writes: Written;
}

/**
 * A query built once with Kysely and then run many times with new values.
 *
 * Building and compiling a query costs about as much as running a simple one
 * on SQLite, and the authentication path runs a dozen per request; a prepared
 * query is compiled once per database (per dialect adapter) and afterwards
 * only binds its values. `build` receives `param(name)`, which stands in for a
 * value at build time: use it wherever the value changes from run to run
 * (never inside `in (...)` lists, whose length would change the SQL).
 *
 * The values come as an object, or as a function from a parameter's name to
 * its value: a row of thirty columns is cheaper to look up column by column
 * than to copy into one object.
 *
 * Compiled SQL runs past the Kysely plugin that tells the read cache about
 * writes, so a prepared write tells it itself, after it has run, of the
 * tables its query node writes (storage/written-tables.ts): a prepared
 * statement can leave no stale cached read behind that a built one would not.
 */
export function prepared<Params extends Record<string, unknown>, Row>(
  build: (db: Executor, param: <K extends keyof Params & string>(name: K) => Params[K]) => Compilable<Row>,
): (db: Executor, params: Params | (<K extends keyof Params & string>(name: K) => Params[K])) => Promise<QueryResult<Row>> {
  const byAdapter = new WeakMap<object, Compiled>();
  const param = ((name: string) => PLACEHOLDER + name) as <K extends keyof Params & string>(name: K) => Params[K];

  const compile = (db: Executor): Compiled => {
    // The adapter is one object per database, shared by its transactions: the compiled SQL depends only on it.
    const adapter = db.getExecutor().adapter;
    let compiled = byAdapter.get(adapter);
    if (!compiled) {
      const query = build(db, param).compile();
      compiled = {
        sql: query.sql,
        slots: query.parameters.map((value) =>
          typeof value === 'string' && value.startsWith(PLACEHOLDER) ? { param: value.slice(PLACEHOLDER.length) } : { value },
        ),
        writes: writtenTables(query.query),
      };
      byAdapter.set(adapter, compiled);
    }
    return compiled;
  };

  return async (db, params) => {
    const { sql, slots, writes } = compile(db);
    const valueOf = typeof params === 'function' ? params : (name: string) => params[name];
    const values = slots.map((slot) => {
      if (!('param' in slot)) return slot.value;
      const value = valueOf(slot.param);
      if (value === undefined) throw new Error(`prepared query: no value for parameter ${slot.param}`);
      return value;
    });
    const result = await db.executeQuery(CompiledQuery.raw(sql, values) as CompiledQuery<Row>);
    if (writes) afterPreparedWrite(db, writes);
    return result;
  };
}
