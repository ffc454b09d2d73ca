import type { OperationNode, RootOperationNode } from 'kysely';

/** What a statement may change: the tables it writes, `'all'` when that cannot be told (SQL the builder did not make), null for a read. */
export type Written = ReadonlySet<string> | 'all' | null;

/** Names of the tables a node mentions anywhere (target, joins, subqueries). */
function tablesOf(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) {
    for (const item of node) tablesOf(item, found);
  } else if (node !== null && typeof node === 'object') {
    const candidate = node as { kind?: string; table?: { identifier?: { name?: string } } };
    if (candidate.kind === 'TableNode' && candidate.table?.identifier?.name) found.add(candidate.table.identifier.name);
    for (const value of Object.values(node)) if (value !== null && typeof value === 'object') tablesOf(value, found);
  }
  return found;
}

type Statement = OperationNode & {
  into?: OperationNode;
  table?: OperationNode;
  from?: OperationNode;
  with?: { expressions: readonly { expression: OperationNode }[] };
};

/** The tables the data-changing common table expressions of `node` write (`with x as (insert ...) ...`). */
function writtenByCtes(node: Statement, found: Set<string>): 'all' | null {
  for (const { expression } of node.with?.expressions ?? []) {
    const written = writtenTables(expression as RootOperationNode);
    if (written === 'all') return 'all';
    written?.forEach((table) => found.add(table));
  }
  return null;
}

/**
 * The tables a statement writes, from its query node: the target of an
 * insert, update, delete or merge and of the writes in its WITH clause. The
 * tables it only reads (a subquery's, a join's, `using`, `from`) are not
 * written and stay out. What the database then changes by itself is not in
 * the node: a delete's `on delete cascade` or `set null` reaches the rows
 * referring to it, which is why a cached read names the referenced tables
 * among those it depends on (storage/read-cache.ts). Statements of other
 * kinds (DDL) count as writing every table they name.
 */
export function writtenTables(node: RootOperationNode): Written {
  if (node.kind === 'RawNode') return 'all';
  const statement = node as Statement;
  const found = new Set<string>();
  if (writtenByCtes(statement, found) === 'all') return 'all';
  switch (node.kind) {
    case 'SelectQueryNode':
      break;
    case 'InsertQueryNode':
    case 'MergeQueryNode':
      tablesOf(statement.into, found);
      break;
    case 'UpdateQueryNode':
      tablesOf(statement.table, found);
      break;
    case 'DeleteQueryNode':
      tablesOf(statement.from, found);
      break;
    default:
      tablesOf(node, found);
  }
  return found.size > 0 ? found : null;
}
