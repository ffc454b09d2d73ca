import { chmodSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Keyring } from './keyring.js';
import { loadOrCreateMasterKeyFile } from './master-key.js';

const keyring = new Keyring(Buffer.alloc(32, 1));

describe('sealing secrets with AES-256-GCM', () => {
  it('opens what it sealed, with the same context', () => {
    const sealed = keyring.seal('JBSWY3DPEHPK3PXP', 'oath:1:seed');
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(keyring.open(sealed, 'oath:1:seed').toString()).toBe('JBSWY3DPEHPK3PXP');
  });

  it('uses a fresh nonce each time', () => {
    expect(keyring.seal('same', 'c')).not.toBe(keyring.seal('same', 'c'));
  });

  it('refuses a value moved to another context', () => {
    expect(() => keyring.open(keyring.seal('secret', 'oath:1:seed'), 'oath:2:seed')).toThrow('failed authentication');
  });

  it('refuses a tampered value', () => {
    const sealed = keyring.seal('secret', 'c');
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    raw[14] = raw[14]! ^ 1;
    expect(() => keyring.open(`v1:${raw.toString('base64url')}`, 'c')).toThrow('failed authentication');
  });

  it('refuses a value sealed under another master key', () => {
    expect(() => new Keyring(Buffer.alloc(32, 2)).open(keyring.seal('secret', 'c'), 'c')).toThrow();
  });
});

describe('keyed hashes', () => {
  it('differ per purpose and verify in constant time', () => {
    expect(keyring.keyedHash('pin', '1234')).not.toBe(keyring.keyedHash('api-key', '1234'));
    expect(keyring.verifyKeyedHash('pin', '1234', keyring.keyedHash('pin', '1234'))).toBe(true);
    expect(keyring.verifyKeyedHash('pin', '1235', keyring.keyedHash('pin', '1234'))).toBe(false);
  });
});

describe('master key file', () => {
  it('is created with mode 0600 on first start and read back after', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'cs-key-')), 'sub', 'master.key');
    const first = loadOrCreateMasterKeyFile(path);
    expect(first.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const second = loadOrCreateMasterKeyFile(path);
    expect(second.created).toBe(false);
    expect(second.key.equals(first.key)).toBe(true);
  });

  it('is refused when other users can read it', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'cs-key-')), 'master.key');
    loadOrCreateMasterKeyFile(path);
    chmodSync(path, 0o644);
    expect(() => loadOrCreateMasterKeyFile(path)).toThrow('readable by other users');
  });

  it('is refused when it does not hold 32 bytes', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'cs-key-')), 'master.key');
    writeFileSync(path, Buffer.alloc(16).toString('base64'), { mode: 0o600 });
    expect(() => loadOrCreateMasterKeyFile(path)).toThrow('must be 32 bytes');
  });
});
