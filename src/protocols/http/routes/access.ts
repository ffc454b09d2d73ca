import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import { MAX_REMEMBER_DAYS } from '../../../modules/access/policies.js';
import { revokeRememberedDevices } from '../../../modules/access/remember.js';
import { ACCESS } from '../../../modules/admin-access/roles.js';
import type { Runtime } from '../../../main.js';
import { actorOf } from '../admin-auth.js';
import * as S from '../schemas.js';

const strict = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Name = Type.String({ minLength: 1, maxLength: 128 });
const NameParams = Type.Object({ name: Name }, strict);

const NamedLocation = Type.Object({
  id: Type.String(),
  name: Type.String(),
  ranges: Type.Array(Type.String(), { description: 'IP addresses and CIDR blocks, IPv4 or IPv6.' }),
  trusted: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
const locationFields = {
  name: Name,
  ranges: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 2000, description: 'IP addresses and CIDR blocks (192.0.2.0/24, 2001:db8::/32).' }),
  trusted: Type.Boolean({ description: 'Trusted locations can be excluded from a policy as a set ("trusted"), and may skip per-user MFA (access.perUserMfaSkipTrustedLocations).' }),
};
const LocationCreate = Type.Object({ name: locationFields.name, ranges: locationFields.ranges, trusted: Type.Optional(locationFields.trusted) }, strict);
const LocationUpdate = Type.Object({ name: Type.Optional(locationFields.name), ranges: Type.Optional(locationFields.ranges), trusted: Type.Optional(locationFields.trusted) }, { ...strict, minProperties: 1 });

const Names = Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 1000 });
const SelectionOf = (description: string) => Type.Object({ include: Type.Optional(Names), exclude: Type.Optional(Names) }, { ...strict, description });
const policyFields = {
  name: Name,
  state: Type.Enum(['enabled', 'disabled'], { default: 'enabled' }),
  users: SelectionOf('Usernames; include may be ["all"].'),
  groups: SelectionOf('Group names: their members are included or excluded.'),
  applications: SelectionOf('Application names; include may be ["all"] (the default).'),
  locations: SelectionOf('Named locations; "any" (include only, the default) and "trusted" (every trusted location) stand for sets.'),
  client_types: Type.Array(Type.Enum(['modern', 'legacy']), { minItems: 1, description: 'Default: both.' }),
  device_states: Type.Array(Type.Enum(['registered', 'unregistered']), { minItems: 1, description: "Default: both. registered: one of the user's active authenticator devices." }),
  grant: Type.Enum(['block', 'allow', 'mfa'], { description: 'Applied policies combine: block wins, then mfa, then allow.' }),
  remember_mfa_days: Nullable(Type.Integer({ minimum: 1, maximum: MAX_REMEMBER_DAYS, description: 'Session control of an mfa policy: a device whose user asked may remember MFA this many days.' })),
};
const Policy = Type.Object({
  id: Type.String(),
  name: Type.String(),
  state: Type.Enum(['enabled', 'disabled']),
  users: Type.Object({ include: Type.Array(Type.String()), exclude: Type.Array(Type.String()) }),
  groups: Type.Object({ include: Type.Array(Type.String()), exclude: Type.Array(Type.String()) }),
  applications: Type.Object({ include: Type.Array(Type.String()), exclude: Type.Array(Type.String()) }),
  locations: Type.Object({ include: Type.Array(Type.String()), exclude: Type.Array(Type.String()) }),
  client_types: Type.Array(Type.String()),
  device_states: Type.Array(Type.String()),
  grant: Type.Enum(['block', 'allow', 'mfa']),
  remember_mfa_days: Nullable(Type.Integer()),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
const { name: _name, grant: _grant, ...optionalPolicyFields } = policyFields;
const PolicyCreate = Type.Object({ name: policyFields.name, grant: policyFields.grant, ...Object.fromEntries(Object.entries(optionalPolicyFields).map(([key, schema]) => [key, Type.Optional(schema)])) }, strict);
const PolicyUpdate = Type.Object(Object.fromEntries(Object.entries(policyFields).map(([key, schema]) => [key, Type.Optional(schema)])), { ...strict, minProperties: 1 });

const AppPassword = Type.Object({ id: Type.String(), name: Type.String(), created_at: Type.String({ format: 'date-time' }), last_used_at: Nullable(Type.String({ format: 'date-time' })) });
const AppPasswordCreated = Type.Object({ ...AppPassword.properties, password: Type.String({ description: 'Shown this once: 16 letters for the legacy client.' }) });
const AppPasswordParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 256 }), id: Type.String({ minLength: 1, maxLength: 64 }) }, strict);

/** Conditional access (named locations, policies), app passwords and remembered devices. */
export const accessRoutes = (runtime: Runtime): FastifyPluginAsync => async (plain) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { namedLocations, policies, appPasswords } = runtime;
  const notFound = { 404: S.Problem };
  const locationTags = ['conditional access'];

  app.get('/named-locations', {
    config: { roles: ACCESS.accessRead },
    schema: { tags: locationTags, summary: 'List named locations', response: { 200: Type.Object({ items: Type.Array(NamedLocation) }), ...S.adminErrors } },
    handler: async () => ({ items: await namedLocations.list() }),
  });
  app.post('/named-locations', {
    config: { roles: ACCESS.accessWrite },
    schema: { tags: locationTags, summary: 'Create a named location', body: LocationCreate, response: { 201: NamedLocation, ...S.adminErrors, 409: S.Problem } },
    handler: async (request, reply) => reply.code(201).send(await namedLocations.create(request.body, actorOf(request))),
  });
  app.get('/named-locations/:name', {
    config: { roles: ACCESS.accessRead },
    schema: { tags: locationTags, summary: 'Read a named location', params: NameParams, response: { 200: NamedLocation, ...S.adminErrors, ...notFound } },
    handler: (request) => namedLocations.get(request.params.name),
  });
  app.patch('/named-locations/:name', {
    config: { roles: ACCESS.accessWrite },
    schema: { tags: locationTags, summary: 'Change a named location', params: NameParams, body: LocationUpdate, response: { 200: NamedLocation, ...S.adminErrors, ...notFound, 409: S.Problem } },
    handler: (request) => namedLocations.update(request.params.name, request.body, actorOf(request)),
  });
  app.delete('/named-locations/:name', {
    config: { roles: ACCESS.accessWrite },
    schema: { tags: locationTags, summary: 'Delete a named location no policy uses', params: NameParams, response: { 204: Type.Null(), ...S.adminErrors, ...notFound, 409: S.Problem } },
    handler: async (request, reply) => {
      await namedLocations.delete(request.params.name, actorOf(request));
      return reply.code(204).send(null);
    },
  });

  app.get('/policies', {
    config: { roles: ACCESS.accessRead },
    schema: { tags: locationTags, summary: 'List conditional access policies', response: { 200: Type.Object({ items: Type.Array(Policy) }), ...S.adminErrors } },
    handler: async () => ({ items: await policies.list() }),
  });
  app.post('/policies', {
    config: { roles: ACCESS.accessWrite },
    schema: { tags: locationTags, summary: 'Create a conditional access policy', body: PolicyCreate, response: { 201: Policy, ...S.adminErrors, 409: S.Problem } },
    handler: async (request, reply) => reply.code(201).send(await policies.create(request.body, actorOf(request))),
  });
  app.get('/policies/:name', {
    config: { roles: ACCESS.accessRead },
    schema: { tags: locationTags, summary: 'Read a conditional access policy', params: NameParams, response: { 200: Policy, ...S.adminErrors, ...notFound } },
    handler: (request) => policies.get(request.params.name),
  });
  app.patch('/policies/:name', {
    config: { roles: ACCESS.accessWrite },
    schema: { tags: locationTags, summary: 'Change a policy: the fields given replace theirs', params: NameParams, body: PolicyUpdate, response: { 200: Policy, ...S.adminErrors, ...notFound, 409: S.Problem } },
    handler: (request) => policies.update(request.params.name, request.body, actorOf(request)),
  });
  app.delete('/policies/:name', {
    config: { roles: ACCESS.accessWrite },
    schema: { tags: locationTags, summary: 'Delete a conditional access policy', params: NameParams, response: { 204: Type.Null(), ...S.adminErrors, ...notFound } },
    handler: async (request, reply) => {
      await policies.delete(request.params.name, actorOf(request));
      return reply.code(204).send(null);
    },
  });

  const userTags = ['users'];
  app.get('/users/:username/app-passwords', {
    config: { roles: ACCESS.directoryRead },
    schema: { tags: userTags, summary: "List a user's app passwords (never the passwords)", params: S.UsernameParams, response: { 200: Type.Object({ items: Type.Array(AppPassword) }), ...S.adminErrors, ...notFound } },
    handler: async (request) => ({ items: await appPasswords.list(request.params.username) }),
  });
  app.post('/users/:username/app-passwords', {
    config: { roles: ACCESS.userSecurity },
    schema: {
      tags: userTags,
      summary: 'Create an app password for a legacy client (shown once)',
      params: S.UsernameParams,
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 128, description: 'What it is for: "Mail on the old laptop".' }) }, strict),
      response: { 201: AppPasswordCreated, ...S.adminErrors, ...notFound, 409: S.Problem },
    },
    handler: async (request, reply) => reply.code(201).send(await appPasswords.create(request.params.username, request.body.name, actorOf(request))),
  });
  app.delete('/users/:username/app-passwords/:id', {
    config: { roles: ACCESS.userSecurity },
    schema: { tags: userTags, summary: 'Revoke an app password', params: AppPasswordParams, response: { 204: Type.Null(), ...S.adminErrors, ...notFound } },
    handler: async (request, reply) => {
      await appPasswords.revoke(request.params.username, request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  });
  app.post('/users/:username/remembered-devices/revoke', {
    config: { roles: ACCESS.userSecurity },
    schema: {
      tags: userTags,
      summary: 'Forget every device that remembers MFA for the user',
      description: 'Remembered-device tokens issued until now are no longer honoured: the next sign-in from each of those devices asks for MFA.',
      params: S.UsernameParams,
      response: { 200: Type.Object({ revoked_at: Type.String({ format: 'date-time' }) }), ...S.adminErrors, ...notFound },
    },
    handler: async (request) => ({ revoked_at: await revokeRememberedDevices({ transact: runtime.storage.transact, clock: runtime.clock, directory: runtime.directory }, request.params.username, actorOf(request)) }),
  });
};
