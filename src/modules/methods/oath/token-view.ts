import { assert } from '../../../shared/errors.js';
import type { NewOathTokenRow } from '../../../storage/repositories/oath-tokens.js';
import type { OathTokenRow } from '../../../storage/schema.js';
import type { OathAlgorithm } from './otp.js';

export const OATH_TYPES = ['totp', 'hotp'] as const;
export const OATH_ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'] as const;
export const OATH_DIGITS = [6, 8] as const;
export const PERIOD_LIMITS = { min: 10, max: 300 } as const;

export type OathType = (typeof OATH_TYPES)[number];
export type OathDigits = (typeof OATH_DIGITS)[number];

const CONTROL = /[\u0000-\u001f\u007f]/;

/** A token as the API and CLI show it: never the secret. */
export interface OathTokenView {
  id: string;
  serial: string | null;
  kind: 'software' | 'hardware';
  type: OathType;
  algorithm: OathAlgorithm;
  digits: OathDigits;
  period: number;
  status: 'pending' | 'active';
  name: string | null;
  /** Username of the holder; null for an unassigned hardware token. */
  user: string | null;
  created_at: string;
  last_used_at: string | null;
}

/** The checked type, algorithm, digits and period of a token. */
export interface OathSettings {
  type: OathType;
  algorithm: OathAlgorithm;
  digits: OathDigits;
  period: number;
}

/** A refused input, named by its field, for an error or an import report row. */
export type FieldError = { field: string; code: 'validation_failed' | 'invalid_oath_secret'; message: string };

export const isFieldError = (value: object): value is FieldError => 'field' in value;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toOathTokenView(row: OathTokenRow | NewOathTokenRow, username: string | null): OathTokenView {
  return {
    id: row.id,
    serial: row.serial ?? null,
    kind: row.kind as OathTokenView['kind'],
    type: row.type as OathType,
    algorithm: row.algorithm as OathAlgorithm,
    digits: row.digits as OathDigits,
    period: row.period,
    status: row.status as OathTokenView['status'],
    name: row.name ?? null,
    user: username,
    created_at: iso(row.created_at)!,
    last_used_at: iso(row.last_used_at ?? null),
  };
}

/**
 * The Key Uri Format of Google Authenticator, which every authenticator app
 * reads: otpauth://TYPE/ISSUER:ACCOUNT?secret=...&issuer=..., label parts and
 * issuer percent-encoded (a colon inside either would split the label).
 */
export function otpauthUri(issuer: string, account: string, settings: OathSettings, secret: string): string {
  const parameters = [`secret=${secret}`, `issuer=${encodeURIComponent(issuer)}`, `algorithm=${settings.algorithm}`, `digits=${settings.digits}`];
  parameters.push(settings.type === 'totp' ? `period=${settings.period}` : 'counter=0');
  return `otpauth://${settings.type}/${encodeURIComponent(issuer)}:${encodeURIComponent(account)}?${parameters.join('&')}`;
}

/** Checks type, algorithm, digits and period (defaults TOTP, SHA1, 6, 30); the first wrong one is named. */
export function checkSettings(input: { type?: string; algorithm?: string; digits?: number; period?: number }): OathSettings | FieldError {
  const fail = (field: string, message: string): FieldError => ({ field, code: 'validation_failed', message: `${field}: ${message}` });
  const { type = 'totp', algorithm = 'SHA1', digits = 6, period = 30 } = input;
  if (!(OATH_TYPES as readonly string[]).includes(type)) return fail('type', `must be ${OATH_TYPES.join(' or ')}, got "${type}"`);
  if (!(OATH_ALGORITHMS as readonly string[]).includes(algorithm)) return fail('algorithm', `must be ${OATH_ALGORITHMS.join(', ')}, got "${algorithm}"`);
  if (!(OATH_DIGITS as readonly number[]).includes(digits)) return fail('digits', `must be 6 or 8, got ${digits}`);
  if (!Number.isInteger(period) || period < PERIOD_LIMITS.min || period > PERIOD_LIMITS.max) {
    return fail('period', `must be a whole number of seconds from ${PERIOD_LIMITS.min} to ${PERIOD_LIMITS.max}, got ${period}`);
  }
  // HOTP has no period; 30 is stored so every row reads the same.
  return { type: type as OathType, algorithm: algorithm as OathAlgorithm, digits: digits as OathDigits, period: type === 'hotp' ? 30 : period };
}

/** A token's display name, trimmed; null when blank, refused when too long or holding control characters. */
export function cleanName(name: string | undefined): string | null {
  const trimmed = name?.trim();
  if (!trimmed) return null;
  assert(trimmed.length <= 64 && !CONTROL.test(trimmed), 'validation_failed', 'name: must be 1 to 64 printable characters', { field: 'name' });
  return trimmed;
}

/** A code as typed (spaces ignored): digits, as many as the token shows. */
export function cleanCode(code: string, digits: number, field: string): string {
  const entered = code.replace(/\s+/g, '');
  assert(/^[0-9]{6,8}$/.test(entered), 'validation_failed', `${field}: must be 6 or 8 digits`, { field });
  assert(entered.length === digits, 'invalid_oath_code', `${field}: this token shows ${digits}-digit codes`, { field });
  return entered;
}
