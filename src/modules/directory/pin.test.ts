import { describe, expect, it } from 'vitest';
import { Keyring } from '../../shared/keyring.js';
import { hashPin, pinProblem, verifyPin } from './pin.js';

const keyring = new Keyring(Buffer.alloc(32, 3));

describe('PIN storage', () => {
  it('never stores the PIN in clear and verifies it', () => {
    const stored = hashPin(keyring, 'user-1', '4821');
    expect(stored).not.toContain('4821');
    expect(verifyPin(keyring, 'user-1', '4821', stored)).toBe(true);
    expect(verifyPin(keyring, 'user-1', '4822', stored)).toBe(false);
  });

  it('gives equal PINs of two users different hashes', () => {
    expect(hashPin(keyring, 'user-1', '0000')).not.toBe(hashPin(keyring, 'user-2', '0000'));
  });

  it('cannot be checked without the master key', () => {
    const stored = hashPin(keyring, 'user-1', '4821');
    expect(verifyPin(new Keyring(Buffer.alloc(32, 4)), 'user-1', '4821', stored)).toBe(false);
  });

  it('is digits only within the configured length', () => {
    expect(pinProblem('12a4', 4, 8)).toMatch(/digits only/);
    expect(pinProblem('123', 4, 8)).toMatch(/4 to 8 digits/);
    expect(pinProblem('123456789', 4, 8)).toMatch(/4 to 8 digits/);
    expect(pinProblem('1234', 4, 8)).toBeNull();
  });
});
