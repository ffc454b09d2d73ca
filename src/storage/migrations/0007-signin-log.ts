import { sql } from 'kysely';
import { ipKey } from '../../shared/ip-key.js';
import type { Migration } from '../migrator.js';

/**
 * The sign-in log's query API (SPEC.md §3): each sign-in's IP also as a key
 * that sorts in address order (an IP/CIDR filter is one index range), and the
 * indexes the filters by application and by IP use. Older rows get their key
 * in batches.
 */
export const signinLog: Migration = {
  name: '0007-signin-log',
  async up(db) {
    await db.schema.alterTable('signins').addColumn('ip_key', 'text').execute();
    for (let after = 0; ; ) {
      const rows = await sql<{ id: number; ip: string }>`select id, ip from signins where id > ${after} and ip is not null order by id limit 1000`.execute(db);
      if (rows.rows.length === 0) break;
      for (const row of rows.rows) await sql`update signins set ip_key = ${ipKey(row.ip)} where id = ${row.id}`.execute(db);
      after = Number(rows.rows[rows.rows.length - 1]!.id);
    }
    await db.schema.createIndex('signins_ip_time').on('signins').columns(['ip_key', 'at']).execute();
    await db.schema.createIndex('signins_application_time').on('signins').columns(['application', 'at']).execute();
  },
  async down(db) {
    await db.schema.dropIndex('signins_application_time').execute();
    await db.schema.dropIndex('signins_ip_time').execute();
    await db.schema.alterTable('signins').dropColumn('ip_key').execute();
  },
};
