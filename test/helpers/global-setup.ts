import pg from 'pg';
import { withDefaultUser } from '../../src/storage/database.js';
import { ensurePostgresTemplate, ensureSqliteTemplate } from './templates.js';

const PG_URL = process.env.PG_TEST_URL ?? 'postgres://127.0.0.1:5432/test';

/** Once per run, before any test file: the migrated templates the tests' stores are copied from (helpers/templates.ts). */
export default async function setup(): Promise<void> {
  await ensureSqliteTemplate();
  const probe = new pg.Client({ connectionString: withDefaultUser(PG_URL), connectionTimeoutMillis: 3000 });
  const reachable = await probe.connect().then(
    () => true,
    () => false,
  );
  await probe.end().catch(() => undefined);
  // Unreachable: the PostgreSQL suites are skipped (or, under CI, fail in helpers/storage.ts).
  if (reachable) await ensurePostgresTemplate(PG_URL);
}
