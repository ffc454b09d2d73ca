import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import type { Runtime } from '../../../main.js';
import { ACCESS } from '../../../modules/admin-access/roles.js';
import { DEVICE_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../../modules/methods/app/protocol.js';
import { appError } from '../../../shared/errors.js';
import QRCode from 'qrcode';
import { actorOf } from '../admin-auth.js';
import * as S from '../schemas.js';
import { challengeResult } from '../../../modules/auth/answers.js';

const strict = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const appTags = ['authenticator app'];
const adminTags = ['authenticator devices'];

const Device = Type.Object({
  id: Type.String(),
  username: Type.String(),
  name: Type.String(),
  type: Type.String(),
  app_version: Nullable(Type.String()),
  os_version: Nullable(Type.String()),
  status: Type.Enum(['active', 'blocked']),
  blocked_reason: Nullable(Type.String()),
  missed_pushes: Type.Integer(),
  oath_token: Type.Boolean({ description: 'An OATH secret was provisioned with the activation.' }),
  push_token: Type.Boolean({ description: 'The device gave a push-service token.' }),
  created_at: Type.String({ format: 'date-time' }),
  last_seen_at: Nullable(Type.String({ format: 'date-time' })),
});
const Activation = Type.Object({
  username: Type.String(),
  code: Type.String({ description: 'Shown once: 16 characters, typed or scanned into the app.' }),
  url: Type.String(),
  uri: Type.String({ description: 'countersign://activate?url=…&code=…, for a QR code.' }),
  qr_png: Type.String({ description: 'The QR code of `uri`, a PNG image in base64.' }),
  oath: Type.Boolean(),
  expires_at: Type.String({ format: 'date-time' }),
});
const ActivationRecord = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  username: Type.String(),
  account_name: Type.String(),
  get_activation_code_result: Nullable(Type.String()),
  activation_success: Nullable(Type.Boolean()),
  activation_error: Nullable(Type.String()),
  activation_status_result: Nullable(Type.String()),
  device_name: Nullable(Type.String()),
  device_type: Nullable(Type.String()),
  app_version: Nullable(Type.String()),
  oath_token_enabled: Type.Boolean(),
});
const Push = Type.Object({
  txid: Type.String(),
  application: Type.String(),
  ip: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  location: Nullable(Type.String({ description: 'Where the sign-in comes from, when known (null: unknown).' })),
  number_matching: Type.Boolean({ description: 'Ask the user for the number the sign-in screen shows.' }),
  pin: Type.Boolean({ description: "Ask for the user's PIN." }),
  pin_change: Type.Boolean({ description: 'The PIN has expired: also ask for a new one.' }),
});
const DeviceParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 256 }), id: Type.String({ minLength: 1, maxLength: 64 }) }, strict);
const signedHeaders = Type.Object({
  [DEVICE_HEADER]: Type.Optional(Type.String({ description: 'The device id.' })),
  [TIMESTAMP_HEADER]: Type.Optional(Type.String({ description: 'Milliseconds since the epoch.' })),
  [NONCE_HEADER]: Type.Optional(Type.String({ description: '16 to 64 of [A-Za-z0-9_-], never reused.' })),
  [SIGNATURE_HEADER]: Type.Optional(Type.String({ description: 'ECDSA P-256 / SHA-256, IEEE P1363, base64url.' })),
});
const SIGNED = 'Signed by the device (docs/authenticator-protocol.md): x-countersign-device, -timestamp, -nonce and -signature headers.';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received: device signatures cover these bytes. */
    rawBody?: string;
  }
}

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * The API authenticator apps use (`/app/v1`): activation, the signed long
 * poll for pushes, and signed answers. JSON bodies are kept as received, for
 * the signature check.
 */
export const appDeviceRoutes =
  (runtime: Runtime): FastifyPluginAsync =>
  async (plain) => {
    plain.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const text = body as string;
      request.rawBody = text;
      try {
        done(null, text === '' ? {} : JSON.parse(text));
      } catch {
        done(appError('malformed_request', 'the body is not valid JSON'), undefined);
      }
    });
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();

    const partsOf = (request: FastifyRequest) => ({
      method: request.method,
      path: request.url,
      timestamp: header(request, TIMESTAMP_HEADER) ?? '',
      nonce: header(request, NONCE_HEADER) ?? '',
      body: request.rawBody ?? '',
    });
    /** The device that signed this request; `unauthenticated` otherwise. */
    const signedBy = (request: FastifyRequest) => runtime.appDevices.authenticate(header(request, DEVICE_HEADER), partsOf(request), header(request, SIGNATURE_HEADER));

    app.post('/activate', {
      schema: {
        tags: appTags,
        summary: 'Activate an authenticator app',
        description:
          'The app sends the activation code and its public key (EC P-256, JWK); the server stores the device and, when the code says so, answers with an OATH secret for offline codes. Each try of a known code writes an activation record.',
        body: Type.Object(
          {
            code: Type.String({ minLength: 1, maxLength: 64 }),
            public_key: Type.Object({}, { additionalProperties: true, description: 'JWK: kty EC, crv P-256, x, y.' }),
            device_name: Type.String({ minLength: 1, maxLength: 64 }),
            device_type: Type.String({ minLength: 1, maxLength: 64 }),
            app_version: Type.Optional(Type.String({ maxLength: 64 })),
            os_version: Type.Optional(Type.String({ maxLength: 64 })),
            push_token: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
          },
          strict,
        ),
        response: {
          201: Type.Object({
            device_id: Type.String(),
            account: Type.String(),
            issuer: Type.String(),
            oath: Nullable(Type.Object({ secret: Type.String(), algorithm: Type.String(), digits: Type.Integer(), period: Type.Integer(), uri: Type.String() })),
            server_time: Type.Integer({ description: "The server's clock, ms since the epoch: sign with it when the device's clock is off." }),
          }),
          400: S.Problem,
        },
      },
      handler: async (request, reply) => reply.code(201).send(await runtime.appDevices.activate(request.body)),
    });

    app.get('/time', {
      schema: {
        tags: appTags,
        summary: "The server's clock",
        description: 'Unsigned. A device whose signed request was refused may compare clocks here and sign with the server time (requests more than 5 minutes off are refused).',
        response: { 200: Type.Object({ now: Type.Integer({ description: 'ms since the epoch' }) }) },
      },
      handler: async () => ({ now: runtime.clock.now() }),
    });

    app.get('/challenges', {
      schema: {
        tags: appTags,
        summary: 'Pushes waiting for this device (long poll)',
        description: `${SIGNED} Answers at once when a push waits, otherwise when one arrives or after \`wait\` seconds (an empty list).`,
        headers: signedHeaders,
        querystring: Type.Object({ wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 60, default: 0 })) }, strict),
        response: { 200: Type.Object({ pushes: Type.Array(Push) }), 400: S.Problem, 401: S.Problem },
      },
      handler: async (request) => {
        const device = await signedBy(request);
        const deadline = Date.now() + (request.query.wait ?? 0) * 1000;
        for (;;) {
          const pushes = await runtime.engine.pushesFor(device);
          const remaining = deadline - Date.now();
          if (pushes.length > 0 || remaining <= 0) return { pushes };
          // Woken by a push committed on this node; one from another node is seen at the next check.
          await runtime.pushBoard.wait(device.user_id, Math.min(remaining, runtime.longPollIntervalMs));
        }
      },
    });

    app.post('/challenges/:txid/answer', {
      schema: {
        tags: appTags,
        summary: 'Answer a push',
        description: `${SIGNED} approve (with the number from the sign-in screen when number matching is on, and the PIN in PIN mode, plus a new PIN when it has expired), deny, or fraud. A device of the user whose signature does not verify ends the push with FAILED_PHONE_APP_INVALID_RESULT.`,
        headers: signedHeaders,
        params: Type.Object({ txid: Type.String({ format: 'uuid' }) }, strict),
        body: Type.Object(
          {
            decision: Type.String({ maxLength: 16, description: 'approve, deny or fraud.' }),
            number: Type.Optional(Type.String({ maxLength: 8 })),
            pin: Type.Optional(Type.String({ maxLength: 16 })),
            new_pin: Type.Optional(Type.String({ maxLength: 16 })),
          },
          strict,
        ),
        response: {
          200: Type.Object({ result: Type.Enum(['allow', 'deny', 'waiting']), result_code: Nullable(Type.String()), status_msg: Type.String() }),
          400: S.Problem,
          401: S.Problem,
          404: S.Problem,
          409: S.Problem,
        },
      },
      handler: async (request) => {
        const deviceId = header(request, DEVICE_HEADER);
        const checked = await runtime.appDevices.check(deviceId, partsOf(request), header(request, SIGNATURE_HEADER));
        if ('refused' in checked) {
          // An answer in a real device's name that is not its own (forged, altered or replayed) ends the push as an invalid result.
          // A device whose clock is off only has to sign again with the server's time (GET /app/v1/time).
          if (checked.refused === 'signature' || checked.refused === 'replay') await runtime.engine.deviceAnswer(request.params.txid, { deviceId: deviceId!, verified: false }).catch(() => null);
          throw appError('unauthenticated', 'the request is not signed by an active device, or is too old, or was seen before');
        }
        const device = checked.device;
        const { decision, number, pin, new_pin: newPin } = request.body;
        const answer = await runtime.engine.deviceAnswer(request.params.txid, { deviceId: device.id, verified: true, decision, number, pin, newPin });
        if (!answer) throw appError('not_found', `push ${request.params.txid} does not exist`);
        return { result: challengeResult(answer.result), result_code: answer.result_code, status_msg: answer.status_msg };
      },
    });

    app.post('/device/activation', {
      schema: {
        tags: appTags,
        summary: 'An activation code for another device of the same user',
        description: `${SIGNED} The user adds a device from one already activated: the same one-time code an administrator would make (shown once).`,
        headers: signedHeaders,
        response: { 201: Type.Omit(Activation, ['qr_png']), 401: S.Problem },
      },
      handler: async (request, reply) => {
        const device = await signedBy(request);
        const user = await runtime.directory.find(runtime.storage.db, (await runtime.appDevices.view(device)).username);
        const actor = { type: 'system' as const, id: `device:${device.id}`, role: null, requestId: request.id, entryPoint: 'app' };
        return reply.code(201).send(await runtime.appDevices.createActivation(user.username, { url: `${request.protocol}://${request.host}` }, actor));
      },
    });

    app.get('/device', {
      schema: { tags: appTags, summary: 'This device as the server knows it', description: SIGNED, headers: signedHeaders, response: { 200: Device, 401: S.Problem } },
      handler: async (request) => runtime.appDevices.view(await signedBy(request)),
    });

    app.put('/device/push-token', {
      schema: {
        tags: appTags,
        summary: "Set this device's push-service token",
        description: `${SIGNED} A new token writes a change record with the old and new token.`,
        headers: signedHeaders,
        body: Type.Object({ push_token: Type.String({ minLength: 1, maxLength: 512 }) }, strict),
        response: { 204: Type.Null(), 400: S.Problem, 401: S.Problem },
      },
      handler: async (request, reply) => {
        await runtime.appDevices.setPushToken(await signedBy(request), request.body.push_token);
        return reply.code(204).send(null);
      },
    });
  };

/** Administration of users' authenticator devices, under /admin/v1. */
export const appDeviceAdminRoutes =
  (runtime: Runtime): FastifyPluginAsync =>
  async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const devices = runtime.appDevices;

    app.post('/users/:username/app/activation', {
      config: { roles: ACCESS.directoryUpdate },
      schema: {
        tags: adminTags,
        summary: 'A one-time activation code for a new authenticator app',
        description: 'Shown once. The app activates with it at POST /app/v1/activate; it expires after app.activationMinutes.',
        params: S.UsernameParams,
        body: Type.Optional(Type.Object({ oath: Type.Optional(Type.Boolean({ description: 'Provision an OATH secret with the activation (default app.provisionOath).' })) }, strict)),
        response: { 201: Activation, ...S.adminErrors, 404: S.Problem },
      },
      handler: async (request, reply) => {
        const url = `${request.protocol}://${request.host}`;
        const activation = await devices.createActivation(request.params.username, { url, oath: request.body?.oath }, actorOf(request));
        return reply.code(201).send({ ...activation, qr_png: (await QRCode.toBuffer(activation.uri, { type: 'png', errorCorrectionLevel: 'M', margin: 2, scale: 6 })).toString('base64') });
      },
    });

    app.get('/users/:username/app/activations', {
      config: { roles: ACCESS.reportsRead },
      schema: { tags: adminTags, summary: "The user's activation records (SPEC.md §5), newest first", params: S.UsernameParams, response: { 200: Type.Array(ActivationRecord), ...S.adminErrors, 404: S.Problem } },
      handler: (request) => devices.activations(request.params.username),
    });

    app.get('/users/:username/devices', {
      config: { roles: ACCESS.directoryRead },
      schema: { tags: adminTags, summary: "The user's authenticator devices", params: S.UsernameParams, response: { 200: Type.Array(Device), ...S.adminErrors, 404: S.Problem } },
      handler: (request) => devices.list(request.params.username),
    });

    app.patch('/users/:username/devices/:id', {
      config: { roles: ACCESS.directoryUpdate },
      schema: { tags: adminTags, summary: 'Rename a device', params: DeviceParams, body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }, strict), response: { 200: Device, ...S.adminErrors, 404: S.Problem } },
      handler: (request) => devices.rename(request.params.username, request.params.id, request.body.name, actorOf(request)),
    });

    app.post('/users/:username/devices/:id/block', {
      config: { roles: ACCESS.userSecurity },
      schema: { tags: adminTags, summary: 'Block a device: no pushes go to it', params: DeviceParams, body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, strict), response: { 200: Device, ...S.adminErrors, 404: S.Problem } },
      handler: (request) => devices.block(request.params.username, request.params.id, request.body.reason, actorOf(request)),
    });

    app.post('/users/:username/devices/:id/unblock', {
      config: { roles: ACCESS.userSecurity },
      schema: { tags: adminTags, summary: 'Unblock a device (its missed pushes start again from zero)', params: DeviceParams, response: { 200: Device, ...S.adminErrors, 404: S.Problem } },
      handler: (request) => devices.unblock(request.params.username, request.params.id, actorOf(request)),
    });

    app.delete('/users/:username/devices/:id', {
      config: { roles: ACCESS.directoryUpdate },
      schema: { tags: adminTags, summary: 'Delete a device and the OATH secret it was given', params: DeviceParams, response: { 204: Type.Null(), ...S.adminErrors, 404: S.Problem } },
      handler: async (request, reply) => {
        await devices.delete(request.params.username, request.params.id, actorOf(request));
        return reply.code(204).send(null);
      },
    });
  };
