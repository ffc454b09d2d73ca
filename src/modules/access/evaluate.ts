import type { Config } from '../../config/schema.js';
import type { Unit } from '../../storage/database.js';
import { accessCatalog, policyMembershipOf, type AccessCatalogRows, type PolicyMembership } from '../../storage/repositories/access-policies.js';
import { appDevicesRepository } from '../../storage/repositories/app-devices.js';
import type { UserRow } from '../../storage/schema.js';
import { compileLocation, inLocation, type CompiledLocation } from './locations.js';
import type { ClientType, DeviceState, Grant, StoredConditions } from './policies.js';

/** The name the per-user MFA state (SPEC.md §1) goes by in traces and the sign-in log, as if it were a policy. */
export const PER_USER_MFA = 'per-user MFA';

/** What conditional access looks at. */
export interface AccessRequest {
  user: UserRow;
  application: { id: string; name: string };
  ip: string | null;
  clientType: ClientType;
  /** The device the user signs in from, as the application names it. */
  deviceId: string | null;
}

type Condition = 'users' | 'applications' | 'client_type' | 'location' | 'device_state';

/** One policy's verdict for one sign-in: the trace shows every one. */
export interface PolicyVerdict {
  policy: string;
  grant: Grant;
  applied: boolean;
  reason: string;
  /** The conditions that did not hold (empty when applied). */
  failed: Condition[];
  rememberDays: number | null;
}

/** MFA is required: by which policy, and for how many days a device may remember it (null: not at all). */
export interface MfaRequirement {
  policy: string;
  rememberDays: number | null;
}

export type AccessDecision =
  | { kind: 'block'; policy: string; reason: string }
  | { kind: 'mfa'; requirement: MfaRequirement; reason: string }
  | { kind: 'skip'; policy: string; detail: 'skipped due to location' | 'skipped due to registered device'; reason: string }
  | { kind: 'allow'; policy: string | null; reason: string };

interface CompiledPolicy {
  id: string;
  name: string;
  grant: Grant;
  rememberDays: number | null;
  conditions: StoredConditions;
}

interface Catalog {
  policies: CompiledPolicy[];
  locations: CompiledLocation[];
}

/** Catalogs compiled, by the rows they were compiled from: the rows stay in memory until the catalog changes, and so does this. */
const compiled = new WeakMap<AccessCatalogRows, Catalog>();

/** The enabled policies and every named location, read and compiled once per change (storage/repositories/access-policies.ts). */
async function catalog(db: Unit): Promise<Catalog> {
  const rows = await accessCatalog(db);
  let catalog = compiled.get(rows);
  if (!catalog) {
    catalog = {
      policies: rows.policies.map((row) => ({ id: row.id, name: row.name, grant: row.grant_control as Grant, rememberDays: row.remember_mfa_days, conditions: JSON.parse(row.conditions) as StoredConditions })),
      locations: rows.locations.map(compileLocation),
    };
    compiled.set(rows, catalog);
  }
  return catalog;
}

/** The per-user MFA state, as a policy: Enabled and Enforced users need MFA, optionally not from trusted locations. */
function perUserPolicy(user: UserRow, config: Config['access']): CompiledPolicy | null {
  if (user.mfa_state === 'Disabled') return null;
  return {
    id: '',
    name: PER_USER_MFA,
    grant: 'mfa',
    rememberDays: config.perUserMfaRememberDays || null,
    conditions: {
      allUsers: true,
      groups: { include: [], exclude: [] },
      applications: { all: true, include: [], exclude: [] },
      locations: { any: true, includeTrusted: false, include: [], excludeTrusted: config.perUserMfaSkipTrustedLocations, exclude: [] },
      clientTypes: ['modern', 'legacy'],
      deviceStates: ['registered', 'unregistered'],
    },
  };
}

const GRANT_WORDS: Record<Grant, string> = { block: 'blocks access', allow: 'allows access', mfa: 'requires MFA' };

/**
 * Evaluates every enabled policy, and the user's per-user MFA state, for one
 * sign-in. Each policy is a small rule: it applies when all its conditions
 * hold, and says why not otherwise. Applied policies combine: block wins,
 * then require MFA, then allow. When no policy requires MFA but one would
 * have, save for the sign-in coming from a location it excludes or a device
 * registered to the user, MFA is skipped due to location or registered device.
 */
export async function evaluateAccess(db: Unit, config: Config['access'], request: AccessRequest): Promise<{ decision: AccessDecision; verdicts: PolicyVerdict[] }> {
  const { policies, locations } = await catalog(db);
  const perUser = perUserPolicy(request.user, config);
  const all = perUser ? [...policies, perUser] : policies;
  if (all.length === 0) return { decision: { kind: 'allow', policy: null, reason: 'per-user MFA state is Disabled and no policy applies' }, verdicts: [] };
  const member: PolicyMembership = policies.length > 0 ? await policyMembershipOf(db, request.user.id) : { policies: new Map(), groups: new Set() };
  const here = locations.filter((location) => inLocation(location, request.ip));
  let deviceState: DeviceState | null = null;
  const device = async (): Promise<DeviceState> => (deviceState ??= await registered(db, request));

  const verdicts: PolicyVerdict[] = [];
  for (const policy of all) verdicts.push(await verdictOf(policy, request, member, here, device));

  const applied = verdicts.filter((verdict) => verdict.applied);
  const block = applied.find((verdict) => verdict.grant === 'block');
  if (block) return { decision: { kind: 'block', policy: block.policy, reason: `policy ${block.policy} blocks access` }, verdicts };
  const mfa = applied.filter((verdict) => verdict.grant === 'mfa');
  if (mfa.length > 0) {
    // A device may remember MFA only as long as every policy requiring it allows.
    const rememberDays = mfa.every((verdict) => verdict.rememberDays !== null) ? Math.min(...mfa.map((verdict) => verdict.rememberDays!)) : null;
    return { decision: { kind: 'mfa', requirement: { policy: mfa[0]!.policy, rememberDays }, reason: `MFA required by ${mfa.map((verdict) => verdict.policy).join(', ')}` }, verdicts };
  }
  const skipped = (condition: Condition) => verdicts.find((verdict) => verdict.grant === 'mfa' && verdict.failed.length === 1 && verdict.failed[0] === condition);
  const byLocation = skipped('location');
  if (byLocation) return { decision: { kind: 'skip', policy: byLocation.policy, detail: 'skipped due to location', reason: `${byLocation.policy}: ${byLocation.reason}` }, verdicts };
  const byDevice = skipped('device_state');
  if (byDevice) return { decision: { kind: 'skip', policy: byDevice.policy, detail: 'skipped due to registered device', reason: `${byDevice.policy}: ${byDevice.reason}` }, verdicts };
  const allow = applied.find((verdict) => verdict.grant === 'allow');
  return { decision: { kind: 'allow', policy: allow?.policy ?? null, reason: allow ? `policy ${allow.policy} allows access` : 'no policy requires MFA' }, verdicts };
}

/** Registered: the device is one of the user's active authenticator devices. */
async function registered(db: Unit, request: AccessRequest): Promise<DeviceState> {
  if (!request.deviceId) return 'unregistered';
  const device = await appDevicesRepository.findOfUser(db, request.user.id, request.deviceId);
  return device?.status === 'active' ? 'registered' : 'unregistered';
}

async function verdictOf(
  policy: CompiledPolicy,
  request: AccessRequest,
  member: PolicyMembership,
  here: CompiledLocation[],
  device: () => Promise<DeviceState>,
): Promise<PolicyVerdict> {
  const { conditions } = policy;
  const failed: Condition[] = [];
  const why: string[] = [];
  const named = policy.id ? member.policies.get(policy.id) : undefined;
  const inGroup = (ids: string[]) => ids.some((id) => member.groups.has(id));
  if (named === 'exclude' || inGroup(conditions.groups.exclude)) {
    failed.push('users');
    why.push(named === 'exclude' ? 'the user is excluded' : "a group of the user's is excluded");
  } else if (!(conditions.allUsers || named === 'include' || inGroup(conditions.groups.include))) {
    failed.push('users');
    why.push('the user is not included');
  }
  const app = request.application;
  if (conditions.applications.exclude.includes(app.id) || !(conditions.applications.all || conditions.applications.include.includes(app.id))) {
    failed.push('applications');
    why.push(`application ${app.name} is ${conditions.applications.exclude.includes(app.id) ? 'excluded' : 'not included'}`);
  }
  if (!conditions.clientTypes.includes(request.clientType)) {
    failed.push('client_type');
    why.push(`client type ${request.clientType} is not included`);
  }
  const trusted = here.filter((location) => location.trusted);
  const excludedAt = [...(conditions.locations.excludeTrusted ? trusted : []), ...here.filter((location) => conditions.locations.exclude.includes(location.id))];
  const includedAt = conditions.locations.any || (conditions.locations.includeTrusted && trusted.length > 0) || here.some((location) => conditions.locations.include.includes(location.id));
  if (excludedAt.length > 0) {
    failed.push('location');
    why.push(`location ${excludedAt[0]!.name}${excludedAt[0]!.trusted ? ' (trusted)' : ''} is excluded`);
  } else if (!includedAt) {
    failed.push('location');
    why.push(request.ip ? `IP ${request.ip} is in no included location` : 'the client IP is unknown');
  }
  if (conditions.deviceStates.length < 2) {
    const state = await device();
    if (!conditions.deviceStates.includes(state)) {
      failed.push('device_state');
      why.push(`the device is ${state}`);
    }
  }
  const reason = failed.length === 0 ? `applied: ${GRANT_WORDS[policy.grant]}` : `not applied: ${why.join('; ')}`;
  return { policy: policy.name, grant: policy.grant, applied: failed.length === 0, reason, failed, rememberDays: policy.rememberDays };
}
