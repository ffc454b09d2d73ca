import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import ts from 'typescript';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../src/storage/migrator.js';
import { FakeClock } from '../src/shared/clock.js';
import { createTestStorage, DIALECTS, type TestStorage } from './helpers/storage.js';

/**
 * The tables and columns `storage/schema.ts` declares (the `Database`
 * interface and each table's interface), read from its source: what every
 * query is typed against.
 */
function declaredSchema(): Map<string, Set<string>> {
  const path = new URL('../src/storage/schema.ts', import.meta.url);
  const source = ts.createSourceFile('schema.ts', readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const interfaces = new Map<string, ts.InterfaceDeclaration>();
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node)) interfaces.set(node.name.text, node);
  });
  const propertiesOf = (declaration: ts.InterfaceDeclaration): Map<string, string> => {
    const properties = new Map<string, string>();
    for (const member of declaration.members) {
      if (ts.isPropertySignature(member) && member.type) properties.set((member.name as ts.Identifier).text, member.type.getText(source));
    }
    return properties;
  };
  const tables = new Map<string, Set<string>>();
  for (const [table, type] of propertiesOf(interfaces.get('Database')!)) {
    const declaration = interfaces.get(type);
    if (!declaration) throw new Error(`schema.ts: table ${table} names ${type}, which is not an interface of the file`);
    tables.set(table, new Set(propertiesOf(declaration).keys()));
  }
  return tables;
}

/** The tables and columns the migrations created, as the database reports them. */
async function createdSchema(test: TestStorage, dialect: string): Promise<Map<string, Set<string>>> {
  const { db } = test.storage;
  const rows =
    dialect === 'postgres'
      ? (await sql<{ table: string; column: string }>`select table_name as "table", column_name as "column" from information_schema.columns where table_schema = current_schema()`.execute(db)).rows
      : (await sql<{ table: string; column: string }>`select m.name as "table", p.name as "column" from sqlite_master m join pragma_table_info(m.name) p where m.type = 'table' and m.name not like 'sqlite_%'`.execute(db)).rows;
  const tables = new Map<string, Set<string>>();
  for (const row of rows) {
    if (!tables.has(row.table)) tables.set(row.table, new Set());
    tables.get(row.table)!.add(row.column);
  }
  return tables;
}

const sorted = (schema: Map<string, Set<string>>) => Object.fromEntries([...schema].sort(([a], [b]) => a.localeCompare(b)).map(([table, columns]) => [table, [...columns].sort()]));

/** A migration and the types of schema.ts must not drift apart: a query typed against a column that no migration made fails only at run time. */
describe.each(DIALECTS)('storage/schema.ts and the migrations on %s', (dialect) => {
  let test: TestStorage;
  afterEach(() => test.dispose());

  it('declare the same tables with the same columns', async () => {
    test = await createTestStorage(dialect);
    await migrateToLatest(test.storage.db, test.storage.dialect, new FakeClock());
    expect(sorted(await createdSchema(test, dialect))).toEqual(sorted(declaredSchema()));
  });
});
