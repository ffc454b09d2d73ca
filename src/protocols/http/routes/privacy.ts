import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ACCESS } from '../../../modules/admin-access/roles.js';
import { PRIVACY_EXPORT_SCHEMA } from '../../../modules/privacy/privacy.js';
import type { Runtime } from '../../../main.js';
import { actorOf } from '../admin-auth.js';
import * as S from '../schemas.js';

const strict = { additionalProperties: false } as const;
const open = { additionalProperties: true } as const;
const tags = ['privacy'];
const notFound = { 404: S.Problem };

const Counts = Type.Record(Type.String(), Type.Integer(), { description: 'Rows removed (or, for the audit log, unlinked) per category.' });
const Receipt = Type.Object({
  id: Type.String(),
  erased_at: Type.String({ format: 'date-time' }),
  erased_by: Type.String(),
  username_hash: Type.String({ description: 'HMAC-SHA256 of the salt and the lower-case name under a key of the server: only the server can tell whether a name was erased.' }),
  salt: Type.String(),
  users: Type.Integer({ description: 'How many users (the current one, and deleted ones that had the name) the request covered.' }),
  counts: Counts,
  storage: Type.Optional(
    Type.Object({
      secure_delete: Type.Boolean({ description: 'SQLite: deleted rows were overwritten with zeros.' }),
      wal_truncated: Type.Union([Type.Boolean(), Type.Null()], { description: 'SQLite: the write-ahead log was checkpointed and truncated; null on PostgreSQL.' }),
    }),
  ),
  matches: Type.Optional(Type.Boolean({ description: 'With ?username: whether this receipt is that name’s erasure.' })),
});
const ExportDocument = Type.Object(
  {
    schema: Type.Literal(PRIVACY_EXPORT_SCHEMA),
    exported_at: Type.String({ format: 'date-time' }),
    subject: Type.Object({ username: Type.String(), user_ids: Type.Array(Type.String()), usernames: Type.Array(Type.String()) }),
    profile: Type.Union([Type.Object({}, open), Type.Null()]),
    methods: Type.Object({}, open),
    records: Type.Object({}, open),
    telephony: Type.Object({}, open),
    service_log: Type.Object({}, open),
  },
  { ...open, description: 'Everything held about the user (docs/privacy.md describes every field).' },
);
const LogLine = Type.Object({
  file: Type.String(),
  line: Type.Integer(),
  time: Type.Union([Type.String(), Type.Null()]),
  event: Type.Union([Type.String(), Type.Null()]),
  message: Type.Union([Type.String(), Type.Null()]),
  user_id: Type.String(),
  fields: Type.Object({}, open),
  personal: Type.Union([Type.Object({}, open), Type.Null()], { description: 'The opened personal fields; null when the key is gone (past retention).' }),
});

/** SPEC.md §6 privacy requests: export, delete, the deletion receipts and the service log of one user. */
export function privacyRoutes(runtime: Runtime): FastifyPluginAsync {
  return async (instance) => {
    const app = instance.withTypeProvider<TypeBoxTypeProvider>();
    const { privacy } = runtime;

    app.get('/privacy/users/:username/export', {
      config: { roles: ACCESS.privacy },
      schema: { tags, summary: 'Everything held about a user, as one JSON document', params: S.UsernameParams, response: { 200: ExportDocument, ...S.adminErrors, ...notFound } },
      handler: (request) => privacy.export(request.params.username, actorOf(request)) as Promise<never>,
    });
    app.delete('/privacy/users/:username', {
      config: { roles: ACCESS.privacy },
      schema: {
        tags,
        summary: 'Erase everything held about a user, at once; answers the deletion receipt',
        description: 'One transaction removes the user, its methods and every record naming it, and destroys the keys of its service-log lines. Not to be confused with DELETE /users/{username}, which keeps the records until retention.',
        params: S.UsernameParams,
        response: { 200: Receipt, ...S.adminErrors, ...notFound },
      },
      handler: (request) => privacy.erase(request.params.username, actorOf(request)),
    });
    app.get('/privacy/receipts', {
      config: { roles: ACCESS.privacy },
      schema: {
        tags,
        summary: 'Deletion receipts, newest first (at most 1000)',
        querystring: Type.Object({ username: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Says for each receipt whether it erased this name.' })) }, strict),
        response: { 200: Type.Object({ items: Type.Array(Receipt) }), ...S.adminErrors },
      },
      handler: async (request) => ({ items: await privacy.receipts(request.query.username) }),
    });
    app.post('/retention/run', {
      config: { roles: ACCESS.retention },
      schema: {
        tags,
        summary: 'Run the retention purge now (SPEC.md §5); answers what it deleted',
        response: {
          200: Type.Object({
            started_at: Type.String({ format: 'date-time' }),
            finished_at: Type.String({ format: 'date-time' }),
            cutoffs: Type.Record(Type.String(), Type.String({ format: 'date-time' }), { description: 'Per category, the moment before which it was purged.' }),
            deleted: Counts,
            batches: Type.Integer(),
          }),
          ...S.adminErrors,
        },
      },
      handler: (request) => runtime.retention.run(actorOf(request)),
    });
    app.get('/privacy/users/:username/log', {
      config: { roles: ACCESS.privacy },
      schema: { tags, summary: "The service-log lines about a user, opened (from log.file)", params: S.UsernameParams, response: { 200: Type.Object({ items: Type.Array(LogLine) }), ...S.adminErrors } },
      handler: async (request) => {
        const items = [];
        for await (const line of privacy.searchLog(request.params.username)) items.push(line);
        return { items };
      },
    });
  };
}
