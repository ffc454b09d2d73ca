import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { appError } from './errors.js';

const SEAL_PREFIX = 'v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export type HashPurpose = 'pin' | 'api-key' | 'otp' | 'activation' | 'app-password' | 'remembered-device' | 'erasure';

/**
 * Keys derived from the one master key. Each purpose gets its own HKDF-SHA256
 * sub-key so that a value sealed or hashed for one purpose is useless for another.
 */
export class Keyring {
  private readonly sealKey: Buffer;
  private readonly hashKeys: Record<HashPurpose, Buffer>;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error('master key must be 32 bytes');
    const derive = (info: string) => Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), info, 32));
    this.sealKey = derive('countersign/seal/v1');
    this.hashKeys = {
      pin: derive('countersign/pin/v1'),
      'api-key': derive('countersign/api-key/v1'),
      otp: derive('countersign/otp/v1'),
      activation: derive('countersign/activation/v1'),
      'app-password': derive('countersign/app-password/v1'),
      'remembered-device': derive('countersign/remembered-device/v1'),
      erasure: derive('countersign/erasure/v1'),
    };
  }

  /**
   * Seals a secret with AES-256-GCM. `context` is bound as additional
   * authenticated data (for example "oath_token:<id>:seed"), so a sealed value
   * copied into another row or column does not open.
   */
  seal(plaintext: Buffer | string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return SEAL_PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** Opens a value made by `seal`; throws when it was altered or the context differs. */
  open(sealed: string, context: string): Buffer {
    if (!sealed.startsWith(SEAL_PREFIX)) throw appError('internal_error', 'sealed value has an unknown format');
    const raw = Buffer.from(sealed.slice(SEAL_PREFIX.length), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw appError('internal_error', 'sealed value is truncated');
    const decipher = createDecipheriv('aes-256-gcm', this.sealKey, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
    } catch (cause) {
      throw appError('internal_error', 'sealed value failed authentication', undefined, cause);
    }
  }

  /** HMAC-SHA256 under the purpose's key, base64url. */
  keyedHash(purpose: HashPurpose, data: string): string {
    return createHmac('sha256', this.hashKeys[purpose]).update(data, 'utf8').digest('base64url');
  }

  /** Constant-time comparison of a keyed hash with a stored one. */
  verifyKeyedHash(purpose: HashPurpose, data: string, stored: string): boolean {
    const actual = Buffer.from(this.keyedHash(purpose, data));
    const expected = Buffer.from(stored);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
}
