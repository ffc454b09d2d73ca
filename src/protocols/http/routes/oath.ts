import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import { ACCESS } from '../../../modules/admin-access/roles.js';
import { HARDWARE_COLUMNS, SERIAL_PATTERN } from '../../../modules/methods/oath/hardware-import.js';
import { OATH_ALGORITHMS, OATH_DIGITS, OATH_TYPES, PERIOD_LIMITS } from '../../../modules/methods/oath/token-view.js';
import type { OathTokens } from '../../../modules/methods/oath/tokens.js';
import type { Runtime } from '../../../main.js';
import { appError } from '../../../shared/errors.js';
import { actorOf } from '../admin-auth.js';
import * as S from '../schemas.js';

const tags = ['oath'];
const strict = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Timestamp = Type.String({ format: 'date-time' });
const Code = (description: string) => Type.String({ pattern: '^[0-9]{6,8}$', description });

const OathToken = Type.Object({
  id: Type.String(),
  serial: Nullable(Type.String()),
  kind: Type.Enum(['software', 'hardware']),
  type: Type.Enum(OATH_TYPES),
  algorithm: Type.Enum(OATH_ALGORITHMS),
  digits: Type.Integer(),
  period: Type.Integer({ description: 'TOTP time step in seconds (30 for HOTP, unused).' }),
  status: Type.Enum(['pending', 'active']),
  name: Nullable(Type.String()),
  user: Nullable(Type.String({ description: 'Username of the holder; null for an unassigned hardware token.' })),
  created_at: Timestamp,
  last_used_at: Nullable(Timestamp),
});

const EnrollBody = Type.Object(
  {
    type: Type.Optional(Type.Enum(OATH_TYPES, { default: 'totp' })),
    algorithm: Type.Optional(Type.Enum(OATH_ALGORITHMS, { default: 'SHA1' })),
    digits: Type.Optional(Type.Enum(OATH_DIGITS, { default: 6 })),
    period: Type.Optional(Type.Integer({ minimum: PERIOD_LIMITS.min, maximum: PERIOD_LIMITS.max, default: 30, description: 'TOTP time step in seconds.' })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'A label for the token ("Work phone").' })),
  },
  strict,
);

const Enrolled = Type.Object({
  token: OathToken,
  secret: Type.String({ description: 'Base32 seed. Shown once; never again.' }),
  uri: Type.String({ description: 'otpauth:// Key Uri for authenticator apps. Shown once.' }),
  qr_png_base64: Type.String({ description: 'PNG of the QR code of uri, base64.' }),
});

const UserTokenParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 256 }), id: Type.String({ minLength: 1, maxLength: 64 }) }, strict);
const SerialParams = Type.Object({ serial: Type.String({ pattern: SERIAL_PATTERN }) }, strict);
const ActivateBody = Type.Object({ code: Code('The code the token shows now (6 or 8 digits).') }, strict);
const ResyncBody = Type.Object({ code1: Code('A code the token shows.'), code2: Code('The next code it shows after code1.') }, strict);
const AssignBody = Type.Object({ username: Type.String({ minLength: 1, maxLength: 256 }) }, strict);
const HardwareListQuery = Type.Object(
  { unassigned: Type.Optional(Type.Boolean({ default: false, description: 'Only tokens no user holds.' })), ...S.PageQuery },
  strict,
);
const HardwareImportReport = Type.Object({
  rows: Type.Integer(),
  imported: Type.Integer(),
  failed: Type.Integer(),
  errors: Type.Array(Type.Object({ line: Type.Integer(), serial: Nullable(Type.String()), field: Nullable(Type.String()), code: Type.String(), message: Type.String() })),
});

const IMPORT_DESCRIPTION =
  `CSV with a header row; columns ${HARDWARE_COLUMNS.join(', ')}. serial, secret and type (totp or hotp) are required; ` +
  'digits, period and algorithm default to 6, 30 and SHA1. The secret is hex or base32: secret_format says which, otherwise it is ' +
  'read as hex when it holds 0, 1, 8 or 9 and as base32 when it holds G-Z; a secret that could be either is refused. ' +
  'Bad rows are reported with their line and field; good rows become active, unassigned tokens. Send Content-Type: text/csv.';

const notFound = { 404: S.Problem };

/** OATH tokens: software enrolment and activation, hardware import and assignment, resynchronisation. */
export const oathRoutes =
  (runtime: Runtime, tokens: OathTokens): FastifyPluginAsync =>
  async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();

    app.post('/users/:username/oath-tokens', {
      config: { roles: ACCESS.directoryUpdate },
      schema: {
        tags,
        summary: 'Enrol a software OATH token',
        description: 'Creates a pending token with a new random seed. The seed, URI and QR code are in this answer only. Activate the token with its first code.',
        params: S.UsernameParams,
        body: EnrollBody,
        response: { 201: Enrolled, ...S.adminErrors, ...notFound },
      },
      handler: async (request, reply) => {
        const enrolled = await tokens.enrollSoftware(request.params.username, request.body, actorOf(request));
        // The answer holds a live secret: no cache may keep it.
        reply.header('cache-control', 'no-store');
        return reply.code(201).send({ ...enrolled, qr_png_base64: (await tokens.qrPng(enrolled.uri)).toString('base64') });
      },
    });

    app.post('/users/:username/oath-tokens/:id/activate', {
      config: { roles: ACCESS.directoryUpdate },
      schema: { tags, summary: 'Activate a pending OATH token with its first code', params: UserTokenParams, body: ActivateBody, response: { 200: OathToken, ...S.adminErrors, ...notFound, 409: S.Problem } },
      handler: (request) => tokens.activate(request.params.username, request.params.id, request.body.code, actorOf(request)),
    });

    app.post('/users/:username/oath-tokens/:id/resync', {
      config: { roles: ACCESS.directoryUpdate },
      schema: {
        tags,
        summary: 'Resynchronise an OATH token with two consecutive codes',
        description: 'HOTP: finds the counter the device reached. TOTP: measures how far the device clock is off.',
        params: UserTokenParams,
        body: ResyncBody,
        response: { 200: OathToken, ...S.adminErrors, ...notFound, 409: S.Problem },
      },
      handler: (request) => tokens.resync(request.params.username, request.params.id, request.body.code1, request.body.code2, actorOf(request)),
    });

    app.get('/users/:username/oath-tokens', {
      config: { roles: ACCESS.directoryRead },
      schema: { tags, summary: "A user's OATH tokens", params: S.UsernameParams, response: { 200: Type.Object({ items: Type.Array(OathToken) }), ...S.adminErrors, ...notFound } },
      handler: async (request) => ({ items: await tokens.listForUser(request.params.username) }),
    });

    app.delete('/users/:username/oath-tokens/:id', {
      config: { roles: ACCESS.directoryUpdate },
      schema: { tags, summary: "Delete one of a user's OATH tokens", params: UserTokenParams, response: { 204: Type.Null(), ...S.adminErrors, ...notFound } },
      handler: async (request, reply) => {
        await tokens.delete(request.params.username, request.params.id, actorOf(request));
        return reply.code(204).send(null);
      },
    });

    app.addContentTypeParser('text/csv', { parseAs: 'buffer', bodyLimit: runtime.config.http.importBodyLimit }, (_request, body, done) => done(null, body));
    app.post('/oath-tokens/import', {
      config: { roles: ACCESS.directoryWrite },
      bodyLimit: runtime.config.http.importBodyLimit,
      schema: { tags, summary: 'Import hardware OATH tokens from CSV', description: IMPORT_DESCRIPTION, consumes: ['text/csv'], response: { 200: HardwareImportReport, ...S.adminErrors, 413: S.Problem, 415: S.Problem } },
      handler: (request) => {
        if (request.body === undefined || request.body === null) throw appError('invalid_csv', 'the file is empty: send the CSV file as the body, with Content-Type: text/csv');
        if (!Buffer.isBuffer(request.body)) throw appError('unsupported_media_type', 'send the CSV file with Content-Type: text/csv');
        return tokens.importHardware(request.body, actorOf(request));
      },
    });

    app.get('/oath-tokens', {
      config: { roles: ACCESS.directoryWrite },
      schema: { tags, summary: 'List hardware OATH tokens by serial', querystring: HardwareListQuery, response: { 200: S.pageOf(OathToken), ...S.adminErrors } },
      handler: (request) => tokens.listHardware(request.query),
    });

    app.post('/oath-tokens/:serial/assign', {
      config: { roles: ACCESS.directoryWrite },
      schema: { tags, summary: 'Assign a hardware OATH token to a user', params: SerialParams, body: AssignBody, response: { 200: OathToken, ...S.adminErrors, ...notFound, 409: S.Problem } },
      handler: (request) => tokens.assign(request.params.serial, request.body.username, actorOf(request)),
    });

    app.post('/oath-tokens/:serial/unassign', {
      config: { roles: ACCESS.directoryWrite },
      schema: { tags, summary: 'Take a hardware OATH token back from its user', params: SerialParams, response: { 200: OathToken, ...S.adminErrors, ...notFound } },
      handler: (request) => tokens.unassign(request.params.serial, actorOf(request)),
    });
  };
