import { sql, type CreateTableBuilder } from 'kysely';
import type { DialectName } from './database.js';

/*
 * The few places SQLite and PostgreSQL differ in DDL. Everything else in the
 * migrations is written once with Kysely's schema builder.
 */

/** Adds an auto-increment integer primary key named `id`. */
export function withAutoIncrementId<T extends string>(
  builder: CreateTableBuilder<T, never>,
  dialect: DialectName,
): CreateTableBuilder<T, 'id'> {
  return dialect === 'postgres'
    ? builder.addColumn('id', 'bigint', (col) => col.primaryKey().generatedByDefaultAsIdentity())
    : builder.addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement());
}

/** Escapes LIKE wildcards in user input so that `%` and `_` match themselves. */
export const likeEscape = (text: string): string => text.replace(/[\\%_]/g, (char) => `\\${char}`);

/** `ESCAPE '\'` clause matching likeEscape, valid on both dialects. */
export const LIKE_ESCAPE = sql.raw(`escape '\\'`);
